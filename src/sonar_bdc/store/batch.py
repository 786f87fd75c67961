"""One writer batch: buffered customers turned into staging rows and statements.

Pure apart from ``Batch.copy``: what to stage, which statements to run in which
order, and with which key arrays, is decided here without a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from psycopg import sql

from sonar_bdc.store import listing, rows, staging, upserts
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.rendered import once
from sonar_bdc.store.rows import Row


@dataclass(slots=True)
class Customer:
    """One buffered customer: its staged customer row and, per part refreshed, child rows."""

    row: list[object]  # staging.CUSTOMERS column order
    groups: list[Row] | None = None  # None: detail not refreshed in this batch
    services: list[Row] | None = None
    items: list[Row] | None = None  # None: inventory not refreshed in this batch
    listed: bool = False  # inventory refreshed from the bulk listing (listing.py)
    deleted: bool = False
    cleaned: bool = False  # text checked since the last change


def storable(batch: list[Customer]) -> bool:
    """One scan over every text field of ``batch``."""
    services = [row for c in batch for row in c.services or ()]
    items = [row for c in batch for row in c.items or ()]
    return (
        rows.storable(rows.texts([c.row for c in batch], rows.DETAIL_TEXT_POSITIONS))
        and rows.storable(rows.texts(services, rows.SERVICE_TEXT_POSITIONS))
        and rows.storable(rows.texts(items, rows.ITEM_TEXT_POSITIONS))
    )


def clean_customer(customer: Customer, clean: rows.TextCleaner) -> None:
    for position in rows.DETAIL_TEXT_POSITIONS:
        customer.row[position] = clean(customer.row[position])  # type: ignore[arg-type]  # untyped Row: see rows.Row
    if customer.services:
        customer.services = clean.rows(customer.services, rows.SERVICE_TEXT_POSITIONS)
    if customer.items:
        customer.items = clean.rows(customer.items, rows.ITEM_TEXT_POSITIONS)


def blank(customer_id: int) -> list[object]:
    return [customer_id] + [None] * (len(staging.CUSTOMERS.columns) - 1)


WRITER_STAGES = (
    staging.CUSTOMERS,
    staging.GROUP_LINKS,
    staging.SERVICES,
    staging.ITEMS,
    staging.ITEM_LINKS,
)
Plan = list[tuple[sql.SQL, dict[str, str], str]]


def _ids(ids: Iterable[object]) -> dict[str, str]:
    return {"ids": upserts.id_array(ids)}


@dataclass
class Batch:
    """One batch as staging rows, with the ids each statement is bounded by."""

    customers: list[Row]
    detail_ids: list[int]
    groups: list[Row]
    services: list[Row]
    inventory_ids: list[int]
    items: list[Row]
    links: list[Row]
    deleted_ids: list[int]
    listed_ids: list[int]  # customers whose items come from the listing table
    listed_items: list[int] = field(default_factory=list)  # their item ids, once staged

    @classmethod
    def of(cls, batch: list[Customer]) -> Batch:
        detail = [c for c in batch if c.groups is not None]
        inventory = [c for c in batch if c.items is not None or c.listed]
        return cls(
            customers=[tuple(c.row) for c in batch],
            detail_ids=[c.row[0] for c in detail],  # type: ignore[misc]  # untyped Row: see rows.Row
            groups=[link for c in detail for link in c.groups or ()],
            services=[service for c in detail for service in c.services or ()],
            inventory_ids=[c.row[0] for c in inventory],  # type: ignore[misc]  # untyped Row: see rows.Row
            items=rows.last_by_key(item for c in inventory for item in c.items or ()),
            links=[(c.row[0], item[0]) for c in inventory for item in c.items or ()],
            deleted_ids=[c.row[0] for c in batch if c.deleted],  # type: ignore[misc]  # untyped Row: see rows.Row
            listed_ids=[c.row[0] for c in batch if c.listed],  # type: ignore[misc]  # untyped Row: see rows.Row
        )

    def copy(self, st: staging.Staging) -> None:
        st.clear(WRITER_STAGES)
        st.copy(staging.CUSTOMERS, self.customers)
        st.copy(staging.GROUP_LINKS, self.groups)
        st.copy(staging.SERVICES, self.services)
        st.copy(staging.ITEMS, self.items)
        st.copy(staging.ITEM_LINKS, self.links)
        if self.listed_ids:
            scope = _ids(self.listed_ids)
            cur = st.conn.execute(listing.take_items_sql(), scope)
            self.listed_items = [row[0] for row in cur.fetchall()]
            cur = st.conn.execute(listing.take_links_sql(), scope)
            self.links += cur.fetchall()

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
            item_ids = _ids([*(item[0] for item in self.items), *self.listed_items])
            plan += [
                (_upsert_items(prefix), item_ids, "items"),
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
        return {link[0] for link in self.links if link[1] in wanted}  # type: ignore[misc]  # untyped Row: see rows.Row


@once
def _upsert_items(prefix: Prefix) -> sql.Composed:
    values = staging.ITEMS.column_names[1:]
    return upserts.upsert_sql(prefix.table("inventory_items"), staging.ITEMS, ("id",), values)


@once
def _replace(prefix: Prefix, table: str, stage: staging.Stage) -> sql.Composed:
    """Children keyed by (customer_id, their id); the other staged columns are values."""
    key, values = stage.column_names[:2], stage.column_names[2:]
    return upserts.replace_children_sql(prefix.table(table), stage, key, values)
