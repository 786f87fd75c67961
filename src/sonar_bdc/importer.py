"""The import run: report -> catalogs -> stale customers' detail and inventory -> store.

Worker threads only fetch from Sonar; the main thread is the only one that writes,
so the store needs one connection and commits in a well-defined order. Work is
submitted through a bounded window, so memory does not grow with the account count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .bulk_inventory import Assigned, fetch_assigned_inventory
from .errors import SonarAuthError, SonarBdcError, SonarNotFound
from .progress import make_progress
from .records import CustomerDetail, CustomerInventory, InventoryItem
from .settings import Settings
from .sonar import InventoryCatalog, SonarClient, SonarConfig
from .store import Store, parse_prefix
from .summary import Summary

log = logging.getLogger("sonar_bdc.importer")

META_REPORT = "report_imported_at"
META_CATALOGS = "catalogs_imported_at"
META_DETAIL = "customers_imported_at"
META_INVENTORY = "inventory_imported_at"


@dataclass(frozen=True)
class Fetched:
    """What the workers brought back for one customer."""

    customer_id: int
    detail: CustomerDetail | None = None
    inventory: CustomerInventory | None = None
    deleted: bool = False


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
        pool_size=pool_size or settings.workers,
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


def run_import(settings: Settings, *, show_progress: bool = True) -> Summary:
    """Run one import as ``settings`` says and return its summary.

    Configuration and environment problems raise ConfigError/StoreUnavailable/
    SonarAuthError before anything is written. Ctrl-C commits what is complete and
    returns a summary marked interrupted.
    """
    if settings.api == "v2":
        from .importer_v2 import run_import_v2

        return run_import_v2(settings, show_progress=show_progress)
    settings.require_sonar_credentials()
    started = time.monotonic()
    summary = Summary(dry_run=settings.dry_run)
    with open_store(settings) as store, SonarClient(sonar_config(settings)) as client:
        client.login()  # before any DDL: a refused login must leave the database untouched
        store.ensure_schema()
        with store.run_lock():
            try:
                _run(settings, store, client, summary, show_progress)
            except KeyboardInterrupt:
                summary.interrupted = True
                log.warning("interrupted: completed customers were committed; run again to finish")
            finally:
                stats = client.stats
                summary.requests, summary.retries = stats.requests, stats.retries
                summary.wait_seconds = stats.wait_seconds
    summary.wall_seconds = time.monotonic() - started
    return summary


def _run(
    settings: Settings, store: Store, client: SonarClient, summary: Summary, show: bool
) -> None:
    seen_at = datetime.now(timezone.utc)
    report = client.report()
    summary.layout = report.layout
    summary.listed = len(report.rows)
    summary.invalid_coordinates = report.invalid_coordinates
    summary.duplicate_rows = report.duplicate_rows
    log.info(
        "report: %d accounts in %d rows (layout %s), %d without valid coordinates",
        len(report.rows),
        report.raw_rows,
        report.layout,
        report.invalid_coordinates,
    )
    with summary.db_clock:
        written = store.write_report(report.rows, seen_at)
        store.set_meta(META_REPORT, seen_at.isoformat())
    del report
    summary.nul_cleaned += written.nul_cleaned

    catalogs = client.catalogs()
    want_detail = not settings.inventory_only
    want_inventory = not settings.customers_only
    inv_catalog = client.inventory_catalog() if want_inventory else None
    with summary.db_clock:
        store.write_catalogs(catalogs)
        store.set_meta(META_CATALOGS, seen_at.isoformat())

    cutoff = None if settings.force else seen_at - timedelta(days=settings.days)
    with summary.db_clock:
        detail_ids = (
            store.stale_customer_ids("detail", seen_at, cutoff, settings.limit)
            if want_detail
            else []
        )
        inventory_ids = (
            store.stale_customer_ids("inventory", seen_at, cutoff, settings.limit)
            if want_inventory
            else []
        )
    plan = _plan(detail_ids, inventory_ids, settings.limit)
    summary.skipped_fresh = summary.listed - len(plan)
    log.info("%d customers to refresh, %d fresh", len(plan), summary.skipped_fresh)

    changed = _fetch_and_write(settings, store, client, inv_catalog, plan, summary, show)
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


def _plan(
    detail_ids: list[int], inventory_ids: list[int], limit: int | None
) -> list[tuple[int, bool, bool]]:
    """(customer id, fetch detail?, fetch inventory?) in the order the store ranked them."""
    want_detail, want_inventory = set(detail_ids), set(inventory_ids)
    order = list(dict.fromkeys([*detail_ids, *inventory_ids]))
    if limit is not None:
        order = order[:limit]
    return [(cid, cid in want_detail, cid in want_inventory) for cid in order]


def _fetch_one(
    client: SonarClient,
    inv_catalog: InventoryCatalog | None,
    assigned: Assigned | None,
    job: tuple[int, bool, bool],
) -> Fetched:
    customer_id, want_detail, want_inventory = job
    try:
        detail = client.account_detail(customer_id) if want_detail else None
        inventory = None
        if want_inventory and assigned is not None:
            items = assigned.pop(customer_id, [])  # popped: memory shrinks as we go
            inventory = CustomerInventory(customer_id, tuple(sorted(items, key=_item_id)))
        elif want_inventory and inv_catalog is not None:
            inventory = client.account_inventory(customer_id, inv_catalog)
    except SonarNotFound:
        return Fetched(customer_id, deleted=True)
    return Fetched(customer_id, detail, inventory)


def _item_id(item: InventoryItem) -> int:
    return item.id


def _bounded_map(
    pool: ThreadPoolExecutor,
    fn: Callable[[tuple[int, bool, bool]], Fetched],
    jobs: list[tuple[int, bool, bool]],
    window: int,
) -> Iterator[tuple[int, Future[Fetched]]]:
    """Yield (customer id, finished future) in completion order, ``window`` in flight."""
    pending: dict[Future[Fetched], int] = {}
    it = iter(jobs)
    try:
        while True:
            while len(pending) < window:
                job = next(it, None)
                if job is None:
                    break
                pending[pool.submit(fn, job)] = job[0]
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future
    finally:
        for future in pending:
            future.cancel()


def _fetch_and_write(
    settings: Settings,
    store: Store,
    client: SonarClient,
    inv_catalog: InventoryCatalog | None,
    plan: list[tuple[int, bool, bool]],
    summary: Summary,
    show: bool,
) -> set[int]:
    if not plan:
        return set()
    pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="fetch")
    inventory_jobs = sum(1 for _, _, inv in plan if inv)
    assigned = (
        fetch_assigned_inventory(client, inv_catalog, inventory_jobs, pool)
        if inv_catalog is not None and inventory_jobs
        else None
    )
    bar = make_progress(len(plan), "customers", enabled=show)
    try:
        with store.writer() as writer:
            try:
                for customer_id, future in _bounded_map(
                    pool,
                    lambda job: _fetch_one(client, inv_catalog, assigned, job),
                    plan,
                    settings.workers * 4,
                ):
                    _write_one(writer, customer_id, future, summary)
                    bar.update()
            except KeyboardInterrupt:
                # Leave the with-block normally so complete customers are committed.
                summary.interrupted = True
            summary.nul_cleaned += writer.nul_cleaned
            return writer.changed_ids
    finally:
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)
        if summary.failed:
            log.error(
                "%d customers failed and stay stale (the next run retries them): %s",
                len(summary.failed),
                _id_list(summary.failed),
            )
        if summary.deleted:
            log.warning(
                "%d accounts listed by the report are gone in Sonar (404): %s",
                len(summary.deleted),
                _id_list(summary.deleted),
            )


def _write_one(writer, customer_id: int, future: Future[Fetched], summary: Summary) -> None:
    try:
        fetched = future.result()
    except SonarAuthError:
        raise
    except SonarBdcError as exc:
        summary.failed.append(customer_id)
        log.warning("customer %d failed: %s", customer_id, exc)
        return
    except Exception as exc:  # a record we could not parse must not stop the other customers
        summary.failed.append(customer_id)
        log.warning("customer %d failed: unexpected %s: %s", customer_id, type(exc).__name__, exc)
        log.debug("traceback for customer %d", customer_id, exc_info=exc)
        return
    now = datetime.now(timezone.utc)
    if fetched.deleted:
        summary.deleted.append(customer_id)
        with summary.db_clock:
            writer.mark_deleted(customer_id, now)
        return
    summary.fetched += 1
    with summary.db_clock:
        if fetched.detail is not None:
            writer.add_detail(fetched.detail, now)
        if fetched.inventory is not None:
            writer.add_inventory(fetched.inventory, now)


def _id_list(ids: list[int], most: int = 50) -> str:
    shown = ", ".join(str(i) for i in sorted(ids)[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")
