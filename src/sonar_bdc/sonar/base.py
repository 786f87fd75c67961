"""What the v1 and v2 clients share: counters, one transport, the retry policy, lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from .limiter import RateLimiter
from .retry import Retrier, RetryPolicy
from .stats import Counters, RequestStats

C = TypeVar("C", bound="ClientBase[_Transport, _RetryConfig]")


class _RetryConfig(Protocol):
    """What the base reads of a config; read-only, so the frozen config dataclasses fit."""

    @property
    def max_retries(self) -> int: ...
    @property
    def initial_backoff(self) -> float: ...
    @property
    def max_backoff(self) -> float: ...
    @property
    def rate_limit(self) -> float | None: ...


class _Transport(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Transport)
Config = TypeVar("Config", bound=_RetryConfig)


class ClientBase(Generic[T, Config]):
    """Builds the transport with shared counters and limiter; a context manager."""

    def __init__(
        self, config: Config, transport_class: Callable[[Config, Counters, RateLimiter], T]
    ) -> None:
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
