"""The import run: report -> catalogs -> stale customers' detail and inventory -> store.

Worker threads only fetch from Sonar; the main thread is the only one that writes,
so the store needs one connection and commits in a well-defined order. Work is
submitted through a bounded window, so memory does not grow with the account count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Protocol, TypeVar

from . import stopping
from .errors import ConfigError, SonarBdcError, StoreError
from .fetching import Fetcher, Plan, fetch_and_write
from .progress import counted, make_progress
from .settings import Settings
from .sonar import InventoryCatalog, SonarClient, SonarConfig
from .sonar.model_fields import ModelFields
from .sonar.stats import RequestStats
from .store import ReportWriteResult, Store, parse_prefix
from .store.demo import DEMO_MARK
from .summary import Summary, plural

log = logging.getLogger("sonar_bdc.importer")

META_REPORT = "report_imported_at"
META_CATALOGS = "catalogs_imported_at"
META_DETAIL = "customers_imported_at"
META_INVENTORY = "inventory_imported_at"


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


def open_store(settings: Settings) -> Store:
    prefix = parse_prefix(settings.prefix)  # refuses a bad prefix before any SQL
    return Store.connect(
        settings.postgres_conninfo(),
        prefix,
        batch_size=settings.batch_size,
        commit_interval=settings.commit_interval,
        dry_run=settings.dry_run,
    )


def run_import(settings: Settings, *, show_progress: bool = True, demo: bool = False) -> Summary:
    """Run one import as ``settings`` says and return its summary.

    Configuration and environment problems raise ConfigError/StoreUnavailable/
    SonarAuthError before anything is written. Ctrl-C commits what is complete and
    returns a summary marked interrupted. Only the demo (``demo=True``) may write to a
    prefix that holds the demo's simulated customers.
    """
    settings.require_sonar_credentials()
    if settings.api == "v2":
        from .importer_v2 import run_v2, v2_config
        from .sonar.v2 import GraphQLClient

        v2_client = GraphQLClient(v2_config(settings))
        summary = Summary(dry_run=settings.dry_run, layout="v2")
        return _session(settings, v2_client, run_v2, summary, show_progress, demo)
    client = SonarClient(sonar_config(settings))
    return _session(settings, client, _run, Summary(dry_run=settings.dry_run), show_progress, demo)


class _Client(Protocol):
    """What the run skeleton needs of a Sonar client, v1's or v2's."""

    @property
    def stats(self) -> RequestStats: ...
    def login(self) -> None: ...
    def __enter__(self) -> object: ...
    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


C = TypeVar("C", bound=_Client)


def _session(
    settings: Settings,
    client: C,
    run: Callable[[Settings, Store, C, Summary, bool], None],
    summary: Summary,
    show: bool,
    demo: bool = False,
) -> Summary:
    """Log in, then schema, run lock and ``run``; the same for every Sonar API."""
    started = time.monotonic()
    with open_store(settings) as store, client:
        client.login()  # before any DDL: a refused login must leave the database untouched
        store.ensure_schema()
        if not demo:
            _refuse_demo_tables(store)
        with store.run_lock():
            parts = run_parts(settings)
            run_id = store.start_run(settings.api, parts, run_options(settings))
            error: BaseException | None = None
            try:
                run(settings, store, client, summary, show)
            except KeyboardInterrupt:
                summary.interrupted = True
                log.warning("interrupted: completed work was committed; run again to finish")
            except BaseException as exc:
                error = exc
                raise
            finally:
                stats = client.stats
                summary.requests, summary.retries = stats.requests, stats.retries
                summary.wait_seconds = stats.wait_seconds
                _record_end(store, run_id, parts, summary, error)
    summary.wall_seconds = time.monotonic() - started
    return summary


def _refuse_demo_tables(store: Store) -> None:
    """A real import never mixes its customers into the demo's simulated ones."""
    if store.get_meta(DEMO_MARK) is not None:
        raise ConfigError(
            f"prefix {store.prefix} holds the simulated customers of sonar-bdc demo; a real "
            "import never writes there: choose another -p (the default is sonar.)"
        )


def run_parts(settings: Settings) -> list[str]:
    """What a run sets out to refresh: the report and catalogs always, then its parts."""
    parts = ["report", "catalogs"]
    if not settings.inventory_only:
        parts.append("detail")
    if not settings.customers_only:
        parts.append("inventory")
    return parts


def completed_parts(parts: list[str], summary: Summary) -> list[str]:
    """The parts a run covered for every customer: one that --limit left customers of
    did not (a run with ``-l 0`` must not stand for a complete import of the detail)."""
    if summary.left_for_later:
        return [part for part in parts if part not in ("detail", "inventory")]
    return parts


def run_options(settings: Settings) -> dict[str, bool | float | None]:
    return {"force": bool(settings.force), "days": settings.days, "limit": settings.limit}


def run_outcome(summary: Summary, error: BaseException | None) -> str:
    if error is not None:
        return "error"
    if summary.interrupted:
        return "interrupted"
    return "failed_customers" if summary.failed else "complete"


