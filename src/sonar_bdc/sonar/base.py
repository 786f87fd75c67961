"""What the v1 and v2 clients share: counters, one transport, the retry policy, lifecycle."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, TypeVar

from .limiter import RateLimiter
from .retry import Retrier, RetryPolicy
from .stats import Counters, RequestStats

C = TypeVar("C", bound="ClientBase")


class _RetryConfig(Protocol):
    max_retries: int
    initial_backoff: float
    max_backoff: float
    rate_limit: float | None


class ClientBase:
    """Builds the transport with shared counters and limiter; a context manager."""

    def __init__(self, config: _RetryConfig, transport_class: Any) -> None:
        self._counters = Counters()
        self._transport = transport_class(config, self._counters, RateLimiter(config.rate_limit))
        policy = RetryPolicy(config.max_retries, config.initial_backoff, config.max_backoff)
        self._retrier = Retrier(policy, self._counters)

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def stats(self) -> RequestStats:
        return self._counters.snapshot()
