"""Counters of what the client did, for the run summary."""

from __future__ import annotations

import threading
from dataclasses import dataclass


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
        self._values = {"requests": 0, "retries": 0, "wait_seconds": 0.0, "not_found": 0,
                        "logins": 0}  # fmt: skip

    def add(self, name: str, amount: float = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self) -> RequestStats:
        with self._lock:
            # The keys are RequestStats' fields; the counts other than wait_seconds stay ints.
            return RequestStats(**self._values)  # type: ignore[arg-type]
