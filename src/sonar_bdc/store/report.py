"""Writing the report (customers' report fields) and the catalogs through staging."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TypeVar

import psycopg

from sonar_bdc.errors import StoreError
from sonar_bdc.records import Catalogs, ReportRow
from sonar_bdc.store import ddl, queries, rows, staging, upserts
from sonar_bdc.store.db import savepoint, translated
from sonar_bdc.store.session import Session

T = TypeVar("T")


@dataclass
class ReportWriteResult:
    """What one ``write_report`` did, per distinct customer id."""

    new_ids: set[int] = field(default_factory=set)
    updated_ids: set[int] = field(default_factory=set)  # report fields changed
    unchanged: int = 0  # listed again with the same report fields
    nul_cleaned: int = 0  # text values that had characters PostgreSQL cannot store

    @property
    def total(self) -> int:
        return len(self.new_ids) + len(self.updated_ids) + self.unchanged


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def write_report(
    session: Session, report: Iterable[ReportRow], seen_at: datetime
) -> ReportWriteResult:
    """COPY-stage and upsert the report in batches, committing every commit_interval rows.

    A first load into an empty table COPYs its rows straight into customers instead
    (see ``_copy_first_load``) and builds the GiST index once at the end.
    """
    rows.require_aware(seen_at, "seen_at")
    result, seen, clean = ReportWriteResult(), set[int](), rows.TextCleaner()
    batches: Iterator[list[ReportRow]] = (
        rows.report_rows(batch, clean) for batch in batched(report, session.batch_size)
    )
    try:
        index_deferred, pending = _defer_geom_index(session), 0
        if index_deferred:
            batches, pending = _copy_first_load(session, batches, seen_at, result, seen)
        _upsert_batches(session, batches, seen_at, result, seen, pending)
        if index_deferred:
            with translated("indexing the customers' locations"):
                session.conn.execute(ddl.geom_index_sql(session.prefix))
        _commit(session)
    except BaseException:
        session.rollback(quiet=True)
        raise
    result.updated_ids -= result.new_ids
    result.unchanged = len(seen - result.new_ids - result.updated_ids)
    result.nul_cleaned = clean.cleaned
    return result


def _upsert_batches(
    session: Session,
    batches: Iterator[list[ReportRow]],
    seen_at: datetime,
    result: ReportWriteResult,
    seen: set[int],
    pending: int = 0,
) -> None:
    """Stage and upsert each batch, committing every commit_interval rows (``pending``:
    rows written since the last commit before these)."""
    staged = next(batches, None)
    while staged is not None:
        pending += len(staged)
        commit_due = pending >= session.commit_interval
        # Read ahead only when no commit follows: a source failing then must not
        # cost the rows that commit would have kept.
        upcoming = _write_batch(session, staged, seen_at, result, None if commit_due else batches)
        seen.update(row.id for row in staged)
        if commit_due:
            _commit(session)
            pending = 0
            upcoming = next(batches, None)
        staged = upcoming


def _defer_geom_index(session: Session) -> bool:
    """Into an empty customers table, drop the GiST index now and build it at the end.

    Building it once is about twice as fast as inserting every point into it. Only
    when no other session is using the table and this user owns it, and never in a
    dry run (its one transaction would hold the table locked for the whole run). An
    import cut short leaves the index to ``ensure_schema``, which recreates it.
    """
    prefix = session.prefix
    if session.dry_run:
        return False
    with translated("checking the customers table"):
        empty = session.conn.execute(queries.is_empty_sql(prefix, "customers")).fetchone()
        if empty is None or not empty[0]:
            return False
        try:
            with savepoint(session.conn):  # a busy table is not an error
                session.conn.execute(queries.lock_nowait_sql(prefix, "customers"))
                session.conn.execute(ddl.drop_geom_index_sql(prefix))
        except (psycopg.errors.LockNotAvailable, psycopg.errors.InsufficientPrivilege):
            return False
    return True


COPY_ROWS = 10_000  # rows in one first-load COPY at most: what a conflict replays


class _Source:
    """The report's batches, keeping an exception they raise: psycopg before 3.3.9
    reports a COPY's pending server error instead of the exception that ended it."""

    def __init__(self, batches: Iterator[list[ReportRow]]) -> None:
        self._batches = batches
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[list[ReportRow]]:
        return self

    def __next__(self) -> list[ReportRow]:
        try:
            return next(self._batches)
        except StopIteration:
            raise
        except BaseException as exc:
            self.error = exc
            raise


