"""The streaming writer for account details, inventory and deletions.

Customers are buffered ``batch_size`` at a time; a flush stages them with COPY
and runs every upsert in one pipeline, so a customer's row and its child rows
are always in the same transaction. A commit follows every ``commit_interval``
customers; what was not committed stays stale and is fetched again next run.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

import psycopg
from psycopg import sql

from sonar_bdc.errors import StoreError
from sonar_bdc.records import CustomerDetail, CustomerInventory
from sonar_bdc.store import rows, staging, upserts
from sonar_bdc.store.db import translated
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.session import Session


class Writer:
    """Use as ``with store.writer() as w``; see the module docstring."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._details: dict[int, tuple[CustomerDetail, datetime]] = {}
        self._inventories: dict[int, tuple[CustomerInventory, datetime]] = {}
        self._deleted: dict[int, datetime] = {}
        self._buffered: set[int] = set()
        self._clean = rows.TextCleaner()
        self._pending_changed: set[int] = set()
        self._pending_written = 0
        self.changed_ids: set[int] = set()
        self.written = 0

    @property
    def nul_cleaned(self) -> int:
        return self._clean.cleaned

    def add_detail(self, detail: CustomerDetail, fetched_at: datetime) -> None:
        """Set the detail fields and replace the customer's groups and services exactly."""
        if detail.id in self._deleted:
            self.flush()
        self._details[detail.id] = (detail, fetched_at)
        self._flush_if_full(detail.id)

    def add_inventory(self, inventory: CustomerInventory, fetched_at: datetime) -> None:
        """Upsert the items and replace the customer's inventory links exactly."""
        if inventory.customer_id in self._deleted:
            self.flush()
        self._inventories[inventory.customer_id] = (inventory, fetched_at)
        self._flush_if_full(inventory.customer_id)

    def mark_deleted(self, customer_id: int, at: datetime) -> None:
        """Sonar says the account is gone: stamp it and remove its child rows."""
        if customer_id in self._details or customer_id in self._inventories:
            self.flush()
        self._deleted[customer_id] = at
        self._flush_if_full(customer_id)

    def flush(self) -> None:
        """Write the buffered customers now (committing if commit_interval is reached)."""
        count = len(self._buffered)
        if not count:
            return
        with translated("writing customer details"):
            changed = self._write_buffers()
        self._clear_buffers()
        self._pending_changed |= changed
        self._pending_written += count
        if self._pending_written >= self._session.commit_interval:
            self.commit()

    def commit(self) -> None:
        with translated("committing customer details"):
            self._session.commit()

    def _flush_if_full(self, customer_id: int) -> None:
        self._buffered.add(customer_id)
        if len(self._buffered) >= self._session.batch_size:
            self.flush()

    def _clear_buffers(self) -> None:
        self._details, self._inventories, self._deleted = {}, {}, {}
        self._buffered = set()

    def _write_buffers(self) -> set[int]:
        self._stage()
        prefix, conn = self._session.prefix, self._session.conn
        plan = _statements(
            prefix, bool(self._details), bool(self._inventories), bool(self._deleted)
        )
        with conn.pipeline():
            cursors = [(conn.execute(statement), kind) for statement, kind in plan]
        return self._changed_from(cursors)

    def _stage(self) -> None:
        st, clean = self._session.staging, self._clean
        details, inventories = self._details.values(), self._inventories.values()
        st.clear()
        st.copy(staging.DETAIL, [rows.detail_row(d, at, clean) for d, at in details])
        st.copy(staging.GROUP_LINKS, [link for d, _ in details for link in rows.group_links(d)])
        st.copy(staging.SERVICES, [s for d, _ in details for s in rows.service_rows(d, clean)])
        st.copy(staging.INVENTORY, [(inv.customer_id, at) for inv, at in inventories])
        items = (rows.item_row(item, clean) for inv, _ in inventories for item in inv.items)
        st.copy(staging.ITEMS, rows.last_by_key(items))
        links = [link for inv, _ in inventories for link in rows.inventory_links(inv)]
        st.copy(staging.ITEM_LINKS, links)
        st.copy(staging.DELETED, list(self._deleted.items()))

    def _changed_from(self, cursors: list[tuple[psycopg.Cursor, str]]) -> set[int]:
        changed: set[int] = set()
        for cur, kind in cursors:
            if kind == "customers":
                changed.update(row[0] for row in cur.fetchall())
            elif kind == "items":
                changed.update(self._owners_of({row[0] for row in cur.fetchall()}))
        return changed

    def _owners_of(self, item_ids: set[int]) -> set[int]:
        """The buffered customers whose inventory holds one of ``item_ids``."""
        return {
            customer_id
            for customer_id, (inventory, _) in self._inventories.items()
            if any(item.id in item_ids for item in inventory.items)
        }

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
            self._clear_buffers()
            self._session.on_commit.remove(self._committed)
            self._session.on_rollback.remove(self._rolled_back)

    def _finish(self) -> None:
        try:
            self.flush()
            self.commit()
        except BaseException:
            self._session.rollback(quiet=True)
            raise


Plan = list[tuple[sql.Composed, str]]


def _statements(prefix: Prefix, details: bool, inventories: bool, deleted: bool) -> Plan:
    """The pipeline for one flush, in FK order, each tagged with what it returns."""
    plan: Plan = []
    if details:
        plan += [
            (upserts.detail_sql(prefix), "customers"),
            (_replace(prefix, "customer_groups", staging.GROUP_LINKS, staging.DETAIL), "customers"),
            (_replace(prefix, "services", staging.SERVICES, staging.DETAIL), "customers"),
        ]
    if inventories:
        items = prefix.table("inventory_items")
        item_values = staging.ITEMS.column_names[1:]
        links = _replace(prefix, "customer_inventory", staging.ITEM_LINKS, staging.INVENTORY)
        plan += [
            (upserts.inventory_seen_sql(prefix), "none"),
            (upserts.upsert_sql(items, staging.ITEMS, ("id",), item_values), "items"),
            (links, "customers"),
        ]
    if deleted:
        plan += [
            (upserts.deleted_sql(prefix), "customers"),
            (upserts.delete_children_sql(prefix, staging.DELETED), "customers"),
        ]
    return plan


def _replace(
    prefix: Prefix, table: str, stage: staging.Stage, owners: staging.Stage
) -> sql.Composed:
    """Children keyed by (customer_id, their id); the other staged columns are values."""
    key, values = stage.column_names[:2], stage.column_names[2:]
    return upserts.replace_children_sql(prefix.table(table), stage, owners, key, values)
