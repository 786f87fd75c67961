"""Import and filing run records (schema v3), and the state a filer checks before filing.

Every import writes a row in ``import_runs`` when it takes the run lock and finishes
it at the end; a row left ``running`` whose lock nobody holds is a run that was
killed. ``read_state`` gathers what ``sonar_bdc.readiness`` judges, in the caller's
transaction (the filing reads it in the snapshot it files from). Read-only: it
never creates a table, and a database from before v3 reads as "no runs recorded".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sonar_bdc.store import queries
from sonar_bdc.store.db import ConnInfo, connect, scalar, table_exists, translated
from sonar_bdc.store.demo import DEMO_MARK
from sonar_bdc.store.fabric import META_LOADED_AT, META_RELEASE
from sonar_bdc.store.matching import META_MATCH_RELEASE, META_MATCHED_AT
from sonar_bdc.store.migrate import schema_version
from sonar_bdc.store.prefix import Prefix

PARTS = ("report", "catalogs", "detail", "inventory")
RUNS, FILINGS = "import_runs", "filing_runs"


@dataclass(frozen=True)
class RunRecord:
    """One import run as recorded (``outcome`` 'running' until it finishes)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    api: str
    parts: list[str]
    outcome: str
    listed: int | None = None
    new: int | None = None
    updated: int | None = None
    failed: int | None = None
    deleted: int | None = None
    message: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FilingRecord:
    kind: str
    as_of: date
    written_at: datetime
    csv_path: str | None
    rows: int | None
    connections: int | None
    excluded: dict[str, int]


@dataclass(frozen=True)
class FabricState:
    """The Fabric release loaded at the prefix and the last ``fabric match`` (metadata)."""

    release: str | None
    loaded_at: datetime | None
    matched_at: datetime | None
    match_release: str | None


@dataclass(frozen=True)
class ImportState:
    """What the database says about the import, as of one moment."""

    prefix: str
    has_tables: bool  # the customers table exists
    recorded: bool  # the run tables exist (schema v3 or later)
    lock_held: bool  # an import holds the run lock now
    last_runs: dict[str, RunRecord | None]  # per part: the last run that set out to refresh it
    latest_report: datetime | None  # the latest report's time (customers.last_seen_at)
    listed: int = 0  # customers in the latest report, not deleted
    never_detailed: int = 0  # ... whose detail was never imported
    oldest_detail: datetime | None = None  # ... their oldest detail
    stale_detail: int = 0  # ... detail older than the stale cutoff
    never_inventory: int = 0
    stale_inventory: int = 0
    deleted: int = 0  # customers marked deleted in Sonar
    tracts: int = 0
    last_filing: FilingRecord | None = None
    demo: str | None = None  # the demo's mark: simulated customers, not a real Sonar's
    fabric: FabricState | None = None  # the loaded Fabric and the last match, if any

    @property
    def last_run(self) -> RunRecord | None:
        runs = [run for run in self.last_runs.values() if run is not None]
        return max(runs, key=lambda run: run.id, default=None)


Rec = TypeVar("Rec", RunRecord, FilingRecord)


# --- SQL builders ------------------------------------------------------------------------


def start_run_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: api, parts, options. Returns the new id."""
    return sql.SQL("INSERT INTO {} (api, parts, options) VALUES (%s, %s, %s) RETURNING id").format(
        prefix.table(RUNS)
    )


def finish_run_sql(prefix: Prefix) -> sql.Composed:
    """Parameters by name: id, parts (those it covered for every customer; NULL keeps
    those it set out to refresh), outcome,
    listed, new, updated, failed, deleted (newly marked), failed_ids, message."""
    return sql.SQL(
        "UPDATE {} SET finished_at = clock_timestamp(), parts = coalesce(%(parts)s, parts),"
        " outcome = %(outcome)s,"
        " listed = %(listed)s, new = %(new)s, updated = %(updated)s, failed = %(failed)s,"
        " deleted = %(deleted)s, failed_ids = %(failed_ids)s, message = %(message)s"
        " WHERE id = %(id)s"
    ).format(prefix.table(RUNS))


_EVERY_ROW = sql.SQL("")


def last_run_sql(prefix: Prefix) -> sql.Composed:
    """The last run that set out to refresh a part, as a ``RunRecord``. Parameters: part."""
    where = sql.SQL("WHERE %s = ANY (parts)")
    return _latest_sql(prefix.table(RUNS), RunRecord, where)


def record_filing_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: kind, as_of, csv_path, rows, connections, excluded."""
    return sql.SQL(
        "INSERT INTO {} (kind, as_of, csv_path, rows, connections, excluded)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
    ).format(prefix.table(FILINGS))


def last_filing_sql(prefix: Prefix) -> sql.Composed:
    """The last filing, as a ``FilingRecord``."""
    return _latest_sql(prefix.table(FILINGS), FilingRecord)


def _latest_sql(
    table: sql.Composable, record: type[RunRecord | FilingRecord], where: sql.SQL = _EVERY_ROW
) -> sql.Composed:
    """The newest row of ``table`` (``where``), its columns the fields of ``record``."""
    columns = sql.SQL(", ").join(sql.Identifier(f.name) for f in fields(record))
    return sql.SQL("SELECT {} FROM {} {} ORDER BY id DESC LIMIT 1").format(columns, table, where)


