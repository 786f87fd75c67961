"""Inventory listed in bulk, held in a session table until its customers are written.

Sonar lists all items in item order, not by customer, so a customer's items are
complete only once the whole listing is read. Held in Python until every customer
was written, the listing grew an import by about 330 bytes per item (19 MB at
50,000 accounts); it waits in a temporary table instead, and each writer batch
takes its customers' items from there (``take_items_sql``, ``take_links_sql``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from psycopg import sql

from sonar_bdc.records import InventoryItem
from sonar_bdc.store import rows, staging
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.rendered import once
from sonar_bdc.store.session import Session


def stage_listing(
    session: Session, pages: Iterable[Sequence[tuple[int, InventoryItem]]]
) -> tuple[int, int]:
    """Replace the listing with ``pages`` of (account id, item) and commit it.

    Returns (items staged, text values cleaned). Committed so a later rollback of a
    writer batch cannot take the listing with it.
    """
    clean, staged = rows.TextCleaner(), 0

    def listed() -> Iterator[rows.ListedItem]:
        nonlocal staged
        for page in pages:
            page_rows = [
                rows.ListedItem(account_id, *rows.item_fields(item)) for account_id, item in page
            ]
            yield from clean.rows(page_rows, rows.LISTING_TEXTS)
            staged += len(page_rows)

    try:
        session.staging.clear((staging.LISTING,))
        # One COPY for every page, written as pages arrive (not a round trip per page).
        session.staging.copy(staging.LISTING, listed())
        # Each writer batch looks up its customers: an index, and statistics that say
        # so, keep that a probe rather than a scan of the whole listing per batch.
        session.conn.execute(INDEX_SQL)
        session.conn.execute(ANALYZE_SQL)
        session.commit()
    except BaseException:
        session.rollback(quiet=True)
        raise
    return staged, clean.cleaned


INDEX_SQL = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (customer_id)").format(
    sql.Identifier(f"{staging.LISTING.name}_customer_idx"), staging.LISTING.table
)
ANALYZE_SQL = sql.SQL("ANALYZE {}").format(staging.LISTING.table)


@once
def would_drop_sql(prefix: Prefix) -> sql.Composed:
    """The customers holding a stored item that the listing does not give them."""
    return sql.SQL(
        "SELECT DISTINCT ci.customer_id FROM {links} ci WHERE NOT EXISTS"
        " (SELECT 1 FROM {listing} l"
        " WHERE l.customer_id = ci.customer_id AND l.id = ci.inventory_item_id)"
    ).format(links=prefix.table("customer_inventory"), listing=staging.LISTING.table)


@once
def take_items_sql() -> sql.Composed:
    """Stage the listed items of customers ``%(ids)s`` (one row per item id, skipping
    items already staged); RETURNING their ids."""
    columns = sql.SQL(", ").join(map(sql.Identifier, staging.ITEMS.column_names))
    return sql.SQL(
        "INSERT INTO {items} ({columns}) SELECT DISTINCT ON (l.id) {listed} FROM {listing} l"
        " WHERE l.customer_id = ANY(%(ids)s::int8[])"
        " AND NOT EXISTS (SELECT 1 FROM {items} s WHERE s.id = l.id)"
        " ORDER BY l.id RETURNING id"
    ).format(
        items=staging.ITEMS.table,
        columns=columns,
        listed=sql.SQL(", ").join(sql.Identifier("l", c) for c in staging.ITEMS.column_names),
        listing=staging.LISTING.table,
    )


@once
def take_links_sql() -> sql.Composed:
    """Stage the inventory links of customers ``%(ids)s``; RETURNING them."""
    return sql.SQL(
        "INSERT INTO {links} (customer_id, inventory_item_id)"
        " SELECT DISTINCT customer_id, id FROM {listing} WHERE customer_id = ANY(%(ids)s::int8[])"
        " RETURNING customer_id, inventory_item_id"
    ).format(links=staging.ITEM_LINKS.table, listing=staging.LISTING.table)