def _record_end(
    store: Store,
    run_id: int | None,
    parts: list[str],
    summary: Summary,
    error: BaseException | None,
) -> None:
    """Finish the run record; a failure to record is logged, never hides the run's end."""
    counts = {
        "parts": completed_parts(parts, summary),
        "listed": summary.listed,
        "new": summary.new,
        "updated": summary.updated,
        "failed": len(summary.failed),
        "deleted": len(summary.newly_deleted),
        "failed_ids": list(summary.failed),
        "message": _message(error),
    }
    try:
        store.finish_run(run_id, run_outcome(summary, error), counts)
    except StoreError as exc:
        log.warning("could not record the end of this import (%s): it will show as killed", exc)


def _message(error: BaseException | None) -> str | None:
    """The user-facing line of our errors; only the type of anything else (no secrets)."""
    if error is None:
        return None
    if isinstance(error, SonarBdcError):
        return str(error)
    return f"unexpected {type(error).__name__} (see the log file)"


def _run(
    settings: Settings, store: Store, client: SonarClient, summary: Summary, show: bool
) -> None:
    seen_at = datetime.now(timezone.utc)
    want_detail = not settings.inventory_only
    want_inventory = not settings.customers_only
    with ThreadPoolExecutor(settings.workers, thread_name_prefix="fetch") as pool:
        # Catalogs travel while the report is fetched, parsed and written.
        catalogs = pool.submit(client.catalogs)
        early = _inventory_catalog_early(settings, store, client, summary, seen_at, pool)
        written = _import_report(client, store, summary, seen_at, show)
        with summary.db_clock:
            store.write_catalogs(catalogs.result())
            store.set_meta(META_CATALOGS, seen_at.isoformat())
        plan = _plan_refresh(settings, store, summary, seen_at, want_detail, want_inventory)
        inv_catalog = _inventory_catalog(settings, store, client, summary, seen_at, plan, early)
        changed = fetch_and_write(
            Fetcher(client, inv_catalog), store, pool, plan, summary,
            window=settings.workers * 4, show=show, known=written.new_ids,
        )  # fmt: skip
        if inv_catalog is not None:
            _remember_models(store, inv_catalog, summary, seen_at)
    summary.new = len(written.new_ids)
    summary.updated = len((written.updated_ids | changed) - written.new_ids)
    summary.unchanged = summary.listed - summary.new - summary.updated
    if not summary.interrupted:
        done_at = datetime.now(timezone.utc).isoformat()
        with summary.db_clock:
            if want_detail:
                store.set_meta(META_DETAIL, done_at)
            if want_inventory:
                store.set_meta(META_INVENTORY, done_at)


def _inventory_catalog_early(
    settings: Settings,
    store: Store,
    client: SonarClient,
    summary: Summary,
    seen_at: datetime,
    pool: ThreadPoolExecutor,
) -> Future[InventoryCatalog] | None:
    """The inventory catalog, sent for with the report when inventory will likely be
    refreshed (a first import, ``-f``, a stale customer in the last report), so that
    it is not waited for after the report."""
    if settings.customers_only or settings.limit == 0:
        return None
    cutoff = seen_at - timedelta(days=settings.days)
    with summary.db_clock:
        if not settings.force and not store.inventory_likely_stale(cutoff):
            return None
        known = _known_mac_fields(settings, store, seen_at)
    return pool.submit(client.inventory_catalog, known)


def _inventory_catalog(
    settings: Settings,
    store: Store,
    client: SonarClient,
    summary: Summary,
    seen_at: datetime,
    plan: Plan,
    early: Future[InventoryCatalog] | None,
) -> InventoryCatalog | None:
    """The inventory catalog, only when some customer's inventory is to be refreshed."""
    if not any(job.inventory for job in plan):
        if early is not None:
            early.cancel()  # its answer, or its error, is not needed
        return None
    if early is not None:
        return early.result()
    with summary.db_clock:
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


def _remember_models(
    store: Store, catalog: InventoryCatalog, summary: Summary, seen_at: datetime
) -> None:
    """Store the MAC fields this run fetched; models that failed are asked next run."""
    fields = catalog.mac_fields
    if not isinstance(fields, ModelFields) or not fields.fetched:
        return
    rows = []
    for model_id, mac_ids in fields.fetched.items():
        model = catalog.models[model_id]
        rows.append((model_id, model.name, model.manufacturer_id, mac_ids))
    with summary.db_clock:
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
        with reader as report, summary.db_clock, stopping.stop_signals_as_flag() as stop:
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
) -> Plan:
    cutoff = None if settings.force else seen_at - timedelta(days=settings.days)
    with summary.db_clock:  # all stale ids (ints: small), so the counts stay true with -l
        detail_ids = (
            store.stale_customer_ids("detail", seen_at, cutoff, None) if want_detail else []
        )
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


def left_by_limit(left: int, force: bool) -> str:
    """What becomes of the customers --limit leaves out: with --force they may be fresh,
    and a plain run refreshes only those older than --days."""
    if not left:
        return ""
    if force:
        return (f", {left} not refreshed by this run (--limit); a run without --force "
                "refreshes them only once older than --days")  # fmt: skip
    return f", {left} stale ones left for a later run by --limit"


def _plan(detail_ids: list[int], inventory_ids: list[int], limit: int | None) -> Plan:
    """(customer id, fetch detail?, fetch inventory?) in the order the store ranked them."""
    want_detail, want_inventory = set(detail_ids), set(inventory_ids)
    order = list(dict.fromkeys([*detail_ids, *inventory_ids]))
    if limit is not None:
        order = order[:limit]
    return Plan((cid, cid in want_detail, cid in want_inventory) for cid in order)
