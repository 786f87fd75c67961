"""The SQL of ``sonar-bdc fabric load``: one Fabric release per prefix, replaced whole.

A load is one transaction: lock the three Fabric tables, empty them (the matches too:
they name the old release's ids), drop their indexes and primary key, COPY every file
straight into its table (FREEZE: the tables were emptied in this transaction), rebuild
the key and indexes (sorted builds, far faster than keeping them up row by row), record
the release in ``metadata``, commit. Readers wait on the lock and then see the new
release; an error or Ctrl-C rolls everything back, old release and indexes included.

The index definitions repeat schema v5's (``ddl.schema_v5``); a test compares the two.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg
from psycopg import sql

from sonar_bdc.errors import FabricDuplicateLocation, FabricFileError, RunLocked
from sonar_bdc.store import queries
from sonar_bdc.store.db import (
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

# metadata keys a load writes (the match reads the release)
META_RELEASE = "fabric_release"
META_BSL = "fabric_bsl"
META_NOBSL = "fabric_nobsl"
META_ADDRESSES = "fabric_addresses"
META_LOADED_AT = "fabric_loaded_at"

# A reader (a fabric match) holding the tables this long is "in use": exit 75.
LOCK_TIMEOUT = sql.SQL("SET LOCAL lock_timeout = '10s'")
# Sorted index builds of millions of rows fit in memory with this (server side, per build).
INDEX_MEMORY = sql.SQL("SET LOCAL maintenance_work_mem = '256MB'")
_COPY_WHERE = re.compile(r"line (\d+)(?:, column (\w+))?")
_KEY = re.compile(r"\(location_id\)=\((\d+)\)")


@dataclass(frozen=True)
class Index:
    table: str
    suffix: str  # the name is the prefixed f"{table}_{suffix}"
    method: str  # what follows ON <table>


INDEXES = (
    Index(LOCATIONS, "geom_idx", "USING gist (geom)"),
    Index(LOCATIONS, "zip_idx", "(zip)"),
    Index(ADDRESSES, "loc_idx", "(location_id)"),
    Index(ADDRESSES, "zip_idx", "(zip)"),
)


@dataclass(frozen=True)
class Batch:
    """One file's rows for one table, in ``columns`` order."""

    name: str  # the file, for messages
    table: str
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
    # Seconds each step took ("copy", "primary key", "index <name>", "record", "commit"):
    # where a load's time goes, for -v and bench/.
    steps: dict[str, float] = field(default_factory=dict)


def lock_sql(prefix: Prefix) -> sql.Composed:
    tables = sql.SQL(", ").join(prefix.table(t) for t in TABLES)
    return sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(tables)


def truncate_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(prefix.table(t) for t in TABLES))


def _index_name(prefix: Prefix, index: Index) -> str:
    return prefix.name(f"{index.table}_{index.suffix}")


def drop_index_sql(prefix: Prefix, index: Index) -> sql.Composed:
    name = sql.Identifier(prefix.schema_name, _index_name(prefix, index))
    return sql.SQL("DROP INDEX IF EXISTS {}").format(name)


def create_index_sql(prefix: Prefix, index: Index) -> sql.Composed:
    return sql.SQL("CREATE INDEX {} ON {} {}").format(
        sql.Identifier(_index_name(prefix, index)),
        prefix.table(index.table),
        sql.SQL(index.method),  # one of INDEXES' constants, never input
    )


def _pkey(prefix: Prefix) -> sql.Identifier:
    return sql.Identifier(prefix.name(f"{LOCATIONS}_pkey"))


def drop_pkey_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
        prefix.table(LOCATIONS), _pkey(prefix)
    )


def add_pkey_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY (location_id)").format(
        prefix.table(LOCATIONS), _pkey(prefix)
    )


