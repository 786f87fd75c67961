"""The SQL of ``sonar-bdc fabric load``: one Fabric release per prefix, replaced whole.

A load builds the new release beside the old one, then swaps it in:

1. two staging tables (``fabric_load_loc``, ``fabric_load_addr``) are created empty;
2. the rows are COPYed into them over two connections at once: PostgreSQL reads a
   Fabric CSV itself, and two server processes keep two cores busy (one process, or
   Python taking the rows apart, is what held a load to about 120,000 rows/s). The
   locations' staging table carries the checks the Fabric's rules need (ids, True or
   False, a point, the release) and computes the point from latitude and longitude;
3. the key and indexes are built two at a time: the GiST index on one connection, the
   key, the addresses' index and the counts on the other;
4. one short transaction locks the live tables, drops them, renames the staging tables
   and indexes into their places, empties the matches (they name the old release's
   ids) and records the release in ``metadata``.

Until step 4 the old release is untouched and readable. An error or Ctrl-C at any step
drops the staging tables; a load killed outright leaves them for the next load to drop.
The staging table's columns and the index definitions repeat those of the schema
(``ddl.schema_v5``, less the zip indexes v7 dropped); tests compare the tables after a
load with those the schema creates.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TypeVar

import psycopg
from psycopg import sql

from sonar_bdc.errors import (
    FabricDuplicateLocation,
    FabricRowsRefused,
    RunLocked,
    StoreUnavailable,
)
from sonar_bdc.store import queries
from sonar_bdc.store.db import (
    Closing,
    ConnInfo,
    PrefixDb,
    connect,
    scalar,
    translated,
    warn_if_lookalike,
)
from sonar_bdc.store.migrate import ensure_schema
from sonar_bdc.store.prefix import Prefix

LOCATIONS = "fabric_locations"
ADDRESSES = "fabric_addresses"
MATCHES = "fabric_matches"
TABLES = (LOCATIONS, ADDRESSES, MATCHES)
STAGED = {LOCATIONS: "fabric_load_loc", ADDRESSES: "fabric_load_addr"}
KEY = "fabric_load_key"  # the unique index that becomes the primary key at the swap
COPY_CONNECTIONS = 2  # server processes reading rows at once: the cores of a small server
MIN_SERVER = 130000  # PostgreSQL 13: ALTER COLUMN ... DROP EXPRESSION

# metadata keys a load writes (the match reads the release)
META_RELEASE = "fabric_release"
META_BSL = "fabric_bsl"
META_NOBSL = "fabric_nobsl"
META_ADDRESSES = "fabric_addresses"
META_LOADED_AT = "fabric_loaded_at"

# A reader (a fabric match) holding the tables this long at the swap is "in use": exit
# 75. Longer than a match takes: giving up throws the whole load's work away.
LOCK_TIMEOUT = sql.SQL("SET LOCAL lock_timeout = '60s'")
# Sorted index builds of millions of rows fit in memory with this (server side, per build).
INDEX_MEMORY = sql.SQL("SET maintenance_work_mem = '256MB'")
UTF8 = sql.SQL("SET client_encoding TO 'UTF8'")  # the Fabric's CSVs are UTF-8
_COPY_WHERE = re.compile(r"line (\d+)(?:, column (\w+))?")
_KEY = re.compile(r"\(location_id\)=\((\d+)\)")
# The ids the BDC system accepts (schema v5's check on fabric_locations).
ID_RANGE = sql.SQL("location_id BETWEEN 1000000000 AND 9999999999")
# Refusals of a row's data (SQLSTATE classes 22 and 23); anything else is the database's.
_DATA_CLASSES = ("22", "23")
T = TypeVar("T")


@dataclass(frozen=True)
class Index:
    table: str
    suffix: str  # the live name is the prefixed f"{table}_{suffix}"
    staged: str  # its name while the load builds it
    method: str  # what follows ON <table>
    lane: int  # the connection that builds it: the GiST index, the longest, has one alone


INDEXES = (
    Index(LOCATIONS, "geom_idx", "fabric_load_geom", "USING gist (geom)", 0),
    Index(ADDRESSES, "loc_idx", "fabric_load_addr_loc", "(location_id)", 1),
)


@dataclass(frozen=True)
class Batch:
    """One file's rows for one staging table, in ``columns`` order."""

    name: str  # the file, for messages
    table: str  # the live table the rows are for
    columns: Sequence[str]
    rows: Iterable[Sequence[str | None]] = ()
    where: Callable[[], str] | None = None  # "FILE line N" of the row last read
    # Or the rows already in COPY's text format (tab-separated, backslash escapes, an
    # empty field for NULL), in blocks of whole lines: written as they are.
    text: Iterable[str] = ()


