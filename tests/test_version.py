"""One version number, bumped with each schema migration (see CHANGELOG.md)."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import sonar_bdc
from sonar_bdc.store import ddl

ROOT = Path(__file__).resolve().parents[1]


def test_the_minor_version_is_the_schema_version() -> None:
    major, minor, _ = sonar_bdc.__version__.split(".")
    assert (int(major), int(minor)) == (0, ddl.LATEST_VERSION)


def test_the_installed_package_carries_the_same_version() -> None:
    assert version("sonar-bdc") == sonar_bdc.__version__


def test_the_changelog_has_an_entry_for_this_version() -> None:
    assert f"## {sonar_bdc.__version__} (schema v{ddl.LATEST_VERSION})" in (
        ROOT / "CHANGELOG.md"
    ).read_text(encoding="utf-8")