def customer_counts_sql(prefix: Prefix) -> sql.Composed:
    """Counts over the customers of the latest report. Parameters by name: cutoff."""
    customers = prefix.table("customers")
    return sql.SQL(
        "SELECT max(seen) AS latest_report,"
        " count(*) FILTER (WHERE listed) AS listed,"
        " count(*) FILTER (WHERE listed AND updated_at IS NULL) AS never_detailed,"
        " min(updated_at) FILTER (WHERE listed) AS oldest_detail,"
        " count(*) FILTER (WHERE listed AND updated_at < %(cutoff)s) AS stale_detail,"
        " count(*) FILTER (WHERE listed AND inventory_updated_at IS NULL) AS never_inventory,"
        " count(*) FILTER (WHERE listed AND inventory_updated_at < %(cutoff)s)"
        "   AS stale_inventory,"
        " count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted"
        " FROM (SELECT c.updated_at, c.inventory_updated_at, c.deleted_at, latest.seen,"
        "   c.last_seen_at = latest.seen AND c.deleted_at IS NULL AS listed"
        "   FROM {} c CROSS JOIN (SELECT max(last_seen_at) AS seen FROM {}) latest) c"
    ).format(customers, customers)


# pg_locks shows a bigint advisory key as two 32-bit halves (classid, objid), objsubid 1.
LOCK_HELD = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory'"
    " AND granted AND objsubid = 1 AND classid::bigint = %s AND objid::bigint = %s"
    " AND database = (SELECT oid FROM pg_catalog.pg_database"
    "   WHERE datname = current_database()))"
)


def lock_halves(key: int) -> tuple[int, int]:
    """The (classid, objid) pair pg_locks shows for the advisory lock ``key``."""
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


# --- reading -----------------------------------------------------------------------------


def read_state(conn: psycopg.Connection, prefix: Prefix, stale_cutoff: datetime) -> ImportState:
    """The import's state in the caller's transaction; never writes."""
    lock_held = bool(scalar(conn, LOCK_HELD, lock_halves(prefix.lock_key())))
    version = schema_version(conn, prefix)  # another application's tables: PrefixTaken
    has_tables = table_exists(conn, prefix, "customers")
    recorded = has_tables and version >= 3 and table_exists(conn, prefix, RUNS)
    runs = {part: _last_run(conn, prefix, part) if recorded else None for part in PARTS}
    counts = _counts(conn, prefix, stale_cutoff) if has_tables else {}
    with_tracts = table_exists(conn, prefix, "tracts")
    tracts = scalar(conn, queries.count_sql(prefix, "tracts")) if with_tracts else 0
    filing = _last_filing(conn, prefix) if recorded else None
    with_meta = table_exists(conn, prefix, "metadata")
    demo = scalar(conn, queries.get_meta_sql(prefix), [DEMO_MARK]) if with_meta else None
    fabric = _fabric_state(conn, prefix) if with_meta else None
    return ImportState(
        prefix=str(prefix),
        has_tables=has_tables,
        recorded=recorded,
        lock_held=lock_held,
        last_runs=runs,
        latest_report=counts.pop("latest_report", None),
        tracts=int(tracts or 0),
        last_filing=filing,
        demo=demo,
        fabric=fabric,
        **counts,
    )


def _fabric_state(conn: psycopg.Connection, prefix: Prefix) -> FabricState | None:
    """None when no Fabric was ever loaded or matched at the prefix."""
    get = queries.get_meta_sql(prefix)
    release, loaded, matched, match_release = (
        scalar(conn, get, [key])
        for key in (META_RELEASE, META_LOADED_AT, META_MATCHED_AT, META_MATCH_RELEASE)
    )
    if release is None and matched is None:
        return None
    return FabricState(release, _moment(loaded), _moment(matched), match_release)


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:  # written by hand or by another tool: not a moment we can use
        return None


def _counts(conn: psycopg.Connection, prefix: Prefix, cutoff: datetime) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(customer_counts_sql(prefix), {"cutoff": cutoff}).fetchone()
    return dict(row or {})


def _last_run(conn: psycopg.Connection, prefix: Prefix, part: str) -> RunRecord | None:
    return _latest(conn, last_run_sql(prefix), [part], RunRecord)


def _last_filing(conn: psycopg.Connection, prefix: Prefix) -> FilingRecord | None:
    return _latest(conn, last_filing_sql(prefix), [], FilingRecord)


def _latest(
    conn: psycopg.Connection, query: sql.Composed, params: list[str], record: type[Rec]
) -> Rec | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query, params).fetchone()
    return None if row is None else record(**row)


def record_filing(
    conn: psycopg.Connection,
    prefix: Prefix,
    kind: str,
    as_of: date,
    csv_path: str,
    rows: int,
    connections: int,
    excluded: Mapping[str, int],
) -> bool:
    """Insert a filing record and commit; False when the table is not there (before v3)."""
    if not table_exists(conn, prefix, FILINGS):
        conn.rollback()
        return False
    params = [kind, as_of, csv_path, rows, connections, Jsonb(dict(excluded))]
    conn.execute(record_filing_sql(prefix), params)
    conn.commit()
    return True


def read_status(conninfo: ConnInfo, prefix: Prefix, stale_cutoff: datetime) -> ImportState:
    """``read_state`` on a connection of its own, read-only: nothing is created."""
    conn = connect(conninfo, "sonar-bdc status")
    try:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with translated(f"reading the import's state at {prefix}"):
            return read_state(conn, prefix, stale_cutoff)
    finally:
        conn.close()