@dataclass(frozen=True)
class Replaced:
    previous: str | None  # the release replaced; None on a first load
    bsl: int
    nobsl: int
    addresses: int
    matches_cleared: int  # fabric_matches rows emptied
    # Seconds each step took ("copy", "indexes", "swap", and each index, built two at
    # a time): where a load's time goes, for -v and bench/.
    steps: dict[str, float] = field(default_factory=dict)


def _staged(prefix: Prefix, table: str) -> sql.Identifier:
    return prefix.table(STAGED[table])


def lock_sql(prefix: Prefix) -> sql.Composed:
    tables = sql.SQL(", ").join(prefix.table(t) for t in TABLES)
    return sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(tables)


def drop_staged_sql(prefix: Prefix) -> sql.Composed:
    tables = sql.SQL(", ").join(_staged(prefix, t) for t in STAGED)
    return sql.SQL("DROP TABLE IF EXISTS {}").format(tables)


def create_staged_locations_sql(prefix: Prefix, release: str) -> sql.Composed:
    """schema v5's fabric_locations with the columns a Fabric row gives: bsl_flag read
    from its text (only True or False), the point computed from latitude and longitude,
    fcc_rel the load's release (the default for files without the column). Dropping
    bsl_text, latitude and longitude at the swap leaves v5's columns in v5's order."""
    return sql.SQL(
        "CREATE TABLE {table} ("
        " location_id bigint NOT NULL CONSTRAINT {id_check} CHECK ({id_range}),"
        " address_primary text, city text, state text, zip text, zip_suffix text,"
        " unit_count integer CONSTRAINT {units_check} CHECK (unit_count >= 0),"
        " bsl_text text NOT NULL CHECK (bsl_text IN ('True', 'False')),"
        " bsl_flag boolean NOT NULL GENERATED ALWAYS AS (bsl_text = 'True') STORED,"
        " building_type_code text, land_use_code text, address_confidence_code text,"
        " county_geoid text, block_geoid text, h3_9 text,"
        " latitude double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),"
        " longitude double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),"
        " fcc_rel text NOT NULL DEFAULT {release}"
        " CONSTRAINT {release_check} CHECK (fcc_rel = {release}),"
        " geom geometry(Point, 4326) NOT NULL GENERATED ALWAYS AS"
        " (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)) STORED)"
    ).format(
        table=_staged(prefix, LOCATIONS),
        id_check=sql.Identifier(prefix.name(f"{LOCATIONS}_location_id_check")),
        id_range=ID_RANGE,
        units_check=sql.Identifier("fabric_load_units"),
        release_check=sql.Identifier("fabric_load_release"),
        release=sql.Literal(release),
    )


def unstage_locations_sql(prefix: Prefix) -> sql.Composed:
    """The staging table made v5's fabric_locations: catalog changes only, no rewrite."""
    return sql.SQL(
        "ALTER TABLE {} ALTER COLUMN bsl_flag DROP EXPRESSION,"
        " ALTER COLUMN geom DROP EXPRESSION, ALTER COLUMN fcc_rel DROP DEFAULT,"
        " DROP CONSTRAINT fabric_load_units, DROP CONSTRAINT fabric_load_release,"
        " DROP COLUMN bsl_text, DROP COLUMN latitude, DROP COLUMN longitude"
    ).format(_staged(prefix, LOCATIONS))


def create_staged_addresses_sql(prefix: Prefix, release: str) -> list[sql.Composed]:
    """schema v5's fabric_addresses with the checks a Secondary/Supplemental row needs
    when PostgreSQL reads it: the id's range, a whole address_id, the load's release (also
    the default for files without the column). ``unstage_addresses_sql`` drops them."""
    table = _staged(prefix, ADDRESSES)
    return [
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES)").format(
            table, prefix.table(ADDRESSES)
        ),
        sql.SQL(
            "ALTER TABLE {table} ALTER COLUMN fcc_rel SET DEFAULT {release},"
            " ADD CONSTRAINT fabric_load_addr_id CHECK ({id_range}),"
            " ADD CONSTRAINT fabric_load_addr_address CHECK (address_id >= 0),"
            " ADD CONSTRAINT fabric_load_addr_release CHECK (fcc_rel = {release})"
        ).format(table=table, release=sql.Literal(release), id_range=ID_RANGE),
    ]


