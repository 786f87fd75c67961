"""What the v1 and v2 clients share: one transport base (the connection pool, the rate
limiter, the request counters), the retry policy around each call, the lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from .. import __version__
from .config import ConnectionConfig
from .http import HttpPool, Reply, Writable
from .limiter import RateLimiter
from .retry import Retrier, RetryPolicy, parse_retry_after
from .stats import Counters, RequestStats

T = TypeVar("T")
Config = TypeVar("Config", bound=ConnectionConfig)
RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class TransportBase(Generic[Config]):
    """Sends one request per call through a pool of ``pool_size`` connections, after the
    rate limiter's wait, counting it; thread-safe. Redirects are never followed: they are
    information (an expired session, a login page, the wrong scheme)."""

    def __init__(
        self,
        config: Config,
        counters: Counters,
        limiter: RateLimiter,
        *,
        pool_size: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._config, self._counters, self._limiter = config, counters, limiter
        self._http = HttpPool(
            config.base_url,
            timeout=config.timeout,
            verify=config.verify,
            size=pool_size,
            headers={"User-Agent": f"sonar-bdc/{__version__}", **(headers or {})},
        )

    def close(self) -> None:
        self._http.close()

    def _send(
        self,
        method: str,
        url: str,
        what: str | None = None,
        *,
        params: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        into: Writable | None = None,
    ) -> Reply:
        """One attempt; ``what`` names it in error messages (default: method and URL)."""
        self._counters.add("wait_seconds", self._limiter.acquire())
        self._counters.add("requests")
        what = what or f"{method} {url}"
        return self._http.send(
            method, url, what, params=params, headers=headers, body=body, into=into
        )


def retry_after(response: Reply) -> float | None:
    """The server's ``Retry-After`` in seconds, or None."""
    return parse_retry_after(response.headers.get("retry-after"))


class _Transport(Protocol):
    def close(self) -> None: ...


Transport = TypeVar("Transport", bound=_Transport)
C = TypeVar("C", bound="ClientBase[_Transport, ConnectionConfig]")


class ClientBase(Generic[Transport, Config]):
    """Builds the transport with shared counters and limiter; retries each call as one
    unit; a context manager."""

    def __init__(
        self, config: Config, transport_class: Callable[[Config, Counters, RateLimiter], Transport]
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

    def _retry(self, attempt: Callable[[], T], what: str) -> T:
        """``attempt`` under the retry policy; ``what`` names it in log lines and errors."""
        return self._retrier.call(attempt, what)
