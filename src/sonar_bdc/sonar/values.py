"""Pure parsers for the loosely typed values Sonar sends.

Sonar sends the same field as a string, a number, ``""`` or null depending on
the endpoint and version. Each parser returns a clean value or ``None``; none of
them guesses (no "0" coordinates, no truncated ids, no float money).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_INT = re.compile(r"[+-]?\d+")
_MONEY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_FLOAT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


def parse_float(value: Any) -> float | None:
    """A finite float from a number or a numeric string; anything else is None."""
    if isinstance(value, bool) or value is None:
        return None  # bool is an int subclass: True must not become 1.0
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        number = float(value.strip())  # the regex refuses "nan", "inf" and "1_0"
    else:
        return None
    return number if math.isfinite(number) else None


def parse_coordinates(lat: Any, lon: Any) -> tuple[float, float] | None:
    """A valid (lat, lon) pair, or None: both or nothing, never (0, 0).

    Sonar writes "0" for an address it did not geocode, so an exact 0 in either
    value means "missing" (no customer of a US ISP sits on the equator or the
    prime meridian; a half-geocoded point would be placed wrongly).
    """
    latitude, longitude = parse_float(lat), parse_float(lon)
    if latitude is None or longitude is None:
        return None
    if latitude == 0 or longitude == 0:
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return latitude, longitude


def is_blank(value: Any) -> bool:
    """True for the ways Sonar says "no value": None, "", whitespace, or 0 / "0"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return parse_float(value) == 0


def parse_int(value: Any) -> int | None:
    """An integer from an int, an integral float or a string of digits; else None.

    "12.5" or 12.5 is None, not 12: an id that is not a whole number is not an id.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    return None


def parse_bool(value: Any) -> bool | None:
    """A bool from true/false, 1/0 or their string forms; anything else is None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def parse_money(value: Any) -> Decimal | None:
    """An exact Decimal from "39.95" (current Sonar) or 39.95 (old Sonar); else None.

    Floats go through ``repr`` so 39.95 stays 39.95 and not 39.9500000000000028...
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _MONEY.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the regex admits only valid numbers
            return None
    return None


def parse_text(value: Any) -> str | None:
    """Text exactly as sent; "" and null become None, numbers their decimal form.

    A ZIP sent as the number 8012 stays "8012": restoring a leading zero would be
    a guess.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value if value != "" else None
    return None