def copy_sql(prefix: Prefix, table: str, columns: Sequence[str]) -> sql.Composed:
    """COPY FREEZE: legal because the load emptied the table in its own transaction.
    An empty field is NULL (the Fabric's CSVs know no other NULL)."""
    return sql.SQL("COPY {} ({}) FROM STDIN (FREEZE, NULL '')").format(
        prefix.table(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def location_counts_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT count(*) FILTER (WHERE bsl_flag), count(*) FILTER (WHERE NOT bsl_flag) FROM {}"
    ).format(prefix.table(LOCATIONS))


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

    def replace(
        self, release: str, batches: Iterable[Batch], proceed: Callable[[], None]
    ) -> Replaced:
        """Replace whatever release is loaded with ``batches``, in one transaction.

        ``proceed`` is called between steps and before the commit: what it raises (a
        stop request) rolls everything back, as does any error, ours from ``batches``
        included. FabricDuplicateLocation names the id two rows share.
        """
        steps: dict[str, float] = {}
        try:
            with translated(f"loading the Fabric into {self.prefix}"):
                with _timed(steps, "empty"):
                    previous, cleared = self._empty()
                for batch in batches:
                    proceed()
                    with _timed(steps, "copy"):
                        self._copy(batch)
                proceed()
                self._rebuild(steps)
                with _timed(steps, "record"):
                    replaced = self._record(release, previous, cleared)
                proceed()
                with _timed(steps, "commit"):
                    self.conn.commit()
        except BaseException:
            self._rollback()
            raise
        replaced.steps.update(steps)
        return replaced

    def _empty(self) -> tuple[str | None, int]:
        """Lock and empty the tables, drop their key and indexes; the release and the
        matches count before."""
        self.conn.execute(LOCK_TIMEOUT)
        try:
            self.conn.execute(lock_sql(self.prefix))
        except psycopg.errors.LockNotAvailable as exc:
            raise RunLocked(
                f"the Fabric tables at {self.prefix} are in use by another session (a fabric "
                "load or match?): try again when it has finished; nothing changed"
            ) from exc
        previous = scalar(self.conn, queries.get_meta_sql(self.prefix), [META_RELEASE])
        cleared = int(scalar(self.conn, queries.count_sql(self.prefix, MATCHES)) or 0)
        self.conn.execute(truncate_sql(self.prefix))
        for index in INDEXES:
            self.conn.execute(drop_index_sql(self.prefix, index))
        self.conn.execute(drop_pkey_sql(self.prefix))
        return (None if previous is None else str(previous)), cleared

    def _copy(self, batch: Batch) -> None:
        statement = copy_sql(self.prefix, batch.table, batch.columns)
        try:
            with self.conn.cursor() as cur, cur.copy(statement) as copy:
                for block in batch.text:
                    copy.write(block)
                write = copy.write_row
                for row in batch.rows:
                    write(row)
        except psycopg.errors.DataError as exc:
            if exc.sqlstate is None and batch.where is not None:  # refused before sending
                raise FabricFileError(unsendable_message(batch.where(), exc)) from exc
            raise FabricFileError(refused_message(batch.name, exc)) from exc

    def _rebuild(self, steps: dict[str, float]) -> None:
        self.conn.execute(INDEX_MEMORY)
        try:
            with _timed(steps, "primary key"):
                self.conn.execute(add_pkey_sql(self.prefix))
        except psycopg.errors.UniqueViolation as exc:
            found = _KEY.search(getattr(exc.diag, "message_detail", None) or "")
            location_id = int(found.group(1)) if found else 0
            raise FabricDuplicateLocation(
                f"location_id {location_id} is on two rows; nothing changed", location_id
            ) from exc
        for index in INDEXES:
            with _timed(steps, f"index {index.table}_{index.suffix}"):
                self.conn.execute(create_index_sql(self.prefix, index))

    def _record(self, release: str, previous: str | None, cleared: int) -> Replaced:
        row = self.conn.execute(location_counts_sql(self.prefix)).fetchone()
        bsl, nobsl = (int(row[0]), int(row[1])) if row else (0, 0)
        addresses = int(scalar(self.conn, queries.count_sql(self.prefix, ADDRESSES)) or 0)
        loaded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for key, value in (
            (META_RELEASE, release), (META_BSL, str(bsl)), (META_NOBSL, str(nobsl)),
            (META_ADDRESSES, str(addresses)), (META_LOADED_AT, loaded_at),
        ):  # fmt: skip
            self.conn.execute(queries.set_meta_sql(self.prefix), [key, value])
        return Replaced(previous, bsl, nobsl, addresses, cleared)

    def _rollback(self) -> None:
        """Undo the load; a connection left mid-command is closed (the server then rolls
        back), so the old release stays whatever interrupted us."""
        try:
            self.conn.rollback()
        except psycopg.Error:
            self.conn.close()


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
