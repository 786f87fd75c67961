"""One writer batch: buffered customers turned into staging rows and statements.

Pure apart from ``Batch.copy``: what to stage, which statements to run in which
order, and with which key arrays, is decided here without a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from operator import attrgetter

from psycopg import sql

from sonar_bdc.store import listing, rows, staging, upserts
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.rendered import once
from sonar_bdc.store.rows import CustomerRow, GroupLink, ItemLink, ItemRow, ServiceRow


@dataclass(slots=True)
class Customer:
    """One buffered customer: its staged columns (``rows.CustomerRow``) and, per part
    refreshed, its child rows."""

    id: int
    name: str | None = None
    account_status_id: int | None = None
    account_type_id: int | None = None
    fips: str | None = None
    census_year: int | None = None
    updated_at: datetime | None = None  # set: the detail was refreshed
    inventory_updated_at: datetime | None = None
    deleted_at: datetime | None = None
    groups: list[GroupLink] | None = None  # None: detail not refreshed in this batch
    services: list[ServiceRow] | None = None
    items: list[ItemRow] | None = None  # None: inventory not refreshed in this batch
    listed: bool = False  # inventory refreshed from the bulk listing (listing.py)
    deleted: bool = False
    cleaned: bool = False  # text checked since the last change

    def staged(self) -> CustomerRow:
        return rows.new_customer((
            self.id, self.name, self.account_status_id, self.account_type_id, self.fips,
            self.census_year, self.updated_at, self.inventory_updated_at, self.deleted_at,
        ))  # fmt: skip


_detail_texts = attrgetter("name", "fips")


def storable(batch: list[Customer]) -> bool:
    """One scan over every text field of ``batch``."""
    services = [row for c in batch for row in c.services or ()]
    items = [row for c in batch for row in c.items or ()]
    details: Iterable[str | None] = chain.from_iterable(map(_detail_texts, batch))
    return (
        rows.storable("".join(filter(None, details)))
        and rows.storable(rows.SERVICE_TEXTS.text(services))
        and rows.storable(rows.ITEM_TEXTS.text(items))
    )


def clean_customer(customer: Customer, clean: rows.TextCleaner) -> None:
    customer.name, customer.fips = clean(customer.name), clean(customer.fips)
    if customer.services:
        customer.services = clean.rows(customer.services, rows.SERVICE_TEXTS)
    if customer.items:
        customer.items = clean.rows(customer.items, rows.ITEM_TEXTS)


WRITER_STAGES = (
    staging.CUSTOMERS,
    staging.GROUP_LINKS,
    staging.SERVICES,
    staging.ITEMS,
    staging.ITEM_LINKS,
)
Statements = list[tuple[sql.SQL, dict[str, str], str]]


def _ids(ids: Iterable[int]) -> dict[str, str]:
    return {"ids": upserts.id_array(ids)}


@dataclass
class Batch:
    """One batch as staging rows, with the ids each statement is bounded by."""

    customers: list[CustomerRow]
    detail_ids: list[int]
    groups: list[GroupLink]
    services: list[ServiceRow]
    inventory_ids: list[int]
    items: list[ItemRow]
    links: list[ItemLink]
    deleted_ids: list[int]
    listed_ids: list[int]  # customers whose items come from the listing table
    listed_items: list[int] = field(default_factory=list)  # their item ids, once staged

    @classmethod
    def of(cls, batch: list[Customer]) -> Batch:
        detail = [c for c in batch if c.groups is not None]
        inventory = [c for c in batch if c.items is not None or c.listed]
        return cls(
            customers=[c.staged() for c in batch],
            detail_ids=[c.id for c in detail],
            groups=[link for c in detail for link in c.groups or ()],
            services=[service for c in detail for service in c.services or ()],
            inventory_ids=[c.id for c in inventory],
            items=rows.last_by_key(item for c in inventory for item in c.items or ()),
            links=[
                rows.new_item_link((c.id, item.id)) for c in inventory for item in c.items or ()
            ],
            deleted_ids=[c.id for c in batch if c.deleted],
            listed_ids=[c.id for c in batch if c.listed],
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
            self.links += [ItemLink(*link) for link in cur.fetchall()]

    def plan(self, prefix: Prefix) -> Statements:
        """The statements for this batch, in foreign-key order, tagged by what they return."""
        ids = [row.id for row in self.customers]
        plan: Statements = [(upserts.customers_sql(prefix), _ids(ids), "customers")]
        if self.detail_ids:
            scope = _ids(self.detail_ids)
            plan += [
                (_replace(prefix, "customer_groups", staging.GROUP_LINKS), scope, "customers"),
                (_replace(prefix, "services", staging.SERVICES), scope, "customers"),
            ]
        if self.inventory_ids:
            item_ids = _ids([*(item.id for item in self.items), *self.listed_items])
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

    def owners_of(self, item_ids: Iterable[int]) -> set[int]:
        """The customers in this batch whose inventory holds one of ``item_ids``."""
        wanted = set(item_ids)
        return {link.customer_id for link in self.links if link.inventory_item_id in wanted}


@once
def _upsert_items(prefix: Prefix) -> sql.Composed:
    values = staging.ITEMS.column_names[1:]
    return upserts.upsert_sql(prefix.table("inventory_items"), staging.ITEMS, ("id",), values)


@once
def _replace(prefix: Prefix, table: str, stage: staging.Stage) -> sql.Composed:
    """Children keyed by (customer_id, their id); the other staged columns are values."""
    key, values = stage.column_names[:2], stage.column_names[2:]
    return upserts.replace_children_sql(prefix.table(table), stage, key, values)
