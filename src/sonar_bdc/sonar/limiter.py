"""A rate limiter shared by all worker threads.

Each request takes the next free slot on a schedule spaced ``1/rate`` seconds
apart, so N threads together never send faster than ``rate`` per second, and no
burst follows an idle moment (an instance's limit counts any one-second window).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """``acquire()`` blocks until the caller may send; ``rate=None`` never blocks."""

    def __init__(
        self,
        rate: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive or None")
        self._interval = 1.0 / rate if rate else 0.0
        self._clock, self._sleep = clock, sleep
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; return the seconds waited (for the run's counters)."""
        if not self._interval:
            return 0.0
        with self._lock:  # only the bookkeeping is locked: threads sleep in parallel
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay
