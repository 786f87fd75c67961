"""The one retry policy for every request to Sonar (tenacity underneath).

Retried: exactly ``SonarRetriableError`` (timeouts, connection errors, 429,
500/502/503/504, truncated, empty or non-JSON bodies), which the transport raises.
Everything else (401/403, a refused login, 404, TLS verification) passes through
at once. Waits are exponential with full jitter, starting at ``initial_backoff``
and capped at ``max_backoff``; a server's ``Retry-After`` is a floor on the wait.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TypeVar

from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from ..errors import (
    SonarConnectionFailed,
    SonarRetriableError,
    SonarRetriesExhausted,
    SonarUnreachable,
)
from .stats import Counters

log = logging.getLogger(__name__)
T = TypeVar("T")
_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date).

    None when absent or unreadable; a date in the past gives 0. Huge values are
    returned as they are: the policy caps them at ``max_backoff``.
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # HTTP dates are always GMT
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 60.0

    def wait(self, retry_state: RetryCallState) -> float:
        """Full-jitter backoff, at least the server's Retry-After, at most max_backoff.

        Retry-After 0 means "no advice": the jittered backoff still spreads the
        threads out instead of sending them all back at once.
        """
        backoff = wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff)
        delay = backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        hint = getattr(error, "retry_after", None)
        if hint:
            delay = max(delay, hint)
        return min(delay, self.max_backoff)


class Retrier:
    """Runs a callable under the policy, counting retries and time slept."""

    def __init__(
        self, policy: RetryPolicy, counters: Counters, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.policy, self._counters, self._sleep = policy, counters, sleep

    def call(self, attempt: Callable[[], T], what: str) -> T:
        """``attempt()`` until it succeeds, raises a fatal error or the budget is spent."""
        retrying = Retrying(  # a fresh Retrying per call: its state is per call
            retry=retry_if_exception_type(SonarRetriableError),
            stop=stop_after_attempt(self.policy.max_retries + 1),
            wait=self.policy.wait,
            sleep=self._sleep_counted,
            before_sleep=lambda state: self._before_sleep(state, what),
        )
        try:
            return retrying(attempt)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            count = self.policy.max_retries
            kind = (
                SonarConnectionFailed
                if isinstance(last, SonarUnreachable)
                else SonarRetriesExhausted
            )
            raise kind(
                f"{last} (gave up after {count} {'retry' if count == 1 else 'retries'}; "
                "see --max-retries)"
            ) from last

    def _sleep_counted(self, seconds: float) -> None:
        self._counters.add("wait_seconds", seconds)
        self._sleep(seconds)

    def _before_sleep(self, state: RetryCallState, what: str) -> None:
        self._counters.add("retries")
        error = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        # One fault is routine under load; say it loudly only when it persists.
        level = logging.WARNING if state.attempt_number >= 3 else logging.DEBUG
        text = str(error) if what in str(error) else f"{what}: {error}"
        log.log(
            level, "%s; retry %d of %d in %.2f s",
            text, state.attempt_number, self.policy.max_retries, delay,
        )  # fmt: skip
