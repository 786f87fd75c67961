"""Time spent in the database, added up by the store methods that do the work.

The importer reads the total once at the end of a run (``Store.db_seconds``) rather
than wrapping each store call in a clock of its own.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from types import TracebackType
from typing import Concatenate, ParamSpec, Protocol, TypeVar


class DbClock:
    """Adds up the seconds spent inside ``with clock:`` blocks. A block inside another
    (a writer's add that flushes its batch) counts once. One thread: the store has
    one connection, used by the thread that writes."""

    def __init__(self, now: Callable[[], float] = time.perf_counter) -> None:
        self.seconds = 0.0
        self._now = now
        self._depth = 0
        self._started = 0.0

    def __enter__(self) -> None:
        if self._depth == 0:
            self._started = self._now()
        self._depth += 1

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.seconds += self._now() - self._started


class _Clocked(Protocol):  # store.session.Session
    @property
    def clock(self) -> DbClock: ...


class _OnSession(Protocol):  # Store, Writer
    @property
    def _session(self) -> _Clocked: ...


S = TypeVar("S", bound=_OnSession)
P = ParamSpec("P")
R = TypeVar("R")


def timed(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Count the time ``method`` takes, failures included, on its session's clock."""

    @functools.wraps(method)
    def counted(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._session.clock:
            return method(self, *args, **kwargs)

    return counted
