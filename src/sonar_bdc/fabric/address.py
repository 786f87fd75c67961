"""Normalised street addresses and how well two of them agree (pure).

``usaddress`` labels the words of an address line (house number, directionals, street
name, suffix, unit); USPS Publication 28 abbreviations (``usps``) make ``North Main
Street`` and ``N MAIN ST`` one address; ``rapidfuzz`` forgives small misspellings of the
street name. Odd input (empty, numbers only, unicode, very long) gives None, never an
exception: such an address simply cannot confirm a match.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import string

import usaddress
from rapidfuzz import fuzz

from .usps import DIRECTIONALS, PRE_TYPES, SUFFIXES

MAX_LENGTH = 200  # longer than any real address line: the rest is noise
_PUNCTUATION = string.punctuation + "\u00a0"
_STREET_LABELS = ("StreetNamePreModifier", "StreetNamePreType", "StreetName")
_UNIT_LABELS = ("OccupancyIdentifier", "SubaddressIdentifier")


@dataclasses.dataclass(frozen=True, slots=True)
class Address:
    """An address line in USPS form, upper-case; "" where a part is absent."""

    number: str  # house number: "123", "123A"
    street: str  # street name with any pre-type: "MAIN", "COUNTY ROAD 9", "5TH"
    predir: str = ""  # N, NE, ...
    suffix: str = ""  # ST, AVE, ...
    postdir: str = ""
    unit: str = ""  # the unit's identifier, without its type: "4", "12B"


class Agreement(enum.IntEnum):
    """How well a Fabric address agrees with a customer's, worst to best."""

    DISAGREES = 0  # another house number, street, suffix, directional or unit
    UNKNOWN = 1  # one of them could not be read: neither confirms nor refutes
    AGREES = 2  # same house number and street (suffix, directionals, unit not in conflict)
    AGREES_WITH_UNIT = 3  # as AGREES, and both name the same unit


@functools.lru_cache(maxsize=200_000)
def normalize(line1: str | None, line2: str | None = None) -> Address | None:
    """``line1`` (the street line) in USPS form, the unit from ``line2`` if line1 has none.

    None when line1 has no house number or no street name (a PO box, a bare number,
    text that is not an address).
    """
    address = _street_line(" ".join((line1 or "")[:MAX_LENGTH].split()))
    if address is None or address.unit or not line2:
        return address
    unit = _unit_line(line2[:MAX_LENGTH])
    if not unit:
        return address
    a = address
    return Address(a.number, a.street, a.predir, a.suffix, a.postdir, unit)


def _street_line(line: str) -> Address | None:
    """Parse through a template: ``124 Oak St`` and ``130 OAK ST`` are both read as
    ``111 OAK ST`` (parsed once: usaddress takes about 0.2 ms a line, and neighbours share
    their street), then given their own number back."""
    first, _, rest = line.partition(" ")
    if first.isascii() and first.isdigit() and rest:
        template = "1" * len(first)
        address = _parse(f"{template} {rest.upper()}")
        if address is not None and address.number == template:
            a = address  # (dataclasses.replace costs 3x this)
            return Address(first, a.street, a.predir, a.suffix, a.postdir, a.unit)
    return _parse(line)


@functools.lru_cache(maxsize=100_000)
def _parse(line: str) -> Address | None:
    parts = _labelled(line)
    number = parts.get("AddressNumber", "")
    street = _street(parts)
    if not number or not street:
        return None
    return Address(
        number=number,
        street=street,
        predir=_standard(parts.get("StreetNamePreDirectional", ""), DIRECTIONALS),
        suffix=_standard(parts.get("StreetNamePostType", ""), SUFFIXES),
        postdir=_standard(parts.get("StreetNamePostDirectional", ""), DIRECTIONALS),
        unit=_unit(parts),
    )


@functools.lru_cache(maxsize=10_000)
def _unit_line(line2: str) -> str:
    return _unit(_labelled(line2))


def _labelled(line: str | None) -> dict[str, str]:
    """label -> its words (cleaned, upper-case), first run of each label only.

    ``usaddress.parse`` labels every word and never raises the RepeatedLabelError that
    ``usaddress.tag`` does; a label seen again later (two addresses on one line) keeps
    its first run.
    """
    if not line or not line.strip():
        return {}
    words: dict[str, list[str]] = {}
    closed: set[str] = set()
    current = ""
    for token, label in usaddress.parse(line[:MAX_LENGTH]):
        word = _clean(token)
        if not word:
            continue
        if label != current:
            closed.add(current)
            current = label
        if label not in closed:
            words.setdefault(label, []).append(word)
    return {label: " ".join(ws) for label, ws in words.items()}


def _clean(token: str) -> str:
    return token.strip(_PUNCTUATION).upper().replace(".", "")


def _street(parts: dict[str, str]) -> str:
    words = [parts[label] for label in _STREET_LABELS if label in parts]
    if "StreetNamePreType" in parts:  # "County Road 9", "Hwy 9": one spelling of the type
        words[-2 if "StreetName" in parts else -1] = _standard(
            parts["StreetNamePreType"], PRE_TYPES
        )
    return " ".join(words)


def _unit(parts: dict[str, str]) -> str:
    for label in _UNIT_LABELS:
        unit = parts.get(label, "").replace("#", "").replace(" ", "")
        if unit:
            return unit.lstrip("0") or "0"
    return ""


def _standard(words: str, table: dict[str, str]) -> str:
    """The Publication 28 abbreviation of ``words``, else the words as written."""
    return table.get(words, table.get(words.replace(" ", ""), words))


def compare(customer: Address | None, fabric: Address | None, min_similarity: float) -> Agreement:
    """How ``fabric`` agrees with ``customer``; street names agree from ``min_similarity``
    (0-100, rapidfuzz's ratio) up."""
    if customer is None or fabric is None:
        return Agreement.UNKNOWN
    if customer.number != fabric.number or _conflict(customer, fabric):
        return Agreement.DISAGREES
    if fuzz.ratio(customer.street, fabric.street) < min_similarity:
        return Agreement.DISAGREES
    if customer.unit and fabric.unit:
        same = customer.unit == fabric.unit
        return Agreement.AGREES_WITH_UNIT if same else Agreement.DISAGREES
    return Agreement.AGREES


def _conflict(a: Address, b: Address) -> bool:
    """A suffix or directional both name, differently (Oak St and Oak Ave are two streets)."""
    pairs = ((a.suffix, b.suffix), (a.predir, b.predir), (a.postdir, b.postdir))
    return any(x and y and x != y for x, y in pairs)


def best_agreement(
    customer: Address | None, fabric_lines: tuple[str, ...], min_similarity: float
) -> Agreement:
    """The best agreement of any of a location's address lines (primary, then Secondary /
    Supplemental) with the customer's."""
    readable = [fabric for fabric in map(normalize, fabric_lines) if fabric is not None]
    if not readable:
        return Agreement.UNKNOWN
    return max(compare(customer, fabric, min_similarity) for fabric in readable)


def clear_cache() -> None:
    """Forget every parsed line (for benchmarks that compare cold runs)."""
    normalize.cache_clear()
    _parse.cache_clear()
    _unit_line.cache_clear()
