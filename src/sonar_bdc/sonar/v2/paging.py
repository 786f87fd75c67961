"""The paginated loop over one GraphQL connection (``paginator: {page, records_per_page}``).

Pages are 1-based. The loop stops after ``total_pages`` or at the first empty page,
and refuses to go on when a page repeats an earlier one (a server that ignores the
paginator would otherwise be read forever).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from ...errors import SonarDataError
from ..values import parse_int
from .parse import Raw, entities

FetchPage = Callable[[int], Any]  # page number -> the connection object of that page


def paginator(page: int, size: int) -> dict[str, int]:
    return {"page": page, "records_per_page": size}


def total_pages(connection: Any) -> int | None:
    info = connection.get("page_info") if isinstance(connection, dict) else None
    return parse_int(info.get("total_pages")) if isinstance(info, dict) else None


def iter_pages(fetch_page: FetchPage, what: str) -> Iterator[list[Raw]]:
    """The entities of every page of a connection, one list per page."""
    seen: set[str] = set()
    page = 1
    while True:
        connection = fetch_page(page)
        rows = entities(connection)
        if not rows:
            return
        fingerprint = _fingerprint(rows)
        if fingerprint in seen:
            raise SonarDataError(
                f"{what}: page {page} repeats an earlier page; the API seems to ignore the "
                "paginator, so the list cannot be read completely"
            )
        seen.add(fingerprint)
        yield rows
        last = total_pages(connection)
        if last is None or page >= last:
            return
        page += 1


def walk(data: Any, path: tuple[str, ...]) -> Any:
    """The connection at ``path``; keys before the last go through a one-entity list."""
    node = data
    for key in path[:-1]:
        found = entities(node.get(key)) if isinstance(node, dict) else []
        node = found[0] if found else None
    return node.get(path[-1]) if isinstance(node, dict) else None


def _fingerprint(rows: list[Raw]) -> str:
    text = json.dumps(rows, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
