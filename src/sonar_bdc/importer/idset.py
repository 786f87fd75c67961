"""Sets of account ids in a sorted array: 8 bytes an id, where a Python set of ints
takes about 70. A run that remembers every account several times over (listed, new,
updated, fresh) then grows by kilobytes, not megabytes, per thousand accounts.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import groupby


class IdSet:
    """A set of ints within int64. ``update`` appends; the array is sorted and its
    repeats dropped at the next question asked of it (so add in bulk, ask rarely)."""

    __slots__ = ("_ids", "_settled")

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._ids = array("q", ids)
        self._settled = False

    def update(self, ids: Iterable[int]) -> None:
        self._ids.extend(ids)
        self._settled = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        ids = self._settle()
        i = bisect_left(ids, value)
        return i < len(ids) and ids[i] == value

    def __len__(self) -> int:
        return len(self._settle())

    def __iter__(self) -> Iterator[int]:
        """Ascending."""
        return iter(self._settle())

    def __sub__(self, other: IdSet) -> IdSet:
        return IdSet(value for value in self if value not in other)

    def _settle(self) -> array[int]:
        if not self._settled:
            self._ids = array("q", (value for value, _ in groupby(sorted(self._ids))))
            self._settled = True
        return self._ids
