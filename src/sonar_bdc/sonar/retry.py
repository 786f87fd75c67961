"""The one retry policy for every request to Sonar (tenacity underneath).

Retried: exactly ``SonarRetriableError`` (timeouts, connection errors, 429,
500/502/503/504, truncated, empty or non-JSON bodies), which the transport raises.
Everything else (401/403, a refused login, 404, TLS verification) passes through
at once. Waits are exponential with full jitter, starting at ``initial_backoff``
and capped at ``max_backoff``; a server's ``Retry-After`` is a floor on the wait.

Each retry is logged at DEBUG (the log file); the console gets at most one line
every ``RetryReport.interval`` seconds, "N retries so far (last: <cause>; ...)", once
retries go on that long or a request needs a third attempt (then a warning).
"""

from __future__ import annotations

import email.utils
import logging
import re
import threading
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
REPORT_INTERVAL = 10.0  # seconds between "N retries so far" console lines


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


class RetryReport:
    """One console line for many retries, shared by every thread; each retry itself goes
    to the log file (DEBUG). A line comes when retries have gone on for ``interval``
    seconds, or at once when a request needs a third attempt, and never sooner than
    ``interval`` after the previous line: one routine retry stays off the console."""

    def __init__(
        self, interval: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = REPORT_INTERVAL if interval is None else interval
        self._clock = clock
        self._lock = threading.Lock()
        self._retries = 0
        self._unreported_since: float | None = None  # the first retry after the last line
        self._persistent = False  # a request needed a third attempt since the last line
        self._last_line: float | None = None

    def retried(self, cause: str, attempt: int, delay: float = 0.0) -> None:
        """One retry of ``cause`` (its ``attempt``-th failure), sent again in ``delay`` s."""
        with self._lock:
            now = self._clock()
            self._retries += 1
            self._persistent |= attempt >= 3
            if self._unreported_since is None:
                self._unreported_since = now
            if not self._due(now):
                return
            retries, persistent = self._retries, self._persistent
            self._last_line, self._unreported_since, self._persistent = now, None, False
        # One fault is routine under load; say it loudly only when it persists.
        log.log(
            logging.WARNING if persistent else logging.INFO,
            "%d %s so far (last: %s; retrying in %.1f s)",
            retries, "retry" if retries == 1 else "retries", cause, delay,
        )  # fmt: skip

    def _due(self, now: float) -> bool:
        if self._last_line is not None and now - self._last_line < self.interval:
            return False
        since = self._unreported_since if self._unreported_since is not None else now
        return self._persistent or now - since >= self.interval


class Retrier:
    """Runs a callable under the policy, counting retries and time slept."""

    def __init__(
        self,
        policy: RetryPolicy,
        counters: Counters,
        sleep: Callable[[float], None] = time.sleep,
        report: RetryReport | None = None,
    ) -> None:
        self.policy, self._counters, self._sleep = policy, counters, sleep
        self.report = report or RetryReport()

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
        text = str(error) if what in str(error) else f"{what}: {error}"
        log.debug(
            "%s; retry %d of %d in %.2f s", text, state.attempt_number, self.policy.max_retries,
            delay,
        )  # fmt: skip
        self.report.retried(text, state.attempt_number, delay)
