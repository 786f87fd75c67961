"""Progress for each phase: a tqdm bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Protocol

from tqdm import tqdm

log = logging.getLogger("sonar_bdc.progress")


class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class _LogProgress:
    """For cron: no bar, a line every ``interval`` seconds and one at the end."""

    def __init__(self, total: int | None, desc: str, interval: float) -> None:
        self.total, self.desc, self.interval = total, desc, interval
        self.done = 0
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._emit(now)

    def _emit(self, now: float) -> None:
        rate = self.done / max(now - self.start, 1e-9)
        of = f"/{self.total}" if self.total is not None else ""
        log.info("%s: %d%s (%.1f/s)", self.desc, self.done, of, rate)

    def close(self) -> None:
        self._emit(time.monotonic())


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(
    total: int | None,
    desc: str,
    unit: str = "customer",
    interval: float = 10.0,
    *,
    enabled: bool = True,
) -> Progress:
    """A bar on a terminal; periodic log lines when stderr is not a terminal."""
    if not enabled:
        return _NoProgress()
    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True)
    return _LogProgress(total, desc, interval)
