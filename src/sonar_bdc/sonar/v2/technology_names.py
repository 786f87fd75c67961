"""Sonar v2 ``TechnologyCode`` enum names -> the Form 477 code v1 sends as a number.

v2 sends a name (``TERRESTRIAL_FIXED_WIRELESS``), v1 the number (70). The import keeps
the name in ``services.technology_name`` and fills ``technology_code`` from this table:
the built-in names (the simulator's spellings, which follow Form 477's labels, plus a
few unambiguous aliases), extended or overridden by ``SONAR_TECHNOLOGY_NAMES``
(``NAME=code, NAME=code``). A name the table does not know gets no code: it is
reported, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ...errors import ConfigError

SETTING = "SONAR_TECHNOLOGY_NAMES"
# Form 477 codes, plus BDC's 61/71/72 (a source that sends those already speaks BDC).
VALID_CODES = frozenset({0, 10, 11, 12, 20, 30, 40, 41, 42, 43, 50, 60, 61, 70, 71, 72, 90})

BUILT_IN: Mapping[str, int] = {
    "ASYMMETRIC_XDSL": 10,
    "ADSL2_ADSL2_PLUS": 11,
    "VDSL": 12,
    "SYMMETRIC_XDSL": 20,
    "OTHER_COPPER_WIRELINE": 30,
    "CABLE_MODEM_OTHER": 40,
    "CABLE_MODEM_DOCSIS_1_0_TO_2_0": 41,
    "CABLE_MODEM_DOCSIS_3_0": 42,
    "CABLE_MODEM_DOCSIS_3_1": 43,
    "OPTICAL_CARRIER_FIBER_TO_THE_END_USER": 50,
    "SATELLITE": 60,
    "TERRESTRIAL_FIXED_WIRELESS": 70,
    "ELECTRIC_POWER_LINE": 90,
    "ALL_OTHER": 0,
    # Aliases: other plausible spellings of the same Form 477 labels.
    "ADSL2": 11,
    "ADSL2_PLUS": 11,
    "CABLE_MODEM_DOCSIS_1_1_OR_2_0": 41,
    "OPTICAL_CARRIER_FIBER": 50,
    "FIBER_TO_THE_END_USER": 50,
    "FIXED_WIRELESS": 70,
    "POWER_LINE": 90,
    "OTHER": 0,
}
_NOT_NAME = re.compile(r"[^A-Z0-9]+")


def normalize(name: str) -> str:
    """``Cable modem - DOCSIS 3.0`` and ``CABLE_MODEM_DOCSIS_3_0`` are the same key."""
    return _NOT_NAME.sub("_", name.strip().upper()).strip("_")


class TechnologyTable:
    """Name -> code; read-only once built, so worker threads share it."""

    def __init__(self, extra: Mapping[str, int] | None = None) -> None:
        merged = {**BUILT_IN, **(extra or {})}
        self._codes = {normalize(name): code for name, code in merged.items()}

    def code(self, name: str | None) -> int | None:
        """The Form 477 code of ``name``; None when the table lacks it (the service keeps
        the name, and its page reports it: ``AccountPage.unknown_technology_names``)."""
        return None if name is None else self._codes.get(normalize(name))

    def missing(self, names: Iterable[str]) -> list[str]:
        """The names (e.g. from introspection) the table cannot map, sorted."""
        return sorted({n for n in names if normalize(n) not in self._codes})


def parse_name_table(text: str | None, source: str = SETTING) -> dict[str, int]:
    """``"NAME=70, OTHER_NAME=50"`` (commas or newlines) -> ``{name: code}``."""
    table: dict[str, int] = {}
    for entry in re.split(r"[,\n;]", text or ""):
        if not entry.strip():
            continue
        name, sep, raw = entry.partition("=")
        name, raw = name.strip(), raw.strip()
        if not sep or not name or not raw.isdigit() or int(raw) not in VALID_CODES:
            raise ConfigError(
                f"{source}: {entry.strip()!r} is not NAME=<Form 477 code>; codes are "
                f"{', '.join(map(str, sorted(VALID_CODES)))} (e.g. "
                f"{source}=LICENSED_FIXED_WIRELESS=70)"
            )
        table[name] = int(raw)
    return table