def unstage_addresses_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "ALTER TABLE {} ALTER COLUMN fcc_rel DROP DEFAULT,"
        " DROP CONSTRAINT fabric_load_addr_id, DROP CONSTRAINT fabric_load_addr_address,"
        " DROP CONSTRAINT fabric_load_addr_release"
    ).format(_staged(prefix, ADDRESSES))


def create_index_sql(prefix: Prefix, index: Index) -> sql.Composed:
    return sql.SQL("CREATE INDEX {} ON {} {}").format(
        sql.Identifier(prefix.name(index.staged)),
        _staged(prefix, index.table),
        sql.SQL(index.method),  # one of INDEXES' constants, never input
    )


def create_key_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("CREATE UNIQUE INDEX {} ON {} (location_id)").format(
        sql.Identifier(prefix.name(KEY)), _staged(prefix, LOCATIONS)
    )


def rename_index_sql(prefix: Prefix, index: Index) -> sql.Composed:
    return sql.SQL("ALTER INDEX {} RENAME TO {}").format(
        prefix.table(index.staged), sql.Identifier(prefix.name(f"{index.table}_{index.suffix}"))
    )


# The privileges others hold on a table (its owner's come with ownership): a swap hands
# them to the table that replaces it, or a reporting role granted SELECT would lose it.
GRANTS_SQL = sql.SQL(
    "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END,"
    " a.privilege_type, a.is_grantable"
    " FROM pg_catalog.pg_class c, aclexplode(c.relacl) a"
    " WHERE c.oid = %s::regclass AND a.grantee <> c.relowner"
)
PRIVILEGES = frozenset(
    ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN")
)


def grant_sql(
    table: sql.Identifier, role: str | None, privilege: str, grantable: bool
) -> sql.Composed:
    """GRANT one privilege read from the catalog (``role`` None: PUBLIC)."""
    if privilege not in PRIVILEGES:
        raise ValueError(f"unknown privilege {privilege!r}")
    return sql.SQL("GRANT {} ON {} TO {}{}").format(
        sql.SQL(privilege),  # one of PRIVILEGES, never input
        table,
        sql.SQL("PUBLIC") if role is None else sql.Identifier(role),
        sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL(""),
    )


def add_pkey_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}").format(
        prefix.table(LOCATIONS),
        sql.Identifier(prefix.name(f"{LOCATIONS}_pkey")),
        sql.Identifier(prefix.name(KEY)),
    )


def copy_sql(prefix: Prefix, table: str, columns: Sequence[str]) -> sql.Composed:
    """COPY text into a staging table: an empty field is NULL (the Fabric's CSVs know no
    other NULL)."""
    return sql.SQL("COPY {} ({}) FROM STDIN (NULL '')").format(
        _staged(prefix, table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def copy_csv_sql(prefix: Prefix, table: str, columns: Sequence[str]) -> sql.Composed:
    """COPY a Fabric CSV's rows as they are into ``table``'s staging table; an empty
    field is NULL, quoted or not (as Python's csv reads it)."""
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, FORCE_NULL ({}))").format(
        _staged(prefix, table), names, names
    )


def location_counts_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT count(*) FILTER (WHERE bsl_flag), count(*) FILTER (WHERE NOT bsl_flag) FROM {}"
    ).format(_staged(prefix, LOCATIONS))


