"""The streaming writer for account details, inventory and deletions.

Customers are buffered ``batch_size`` at a time; a flush stages them with COPY
and runs every upsert in one pipeline, so a customer's row and its child rows
are always in the same transaction. A commit follows every ``commit_interval``
customers; what was not committed stays stale and is fetched again next run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from psycopg import sql

from sonar_bdc.errors import StoreError
from sonar_bdc.records import CustomerDetail, CustomerInventory
from sonar_bdc.store import rows, staging, upserts
from sonar_bdc.store.db import translated
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.rows import Row
from sonar_bdc.store.session import Session


@dataclass(slots=True)
class _Customer:
    """One buffered customer: its staged customer row and, per part refreshed, child rows."""

    row: list[object]  # staging.CUSTOMERS column order
    groups: list[Row] | None = None  # None: detail not refreshed in this batch
    services: list[Row] | None = None
    items: list[Row] | None = None  # None: inventory not refreshed in this batch
    deleted: bool = False
    cleaned: bool = False  # text checked since the last change


def _storable(batch: list[_Customer]) -> bool:
    """One scan over every text field of ``batch``."""
    services = [row for c in batch for row in c.services or ()]
    items = [row for c in batch for row in c.items or ()]
    return (
        rows.storable(rows.texts([c.row for c in batch], rows.DETAIL_TEXT_POSITIONS))
        and rows.storable(rows.texts(services, rows.SERVICE_TEXT_POSITIONS))
        and rows.storable(rows.texts(items, rows.ITEM_TEXT_POSITIONS))
    )


def _clean_customer(customer: _Customer, clean: rows.TextCleaner) -> None:
    for position in rows.DETAIL_TEXT_POSITIONS:
        customer.row[position] = clean(customer.row[position])  # type: ignore[arg-type]
    if customer.services:
        customer.services = clean.rows(customer.services, rows.SERVICE_TEXT_POSITIONS)
    if customer.items:
        customer.items = clean.rows(customer.items, rows.ITEM_TEXT_POSITIONS)


def _blank(customer_id: int) -> list[object]:
    return [customer_id] + [None] * (len(staging.CUSTOMERS.columns) - 1)


class Writer:
    """Use as ``with store.writer() as w``; see the module docstring."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._buffer: dict[int, _Customer] = {}
        self._clean = rows.TextCleaner()
        self._pending_changed: set[int] = set()
        self._pending_written = 0
        self.changed_ids: set[int] = set()
        self.written = 0

    @property
    def nul_cleaned(self) -> int:
        """Text values cleaned so far, buffered customers included."""
        self._clean_buffer()
        return self._clean.cleaned

    def add_detail(self, detail: CustomerDetail, fetched_at: datetime) -> None:
        """Set the detail fields and replace the customer's groups and services exactly."""
        rows.require_aware(fetched_at, "fetched_at")
        customer = self._slot(detail.id, deleting=False)
        customer.row[1:6] = rows.detail_fields(detail, fetched_at)
        customer.groups = rows.group_links(detail)
        customer.services = rows.service_rows(detail)

    def add_inventory(self, inventory: CustomerInventory, fetched_at: datetime) -> None:
        """Upsert the items and replace the customer's inventory links exactly."""
        rows.require_aware(fetched_at, "fetched_at")
        customer = self._slot(inventory.customer_id, deleting=False)
        customer.row[6] = fetched_at
        customer.items = rows.item_rows(inventory)

    def mark_deleted(self, customer_id: int, at: datetime) -> None:
        """Sonar says the account is gone: stamp it and remove its child rows."""
        rows.require_aware(at, "at")
        customer = self._slot(customer_id, deleting=True)
        customer.row[5:8] = [at, at, at]
        customer.deleted = True

    def flush(self) -> None:
        """Write the buffered customers now (committing if commit_interval is reached)."""
        if not self._buffer:
            return
        self._clean_buffer()
        with translated("writing customer details"):
            changed = self._write(list(self._buffer.values()))
        count = len(self._buffer)
        self._buffer = {}
        self._pending_changed |= changed
        self._pending_written += count
        if self._pending_written >= self._session.commit_interval:
            self.commit()

    def commit(self) -> None:
        with translated("committing customer details"):
            self._session.commit()

    def _slot(self, customer_id: int, *, deleting: bool) -> _Customer:
        """The buffered entry for ``customer_id``; a deletion never shares a batch entry."""
        customer = self._buffer.get(customer_id)
        if customer is not None and customer.deleted != deleting:
            self.flush()
            customer = None
        if customer is None:
            if len(self._buffer) >= self._session.batch_size:
                self.flush()
            customer = self._buffer[customer_id] = _Customer(_blank(customer_id))
        customer.cleaned = False
        return customer

    def _clean_buffer(self) -> None:
        """Clean text PostgreSQL cannot store, checking the whole buffer at C speed."""
        pending = [customer for customer in self._buffer.values() if not customer.cleaned]
        if not pending:
            return
        if not _storable(pending):
            for customer in pending:
                _clean_customer(customer, self._clean)
        for customer in pending:
            customer.cleaned = True

    def _write(self, batch: list[_Customer]) -> set[int]:
        staged = _Staged.of(batch)
        staged.copy(self._session.staging)
        conn = self._session.conn
        with conn.pipeline():
            cursors = [
                (conn.execute(statement, params), kind)
                for statement, params, kind in staged.plan(self._session.prefix)
            ]
        changed: set[int] = set()
        for cur, kind in cursors:
            if kind == "customers":
                changed.update(row[0] for row in cur.fetchall())
            elif kind == "items":
                changed.update(staged.owners_of(row[0] for row in cur.fetchall()))
        return changed

    def _committed(self) -> None:
        self.changed_ids |= self._pending_changed
        self.written += self._pending_written
        self._pending_changed, self._pending_written = set(), 0

    def _rolled_back(self) -> None:
        self._pending_changed, self._pending_written = set(), 0

    def __enter__(self) -> Writer:
        if self._committed in self._session.on_commit:
            raise StoreError("this writer is already open")
        self._session.on_commit.append(self._committed)
        self._session.on_rollback.append(self._rolled_back)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self._finish()
            else:
                self._session.rollback(quiet=True)
        finally:
            self._buffer = {}
            self._session.on_commit.remove(self._committed)
            self._session.on_rollback.remove(self._rolled_back)

    def _finish(self) -> None:
        try:
            self.flush()
            self.commit()
        except BaseException:
            self._session.rollback(quiet=True)
            raise


