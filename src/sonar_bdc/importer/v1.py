"""The v1 import: report -> catalogs -> stale customers' detail and inventory -> store.

Worker threads only fetch from Sonar; the main thread is the only one that writes,
so the store needs one connection and commits in a well-defined order. Work is
submitted through a bounded window, so memory does not grow with the account count.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .. import stopping
from ..settings import Settings
from ..sonar.v1 import InventoryCatalog, SonarClient, SonarConfig
from ..sonar.v1.model_fields import ModelFields
from ..store import ReportWriteResult, Store
from .fetching import FetchPlan, fetch_and_write
from .progress import counted, make_progress
from .run import META_CATALOGS, META_DETAIL, META_INVENTORY, META_REPORT, left_by_limit
from .summary import Summary, plural

log = logging.getLogger("sonar_bdc.importer")


@dataclass(frozen=True)
class V1Source:
    """Sonar's v1 REST API and its contact-information report, as a ``run.Source``."""

    settings: Settings
    client: SonarClient
    layout: str | None = None  # the report says which

    @classmethod
    def from_settings(cls, settings: Settings) -> V1Source:
        return cls(settings, SonarClient(sonar_config(settings)))

    def run(self, store: Store, summary: Summary, show: bool) -> None:
        _run(self.settings, store, self.client, summary, show)


def sonar_config(settings: Settings, pool_size: int | None = None) -> SonarConfig:
    return SonarConfig(
        base_url=settings.sonar_base_url,
        username=settings.sonar_username or "",
        password=settings.sonar_password or "",
        timeout=settings.sonar_timeout,
        verify=settings.sonar_ca_bundle or True,
        max_retries=settings.max_retries,
        initial_backoff=settings.initial_backoff,
        rate_limit=settings.effective_rate_limit,
        # One more than the workers: the main thread reads the report meanwhile.
        pool_size=pool_size or settings.workers + 1,
        report_layout=settings.report_layout,
    )


def _run(
    settings: Settings, store: Store, client: SonarClient, summary: Summary, show: bool
) -> None:
    seen_at = datetime.now(timezone.utc)
    want_detail = not settings.inventory_only
    want_inventory = not settings.customers_only
    with ThreadPoolExecutor(settings.workers, thread_name_prefix="fetch") as pool:
        # Catalogs travel while the report is fetched, parsed and written.
        catalogs = pool.submit(client.catalogs)
        early = _inventory_catalog_early(settings, store, client, seen_at, pool)
        written = _import_report(client, store, summary, seen_at, show)
        store.write_catalogs(catalogs.result())
        store.set_meta(META_CATALOGS, seen_at.isoformat())
        plan = _plan_refresh(settings, store, summary, seen_at, want_detail, want_inventory)
        inv_catalog = _inventory_catalog(settings, store, client, seen_at, plan, early)
        changed = fetch_and_write(
            client, inv_catalog, store, pool, plan, summary,
            window=settings.workers * 4, show=show, known=written.new_ids,
        )  # fmt: skip
        if inv_catalog is not None:
            _remember_models(store, inv_catalog, seen_at)
    summary.new = len(written.new_ids)
    summary.updated = len((written.updated_ids | changed) - written.new_ids)
    summary.unchanged = summary.listed - summary.new - summary.updated
    if not summary.interrupted:
        done_at = datetime.now(timezone.utc).isoformat()
        if want_detail:
            store.set_meta(META_DETAIL, done_at)
        if want_inventory:
            store.set_meta(META_INVENTORY, done_at)


def _inventory_catalog_early(
    settings: Settings,
    store: Store,
    client: SonarClient,
    seen_at: datetime,
    pool: ThreadPoolExecutor,
) -> Future[InventoryCatalog] | None:
    """The inventory catalog, sent for with the report when inventory will likely be
    refreshed (a first import, ``-f``, a stale customer in the last report), so that
    it is not waited for after the report."""
    if settings.customers_only or settings.limit == 0:
        return None
    cutoff = seen_at - timedelta(days=settings.days)
    if not settings.force and not store.inventory_likely_stale(cutoff):
        return None
    known = _known_mac_fields(settings, store, seen_at)
    return pool.submit(client.inventory_catalog, known)


