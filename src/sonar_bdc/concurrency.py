"""The one bounded concurrent map: calls on a thread pool, a window of them in flight.

A library that runs calls concurrently (the v2 client's pages) takes a ``Mapper``
from its caller instead of opening threads itself: the import run owns the pool and
hands over ``PoolMapper(pool, window)``; ``serial`` runs the calls on the caller's
thread.

A window, not ``pool.map``: ``Executor.map`` submits every call at once, so memory
would grow with the account count. Closing the generator early (an error, Ctrl-C, a
``break``) cancels the calls not yet started.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int, *, ordered: bool = False
) -> Generator[tuple[T, Future[R]], None, None]:
    """Yield (item, finished future of ``fn(item)``), at most ``window`` calls in flight:
    in completion order, or in the order of ``items`` when ``ordered``.

    Finished futures arrive through a queue (O(1) each); ``concurrent.futures.wait``
    would re-register a waiter on every pending future for every completion.
    """
    finished: queue.SimpleQueue[Future[R]] = queue.SimpleQueue()
    pending: dict[Future[R], T] = {}  # in submission order
    it = iter(items)
    try:
        while True:
            while len(pending) < window:
                try:
                    item = next(it)
                except StopIteration:
                    break
                future = pool.submit(fn, item)
                pending[future] = item
                if not ordered:
                    future.add_done_callback(finished.put)
            if not pending:
                return
            future = next(iter(pending)) if ordered else finished.get()
            if ordered:
                future.exception()  # waits for it, without raising here
            yield pending.pop(future), future
    finally:
        for future in pending:
            future.cancel()


def in_order(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Generator[R, None, None]:
    """``pool.map`` with at most ``window`` calls in flight: results in item order, the
    first error raised when its turn comes."""
    futures = bounded_map(pool, fn, items, window, ordered=True)
    try:
        for _, future in futures:
            yield future.result()
    finally:
        futures.close()  # now, not when a traceback holding this frame is freed


class Mapper(Protocol):
    """``fn`` over ``items``, results in item order; closing the generator early stops
    the calls not yet started."""

    def __call__(self, fn: Callable[[T], R], items: Iterable[T], /) -> Generator[R, None, None]: ...


def serial(fn: Callable[[T], R], items: Iterable[T], /) -> Generator[R, None, None]:
    """A ``Mapper`` on the calling thread, one call at a time."""
    for item in items:
        yield fn(item)


@dataclass(frozen=True)
class PoolMapper:
    """A ``Mapper`` on ``pool`` (its owner's), at most ``window`` calls in flight."""

    pool: Executor
    window: int

    def __call__(self, fn: Callable[[T], R], items: Iterable[T], /) -> Generator[R, None, None]:
        return in_order(self.pool, fn, items, self.window)