WRITER_STAGES = (
    staging.CUSTOMERS,
    staging.GROUP_LINKS,
    staging.SERVICES,
    staging.ITEMS,
    staging.ITEM_LINKS,
)
Plan = list[tuple[sql.Composed, dict[str, str], str]]


def _ids(ids: Iterable[object]) -> dict[str, str]:
    return {"ids": upserts.id_array(ids)}


@dataclass
class _Staged:
    """One batch as staging rows, with the ids each statement is bounded by."""

    customers: list[Row]
    detail_ids: list[int]
    groups: list[Row]
    services: list[Row]
    inventory_ids: list[int]
    items: list[Row]
    links: list[Row]
    deleted_ids: list[int]

    @classmethod
    def of(cls, batch: list[_Customer]) -> _Staged:
        detail = [c for c in batch if c.groups is not None]
        inventory = [c for c in batch if c.items is not None]
        return cls(
            customers=[tuple(c.row) for c in batch],
            detail_ids=[c.row[0] for c in detail],  # type: ignore[misc]
            groups=[link for c in detail for link in c.groups or ()],
            services=[service for c in detail for service in c.services or ()],
            inventory_ids=[c.row[0] for c in inventory],  # type: ignore[misc]
            items=rows.last_by_key(item for c in inventory for item in c.items or ()),
            links=[(c.row[0], item[0]) for c in inventory for item in c.items or ()],
            deleted_ids=[c.row[0] for c in batch if c.deleted],  # type: ignore[misc]
        )

    def copy(self, st: staging.Staging) -> None:
        st.clear(WRITER_STAGES)
        st.copy(staging.CUSTOMERS, self.customers)
        st.copy(staging.GROUP_LINKS, self.groups)
        st.copy(staging.SERVICES, self.services)
        st.copy(staging.ITEMS, self.items)
        st.copy(staging.ITEM_LINKS, self.links)

    def plan(self, prefix: Prefix) -> Plan:
        """The statements for this batch, in foreign-key order, tagged by what they return."""
        ids = [row[0] for row in self.customers]
        plan: Plan = [(upserts.customers_sql(prefix), _ids(ids), "customers")]
        if self.detail_ids:
            scope = _ids(self.detail_ids)
            plan += [
                (_replace(prefix, "customer_groups", staging.GROUP_LINKS), scope, "customers"),
                (_replace(prefix, "services", staging.SERVICES), scope, "customers"),
            ]
        if self.inventory_ids:
            items = prefix.table("inventory_items")
            values = staging.ITEMS.column_names[1:]
            item_ids = _ids(item[0] for item in self.items)
            plan += [
                (upserts.upsert_sql(items, staging.ITEMS, ("id",), values), item_ids, "items"),
                (
                    _replace(prefix, "customer_inventory", staging.ITEM_LINKS),
                    _ids(self.inventory_ids),
                    "customers",
                ),
            ]
        if self.deleted_ids:
            plan.append((upserts.delete_children_sql(prefix), _ids(self.deleted_ids), "customers"))
        return plan

    def owners_of(self, item_ids: Iterable[object]) -> set[int]:
        """The customers in this batch whose inventory holds one of ``item_ids``."""
        wanted = set(item_ids)
        return {link[0] for link in self.links if link[1] in wanted}  # type: ignore[misc]


def _replace(prefix: Prefix, table: str, stage: staging.Stage) -> sql.Composed:
    """Children keyed by (customer_id, their id); the other staged columns are values."""
    key, values = stage.column_names[:2], stage.column_names[2:]
    return upserts.replace_children_sql(prefix.table(table), stage, key, values)