class FabricDb(PrefixDb):
    """A connection for ``fabric load``: the schema ensured, then one release replaced."""

    @classmethod
    def connect(cls, conninfo: ConnInfo, prefix: Prefix) -> FabricDb:
        """Connect and bring the tables to the latest schema (committed on its own, so the
        migration lock is not held for the whole load)."""
        conn = connect(conninfo, "sonar-bdc fabric")
        try:
            with translated(f"preparing the tables at {prefix}"):
                warn_if_lookalike(conn, prefix)
                ensure_schema(conn, prefix)
                conn.commit()
        except BaseException:
            conn.close()
            raise
        return cls(conn, prefix)

    def current_release(self) -> str | None:
        with translated(f"reading the Fabric release at {self.prefix}"):
            value = scalar(self.conn, queries.get_meta_sql(self.prefix), [META_RELEASE])
            self.conn.rollback()
        return None if value is None else str(value)

    @contextmanager
    def staged_load(
        self, conninfo: ConnInfo, release: str, proceed: Callable[[], None]
    ) -> Iterator[StagedLoad]:
        """A load of ``release`` into staging tables, swapped in by ``finish``; whatever
        happens before, the staging tables are dropped and the old release stays."""
        with translated(f"loading the Fabric into {self.prefix}"):
            load = StagedLoad(self, conninfo, release, proceed)
            try:
                yield load
            finally:
                load.close()


def check_server(server_version: int) -> None:
    """The staging table needs stored generated columns and ALTER ... DROP EXPRESSION."""
    if server_version < MIN_SERVER:
        raise StoreUnavailable(
            f"fabric load needs PostgreSQL {MIN_SERVER // 10000} or newer; this server runs "
            f"{server_version // 10000}: upgrade PostgreSQL (or load the Fabric into a "
            "database on a newer server); nothing changed"
        )


