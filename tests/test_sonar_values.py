"""The value parsers: a table of what Sonar sends and what we keep."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from sonar_bdc.sonar.values import (
    is_blank,
    parse_bool,
    parse_coordinates,
    parse_float,
    parse_int,
    parse_money,
    parse_text,
)

COORDINATES = [
    # (lat, lon) as sent -> what we keep
    (("29.2845", "-98.37306"), (29.2845, -98.37306)),
    ((29.2845, -98.37306), (29.2845, -98.37306)),
    ((" 29.2845 ", "\t-98.37306\n"), (29.2845, -98.37306)),
    (("29", "-98"), (29.0, -98.0)),
    ((29, -98), (29.0, -98.0)),
    (("-90", "180"), (-90.0, 180.0)),
    (("90", "-180"), (90.0, -180.0)),
    (("", ""), None),
    ((None, None), None),
    (("0", "0"), None),
    ((0, 0), None),
    (("0.0", "0.000"), None),
    (("0", "-98.37306"), None),  # "0" is Sonar's "not geocoded": never half a point
    (("29.2845", "0"), None),
    (("29.2845", ""), None),
    ((None, "-98.37306"), None),
    (("29.2845", None), None),
    (("abc", "-98.37306"), None),
    (("29.2845", "W98"), None),
    (("29,2845", "-98,37306"), None),  # decimal comma: do not guess
    (("90.0001", "-98"), None),
    (("-90.5", "-98"), None),
    (("29", "180.5"), None),
    (("29", "-181"), None),
    (("98112", "29.28"), None),  # a ZIP read as a latitude
    (("nan", "-98"), None),
    ((math.nan, -98.0), None),
    (("inf", "-98"), None),
    ((math.inf, -98.0), None),
    (("1e400", "-98"), None),
    (("2_9", "-98"), None),  # Python's float() accepts digit separators; Sonar never sends them
    ((True, -98.0), None),
    (([29], -98.0), None),
    (({"lat": 29}, -98.0), None),
]


@pytest.mark.parametrize(("given", "expected"), COORDINATES, ids=[repr(c[0]) for c in COORDINATES])
def test_parse_coordinates(given: tuple, expected: tuple | None) -> None:
    assert parse_coordinates(*given) == expected


def test_coordinates_never_zero_zero() -> None:
    for given, _ in COORDINATES:
        assert parse_coordinates(*given) != (0.0, 0.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.5", 1.5), ("-2", -2.0), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), (3, 3.0),
     ("", None), ("  ", None), (None, None), ("x", None), (False, None), ("inf", None)],
)  # fmt: skip
def test_parse_float(value: object, expected: float | None) -> None:
    assert parse_float(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("", True), ("  ", True), ("0", True), (0, True), ("0.0", True),
     ("29.1", False), ("x", False), (1, False)],
)  # fmt: skip
def test_is_blank(value: object, expected: bool) -> None:
    assert is_blank(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(9263, 9263), ("9263", 9263), (" 9263 ", 9263), ("-4", -4), (9263.0, 9263),
     ("9263.0", None), (12.5, None), ("12.5", None), ("", None), (None, None), ("abc", None),
     (True, None), (False, None), (math.nan, None), ([1], None)],
)  # fmt: skip
def test_parse_int(value: object, expected: int | None) -> None:
    assert parse_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("true", True), ("False", False),
     ("1", True), ("0", False), (" yes ", True), ("no", False), (2, None), ("", None),
     (None, None), ("maybe", None), (1.0, None)],
)  # fmt: skip
def test_parse_bool(value: object, expected: bool | None) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("39.95", Decimal("39.95")), ("0.00", Decimal("0.00")), ("-5.10", Decimal("-5.10")),
     (39.95, Decimal("39.95")), (40, Decimal(40)), (" 12.5 ", Decimal("12.5")),
     ("", None), (None, None), ("$39.95", None), ("1,000.00", None), ("abc", None),
     ("NaN", None), (math.inf, None), (True, None), ("1e5", None)],
)  # fmt: skip
def test_parse_money(value: object, expected: Decimal | None) -> None:
    assert parse_money(value) == expected


def test_parse_money_keeps_exact_cents() -> None:
    assert str(parse_money(0.1)) == "0.1"  # not 0.1000000000000000055511151231257827


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Main St", "Main St"), (" padded ", " padded "), ("", None), (None, None),
     (78112, "78112"), (8012, "8012"), (1.5, "1.5"), (True, None), ([], None)],
)  # fmt: skip
def test_parse_text(value: object, expected: str | None) -> None:
    assert parse_text(value) == expected
