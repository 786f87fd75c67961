"""limit_arenas: glibc's arena limit set for the import, unless the environment chose."""

from __future__ import annotations

import ctypes
import platform

import pytest

from sonar_bdc.importer.malloc import limit_arenas


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a glibc tunable")
def test_glibc_takes_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_arenas() is True


def test_without_mallopt_it_declines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    class NoMallopt:
        def __init__(self, name: object) -> None:
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    assert limit_arenas() is False
