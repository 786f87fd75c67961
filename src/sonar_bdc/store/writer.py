"""The streaming writer for account details, inventory and deletions.

Customers are buffered ``batch_size`` at a time; a flush stages them with COPY
and runs every upsert in one pipeline, so a customer's row and its child rows
are always in the same transaction. A commit follows every ``commit_interval``
customers; what was not committed stays stale and is fetched again next run.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from types import TracebackType

from sonar_bdc.errors import StoreError
from sonar_bdc.records import CustomerDetail, CustomerInventory
from sonar_bdc.store import batch, rows
from sonar_bdc.store.batch import Batch, Customer
from sonar_bdc.store.db import translated
from sonar_bdc.store.session import Session
from sonar_bdc.store.timing import timed


class Writer:
    """Use as ``with store.writer() as w``; see the module docstring."""

    def __init__(self, session: Session, known: Collection[int] = frozenset()) -> None:
        self._session = session
        self._known = known
        self._buffer: dict[int, Customer] = {}
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

    @timed
    def add_detail(self, detail: CustomerDetail, fetched_at: datetime) -> None:
        """Set the detail fields and replace the customer's groups and services exactly."""
        rows.require_aware(fetched_at, "fetched_at")
        customer = self._slot(detail.id, deleting=False)
        customer.name, customer.fips = detail.name, detail.fips
        customer.census_year = detail.census_year
        customer.account_status_id = detail.account_status_id
        customer.account_type_id = detail.account_type_id
        customer.updated_at = fetched_at
        customer.groups = rows.group_links(detail)
        customer.services = rows.service_rows(detail)

    @timed
    def add_inventory(self, inventory: CustomerInventory, fetched_at: datetime | None) -> None:
        """Upsert the items and replace the customer's inventory links exactly.

        ``fetched_at`` None: written, but the stored freshness is left as it was."""
        _require_aware(fetched_at)
        customer = self._slot(inventory.customer_id, deleting=False)
        customer.inventory_updated_at = fetched_at
        customer.items, customer.listed = rows.item_rows(inventory), False

    @timed
    def add_listed_inventory(self, customer_id: int, fetched_at: datetime | None) -> None:
        """Like ``add_inventory``, with the items ``Store.stage_listing`` holds for it."""
        _require_aware(fetched_at)
        customer = self._slot(customer_id, deleting=False)
        customer.inventory_updated_at = fetched_at
        customer.items, customer.listed = None, True

    @timed
    def mark_deleted(self, customer_id: int, at: datetime) -> None:
        """Sonar says the account is gone: stamp it and remove its child rows."""
        rows.require_aware(at, "at")
        customer = self._slot(customer_id, deleting=True)
        customer.updated_at = customer.inventory_updated_at = customer.deleted_at = at
        customer.deleted = True

    @timed
    def flush(self) -> None:
        """Write the buffered customers now (committing if commit_interval is reached)."""
        if not self._buffer:
            return
        self._clean_buffer()
        with translated("writing customer details"):
            changed = self._write(list(self._buffer.values()))
        count = len(self._buffer)
        self._buffer = {}
        self._pending_changed.update(c for c in changed if c not in self._known)
        self._pending_written += count
        if self._pending_written >= self._session.commit_interval:
            self.commit()

    @timed
    def commit(self) -> None:
        with translated("committing customer details"):
            self._session.commit()

    def _slot(self, customer_id: int, *, deleting: bool) -> Customer:
        """The buffered entry for ``customer_id``; a deletion never shares a batch entry."""
        customer = self._buffer.get(customer_id)
        if customer is not None and customer.deleted != deleting:
            self.flush()
            customer = None
        if customer is None:
            if len(self._buffer) >= self._session.batch_size:
                self.flush()
            customer = self._buffer[customer_id] = Customer(customer_id)
        customer.cleaned = False
        return customer

    def _clean_buffer(self) -> None:
        """Clean text PostgreSQL cannot store, checking the whole buffer at C speed."""
        pending = [customer for customer in self._buffer.values() if not customer.cleaned]
        if not pending:
            return
        if not batch.storable(pending):
            for customer in pending:
                batch.clean_customer(customer, self._clean)
        for customer in pending:
            customer.cleaned = True

    def _write(self, customers: list[Customer]) -> set[int]:
        staged = Batch.of(customers)
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

    @timed
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


def _require_aware(fetched_at: datetime | None) -> None:
    if fetched_at is not None:
        rows.require_aware(fetched_at, "fetched_at")
