"""Writing the report (customers' report fields) and the catalogs through staging."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

import psycopg

from sonar_bdc.errors import StoreError
from sonar_bdc.records import Catalogs, ReportRow
from sonar_bdc.store import ddl, queries, rows, staging, upserts
from sonar_bdc.store.db import translated
from sonar_bdc.store.session import Session


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


def batched(items: Iterable[ReportRow], size: int) -> Iterator[list[ReportRow]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def write_report(
    session: Session, report: Iterable[ReportRow], seen_at: datetime
) -> ReportWriteResult:
    """COPY-stage and upsert the report in batches, committing every commit_interval rows.

    A first load into an empty table COPYs its rows straight into customers instead
    (see ``_copy_new``) and builds the GiST index once at the end.
    """
    rows.require_aware(seen_at, "seen_at")
    result, seen, clean = ReportWriteResult(), set[int](), rows.TextCleaner()
    batches = (rows.report_rows(batch, clean) for batch in batched(report, session.batch_size))
    pending = 0
    try:
        index_deferred = copy_new = _defer_geom_index(session)
        staged = next(batches, None)
        while staged is not None:
            ids = [row[0] for row in staged]
            pending += len(staged)
            commit_due = pending >= session.commit_interval
            written = False
            if copy_new and seen.isdisjoint(ids):
                # Into a table that was empty, ids no earlier batch brought are not there
                # yet, unless another session added one: then upsert from here on.
                written = copy_new = _copy_new(session, staged, seen_at, result)
            if written:
                upcoming = None if commit_due else next(batches, None)
            else:
                # Read ahead only when no commit follows: a source failing then must
                # not cost the rows that commit would have kept.
                read_ahead = None if commit_due else batches
                upcoming = _write_batch(session, staged, seen_at, result, read_ahead)
            seen.update(ids)  # type: ignore[arg-type]
            if commit_due:
                _commit(session)
                pending = 0
                upcoming = next(batches, None)
            staged = upcoming
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
        if not session.conn.execute(queries.is_empty_sql(prefix, "customers")).fetchone()[0]:
            return False
        try:
            with session.conn.transaction():  # a savepoint: a busy table is not an error
                session.conn.execute(queries.lock_nowait_sql(prefix, "customers"))
                session.conn.execute(ddl.drop_geom_index_sql(prefix))
        except (psycopg.errors.LockNotAvailable, psycopg.errors.InsufficientPrivilege):
            return False
    return True


def _copy_new(
    session: Session, staged: Sequence[rows.Row], seen_at: datetime, result: ReportWriteResult
) -> bool:
    """COPY rows the table cannot hold yet straight into customers: no staging table,
    no lookups. False, with nothing written, when one is there after all (another
    session added it since the last commit): the caller upserts from then on."""
    statement = upserts.copy_new_customers_sql(session.prefix)
    with translated("writing the report"):
        try:
            with (
                session.conn.transaction(),  # a savepoint: a conflict costs only this batch
                session.conn.cursor() as cur,
                cur.copy(statement) as copy,
            ):
                copy.set_types(upserts.NEW_CUSTOMER_TYPES)
                for row in rows.new_customer_rows(staged, seen_at):
                    copy.write_row(row)
        except psycopg.errors.UniqueViolation:
            return False
        except (OverflowError, TypeError, ValueError) as exc:
            raise StoreError(f"a value does not fit customers: {exc}") from exc
    result.new_ids.update(row[0] for row in staged)  # type: ignore[misc]
    return True


def _write_batch(
    session: Session,
    staged: Sequence[rows.Row],
    seen_at: datetime,
    result: ReportWriteResult,
    read_ahead: Iterator[list[rows.Row]] | None,
) -> list[rows.Row] | None:
    """Stage and upsert one batch; return the next from ``read_ahead``, read while the
    server writes this one (None when there is none or no ``read_ahead``)."""
    conn = session.conn
    with translated("writing the report"):
        session.staging.clear((staging.REPORT,))
        session.staging.copy(staging.REPORT, staged)
        ids = upserts.id_array(row[0] for row in staged)
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
    staged = {
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
                params = {"ids": upserts.id_array(row[0] for row in unique)}
                session.conn.execute(upserts.upsert_sql(target, stage, ("id",), values), params)
        _commit(session)
    except BaseException:
        session.rollback(quiet=True)
        raise
    return clean.cleaned
