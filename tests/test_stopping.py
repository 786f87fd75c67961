"""SIGTERM stops an import as Ctrl-C does: pure signal handling, no database."""

from __future__ import annotations

import signal

import pytest

from sonar_bdc import stopping
from sonar_bdc.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from sonar_bdc.stopping import stop_signals_as_flag


def test_sigterm_while_writing_only_sets_the_flag_and_a_second_one_stops() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stopping.stop_signals_as_interrupts():
        with stop_signals_as_flag() as stop:
            try:
                signal.raise_signal(signal.SIGTERM)
            except stopping.Terminated:
                pytest.fail("SIGTERM raised where it may land inside a database statement")
            assert stop.is_set()
            with pytest.raises(stopping.Terminated):
                signal.raise_signal(signal.SIGTERM)
        assert stopping.terminated()
        assert stopping.exit_code(EXIT_INTERRUPTED) == EXIT_TERMINATED
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_outside_the_writing_loop_raises_terminated_a_keyboard_interrupt() -> None:
    with stopping.stop_signals_as_interrupts():
        with pytest.raises(KeyboardInterrupt) as info:
            signal.raise_signal(signal.SIGTERM)
        assert isinstance(info.value, stopping.Terminated)


def test_ctrl_c_keeps_its_own_exit_code_and_others_are_untouched() -> None:
    with stopping.stop_signals_as_interrupts():
        with pytest.raises(KeyboardInterrupt) as info:
            signal.raise_signal(signal.SIGINT)
        assert not isinstance(info.value, stopping.Terminated)
        assert not stopping.terminated()
        assert stopping.exit_code(EXIT_INTERRUPTED) == EXIT_INTERRUPTED
    with stopping.stop_signals_as_interrupts():
        stopping.note(signal.SIGTERM)
        assert [stopping.exit_code(c) for c in (EXIT_OK, EXIT_FAILED)] == [EXIT_OK, EXIT_FAILED]
