"""Inventory for many customers at once, from Sonar's list of all items.

The listing waits in the store (``Store.stage_listing``), not in memory, until each
customer is written.

``/api/v1/inventory/items`` lists every item with its assignee, 100 per page, so when
most customers need their inventory it costs one request per 100 items instead of
one per customer. The first page's ``total_pages`` decides which path is cheaper.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .errors import SonarDataError, SonarError
from .records import InventoryItem
from .sonar import InventoryCatalog, SonarClient
from .sonar.client import ItemsPage
from .store import Store

log = logging.getLogger("sonar_bdc.importer")

T = TypeVar("T")


def list_inventory(
    client: SonarClient,
    store: Store,
    catalog: InventoryCatalog,
    customers: int,
    pool: ThreadPoolExecutor,
    window: int,
) -> tuple[int, int] | None:
    """List all items into the store (``Store.stage_listing``) when that is cheaper
    than ``customers`` requests: (items held, text values cleaned).

    None means "use one request per customer": fewer customers than item pages, an
    instance without a usable page count, or a page that could not be read.
    """
    try:
        first = client.inventory_items_page(1, catalog)
        total_pages = first.total_pages
        if total_pages is None or total_pages >= customers:
            log.info("inventory: one request per customer (%d customers)", customers)
            return None
        log.info(
            "inventory: listing all items (%d pages) instead of %d per-customer requests",
            total_pages, customers,
        )  # fmt: skip
        # At most ``window`` pages are fetched ahead of the one being stored.
        rest = in_order(pool, lambda page: client.inventory_items_page(page, catalog),
                        range(2, total_pages + 1), window)  # fmt: skip
        return store.stage_listing(checked(itertools.chain([first], rest)))
    except SonarError as exc:  # a StoreError is the run's to report
        log.warning("inventory: listing all items failed (%s); asking per customer instead", exc)
        return None


def in_order(
    pool: ThreadPoolExecutor, fn: Callable[[int], T], args: Iterable[int], window: int
) -> Iterator[T]:
    """``pool.map`` with at most ``window`` calls submitted ahead of the one yielded."""
    pending: deque[Future[T]] = deque()
    try:
        for arg in args:
            pending.append(pool.submit(fn, arg))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def checked(pages: Iterable[ItemsPage]) -> Iterator[list[tuple[int, InventoryItem]]]:
    """Each page's (account id, item) pairs; refuses an instance that ignores ``page``
    (a page repeats an earlier one)."""
    seen: set[int] = set()  # a hash of each page's item ids: small, however many items
    for number, page in enumerate(pages, start=1):
        signature = hash(page.item_ids)
        if page.item_ids and signature in seen:
            raise SonarDataError(f"inventory/items page {number} repeats an earlier page")
        seen.add(signature)
        yield page.assigned
