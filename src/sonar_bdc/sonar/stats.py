"""Counters of what the client did, for the run summary."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestStats:
    """A snapshot of the counters; safe to keep after the run goes on."""

    requests: int = 0  # HTTP requests sent, logins and retries included
    retries: int = 0  # attempts repeated after a retriable fault
    wait_seconds: float = 0.0  # time slept in backoff and in the rate limiter
    not_found: int = 0  # 404 answers (accounts deleted since the report)
    logins: int = 0  # web-session logins, the first one included


class Counters:
    """Thread-safe counters; ``snapshot()`` reads them all at one instant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats = RequestStats()  # frozen: a snapshot is the current object itself

    def add(self, name: str, amount: float = 1) -> None:
        """Add ``amount`` to the field ``name`` (an unknown name raises AttributeError)."""
        with self._lock:
            self._stats = replace(self._stats, **{name: getattr(self._stats, name) + amount})

    def snapshot(self) -> RequestStats:
        with self._lock:
            return self._stats
