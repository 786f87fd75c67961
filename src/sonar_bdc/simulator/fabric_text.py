"""How the simulated Fabric spells a subscriber's address: differently from Sonar.

The Fabric mostly writes upper case with USPS Publication 28 abbreviations; some records
spell suffixes and directionals as words, some are in title case with full stops, some
are exactly as the ISP typed them, and a single home's unit (a lot, a trailer) may sit
in the Fabric's one address line while Sonar keeps it in the second line. The house
number, the street name and the ZIP never change: a matcher that normalises finds them.
"""

from __future__ import annotations

import random
import re
from typing import NamedTuple

from sonar_bdc.simulator.buildings import is_plain
from sonar_bdc.simulator.nasty import choose

SUFFIXES = {
    "ST": "STREET", "AVE": "AVENUE", "RD": "ROAD", "DR": "DRIVE", "LN": "LANE",
    "TRL": "TRAIL", "HWY": "HIGHWAY", "BLVD": "BOULEVARD", "PKWY": "PARKWAY",
    "CT": "COURT", "CIR": "CIRCLE",
}  # fmt: skip
DIRECTIONS = {
    "N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST",
    "NE": "NORTHEAST", "NW": "NORTHWEST", "SE": "SOUTHEAST", "SW": "SOUTHWEST",
}  # fmt: skip
UNITS = {"APT": "APARTMENT", "STE": "SUITE", "TRLR": "TRAILER", "LOT": "LOT", "UNIT": "UNIT"}
_ABBREVIATION = {v: k for k, v in (SUFFIXES | DIRECTIONS | UNITS).items()}

STYLES = ("usps", "words", "dotted", "as_typed", "lower")
_STYLE_WEIGHTS = (60, 15, 10, 10, 5)
_UNIT = re.compile(r"(#|[A-Za-z]+)\s*(\w+)")


class Street(NamedTuple):
    """A street address in parts, each in the Fabric's canonical upper-case abbreviation."""

    number: str
    pre: str
    name: str
    suffix: str
    post: str


class Spelled(NamedTuple):
    """A street address as one record of the Fabric writes it: parts and the whole line."""

    parts: Street
    line: str


def parse_line(line1: str) -> Street | None:
    """``"12 N Flores St"`` in parts, or None when ``line1`` is not a plain address."""
    if not is_plain(line1):
        return None
    number, *words = (_ABBREVIATION.get(w.upper(), w.upper()) for w in line1.split())
    pre = words.pop(0) if len(words) > 1 and words[0] in DIRECTIONS else ""
    post = words.pop() if len(words) > 1 and words[-1] in DIRECTIONS else ""
    suffix = words.pop() if len(words) > 1 and words[-1] in SUFFIXES else ""
    return Street(number, pre, " ".join(words), suffix, post)


def pick_style(rng: random.Random) -> str:
    return choose(rng, STYLES, _STYLE_WEIGHTS)


def spell(street: Street, style: str, typed: str) -> Spelled:
    """``street`` as a record in ``style`` writes it; ``typed`` is Sonar's own line."""
    if style == "as_typed":
        return Spelled(street, typed)
    words = style == "words"
    parts = Street(
        street.number,
        _word(street.pre, words),
        " ".join(_word(w, words) for w in street.name.split()),
        _word(street.suffix, words),
        _word(street.post, words),
    )
    line = " ".join(p for p in parts if p)
    if style == "dotted":
        line = " ".join(_dotted(w) for w in line.split())
    elif style == "lower":
        line = line.lower()
    return Spelled(parts, line)


def unit_text(line2: str, style: str) -> str | None:
    """Sonar's unit line (``"Lot 17"``, ``"#1"``) as the Fabric would append it."""
    found = _UNIT.fullmatch(line2.strip())
    if found is None:
        return None
    kind, value = found.group(1).upper(), found.group(2).upper()
    kind = _ABBREVIATION.get(kind, kind)
    if style == "words":
        kind = UNITS.get(kind, kind)
    text = f"{kind} {value}" if kind != "#" else f"# {value}"
    return text.lower() if style == "lower" else text


def _word(word: str, words: bool) -> str:
    return (SUFFIXES | DIRECTIONS).get(word, word) if words else word


def _dotted(word: str) -> str:
    """Title case, with a full stop after an abbreviation: ``St.``, ``N.``."""
    if word in DIRECTIONS:
        return word + "."
    if word in SUFFIXES:
        return word.title() + "."
    return word.title() if word.isalpha() else word
