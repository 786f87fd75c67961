"""Progress for each phase: a tqdm bar on a terminal, a log line every few seconds otherwise.

Under cron the line comes from a timer, not from progress being made: a phase that
waits (on the rate limiter, a retry's back-off, a slow answer) still says every
``INTERVAL`` seconds where it stands.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from tqdm import tqdm

log = logging.getLogger("sonar_bdc.progress")

T = TypeVar("T")
INTERVAL = 10.0  # seconds between progress lines when stderr is not a terminal


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...  # tqdm's says whether it redrew
    def close(self) -> None: ...


class _LogProgress:
    """For cron: no bar; a line every ``interval`` seconds, moving or not, and one at the end."""

    def __init__(self, total: int | None, desc: str, unit: str, interval: float) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.done = 0
        self.start = time.monotonic()
        self._closed = threading.Event()
        self._timer = threading.Thread(
            target=self._tick, args=(interval,), name=f"progress-{desc}", daemon=True
        )
        self._timer.start()

    def update(self, n: int = 1) -> None:
        self.done += n

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._timer.join()
        self._emit()

    def _tick(self, interval: float) -> None:
        while not self._closed.wait(interval):
            self._emit()

    def _emit(self) -> None:
        seconds = time.monotonic() - self.start
        rate = self.done / max(seconds, 1e-9)
        log.info(
            "%s: %s after %.0f s (%s/s)",
            self.desc, self._amount(self.done, self.total), seconds, _scaled(rate, self.unit),
        )  # fmt: skip

    def _amount(self, done: int, total: int | None) -> str:
        if self.unit == "B":
            return _scaled(done, "B") + (f" of {_scaled(total, 'B')}" if total else "")
        return f"{done}/{total}" if total is not None else f"{done}"


def _scaled(value: float, unit: str) -> str:
    """Bytes in kB/MB/GB; other units as a number."""
    if unit != "B":
        return f"{value:.1f}" if value < 100 else f"{value:.0f}"
    for prefix in ("", "k", "M"):
        if value < 1000:
            return f"{value:.0f} {prefix}B" if not prefix else f"{value:.1f} {prefix}B"
        value /= 1000
    return f"{value:.1f} GB"


def counted(items: Iterable[T], progress: Progress, every: int = 1000) -> Iterator[T]:
    """``items`` unchanged, telling ``progress`` about them ``every`` at a time."""
    pending = 0
    for item in items:
        yield item
        pending += 1
        if pending == every:
            progress.update(pending)
            pending = 0
    progress.update(pending)


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(
    total: int | None,
    desc: str,
    unit: str = "customer",
    interval: float | None = None,
    *,
    enabled: bool = True,
) -> Progress:
    """A bar on a terminal; a log line every ``interval`` (default ``INTERVAL``) seconds
    when stderr is not a terminal. Unit "B" counts bytes (shown as kB, MB)."""
    if not enabled:
        return _NoProgress()
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B",
                    dynamic_ncols=True, leave=True)  # fmt: skip
    return _LogProgress(total, desc, unit, INTERVAL if interval is None else interval)
