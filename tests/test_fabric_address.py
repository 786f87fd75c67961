"""Address normalisation and comparison for Fabric matching (pure)."""

from __future__ import annotations

import pytest

from sonar_bdc.fabric.address import Address, Agreement, best_agreement, compare, normalize


@pytest.mark.parametrize(
    ("line1", "line2", "expected"),
    [
        ("123 North Main Street", None, Address("123", "MAIN", predir="N", suffix="ST")),
        ("123 n. main st.", "", Address("123", "MAIN", predir="N", suffix="ST")),
        ("4501 W Oak Avenue Apt 4", None, Address("4501", "OAK", "W", "AVE", unit="4")),
        ("77 Elm Blvd", "#012", Address("77", "ELM", suffix="BLVD", unit="12")),
        ("77 Elm Boulevard", "Unit B", Address("77", "ELM", suffix="BLVD", unit="B")),
        ("100 Main St NE", None, Address("100", "MAIN", suffix="ST", postdir="NE")),
        ("12 County Road 9", None, Address("12", "CR 9")),
        ("12 CR 9", None, Address("12", "CR 9")),
        ("55 Old Mill Road", None, Address("55", "OLD MILL", suffix="RD")),
    ],
)
def test_normalize_gives_the_usps_form(line1: str, line2: str | None, expected: Address) -> None:
    assert normalize(line1, line2) == expected


def test_a_unit_in_line1_wins_over_street2() -> None:
    address = normalize("9 Pine Ct Apt 3", "Apt 7")
    assert address is not None and address.unit == "3"


@pytest.mark.parametrize(
    "line",
    ["", "   ", None, "12345", "PO Box 12", "ÅÄÖ 北京", "x" * 5000, "\x00\x01", "#"],
)
def test_odd_input_is_unreadable_not_an_error(line: str | None) -> None:
    assert normalize(line) is None


def test_two_addresses_on_one_line_never_raise() -> None:
    # usaddress.tag raises RepeatedLabelError here; the first run of each label counts
    address = normalize("123 Main St 456 Oak Ave")
    assert address is not None and address.number == "123"


def test_a_very_long_line_is_cut_not_refused() -> None:
    address = normalize("12 Main St " + "Apt 4 " * 1000)
    assert address is not None and address.street == "MAIN"


def agreement(a: str, b: str, a2: str | None = None, b2: str | None = None) -> Agreement:
    return compare(normalize(a, a2), normalize(b, b2), 85)


def test_spellings_of_one_address_agree() -> None:
    assert agreement("123 North Main Street", "123 N MAIN ST") == Agreement.AGREES
    assert agreement("12 Washingtn Ave", "12 WASHINGTON AVE") == Agreement.AGREES  # a typo
    assert agreement("123 Main", "123 N MAIN ST") == Agreement.AGREES  # parts left out


def test_another_number_street_suffix_or_directional_disagrees() -> None:
    assert agreement("125 Main St", "123 Main St") == Agreement.DISAGREES
    assert agreement("123 Maple St", "123 Main St") == Agreement.DISAGREES
    assert agreement("123 Main Ave", "123 Main St") == Agreement.DISAGREES
    assert agreement("123 S Main St", "123 N Main St") == Agreement.DISAGREES


def test_units_agree_or_disagree_only_when_both_have_one() -> None:
    assert agreement("1 Elm St", "1 Elm St Apt 2", "Apt 2") == Agreement.AGREES_WITH_UNIT
    assert agreement("1 Elm St", "1 Elm St Apt 2", "Apt 3") == Agreement.DISAGREES
    assert agreement("1 Elm St", "1 Elm St", "Apt 3") == Agreement.AGREES


def test_unreadable_addresses_neither_confirm_nor_refute() -> None:
    assert compare(None, normalize("1 Elm St"), 85) == Agreement.UNKNOWN
    assert best_agreement(normalize("1 Elm St"), ("PO Box 4", ""), 85) == Agreement.UNKNOWN
    assert best_agreement(normalize("1 Elm St"), (), 85) == Agreement.UNKNOWN


def test_the_best_of_a_locations_addresses_counts() -> None:
    lines = ("5 Other Rd", "1 ELM STREET")  # primary, then a Secondary address
    assert best_agreement(normalize("1 Elm St"), lines, 85) == Agreement.AGREES
