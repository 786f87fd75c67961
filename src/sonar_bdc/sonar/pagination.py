"""The one paginated iterator over ``/api/v1`` lists.

Pages are 1-based, ``limit`` items each. The loop stops after ``total_pages`` or
at the first empty page, and refuses to go on when the API sends a page it has
already sent (an instance that ignores ``page`` would otherwise loop forever).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import SonarDataError
from .values import parse_int

PAGE_LIMIT = 100  # the largest page size every instance accepts
FetchPage = Callable[[str, dict[str, Any]], Any]


def iter_pages(
    fetch: FetchPage, path: str, params: dict[str, Any] | None = None, limit: int = PAGE_LIMIT
) -> Iterator[Any]:
    """Every item of the list at ``path``; ``fetch(path, params)`` returns one decoded page."""
    seen: set[str] = set()
    page = 1
    while True:
        body = fetch(path, {**(params or {}), "page": page, "limit": limit})
        data, total_pages = split_page(body, path, page)
        if not data:
            return
        fingerprint = _fingerprint(data)
        if fingerprint in seen:
            raise SonarDataError(
                f"GET {path}: page {page} repeats an earlier page; the API seems to ignore "
                "the page parameter, so the list cannot be read completely"
            )
        seen.add(fingerprint)
        yield from data
        if total_pages is not None and page >= total_pages:
            return
        page += 1


def split_page(body: Any, path: str, page: int) -> tuple[list[Any], int | None]:
    """(items, total_pages or None) from ``{"data": [...], "paginator": {...}}``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise SonarDataError(f"GET {path} page {page}: expected a list under 'data'")
    paginator = body.get("paginator")
    total = paginator.get("total_pages") if isinstance(paginator, dict) else None
    return data, parse_int(total)  # None: no usable count, stop at the first empty page


def total_count(body: Any) -> int | None:
    """The paginator's ``total_count`` (items in the whole list), or None."""
    paginator = body.get("paginator") if isinstance(body, dict) else None
    return parse_int(paginator.get("total_count")) if isinstance(paginator, dict) else None


def _fingerprint(data: list[Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