def _copy_first_load(
    session: Session,
    batches: Iterator[list[ReportRow]],
    seen_at: datetime,
    result: ReportWriteResult,
    seen: set[int],
) -> tuple[Iterator[list[ReportRow]], int]:
    """COPY rows straight into the empty customers table: no staging, no lookups.

    COPYs of up to ``COPY_ROWS`` rows, fed as Sonar's rows are read, so PostgreSQL
    writes while the next rows are parsed; a commit every commit_interval rows. An
    id the load brought already waits for the upsert after its COPY (the last row
    wins). Returns the batches left to upsert, and the rows written since the last
    commit: none, or, when another session added one of the ids since the last
    commit, that COPY's rows again and all after them.
    """
    source, pending = _Source(batches), 0
    while True:
        held: list[ReportRow] = []  # this COPY's rows: the upsert's again on a conflict
        repeats: list[ReportRow] = []  # ids an earlier row brought: upserted after the COPY
        room = min(COPY_ROWS, session.commit_interval - pending)
        more = _copy_some(session, source, seen_at, seen, held, repeats, room)
        if more is None:  # another session added one of these ids: upsert from here on
            seen.difference_update(row.id for row in held)
            replay = batched(rows.last_by_key(held + repeats), session.batch_size)
            return itertools.chain(replay, source), pending
        result.new_ids.update(row.id for row in held)
        for chunk in batched(rows.last_by_key(repeats), session.batch_size):
            _write_batch(session, chunk, seen_at, result, None)
        pending += len(held) + len(repeats)
        if pending >= session.commit_interval or not more:
            _commit(session)
            pending = 0
        if not more:
            return iter(()), 0


def _copy_some(
    session: Session,
    source: _Source,
    seen_at: datetime,
    seen: set[int],
    held: list[ReportRow],
    repeats: list[ReportRow],
    room: int,
) -> bool | None:
    """Write batches into one COPY until it holds ``room`` rows: True when more may
    follow, False once they ran out, None when an id was there already (the COPY is
    rolled back). Never reads a batch past ``room``: a commit may be due."""
    statement = upserts.copy_new_customers_sql(session.prefix)
    with translated("writing the report"):
        try:
            with (
                savepoint(session.conn),  # a conflict costs only this COPY
                session.conn.cursor() as cur,
                cur.copy(statement) as copy,
            ):
                copy.set_types(upserts.NEW_CUSTOMER_TYPES)
                for staged in source:
                    for row in staged:
                        if row.id in seen:
                            repeats.append(row)
                            continue
                        seen.add(row.id)
                        held.append(row)
                        try:
                            copy.write_row(rows.new_customer_row(row, seen_at))
                        except (OverflowError, TypeError, ValueError) as exc:
                            raise StoreError(f"a value does not fit customers: {exc}") from exc
                    if len(held) + len(repeats) >= room:
                        return True
                return False
        except psycopg.errors.UniqueViolation:
            if source.error is not None:  # the source failed: that is what to report
                raise source.error from None
            return None


def _write_batch(
    session: Session,
    staged: Sequence[ReportRow],
    seen_at: datetime,
    result: ReportWriteResult,
    read_ahead: Iterator[list[ReportRow]] | None,
) -> list[ReportRow] | None:
    """Stage and upsert one batch; return the next from ``read_ahead``, read while the
    server writes this one (None when there is none or no ``read_ahead``)."""
    conn = session.conn
    with translated("writing the report"):
        session.staging.clear((staging.REPORT,))
        session.staging.copy(staging.REPORT, staged)
        ids = upserts.id_array(row.id for row in staged)
        params = {"seen": seen_at, "ids": ids}
        with conn.pipeline():
            cur = conn.execute(upserts.report_sql(session.prefix), params)
            # Sonar's stream is parsed and the next rows converted meanwhile.
            upcoming = None if read_ahead is None else next(read_ahead, None)
        for customer_id, is_new in cur.fetchall():
            (result.new_ids if is_new else result.updated_ids).add(customer_id)
    return upcoming


def _commit(session: Session) -> None:
    with translated("committing the report"):
        session.commit()


CATALOGS = (
    ("groups", staging.GROUPS, ("name",)),
    ("account_statuses", staging.STATUSES, ("name", "active")),
    ("account_types", staging.TYPES, ("name", "type")),
)


def write_catalogs(session: Session, catalogs: Catalogs) -> int:
    """Upsert the three catalogs (nothing is deleted); return the NUL-cleaned count."""
    clean = rows.TextCleaner()
    staged: dict[str, list[rows.CatalogRow]] = {
        "groups": [rows.group_row(group, clean) for group in catalogs.groups],
        "account_statuses": [rows.status_row(status, clean) for status in catalogs.statuses],
        "account_types": [rows.type_row(kind, clean) for kind in catalogs.types],
    }
    try:
        with translated("writing the catalogs"):
            session.staging.clear(tuple(stage for _, stage, _ in CATALOGS))
            for table, stage, values in CATALOGS:
                target = session.prefix.table(table)
                unique = rows.last_by_key(staged[table])
                session.staging.copy(stage, unique)
                params = {"ids": upserts.id_array(row.id for row in unique)}
                session.conn.execute(upserts.upsert_sql(target, stage, ("id",), values), params)
        _commit(session)
    except BaseException:
        session.rollback(quiet=True)
        raise
    return clean.cleaned
