"""Hostile-but-legal values, picked deterministically at small rates.

Every kind below appears at roughly the rate next to it, so a 1,000-account
dataset holds a handful of each. None of the values has leading or trailing
whitespace, so "strip or not" never decides a test.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sonar_bdc.simulator.model import Raw

T = TypeVar("T")

_LONG_ROAD = "1200 " + " ".join(["Extremely Long Rural Route Road Name"] * 56)

# kind -> (rate, values)
NAME_KINDS: dict[str, tuple[float, tuple[str, ...]]] = {
    "single_quote": (0.015, ("O'Brien, Sean", "D'Angelo's Pizza & Pasta")),
    "double_quote": (0.01, ('Jane "JJ" Doe', '"Quoted" Holdings')),
    "backslash": (0.01, ("Back\\slash Farms", "C:\\new\\table LLC", "Ends With\\")),
    "copy_markers": (0.01, ("\\N", "\\.", "Pipe | Comma, Semi; Tab\\t")),
    "sql": (0.01, ("Robert'); DROP TABLE customers;--", "x' OR '1'='1", "1; DELETE FROM t --")),
    "control": (0.01, ("Tab\tSeparated", "Line one\nLine two", "Carriage\r\nReturn")),
    "unicode": (
        0.02,
        (
            "José Müller-Ñúñez",
            "王小明",
            "Pizza 🍕 Shop 🚀",
            "Zoë Ångström",
            "Ελληνικά Ltd",
            "zero\u200bwidth",
        ),
    ),
    "nul": (0.005, ("Nul\x00Byte Ranch", "Trailing NUL\x00x")),
    "html": (0.01, ("Smith & Sons <b>LLC</b>", "A&amp;B Literal", "</a><script>x</script>")),
    "format": (0.005, ("100% {name} %s %d",)),
    "long": (0.005, ("Long " + "Name " * 60 + "End",)),
}

ADDRESS_KINDS: dict[str, tuple[float, tuple[str, ...]]] = {
    "long_2kb": (0.01, (_LONG_ROAD[:2048].rstrip(),)),
    "nul": (0.005, ("12 Nul\x00 Rd", "\x00 leading nul 4 Elm")),
    "quotes": (0.01, ('12 O\'Connor "Big" Rd', "7 Ol' Mill Rd")),
    "unicode": (0.01, ("123 Calle Ñandú 🏠", "北京路 8号", "9 Rue Élysée")),
    "control": (0.005, ("12 Tab\tRd", "Bldg 2\n44 Ranch Rd")),
    "backslash": (0.005, ("\\N", "Suite \\. 3", "4\\5 Back Rd")),
    "sql": (0.005, ("1 Main St'; DROP TABLE customers;--",)),
}

# kind -> (rate, lat_raw, lon_raw); None raw values are JSON null. "valid" is the rest.
BAD_COORDINATES: dict[str, tuple[float, Raw, Raw]] = {
    "empty": (0.015, "", ""),
    "null": (0.015, None, None),
    "zero_text": (0.015, "0", "0"),
    "zero_number": (0.005, 0, 0.0),
    "garbage": (0.01, "N/A", "unknown"),
    "nan": (0.005, "NaN", "NaN"),
    "lat_out_of_range": (0.01, "91.5", "VALID"),
    "lon_out_of_range": (0.01, "VALID", "-200"),
    "one_sided": (0.01, "VALID", ""),
}


def pick_kind(rng: random.Random, kinds: Mapping[str, tuple[Any, ...]]) -> str | None:
    """One kind by its rate (the first element of each entry), or None (the rest)."""
    roll = rng.random()
    for kind, entry in kinds.items():
        roll -= entry[0]
        if roll < 0:
            return kind
    return None


def nasty_text(rng: random.Random, kinds: dict[str, tuple[float, tuple[str, ...]]]) -> str | None:
    """A nasty value from one of ``kinds`` at its rate, or None for a normal value."""
    kind = pick_kind(rng, kinds)
    return None if kind is None else rng.choice(kinds[kind][1])


def choose(rng: random.Random, values: Sequence[T], weights: Sequence[float]) -> T:
    return rng.choices(values, weights)[0]