def _inventory_catalog(
    settings: Settings,
    store: Store,
    client: SonarClient,
    seen_at: datetime,
    plan: FetchPlan,
    early: Future[InventoryCatalog] | None,
) -> InventoryCatalog | None:
    """The inventory catalog, only when some customer's inventory is to be refreshed."""
    if not any(job.inventory for job in plan):
        if early is not None:
            early.cancel()  # its answer, or its error, is not needed
        return None
    if early is not None:
        return early.result()
    known = _known_mac_fields(settings, store, seen_at)
    return client.inventory_catalog(known)


def _known_mac_fields(
    settings: Settings, store: Store, seen_at: datetime
) -> dict[int, frozenset[int]]:
    """MAC fields stored within ``--days`` (none with ``-f``): their models are not asked
    again; the others are asked when an item of theirs is first met."""
    if settings.force:
        return {}
    return store.known_mac_fields(seen_at - timedelta(days=settings.days))


def _remember_models(store: Store, catalog: InventoryCatalog, seen_at: datetime) -> None:
    """Store the MAC fields this run fetched; models that failed are asked next run."""
    fields = catalog.mac_fields
    if not isinstance(fields, ModelFields) or not fields.fetched:
        return
    rows = []
    for model_id, mac_ids in fields.fetched.items():
        model = catalog.models[model_id]
        rows.append((model_id, model.name, model.manufacturer_id, mac_ids))
    store.write_models(rows, seen_at)
    log.info("inventory: fetched and stored the field lists of %d models", len(rows))


def _import_report(
    client: SonarClient, store: Store, summary: Summary, seen_at: datetime, show: bool
) -> ReportWriteResult:
    """Stream the report's rows into the store: memory stays flat however many accounts."""
    log.info("report: asking Sonar for the contact-information report")
    download = make_progress(None, "report download", "B", enabled=show)
    try:
        reader = client.report_reader(download.update)
    finally:
        download.close()
    rows = make_progress(None, "report accounts", "account", enabled=show)
    try:
        # Ctrl-C or SIGTERM ends the rows early (those read are committed); the
        # interrupt is raised here, outside any database command.
        with reader as report, stopping.stop_signals_as_flag() as stop:
            feed = stopping.until_stopped(counted(report, rows), stop)
            written = store.write_report(feed, seen_at)
            if stop.is_set():
                raise stopping.stopped()
            store.set_meta(META_REPORT, seen_at.isoformat())
    finally:
        rows.close()
    summary.layout = report.layout
    summary.listed = report.accounts
    summary.invalid_coordinates = report.invalid_coordinates
    summary.duplicate_rows = report.duplicate_rows
    summary.nul_cleaned += written.nul_cleaned
    log.info(
        "report: %s in %s (layout %s), %d without valid coordinates",
        plural(report.accounts, "account"), plural(report.raw_rows, "row"), report.layout,
        report.invalid_coordinates,
    )  # fmt: skip
    return written


def _plan_refresh(
    settings: Settings,
    store: Store,
    summary: Summary,
    seen_at: datetime,
    want_detail: bool,
    want_inventory: bool,
) -> FetchPlan:
    cutoff = None if settings.force else seen_at - timedelta(days=settings.days)
    # All stale ids (ints: small), so the counts stay true with -l.
    detail_ids = store.stale_customer_ids("detail", seen_at, cutoff, None) if want_detail else []
    inventory_ids = (
        store.stale_customer_ids("inventory", seen_at, cutoff, None) if want_inventory else []
    )
    stale = _plan(detail_ids, inventory_ids, None)
    plan = stale[: settings.limit] if settings.limit is not None else stale
    summary.skipped_fresh = summary.listed - len(stale)
    summary.left_for_later = len(stale) - len(plan)
    log.info("%s to refresh, %d fresh%s", plural(len(plan), "customer"), summary.skipped_fresh,
             left_by_limit(summary.left_for_later, settings.force))  # fmt: skip
    return plan


def _plan(detail_ids: list[int], inventory_ids: list[int], limit: int | None) -> FetchPlan:
    """(customer id, fetch detail?, fetch inventory?) in the order the store ranked them."""
    want_detail, want_inventory = set(detail_ids), set(inventory_ids)
    order = list(dict.fromkeys([*detail_ids, *inventory_ids]))
    if limit is not None:
        order = order[:limit]
    return FetchPlan((cid, cid in want_detail, cid in want_inventory) for cid in order)
