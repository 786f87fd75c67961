"""Fault knobs (:class:`Faults`) and the thread-safe, seeded :class:`FaultInjector`.

Which requests a fault applies to is decided by the app (see ``app.py``): latency
applies to everything but the admin endpoints, the rate limit to every API, view
and login request, and errors, drops and truncation to data endpoints only.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sonar_bdc.errors import ConfigError

ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class Faults:
    """What can go wrong, per request. All rates are probabilities in [0, 1]."""

    latency: float = 0.0  # seconds each answer takes at least (its own work included)
    jitter: float = 0.0  # uniform extra 0..jitter seconds
    rate_limit: float = 0.0  # requests/second over all clients; 0 = off; over it: 429
    retry_after: str | None = "1"  # Retry-After header sent with a 429; None = omit it
    error_rate: float = 0.0  # random 500/502/503/504
    drop_rate: float = 0.0  # close the connection without answering
    truncate_rate: float = 0.0  # full Content-Length, then half the body, then close
    session_expiry_every: int = 0  # every N-th view request logs every session out
    fail_accounts: frozenset[int] = field(default_factory=frozenset)  # detail/inventory 500
    fail_models: frozenset[int] = field(default_factory=frozenset)  # their field lists: 500
    # In the first N listings of /inventory/items, once page 1 is served, an unassigned
    # item on it is deleted: later pages shift by one, skipping the item at the border.
    vanish_during_listing: int = 0
    seed: int = 0  # seeds the fault randomness

    def __post_init__(self) -> None:
        # Callers may pass any iterable of ids: keep a frozenset (frozenset() of one is itself).
        object.__setattr__(self, "fail_accounts", frozenset(self.fail_accounts))
        object.__setattr__(self, "fail_models", frozenset(self.fail_models))
        for name in ("error_rate", "drop_rate", "truncate_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"simulator fault {name} must be within 0..1")
        for name in ("latency", "jitter", "rate_limit", "session_expiry_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"simulator fault {name} must be 0 or more")


class _RateLimiter:
    """A token bucket holding one second's worth of requests (at least one), refilled
    as ``clock`` (seconds) moves."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self._clock = clock
        self.stamp = clock()

    def allow(self) -> bool:
        if self.rate <= 0:
            return True
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class FaultInjector:
    """Rolls the dice for one request at a time; ``replace`` swaps the knobs live.

    ``clock`` is what the rate limit refills by: a test passes one it moves itself, so
    that a 429 and the wait after it take no real time. Latency is real time always.
    """

    def __init__(self, faults: Faults, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.replace(faults)

    def replace(self, faults: Faults) -> None:
        """Install new knobs; resets the random stream, the rate limiter and counters."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)
            self._limiter = _RateLimiter(faults.rate_limit, self._clock)
            self._views = 0
            self._vanished = 0

    @property
    def faults(self) -> Faults:
        return self._faults

    def _roll(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def deadline(self) -> float:
        """When an answer started now may go out: now + latency + jitter (monotonic)."""
        f = self._faults
        extra = 0.0
        if f.jitter > 0:
            with self._lock:
                extra = self._rng.uniform(0.0, f.jitter)
        return time.monotonic() + f.latency + extra

    @staticmethod
    def wait_until(deadline: float) -> None:
        """Sleep what is left until ``deadline``: the server's own work counts as latency,
        as it does on a real instance, so a benchmark's floor is not inflated by ours."""
        remaining = deadline - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def rate_limited(self) -> bool:
        """True when this request is over the rate limit (answer 429)."""
        with self._lock:
            return not self._limiter.allow()

    def error_status(self) -> int | None:
        """A 5xx status to answer with instead of the data, or None."""
        if not self._roll(self._faults.error_rate):
            return None
        with self._lock:
            return self._rng.choice(ERROR_STATUSES)

    def drop(self) -> bool:
        return self._roll(self._faults.drop_rate)

    def truncate(self) -> bool:
        return self._roll(self._faults.truncate_rate)

    def session_expires(self) -> bool:
        """Counts one web-session view request; True on every N-th."""
        every = self._faults.session_expiry_every
        if every <= 0:
            return False
        with self._lock:
            self._views += 1
            return self._views % every == 0

    def vanish_now(self) -> bool:
        """True for the first ``vanish_during_listing`` calls after the knobs are set."""
        with self._lock:
            due = self._vanished < self._faults.vanish_during_listing
            self._vanished += due
            return due

    def account_fails(self, account_id: int) -> bool:
        return account_id in self._faults.fail_accounts

    def model_fails(self, model_id: int) -> bool:
        return model_id in self._faults.fail_models
