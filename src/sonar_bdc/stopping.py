"""Ctrl-C and SIGTERM stop an import the same way: completed work committed, the summary
printed, a log line, exit 130 or 143.

Python turns SIGINT into KeyboardInterrupt; SIGTERM (what ``kill``, systemd and a
shutdown send) would end the process on the spot. While an import runs, SIGTERM
raises ``Terminated``, a KeyboardInterrupt, so both take the same paths; while the
report or customers are written both only set a flag (``stop_signals_as_flag``),
checked between rows: an exception landing inside a database command would lose
the uncommitted rows and leave the connection mid-command.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")
_received: set[int] = set()  # stop signals received since ``stop_signals_as_interrupts``


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as for Ctrl-C."""


def note(signum: int) -> None:
    """Remember that ``signum`` asked the run to stop (for the exit code)."""
    _received.add(signum)


def interrupt(signum: int) -> KeyboardInterrupt:
    """The exception that ``signum`` raises where Ctrl-C raises KeyboardInterrupt."""
    note(signum)
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def stopped() -> KeyboardInterrupt:
    """The exception for the stop signal received (SIGTERM wins)."""
    return Terminated() if terminated() else KeyboardInterrupt()


def terminated() -> bool:
    """Whether SIGTERM stopped this run."""
    return signal.SIGTERM in _received


def exit_code(code: int) -> int:
    """``code``, made 143 when an interrupted run (130) was stopped by SIGTERM."""
    return EXIT_TERMINATED if code == EXIT_INTERRUPTED and terminated() else code


@contextlib.contextmanager
def _handling(handler: Callable[[int, object], None]) -> Iterator[None]:
    """``handler`` for both stop signals in the block, the previous ones restored after;
    nothing in another thread (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """For the block: SIGTERM raises Terminated (and is remembered, as SIGINT is)."""
    _received.clear()

    def on_signal(signum: int, frame: object) -> None:
        raise interrupt(signum)

    with _handling(on_signal):
        yield


@contextlib.contextmanager
def stop_signals_as_flag() -> Iterator[threading.Event]:
    """For the block, Ctrl-C and SIGTERM only set the flag yielded; a second one, the
    user insisting, raises at once."""
    stop = threading.Event()

    def on_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            raise interrupt(signum)
        note(signum)
        stop.set()

    with _handling(on_stop):
        yield stop


def until_stopped(items: Iterable[T], stop: threading.Event) -> Iterator[T]:
    """``items`` until ``stop`` is set: the consumer then ends as at the last item,
    with no exception thrown into the database commands it may be in the middle of."""
    for item in items:
        if stop.is_set():
            return
        yield item
