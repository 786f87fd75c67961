"""``Store``: the one object the importer talks to. All SQL lives in this package."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import pq
from psycopg.types.json import Jsonb

from sonar_bdc.errors import ConfigError, RunLocked, StoreError
from sonar_bdc.records import Catalogs, InventoryItem, ReportRow
from sonar_bdc.store import listing, migrate, models, queries, runs
from sonar_bdc.store.db import Closing, ConnInfo, connect, translated, warn_if_lookalike
from sonar_bdc.store.listing import stage_listing
from sonar_bdc.store.prefix import Prefix, parse_prefix
from sonar_bdc.store.report import ReportWriteResult, write_catalogs, write_report
from sonar_bdc.store.session import Session
from sonar_bdc.store.timing import timed
from sonar_bdc.store.writer import Writer

CANCEL_TIMEOUT = 5.0  # seconds to wait for the server to stop an interrupted command


# The tables an import writes in bulk, analysed at the end of a run that changed them.
ANALYZED = ("customers", "services", "customer_groups", "customer_inventory", "inventory_items")


class Store(Closing):
    """One connection to PostGIS, the tables under one prefix, and the write path."""

    def __init__(self, session: Session, conninfo: ConnInfo | None = None) -> None:
        self._session = session
        self._conninfo = conninfo  # for a connection aside, when the session's is stuck

    @classmethod
    def connect(
        cls,
        conninfo: ConnInfo,
        prefix: Prefix | str,
        *,
        batch_size: int = 100,
        commit_interval: int = 1000,
        dry_run: bool = False,
        application_name: str = "sonar-bdc",
    ) -> Store:
        """Open the connection; StoreUnavailable names the POSTGRES_* setting to check."""
        _check_positive("-b/--batch-size", batch_size)
        _check_positive("-c/--commit-interval", commit_interval)
        parsed = parse_prefix(prefix) if isinstance(prefix, str) else prefix
        conn = connect(conninfo, application_name)
        try:
            with translated("starting the session"):
                warn_if_lookalike(conn, parsed)
                session = Session(conn, parsed, batch_size, commit_interval, dry_run)
        except BaseException:
            conn.close()
            raise
        return cls(session, conninfo)

    @property
    def prefix(self) -> Prefix:
        return self._session.prefix

    @property
    def dry_run(self) -> bool:
        return self._session.dry_run

    @property
    def db_seconds(self) -> float:
        """Seconds spent so far reading and writing the import's data (``@timed``
        methods and writers). Not ``stage_listing``: its COPY lasts as long as Sonar
        takes to send the listing's pages."""
        return self._session.clock.seconds

    def ensure_schema(self) -> None:
        """PostGIS, schema, tables, indexes and migrations to the latest version; idempotent."""
        try:
            with translated(f"creating the tables at {self.prefix}"):
                migrate.ensure_schema(self._session.conn, self.prefix)
                self._session.commit()
        except BaseException:
            self._session.rollback(quiet=True)
            raise

    def schema_version(self) -> int:
        with translated("reading the schema version"):
            version = migrate.schema_version(self._session.conn, self.prefix)
        self._end_read()
        return version

    @contextlib.contextmanager
    def run_lock(self) -> Iterator[None]:
        """Hold an advisory lock on this prefix so two imports cannot interleave.

        Taken or refused at once (RunLocked, exit 75): cron starts the next run later.
        """
        key = self.prefix.lock_key()
        with translated("taking the run lock"):
            (got,) = self._session.conn.execute(queries.TRY_LOCK, [key]).fetchone() or (False,)
        self._end_read()
        if not got:
            raise RunLocked(
                f"another sonar-bdc import is running against {self.prefix} now, so nothing "
                "was done: run again when it has finished"
            )
        try:
            yield
        finally:
            self._unlock(key)

    def start_run(self, api: str, parts: Sequence[str], options: Mapping[str, Any]) -> int | None:
        """Record that an import started, committed at once; a dry run records nothing."""
        if self.dry_run:
            return None
        try:
            with translated("recording the start of the import"):
                params = [api, list(parts), Jsonb(dict(options))]
                row = self._session.conn.execute(runs.start_run_sql(self.prefix), params).fetchone()
                self._session.commit()
        except BaseException:
            self._session.rollback(quiet=True)
            raise
        return int(row[0]) if row else None

    def finish_run(self, run_id: int | None, outcome: str, counts: Mapping[str, Any]) -> None:
        """Record how the run ended, after its last commit. A run that failed or was
        interrupted rolls back first: a half-written batch is never committed here.

        ``counts``: listed, new, updated, failed, deleted, failed_ids, message, and
        optionally parts (those the run covered for every customer).
        """
        if run_id is None:
            return
        params = {"parts": None, **counts, "id": run_id, "outcome": outcome}
        if self._mid_command():
            self._finish_aside(params)
            return
        if outcome in ("error", "interrupted") or self._in_error():
            self._session.rollback(quiet=True)
        with translated("recording the end of the import"):
            self._session.conn.execute(runs.finish_run_sql(self.prefix), params)
            self._session.commit()

    def analyze(self) -> None:
        """Refresh the planner's statistics of the tables an import writes."""
        with translated("refreshing the imported tables' statistics"):
            for table in ANALYZED:
                self._session.conn.execute(queries.analyze_sql(self.prefix, table))
            self._session.commit()

    def _mid_command(self) -> bool:
        """An interrupt that landed inside psycopg can leave a command running (ACTIVE)
        or the connection unusable (UNKNOWN): it takes no other command."""
        status = self._session.conn.info.transaction_status
        return status in (pq.TransactionStatus.ACTIVE, pq.TransactionStatus.UNKNOWN)

    def _finish_aside(self, params: Mapping[str, Any]) -> None:
        """Stop the session's unfinished command and close the session (its open
        transaction is rolled back, its locks released), then record the end on a
        short connection of its own."""
        with contextlib.suppress(psycopg.Error):
            self._session.conn.cancel_safe(timeout=CANCEL_TIMEOUT)
        self._session.conn.close()
        if self._conninfo is None:
            raise StoreError("recording the end of the import failed: no connection settings")
        aside = connect(self._conninfo, "sonar-bdc")
        with contextlib.closing(aside), translated("recording the end of the import"):
            aside.execute(runs.finish_run_sql(self.prefix), params)
            aside.commit()

    @timed
    def write_report(self, rows: Iterable[ReportRow], seen_at: datetime) -> ReportWriteResult:
        """Upsert the report fields and ``last_seen_at``; detail fields are left alone.

        Timed whole: rows streamed from Sonar's report are read while they are written."""
        return write_report(self._session, rows, seen_at)

    @timed
    def write_catalogs(self, catalogs: Catalogs) -> None:
        """Upsert groups, account statuses and account types (nothing is deleted)."""
        write_catalogs(self._session, catalogs)

    @timed
    def inventory_likely_stale(self, older_than: datetime) -> bool:
        """Before the report: will this run likely refresh some customer's inventory?"""
        with translated("looking for stale inventory"):
            likely = models.inventory_likely_stale(self._session, older_than)
        self._end_read()
        return likely

    @timed
    def known_mac_fields(self, since: datetime) -> dict[int, frozenset[int]]:
        """Each inventory model's MAC field ids as stored by a run at ``since`` or later."""
        with translated("reading the inventory models"):
            known = models.known_mac_fields(self._session, since)
        self._end_read()
        return known

    @timed
    def write_models(self, rows: Iterable[models.ModelRow], fetched_at: datetime) -> None:
        """Store (id, name, manufacturer id, MAC field ids) of models fetched at ``fetched_at``."""
        try:
            with translated("saving the inventory models"):
                models.write_models(self._session, rows, fetched_at)
        except BaseException:
            self._session.rollback(quiet=True)
            raise

    @timed
    def stale_customer_ids(
        self, part: str, seen_at: datetime, older_than: datetime | None, limit: int | None
    ) -> list[int]:
        """Customers the run ``seen_at`` listed whose ``part`` needs fetching, in fetch order.

        ``part`` is "detail" or "inventory"; ``older_than`` None means all (--force).
        """
        if part not in queries.FRESHNESS_COLUMNS:
            raise ValueError(f"part must be one of {sorted(queries.FRESHNESS_COLUMNS)}: {part!r}")
        params = {"seen": seen_at, "cutoff": older_than, "limit": limit}
        with translated(f"listing customers whose {part} is stale"):
            cur = self._session.conn.execute(queries.stale_ids_sql(self.prefix, part), params)
            ids = [row[0] for row in cur.fetchall()]
        self._end_read()
        return ids

    def stage_listing(
        self, pages: Iterable[Sequence[tuple[int, InventoryItem]]]
    ) -> tuple[int, int]:
        """Hold bulk-listed (account id, item) pages for ``Writer.add_listed_inventory``.

        Returns (items staged, text values cleaned); replaces any earlier listing.
        """
        with translated("holding the inventory listing"):
            return stage_listing(self._session, pages)

    @timed
    def listing_would_drop(self) -> list[int]:
        """Customers whose stored inventory holds an item the held listing lacks."""
        with translated("comparing the inventory listing"):
            cur = self._session.conn.execute(listing.would_drop_sql(self.prefix))
            ids = [row[0] for row in cur.fetchall()]
        self._end_read()
        return ids

    def writer(self, known: Collection[int] = frozenset()) -> Writer:
        """``known``: ids whose changes the caller counts already (``changed_ids`` leaves
        them out, so a first import does not hold every id twice)."""
        return Writer(self._session, known)

    @timed
    def set_meta(self, key: str, value: str) -> None:
        try:
            with translated(f"saving metadata {key!r}"):
                self._session.conn.execute(queries.set_meta_sql(self.prefix), [key, value])
                self._session.commit()
        except BaseException:
            self._session.rollback(quiet=True)
            raise

    @timed
    def get_meta(self, key: str) -> str | None:
        with translated(f"reading metadata {key!r}"):
            row = self._session.conn.execute(queries.get_meta_sql(self.prefix), [key]).fetchone()
        self._end_read()
        return None if row is None else row[0]

    def close(self) -> None:
        """Close; anything uncommitted (everything, in a dry run) is rolled back."""
        with contextlib.suppress(Exception):
            self._session.tx.close()

    def _end_read(self) -> None:
        """Do not sit idle in a transaction after a read (a dry run keeps its one)."""
        conn = self._session.conn
        if not self.dry_run and conn.info.transaction_status == pq.TransactionStatus.INTRANS:
            with translated("ending a read"):
                self._session.commit()

    def _in_error(self) -> bool:
        return self._session.conn.info.transaction_status == pq.TransactionStatus.INERROR

    def _unlock(self, key: int) -> None:
        with contextlib.suppress(StoreError), translated("releasing the run lock"):
            if self._session.conn.info.transaction_status == pq.TransactionStatus.INERROR:
                self._session.rollback()
            self._session.conn.execute(queries.UNLOCK, [key])
            self._end_read()


def _check_positive(option: str, value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"{option} must be a whole number of at least 1, got {value!r}")
