"""The retry policy, Retry-After parsing and the rate limiter, without HTTP."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from sonar_bdc.errors import (
    SonarAuthError,
    SonarNotFound,
    SonarRetriableError,
    SonarRetriesExhausted,
)
from sonar_bdc.sonar.limiter import RateLimiter
from sonar_bdc.sonar.retry import Retrier, RetryPolicy, parse_retry_after
from sonar_bdc.sonar.stats import Counters

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("1", 1.0), (" 120 ", 120.0), ("0", 0.0), ("1.5", 1.5),
     ("-1", None), ("soon", None), ("1e3", None), ("99999999999", 99999999999.0),
     (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
     (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
     ("Wed, 01 Jan 2026 12:00:10 GMT", 10.0), ("Thu, 32 Foo 2026 99:00:00 GMT", None)],
)  # fmt: skip
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def flaky(failures: list[BaseException], result: str = "ok"):
    """An attempt that raises the given errors in turn, then returns ``result``."""
    pending = list(failures)

    def attempt() -> str:
        if pending:
            raise pending.pop(0)
        return result

    return attempt


def make(max_retries: int = 3, initial: float = 1.0, maximum: float = 60.0):
    counters, sleep = Counters(), FakeSleep()
    return Retrier(RetryPolicy(max_retries, initial, maximum), counters, sleep), counters, sleep


def test_recovers_within_budget() -> None:
    retrier, counters, sleep = make(max_retries=3)
    assert retrier.call(flaky([SonarRetriableError("503")] * 3), "GET x") == "ok"
    stats = counters.snapshot()
    assert stats.retries == 3 and len(sleep.calls) == 3
    assert stats.wait_seconds == pytest.approx(sum(sleep.calls))


def test_gives_up_past_budget_with_cause() -> None:
    retrier, counters, _ = make(max_retries=2)
    with pytest.raises(SonarRetriesExhausted, match=r"HTTP 503 \(gave up after 2 retries") as info:
        retrier.call(flaky([SonarRetriableError("HTTP 503")] * 3), "GET x")
    assert isinstance(info.value.__cause__, SonarRetriableError)
    assert counters.snapshot().retries == 2


def test_zero_retries_means_one_attempt() -> None:
    retrier, _, sleep = make(max_retries=0)
    with pytest.raises(SonarRetriesExhausted):
        retrier.call(flaky([SonarRetriableError("x")]), "GET x")
    assert sleep.calls == []


@pytest.mark.parametrize("error", [SonarAuthError("401"), SonarNotFound("404"), ValueError("x")])
def test_fatal_errors_are_not_retried(error: Exception) -> None:
    retrier, counters, sleep = make()
    with pytest.raises(type(error)):
        retrier.call(flaky([error]), "GET x")
    assert sleep.calls == [] and counters.snapshot().retries == 0


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    retrier, _, sleep = make(max_retries=8, initial=1.0, maximum=10.0)
    for _ in range(30):
        retrier.call(flaky([SonarRetriableError("x")] * 8), "GET x")
    by_retry = [sleep.calls[i::8] for i in range(8)]
    for number, waits in enumerate(by_retry):
        window = min(10.0, 2.0**number)
        assert all(0 <= w <= window for w in waits)
    assert max(by_retry[0]) <= 1.0 and max(max(w) for w in by_retry[4:]) > 2.0


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [(5.0, 5.0, 5.0), (0.0, 0.0, 0.01), (None, 0.0, 0.01), (10_000.0, 30.0, 30.0)],
)
def test_retry_after_is_a_floor_capped_at_max_backoff(retry_after, low, high) -> None:
    retrier, _, sleep = make(max_retries=1, initial=0.01, maximum=30.0)
    retrier.call(flaky([SonarRetriableError("429", retry_after=retry_after)]), "GET x")
    (waited,) = sleep.calls
    assert low <= waited <= high


def test_limiter_off_never_waits() -> None:
    limiter = RateLimiter(None)
    assert all(limiter.acquire() == 0.0 for _ in range(1000))


def test_limiter_spaces_slots_with_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []
    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=slept.append)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    now[0] = 200.0  # after an idle spell: no saved-up burst beyond one request
    assert limiter.acquire() == 0.0 and limiter.acquire() == pytest.approx(0.25)


def test_limiter_holds_rate_across_20_threads() -> None:
    rate, per_thread = 50.0, 5
    # Frozen clock: every thread asks "now" at once, so only the lock keeps slots apart.
    delays, lock = [], threading.Lock()

    def record(delay: float) -> None:
        with lock:
            delays.append(delay)

    limiter = RateLimiter(rate, clock=lambda: 0.0, sleep=record)
    zero_waits = []

    def worker() -> None:
        for _ in range(per_thread):
            if limiter.acquire() == 0.0:
                zero_waits.append(1)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 100 distinct slots exactly 1/rate apart: no two threads ever share one.
    assert len(zero_waits) == 1
    assert sorted(delays) == pytest.approx([i / rate for i in range(1, 100)])


def test_limiter_spaces_requests_from_20_threads_at_least_the_interval_apart() -> None:
    # A clock that moves on at every reading, unlike the frozen one above: each thread
    # sends at the time it read plus the wait it was given; sends are 1/rate apart.
    rate, ticks, lock, local = 50.0, itertools.count(), threading.Lock(), threading.local()
    sends: list[float] = []

    def clock() -> float:
        local.now = next(ticks) * 0.003  # a reading every 3 ms: slower than the rate
        return local.now

    limiter = RateLimiter(rate, clock=clock, sleep=lambda _: None)

    def worker() -> None:
        for _ in range(5):
            waited = limiter.acquire()
            with lock:
                sends.append(local.now + waited)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sends.sort()
    # 100 requests take at least 99 intervals, and no two are closer than one.
    assert len(sends) == 100 and sends[-1] - sends[0] >= 99 / rate - 1e-9
    assert min(b - a for a, b in itertools.pairwise(sends)) >= 1 / rate - 1e-9


# --- retries on the console: one line every interval, each retry in the log file --------


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_many_retries_make_few_console_lines_and_every_one_is_in_the_log_file(
    tmp_path, capsys
) -> None:
    from sonar_bdc.logsetup import setup_logging
    from sonar_bdc.sonar.retry import RetryReport

    log_file = tmp_path / "bdc_import.log"
    setup_logging(verbose=False, log_file=str(log_file))
    try:
        # A routine retry every second, a line at most every 10 s: 30 retries, 2 lines.
        report = RetryReport(interval=10.0, clock=FakeClock(1.0))
        retrier = Retrier(RetryPolicy(3, 0.0, 0.0), Counters(), FakeSleep(), report)
        for n in range(30):
            retrier.call(flaky([SonarRetriableError(f"HTTP 503 #{n}")]), f"GET /a/{n}")
        console = [line for line in capsys.readouterr().err.splitlines() if "retr" in line]
    finally:
        setup_logging(False, None)
    assert len(console) == 2
    assert (
        "INFO 11 retries so far (last: GET /a/10: HTTP 503 #10; retrying in 0.0 s)" in (console[0])
    )
    assert "INFO 22 retries so far (last: GET /a/21: HTTP 503 #21;" in console[1]
    file_lines = [line for line in log_file.read_text().splitlines() if "; retry " in line]
    assert len(file_lines) == 30 and all(" DEBUG " in line for line in file_lines)


def test_a_request_needing_a_third_attempt_is_a_warning_at_once(caplog) -> None:
    from sonar_bdc.sonar.retry import RetryReport

    report = RetryReport(interval=10.0, clock=FakeClock(1.0))
    retrier = Retrier(RetryPolicy(3, 0.0, 0.0), Counters(), FakeSleep(), report)
    with caplog.at_level("INFO", logger="sonar_bdc.sonar.retry"):
        retrier.call(flaky([SonarRetriableError("HTTP 503")]), "GET x")  # routine: no line
        assert not caplog.records
        retrier.call(flaky([SonarRetriableError("HTTP 503")] * 3), "GET y")
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [("WARNING", "4 retries so far (last: GET y: HTTP 503; retrying in 0.0 s)")]


def test_counters_keep_their_types_and_refuse_unknown_names() -> None:
    counters = Counters()
    for _ in range(3):
        counters.add("requests")
    counters.add("wait_seconds", 0.25)
    snap = counters.snapshot()
    assert (snap.requests, snap.retries, snap.wait_seconds) == (3, 0, 0.25)
    assert isinstance(snap.requests, int)
    counters.add("retries")
    assert snap.retries == 0 and counters.snapshot().retries == 1  # a snapshot stays put
    with pytest.raises(AttributeError):
        counters.add("reqests")
