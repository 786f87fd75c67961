"""Inventory for many customers at once, from Sonar's list of all items.

``/api/v1/inventory/items`` lists every item with its assignee, 100 per page, so when
most customers need their inventory it costs one request per 100 items instead of
one per customer. The first page's ``total_pages`` decides which path is cheaper.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from .errors import SonarBdcError, SonarDataError
from .records import InventoryItem
from .sonar import InventoryCatalog, SonarClient
from .sonar.client import ItemsPage

log = logging.getLogger("sonar_bdc.importer")

Assigned = dict[int, list[InventoryItem]]
T = TypeVar("T")


def fetch_assigned_inventory(
    client: SonarClient,
    catalog: InventoryCatalog,
    customers: int,
    pool: ThreadPoolExecutor,
    window: int,
) -> Assigned | None:
    """Items per account id when listing all items is cheaper than ``customers`` requests.

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
        # At most ``window`` pages are fetched ahead of the one being grouped.
        rest = in_order(pool, lambda page: client.inventory_items_page(page, catalog),
                        range(2, total_pages + 1), window)  # fmt: skip
        return _group(itertools.chain([first], rest))
    except SonarBdcError as exc:
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


def _group(pages: Iterable[ItemsPage]) -> Assigned:
    """Items by account, page by page as they come (no page is kept);
    refuses an instance that ignores ``page`` (a page repeats an earlier one)."""
    grouped: Assigned = defaultdict(list)
    seen: set[int] = set()  # a hash of each page's item ids: small, however many items
    for number, page in enumerate(pages, start=1):
        signature = hash(page.item_ids)
        if page.item_ids and signature in seen:
            raise SonarDataError(f"inventory/items page {number} repeats an earlier page")
        seen.add(signature)
        for account_id, item in page.assigned:
            grouped[account_id].append(item)
    return grouped
