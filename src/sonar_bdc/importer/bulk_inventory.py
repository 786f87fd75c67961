"""Inventory for many customers at once, from Sonar's list of all items.

The listing waits in the store (``Store.stage_listing``), not in memory, until each
customer is written.

Offset paging over a live list is not a snapshot: an item deleted in Sonar while the
pages are read shifts the later ones, and the item at a page border is never listed.
So a listing during which Sonar's item count fell is read once more, and after a
second such listing the customers are asked one by one (an item added meanwhile can
only be listed twice, which the store absorbs). A deletion the count does not show,
hidden by an addition, is still caught where it matters most: a customer the listing
would take a stored item from is asked for its inventory by itself (``Listing.ask``),
which also confirms a real removal. Only an item newly assigned to a customer can
then be missed, until that customer's next refresh.

``/api/v1/inventory/items`` lists every item with its assignee, 100 per page, so when
most customers need their inventory it costs one request per 100 items instead of
one per customer. The first page's ``total_pages`` decides which path is cheaper.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..concurrency import in_order
from ..errors import SonarDataError, SonarError
from ..records import InventoryItem
from ..sonar.paging import RepeatGuard
from ..sonar.v1 import InventoryCatalog, ItemsPage, SonarClient
from ..sonar.v1.pagination import split_page
from ..store import Store
from .progress import counted, make_progress
from .summary import plural

log = logging.getLogger("sonar_bdc.importer")

LISTINGS = 2  # listings tried before asking per customer when Sonar's items keep changing


class ListingChanged(SonarDataError):
    """Sonar's item count fell while its pages were read: an item may be skipped."""


@dataclass(frozen=True)
class Listing:
    """What ``list_inventory`` holds in the store."""

    items: int  # (account, item) pairs staged
    cleaned: int  # text values cleaned
    ask: frozenset[int]  # customers the listing would take a stored item from
    incomplete: frozenset[int] = frozenset()  # customers with an item lacking its MAC field


def list_inventory(
    client: SonarClient,
    store: Store,
    catalog: InventoryCatalog,
    customers: Collection[int],
    pool: ThreadPoolExecutor,
    window: int,
    show: bool = False,
) -> Listing | None:
    """List all items into the store (``Store.stage_listing``) when that is cheaper
    than one request for each of ``customers`` (only their items' models are resolved);
    ``show``: progress by pages.

    None means "use one request per customer": fewer customers than item pages, an
    instance without a usable page count, a page that could not be read, or items
    that kept changing while they were listed.
    """
    for attempt in range(1, LISTINGS + 1):
        try:
            return _list_once(client, store, catalog, customers, pool, window, show)
        except ListingChanged as exc:
            if attempt < LISTINGS:
                log.info("inventory: %s; listing all items once more", exc)
                continue
            log.warning("inventory: in the second listing too, %s; asking per customer "
                        "instead", exc)  # fmt: skip
        except SonarError as exc:  # a StoreError is the run's to report
            log.warning("inventory: listing all items failed (%s); asking per customer instead",
                        exc)  # fmt: skip
        return None
    return None


def _list_once(
    client: SonarClient,
    store: Store,
    catalog: InventoryCatalog,
    customers: Collection[int],
    pool: ThreadPoolExecutor,
    window: int,
    show: bool,
) -> Listing | None:
    """One listing into the store; None when asking per customer is cheaper."""
    first = client.inventory_items_body(1)
    total_pages = split_page(first, "inventory/items", 1)[1]
    if total_pages is None or total_pages >= len(customers):
        log.info("inventory: one request per customer (%s)", plural(len(customers), "customer"))
        return None
    log.info(
        "inventory: listing all items (%s) instead of %s",
        plural(total_pages, "page"), plural(len(customers), "per-customer request"),
    )  # fmt: skip

    def read(page: int) -> ItemsPage:  # in a worker: it may fetch models' field lists
        body = first if page == 1 else client.inventory_items_body(page)
        return client.items_page(body, page, catalog, customers)

    # At most ``window`` pages are fetched ahead of the one being stored.
    pages = in_order(pool, read, range(1, total_pages + 1), window)
    bar = make_progress(total_pages, "inventory pages", "page", enabled=show)
    incomplete: set[int] = set()
    try:
        noted = counted(checked(_noting(pages, catalog, incomplete)), bar, every=1)
        items, cleaned = store.stage_listing(noted)
    finally:
        pages.close()  # a listing given up cancels the pages it still had coming
        bar.close()
    ask = frozenset(store.listing_would_drop())
    if ask:
        log.info(
            "inventory: the listing lacks items that %s; those refreshed now are asked "
            "one by one", plural(len(ask), "customer has", "customers have"),
        )  # fmt: skip
    return Listing(items, cleaned, ask, frozenset(incomplete))


def _noting(
    pages: Iterable[ItemsPage], catalog: InventoryCatalog, incomplete: set[int]
) -> Iterator[ItemsPage]:
    """``pages``, adding to ``incomplete`` the customers with an item whose model's
    field list could not be fetched (its MAC address is missing)."""
    for page in pages:
        incomplete.update(a for a, item in page.assigned if catalog.lacks_fields((item,)))
        yield page


def checked(pages: Iterable[ItemsPage]) -> Iterator[list[tuple[int, InventoryItem]]]:
    """Each page's (account id, item) pairs. ListingChanged when Sonar's item count
    falls below one an earlier page gave; refuses an instance that ignores ``page``:
    a page repeats an earlier one, or shares most of its items with the one before."""
    guard = RepeatGuard("GET inventory/items")
    previous: frozenset[int] = frozenset()
    highest: int | None = None
    for number, page in enumerate(pages, start=1):
        count = page.total_count
        if count is not None and highest is not None and count < highest:
            raise ListingChanged(
                f"Sonar's item count fell from {highest} to {count} while its pages were "
                f"read (page {number})"
            )
        if count is not None:
            highest = count if highest is None else max(highest, count)
        if page.item_ids:  # a hash of the page's item ids: small, however many items
            guard.check(number, hash(page.item_ids))
        guard.check_overlap(number, page.item_ids, previous)
        previous = page.item_ids
        yield page.assigned
