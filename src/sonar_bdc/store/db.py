"""The one connection: opening it, translating psycopg errors, and transactions.

psycopg exceptions never leave ``sonar_bdc.store``: they become StoreError or
StoreUnavailable here, with the cause kept and no password in any message.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import psycopg
from psycopg import pq, sql

from sonar_bdc.errors import StoreError, StoreUnavailable
from sonar_bdc.store import queries
from sonar_bdc.store.prefix import Prefix, lookalike_warning

log = logging.getLogger("sonar_bdc.store")

DEFAULT_CONNECT_TIMEOUT = 10
# Every lookup the store makes is a batch of keys probed through a primary key on
# data the import just touched (cached): tell the planner random reads are cheap,
# or it scans whole child tables for a 5 000-key batch (about 2x slower).
SESSION_OPTIONS = "-c random_page_cost=1.1"
_SAVEPOINT = sql.Identifier("sonar_bdc_dry_run")
SAVEPOINT = sql.SQL("SAVEPOINT {}").format(_SAVEPOINT)
BEGIN = sql.SQL("SELECT 1")
RELEASE = sql.SQL("RELEASE SAVEPOINT {}").format(_SAVEPOINT)
ROLLBACK_TO = sql.SQL("ROLLBACK TO SAVEPOINT {}").format(_SAVEPOINT)

# libpq's words for a connection that has not finished its last command.
BUSY = "another command is already in progress"
_AUTH_HINTS = ("password", "authentication", "role ")
_DB_HINTS = ("database",)


# What psycopg.connect() takes as keywords: host, port, dbname, user, password, ...
ConnInfo = Mapping[str, str | int | None]


def connect(conninfo: ConnInfo, application_name: str) -> psycopg.Connection:
    """Open a non-autocommit connection; StoreUnavailable names the setting to fix."""
    # Any: mypy matches a ** dict against every typed keyword of connect(), not only these
    params: dict[str, Any] = {"connect_timeout": DEFAULT_CONNECT_TIMEOUT, **conninfo}
    params["options"] = " ".join(filter(None, [SESSION_OPTIONS, params.get("options")]))
    try:
        return psycopg.connect(**params, application_name=application_name, autocommit=False)
    except psycopg.Error as exc:
        raise StoreUnavailable(connect_message(exc, params)) from exc


def connect_message(exc: Exception, params: ConnInfo) -> str:
    """One line saying what failed and which POSTGRES_* settings to check."""
    detail = one_line(str(exc), params.get("password"))
    where = f"{params.get('host', 'localhost')}:{params.get('port', 5432)}"
    lowered = detail.lower()
    if any(hint in lowered for hint in _AUTH_HINTS):
        check = "POSTGRES_USER and POSTGRES_PASSWORD"
    elif any(hint in lowered for hint in _DB_HINTS):
        check = "POSTGRES_DB"
    else:
        check = "POSTGRES_HOST and POSTGRES_PORT"
    return f"cannot connect to PostgreSQL at {where} (check {check}): {detail}"


def one_line(text: str, secret: object = None) -> str:
    """Collapse a libpq message to one line and mask ``secret`` if it appears."""
    line = " ".join(text.split())
    line = line.removeprefix("connection failed: ")
    if isinstance(secret, str) and secret:
        line = line.replace(secret, "***")
    return line


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Re-raise psycopg errors met while doing ``action`` as our store errors."""
    try:
        yield
    except psycopg.OperationalError as exc:
        if isinstance(exc, (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)):
            raise StoreError(f"{action} failed: {describe(exc)}") from exc
        if BUSY in str(exc):  # connected still: an interrupt left a command unfinished
            raise StoreError(
                f"{action} failed: the connection to PostgreSQL is still busy with a command "
                "an interrupt cut short; everything committed so far is kept"
            ) from exc
        # Connected once, so the settings are right: a lost connection (a restart, a
        # network cut) is a failed run (exit 1), and what was committed is kept.
        raise StoreError(
            f"{action} failed: lost the connection to PostgreSQL ({describe(exc)}); "
            "everything committed so far is kept: run the import again to finish"
        ) from exc
    except psycopg.Error as exc:
        raise StoreError(f"{action} failed: {describe(exc)}") from exc


def describe(exc: psycopg.Error) -> str:
    """The server's primary message (one line), else the exception text."""
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return one_line(primary or str(exc) or type(exc).__name__)


def scalar(
    conn: psycopg.Connection, query: sql.SQL | sql.Composed, params: Sequence[Any] | None = None
) -> Any:
    """The first column of the query's first row; None when it returns no row."""
    row = conn.execute(query, params).fetchone()
    return None if row is None else row[0]


def table_exists(conn: psycopg.Connection, prefix: Prefix, table: str) -> bool:
    """The table ``table`` exists at ``prefix``."""
    return bool(scalar(conn, queries.TABLE_EXISTS, [prefix.schema_name, prefix.name(table)]))


def savepoint(conn: psycopg.Connection) -> contextlib.AbstractContextManager[psycopg.Transaction]:
    """``conn.transaction()``, always a savepoint: on an idle connection it would be
    a transaction of its own, committed when its block ends."""
    if conn.info.transaction_status == pq.TransactionStatus.IDLE:
        conn.execute(BEGIN)  # psycopg opens the transaction before any statement
    return conn.transaction()


C = TypeVar("C", bound="Closing")


class Closing:
    """A connection's owner, closed at the end of a ``with`` block (``Store``, ``PrefixDb``)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PrefixDb(Closing):
    """One connection to the tables at one prefix (``FilingDb``, ``CoverageDb``, ``MatchDb``)."""

    def __init__(self, conn: psycopg.Connection, prefix: Prefix) -> None:
        self.conn = conn
        self.prefix = prefix

    def close(self) -> None:
        self.conn.close()


def connect_warned(conninfo: ConnInfo, prefix: Prefix, application_name: str) -> psycopg.Connection:
    """``connect``, then ``warn_if_lookalike``; the connection is closed if that fails."""
    conn = connect(conninfo, application_name)
    try:
        with translated("starting the session"):
            warn_if_lookalike(conn, prefix)
    except BaseException:
        conn.close()
        raise
    return conn


class Transactions:
    """commit/rollback that never persist anything in a dry run.

    A dry run keeps one transaction open for the whole session: a "commit" moves
    a savepoint forward and a "rollback" returns to it, so the run sees its own
    writes exactly as a real run would, and ``close`` throws everything away.
    """

    def __init__(self, conn: psycopg.Connection, dry_run: bool) -> None:
        self.conn = conn
        self.dry_run = dry_run
        if dry_run:
            conn.execute(SAVEPOINT)

    def commit(self) -> None:
        if self.dry_run:
            self.conn.execute(RELEASE)
            self.conn.execute(SAVEPOINT)
        else:
            self.conn.commit()

    def rollback(self) -> None:
        if self.dry_run:
            self.conn.execute(ROLLBACK_TO)
        else:
            self.conn.rollback()

    def close(self) -> None:
        """Roll back whatever is not committed (everything, in a dry run) and close."""
        try:
            if not self.conn.closed:
                self.conn.rollback()
        finally:
            self.conn.close()


def warn_if_lookalike(conn: psycopg.Connection, prefix: Prefix) -> None:
    """Log ``lookalike_warning`` for ``prefix``; ends the read's transaction."""
    if prefix.schema is not None or not prefix.table_prefix:
        return
    row = conn.execute(queries.SCHEMA_EXISTS, [prefix.table_prefix]).fetchone()
    conn.rollback()
    warning = lookalike_warning(prefix, bool(row and row[0]))
    if warning:
        log.warning("%s", warning)
