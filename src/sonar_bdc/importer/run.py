"""The run skeleton every Sonar source shares: log in, schema, run lock, the run record
and the end of a run; each source (``v1``, ``v2``) imports its data within it.

The metadata keys a run stamps when it completes a part live here, so that the sources
import this module and never each other.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Protocol

from ..errors import ConfigError, SonarBdcError, StoreError
from ..settings import Settings
from ..sonar.stats import RequestStats
from ..store import Store, parse_prefix
from ..store.demo import DEMO_MARK
from .summary import Summary

log = logging.getLogger("sonar_bdc.importer")

META_REPORT = "report_imported_at"
META_CATALOGS = "catalogs_imported_at"
META_DETAIL = "customers_imported_at"
META_INVENTORY = "inventory_imported_at"


def open_store(settings: Settings) -> Store:
    prefix = parse_prefix(settings.prefix)  # refuses a bad prefix before any SQL
    return Store.connect(
        settings.postgres_conninfo(),
        prefix,
        batch_size=settings.batch_size,
        commit_interval=settings.commit_interval,
        dry_run=settings.dry_run,
    )


class Client(Protocol):
    """What the run skeleton needs of a Sonar client, v1's or v2's."""

    @property
    def stats(self) -> RequestStats: ...
    def login(self) -> None: ...
    def __enter__(self) -> object: ...
    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class Source(Protocol):
    """One Sonar API: its client, and the import of its data into a store whose schema
    is ensured and whose run lock is held (``v1.V1Source``, ``v2.V2Source``)."""

    @property
    def client(self) -> Client: ...
    @property
    def layout(self) -> str | None: ...  # the summary's layout before the run reads one
    def run(self, store: Store, summary: Summary, show: bool) -> None: ...


def session(settings: Settings, source: Source, show: bool, demo: bool = False) -> Summary:
    """Log in, then schema, run lock and the source's run; the same for every Sonar API."""
    summary = Summary(dry_run=settings.dry_run, layout=source.layout)
    started = time.monotonic()
    client = source.client
    with open_store(settings) as store, client:
        client.login()  # before any DDL: a refused login must leave the database untouched
        store.ensure_schema()
        if not demo:
            _refuse_demo_tables(store)
        with store.run_lock():
            parts = run_parts(settings)
            run_id = store.start_run(settings.api, parts, run_options(settings))
            error: BaseException | None = None
            db_before = store.db_seconds  # the run's reads and writes, not the setup's
            try:
                source.run(store, summary, show)
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
                summary.db_seconds = store.db_seconds - db_before
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
    outcome = run_outcome(summary, error)
    try:
        store.finish_run(run_id, outcome, counts)
    except StoreError as exc:
        log.warning("could not record the end of this import (%s): it will show as killed", exc)
        return
    changed = summary.new or summary.updated or summary.newly_deleted
    if outcome in ("complete", "failed_customers") and changed and not store.dry_run:
        try:
            store.analyze()
        except StoreError as exc:  # the data is in: only the next queries may be slower
            log.warning("%s", exc)


def _message(error: BaseException | None) -> str | None:
    """The user-facing line of our errors; only the type of anything else (no secrets)."""
    if error is None:
        return None
    if isinstance(error, SonarBdcError):
        return str(error)
    return f"unexpected {type(error).__name__} (see the log file)"


def left_by_limit(left: int, force: bool) -> str:
    """What becomes of the customers --limit leaves out: with --force they may be fresh,
    and a plain run refreshes only those older than --days."""
    if not left:
        return ""
    if force:
        return (f", {left} not refreshed by this run (--limit); a run without --force "
                "refreshes them only once older than --days")  # fmt: skip
    return f", {left} stale ones left for a later run by --limit"
