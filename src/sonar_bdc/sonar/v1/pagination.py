"""The page reader of ``/api/v1`` lists, for the one paging loop (``sonar.paging``).

Pages are 1-based, ``limit`` items each, sent as ``{"data": [...], "paginator":
{"total_pages": ..., "total_count": ...}}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ...errors import SonarDataError
from ..paging import Page, RepeatGuard, iter_pages
from ..values import parse_int

PAGE_LIMIT = 100  # the largest page size every instance accepts
FetchPage = Callable[[str, dict[str, Any]], Any]


def iter_items(
    fetch: FetchPage, path: str, params: dict[str, Any] | None = None, limit: int = PAGE_LIMIT
) -> Iterator[Any]:
    """Every item of the list at ``path``; ``fetch(path, params)`` returns one decoded page."""

    def read(page: int) -> Page[Any]:
        body = fetch(path, {**(params or {}), "page": page, "limit": limit})
        data, total_pages = split_page(body, path, page)
        return Page(page, data, total_pages)

    for items in iter_pages(read, RepeatGuard(f"GET {path}")):
        yield from items


def split_page(body: Any, path: str, page: int) -> tuple[list[Any], int | None]:
    """(items, total_pages or None) from ``{"data": [...], "paginator": {...}}``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise SonarDataError(f"GET {path} page {page}: expected a list under 'data'")
    paginator = body.get("paginator")
    total = paginator.get("total_pages") if isinstance(paginator, dict) else None
    return data, parse_int(total)  # None: no usable count, read on to the first empty page


def total_count(body: Any) -> int | None:
    """The paginator's ``total_count`` (items in the whole list), or None."""
    paginator = body.get("paginator") if isinstance(body, dict) else None
    return parse_int(paginator.get("total_count")) if isinstance(paginator, dict) else None