class StagedLoad(Closing):
    """One load in progress: its staging tables and the connections that fill them."""

    def __init__(
        self, db: FabricDb, conninfo: ConnInfo, release: str, proceed: Callable[[], None]
    ) -> None:
        check_server(db.conn.info.server_version)
        self.conn, self.prefix, self.release, self.proceed = db.conn, db.prefix, release, proceed
        self.steps: dict[str, float] = {}
        self._key = self.prefix.lock_key("fabric load")
        if not scalar(self.conn, queries.TRY_LOCK, [self._key]):
            self.conn.rollback()
            raise RunLocked(
                f"another fabric load at {self.prefix} is running: try again when it has "
                "finished; nothing changed"
            )
        self._staged = True
        try:
            self.conn.execute(drop_staged_sql(self.prefix))  # a killed load's leftovers
            self.conn.execute(create_staged_locations_sql(self.prefix, release))
            for statement in create_staged_addresses_sql(self.prefix, release):
                self.conn.execute(statement)
            self.conn.commit()
            self.lanes = Lanes(conninfo, proceed)
        except BaseException:
            self.close()
            raise

    def copy_csv(
        self, name: str, table: str, columns: Sequence[str], blocks: Iterable[bytes]
    ) -> None:
        """A CSV for ``table`` (its header left out), read by PostgreSQL over every lane;
        a row it refuses raises FabricRowsRefused."""
        with _timed(self.steps, "copy"), _refusals(name):
            self.lanes.copy(copy_csv_sql(self.prefix, table, columns), blocks)

    def copy_rows(self, batch: Batch) -> None:
        """Rows checked by Python, on the first lane's connection (from this thread)."""
        statement = copy_sql(self.prefix, batch.table, batch.columns)
        conn = self.lanes.conns[0]
        with (
            _timed(self.steps, "copy"),
            _refusals(batch.name, batch.where),
            conn.cursor() as cur,
            cur.copy(statement) as copy,
        ):
            for block in batch.text:
                self.proceed()
                copy.write(block)
            write = copy.write_row
            for row in batch.rows:
                write(row)

    def finish(self) -> Replaced:
        """Commit the rows, build the key and indexes, swap the release in."""
        self.lanes.commit()
        self.proceed()
        with _timed(self.steps, "indexes"):
            counts = self.lanes.run([self._gist_lane, self._other_lane])[1]
        assert counts is not None
        bsl, nobsl, addresses = counts
        self.proceed()
        with _timed(self.steps, "swap"):
            previous, cleared = self._swap(bsl, nobsl, addresses)
        self._staged = False
        return Replaced(previous, bsl, nobsl, addresses, cleared, dict(self.steps))

    def _gist_lane(self, conn: psycopg.Connection) -> tuple[int, int, int] | None:
        self._indexes(conn, 0)
        return None

    def _other_lane(self, conn: psycopg.Connection) -> tuple[int, int, int] | None:
        """The key first (a duplicate id stops the load soonest), the addresses' index,
        then the counts the metadata records."""
        with _timed(self.steps, "index primary key"):
            try:
                conn.execute(create_key_sql(self.prefix))
            except psycopg.errors.UniqueViolation as exc:
                found = _KEY.search(getattr(exc.diag, "message_detail", None) or "")
                location_id = int(found.group(1)) if found else 0
                raise FabricDuplicateLocation(
                    f"location_id {location_id} is on two rows; nothing changed", location_id
                ) from exc
        self._indexes(conn, 1)
        row = conn.execute(location_counts_sql(self.prefix)).fetchone()
        bsl, nobsl = (int(row[0]), int(row[1])) if row else (0, 0)
        addresses = int(scalar(conn, queries.count_sql(self.prefix, STAGED[ADDRESSES])) or 0)
        conn.commit()
        return bsl, nobsl, addresses

    def _indexes(self, conn: psycopg.Connection, lane: int) -> None:
        conn.execute(INDEX_MEMORY)
        for index in INDEXES:
            if index.lane == lane:
                with _timed(self.steps, f"index {index.table}_{index.suffix}"):
                    conn.execute(create_index_sql(self.prefix, index))
        conn.commit()

    def _swap(self, bsl: int, nobsl: int, addresses: int) -> tuple[str | None, int]:
        """One transaction: the live tables locked, replaced by the staged ones."""
        conn, prefix = self.conn, self.prefix
        conn.execute(LOCK_TIMEOUT)
        try:
            conn.execute(lock_sql(prefix))
        except psycopg.errors.LockNotAvailable as exc:
            raise RunLocked(
                f"the Fabric tables at {prefix} are in use by another session (a fabric "
                "match?): try again when it has finished; nothing changed"
            ) from exc
        previous = scalar(conn, queries.get_meta_sql(prefix), [META_RELEASE])
        cleared = int(scalar(conn, queries.count_sql(prefix, MATCHES)) or 0)
        conn.execute(unstage_locations_sql(prefix))
        conn.execute(unstage_addresses_sql(prefix))
        self._hand_over_grants()
        conn.execute(sql.SQL("DROP TABLE {}, {}").format(
            prefix.table(LOCATIONS), prefix.table(ADDRESSES)))  # fmt: skip
        conn.execute(sql.SQL("TRUNCATE {}").format(prefix.table(MATCHES)))
        for table, staged in STAGED.items():
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                prefix.table(staged), sql.Identifier(prefix.name(table))))  # fmt: skip
        for index in INDEXES:
            conn.execute(rename_index_sql(prefix, index))
        conn.execute(add_pkey_sql(prefix))
        loaded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for key, value in (
            (META_RELEASE, self.release), (META_BSL, str(bsl)), (META_NOBSL, str(nobsl)),
            (META_ADDRESSES, str(addresses)), (META_LOADED_AT, loaded_at),
        ):  # fmt: skip
            conn.execute(queries.set_meta_sql(prefix), [key, value])
        self.proceed()
        conn.commit()
        return (None if previous is None else str(previous)), cleared

    def _hand_over_grants(self) -> None:
        for table in STAGED:
            live = self.prefix.table(table)
            qualified = live.as_string(self.conn)
            for role, privilege, grantable in self.conn.execute(GRANTS_SQL, [qualified]).fetchall():
                self.conn.execute(
                    grant_sql(_staged(self.prefix, table), role, privilege, grantable)
                )

    def close(self) -> None:
        """Drop what was staged (unless swapped in), free the lock and the lanes."""
        lanes = getattr(self, "lanes", None)
        if lanes is not None:
            lanes.close()
        try:
            self.conn.rollback()
            if self._staged:
                self.conn.execute(drop_staged_sql(self.prefix))
                self.conn.commit()
            self.conn.execute(queries.UNLOCK, [self._key])
            self.conn.commit()
        except psycopg.Error:
            self.conn.close()  # the server drops the session's lock; the next load, the tables


