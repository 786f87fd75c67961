"""The page reader of GraphQL connections (``paginator: {page, records_per_page}``),
for the one paging loop (``sonar.paging``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..paging import Page, RepeatGuard
from ..paging import iter_pages as _iter_pages
from ..values import parse_int
from .parse import Raw, entities

FetchPage = Callable[[int], Any]  # page number -> the connection object of that page
PAGINATOR = "paginator"  # what the repeat guard says Sonar ignores


def paginator(page: int, size: int) -> dict[str, int]:
    return {"page": page, "records_per_page": size}


def total_pages(connection: Any) -> int | None:
    info = connection.get("page_info") if isinstance(connection, dict) else None
    return parse_int(info.get("total_pages")) if isinstance(info, dict) else None


def connection_page(number: int, connection: Any) -> Page[Raw]:
    """Page ``number`` of a connection: its entities and its ``total_pages``."""
    return Page(number, entities(connection), total_pages(connection))


def iter_pages(fetch_page: FetchPage, what: str) -> Iterator[list[Raw]]:
    """The entities of every page of a connection, one list per page."""
    read = lambda page: connection_page(page, fetch_page(page))  # noqa: E731
    return _iter_pages(read, RepeatGuard(what, PAGINATOR))


def walk(data: Any, path: tuple[str, ...]) -> Any:
    """The connection at ``path``; keys before the last go through a one-entity list."""
    node = data
    for key in path[:-1]:
        found = entities(node.get(key)) if isinstance(node, dict) else []
        node = found[0] if found else None
    return node.get(path[-1]) if isinstance(node, dict) else None
