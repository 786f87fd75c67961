"""The one paging loop over Sonar's lists, with pluggable page readers, and the one
guard against an API that repeats pages.

A reader turns a page number (1-based) into a :class:`Page`: its items and, when the
API says, how many pages there are (v1 ``paginator.total_pages``, v2
``page_info.total_pages``). The loop stops after the last page or at the first empty
one. Without a usable ``total_pages`` it reads on to that empty page: both APIs answer
a page past the end with an empty list, while stopping after page 1 would drop the
rest of the list without a word. An API that ignores the page parameter would then be
read forever, which ``RepeatGuard`` refuses.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import SonarDataError
from .config import HOST_SETTINGS

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list as a reader returns it."""

    number: int
    items: list[T]
    total_pages: int | None  # None: the API did not say (read on to an empty page)

    @property
    def is_last(self) -> bool:
        """True when the API says no page follows this one."""
        return self.total_pages is not None and self.number >= self.total_pages


def iter_pages(read: Callable[[int], Page[T]], guard: RepeatGuard) -> Iterator[list[T]]:
    """The items of every page, one list per page, read one page after the other."""
    number = 1
    while True:
        page = read(number)
        if not page.items:
            return
        guard.check(number, fingerprint(page.items))
        yield page.items
        if page.is_last:
            return
        number += 1


def later_pages(total_pages: int | None) -> Iterable[int]:
    """The numbers of the pages after the first, for a caller that reads them ahead (on
    worker threads): up to the first page's ``total_pages``, else on and on (the caller
    stops at the first empty page, as ``iter_pages`` does)."""
    if total_pages is None:
        return itertools.count(2)
    return range(2, total_pages + 1)


class RepeatGuard:
    """Refuses a page that repeats an earlier one, in one wording for every list.

    ``check`` compares a key of each page (a fingerprint of its items, or of its ids)
    with those of the pages before; ``check_overlap`` refuses a page that shares most of
    its ids with the page before (an item removed meanwhile shifts an ignored page by
    one); ``refused`` is the error for a caller's own test (no new account on a page).
    """

    def __init__(self, what: str, parameter: str = "page parameter") -> None:
        self.what, self.parameter = what, parameter
        self._seen: set[Hashable] = set()

    def check(self, page: int, key: Hashable) -> None:
        if key in self._seen:
            raise self.refused(page)
        self._seen.add(key)

    def check_overlap(self, page: int, ids: frozenset[int], previous: frozenset[int]) -> None:
        if 2 * len(ids & previous) > len(ids):
            raise self.refused(page, f"most of page {page - 1}")

    def refused(self, page: int, repeated: str = "an earlier page") -> SonarDataError:
        return SonarDataError(
            f"{self.what}: page {page} repeats {repeated}; Sonar seems to ignore the "
            f"{self.parameter}, so the list cannot be read completely: if a proxy or cache "
            f"sits in front of Sonar, point {HOST_SETTINGS} at Sonar itself"
        )


def fingerprint(items: Sequence[object]) -> str:
    """A digest of a page's items (small, however large the page)."""
    text = json.dumps(items, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