class Lanes(Closing):
    """``COPY_CONNECTIONS`` connections, each used by one thread of its own at a time.

    Work waits here with ``proceed`` called every 0.2 s: a stop request cancels the
    statements running on the lanes and rolls them back.
    """

    def __init__(self, conninfo: ConnInfo, proceed: Callable[[], None]) -> None:
        self.proceed = proceed
        self.conns: list[psycopg.Connection] = []
        try:
            for _ in range(COPY_CONNECTIONS):
                self.conns.append(connect(conninfo, "sonar-bdc fabric"))
                self.conns[-1].execute(UTF8)
        except BaseException:
            self.close()
            raise
        self._pool = ThreadPoolExecutor(len(self.conns), thread_name_prefix="fabric-load")

    def run(self, jobs: Sequence[Callable[[psycopg.Connection], T]]) -> list[T]:
        """Job i on lane i (modulo the lanes, in order), the lanes at once; the results in
        the jobs' order; the first error raised once every lane has stopped."""
        lanes = len(self.conns)

        def lane(at: int) -> list[T]:
            return [job(self.conns[at]) for job in jobs[at::lanes]]

        futures = [self._pool.submit(lane, at) for at in range(min(lanes, len(jobs)))]
        self._wait(futures)
        results = [f.result() for f in futures]
        return [results[i % lanes][i // lanes] for i in range(len(jobs))]

    def copy(self, statement: sql.Composed, blocks: Iterable[bytes]) -> None:
        """COPY ``blocks`` over every lane, each block to the lane with the least waiting."""
        queues: list[queue.Queue[bytes | None]] = [queue.Queue(4) for _ in self.conns]
        abort = threading.Event()
        futures = [
            self._pool.submit(_copy_from, conn, statement, q, abort)
            for conn, q in zip(self.conns, queues, strict=True)
        ]
        try:
            for block in blocks:
                self.proceed()
                self._put(min(queues, key=queue.Queue.qsize), block, futures)
            for q in queues:
                self._put(q, None, futures)
        except BaseException:
            abort.set()
            wait(futures)
            raise
        self._wait(futures)

    def _put(
        self, q: queue.Queue[bytes | None], item: bytes | None, futures: Sequence[Future[T]]
    ) -> None:
        while True:
            for f in futures:  # a lane that failed (a refused row) stops the copy at once
                if f.done():
                    f.result()
            try:
                q.put(item, timeout=0.2)
                return
            except queue.Full:
                self.proceed()

    def _wait(self, futures: Sequence[Future[T]]) -> None:
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                for f in done:
                    f.result()
                self.proceed()
        except BaseException:
            for conn in self.conns:
                conn.cancel_safe()
            wait(futures)
            raise

    def commit(self) -> None:
        for conn in self.conns:
            conn.commit()

    def close(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)
        for conn in self.conns:
            conn.close()  # uncommitted work is rolled back by the server


def _copy_from(
    conn: psycopg.Connection, statement: sql.Composed, blocks: queue.Queue[bytes | None],
    abort: threading.Event,
) -> None:  # fmt: skip
    """One lane's COPY: blocks until None; ``abort`` ends it with the COPY failed."""
    with conn.cursor() as cur, cur.copy(statement) as copy:
        while True:
            try:
                block = blocks.get(timeout=0.2)
            except queue.Empty:
                block = b""
            if abort.is_set():
                raise _Aborted()
            if block is None:
                return
            if block:
                copy.write(block)


class _Aborted(Exception):
    """The load stopped while this lane was copying."""


@contextmanager
def _refusals(name: str, where: Callable[[], str] | None = None) -> Iterator[None]:
    """A row PostgreSQL (or psycopg) refused, as FabricRowsRefused naming where."""
    try:
        yield
    except psycopg.Error as exc:
        if exc.sqlstate is None and isinstance(exc, psycopg.DataError) and where is not None:
            raise FabricRowsRefused(unsendable_message(where(), exc)) from exc
        if exc.sqlstate is not None and exc.sqlstate[:2] in _DATA_CLASSES:
            raise FabricRowsRefused(refused_message(name, exc)) from exc
        raise


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - start


def unsendable_message(where: str, exc: psycopg.Error) -> str:
    """A row psycopg cannot send (a NUL byte in a text field), at the line just read."""
    what = "a field holds a NUL byte" if "NUL" in str(exc) else "a field cannot be stored"
    return f"{where}: {what} (a damaged file?); nothing changed"


def refused_message(name: str, exc: psycopg.Error) -> str:
    """Which row and column PostgreSQL refused, never the value (the Fabric is licensed)."""
    found = _COPY_WHERE.search(getattr(exc.diag, "context", None) or "")
    where = f"{name} data row {found.group(1)}" if found else name
    column = f" in column {found.group(2)}" if found and found.group(2) else ""
    return f"{where}: PostgreSQL refused a value{column} ({exc.sqlstate}); nothing changed"
