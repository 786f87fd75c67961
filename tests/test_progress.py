"""Progress without a terminal: a line every interval, moving or not, and one at the end."""

from __future__ import annotations

import logging
import threading

import pytest

from sonar_bdc.importer import progress
from sonar_bdc.importer.progress import make_progress


def progress_lines(caplog: pytest.LogCaptureFixture, desc: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{desc}:")]


def test_a_phase_that_waits_still_says_where_it_stands(caplog) -> None:
    """Nothing moves (a rate limiter, a back-off): the lines come anyway."""
    caplog.set_level(logging.INFO, logger="sonar_bdc.progress")
    lines_seen = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if len(progress_lines(caplog, "accounts")) >= 3:
                lines_seen.set()

    watch = Watch()
    logging.getLogger("sonar_bdc.progress").addHandler(watch)
    try:
        bar = make_progress(4000, "accounts", "account", interval=0.01)
        bar.update(300)
        assert lines_seen.wait(5.0)  # no update since: the timer alone wrote them
        bar.close()
    finally:
        logging.getLogger("sonar_bdc.progress").removeHandler(watch)
    lines = progress_lines(caplog, "accounts")
    assert all(line.startswith("accounts: 300/4000 after ") for line in lines)


def test_the_default_interval_is_the_module_setting(caplog, monkeypatch) -> None:
    caplog.set_level(logging.INFO, logger="sonar_bdc.progress")
    monkeypatch.setattr(progress, "INTERVAL", 3600.0)
    bar = make_progress(None, "report", "B")
    bar.update(2_500_000)
    bar.close()
    bar.close()  # twice is harmless
    assert [line.split(" after ")[0] for line in progress_lines(caplog, "report")] == [
        "report: 2.5 MB"
    ]


def test_disabled_progress_says_nothing(caplog) -> None:
    caplog.set_level(logging.INFO, logger="sonar_bdc.progress")
    bar = make_progress(10, "customers", interval=0.0, enabled=False)
    bar.update(5)
    bar.close()
    assert not caplog.records
