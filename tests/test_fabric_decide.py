"""The matching rules, one test per rule (pure), and the [match] settings."""

from __future__ import annotations

import pytest

from sonar_bdc.bdc.config import MatchConfig, parse_config
from sonar_bdc.errors import ConfigError
from sonar_bdc.fabric.decide import (
    ADDRESS,
    AMBIGUOUS,
    NEAREST_NOT_BSL,
    NO_COORDINATES_NO_ADDRESS,
    NOTHING_WITHIN_REACH,
    POINT,
    POINT_ADDRESS,
    UNMATCHED,
    Candidate,
    Customer,
    decide_by_address,
    decide_by_point,
    fall_back_to_address,
    settled,
)

CONFIG = MatchConfig()
HOME = Customer(1, "100 North Main Street", "")


def bsl(location_id: int, distance: float | None, *addresses: str) -> Candidate:
    return Candidate(location_id, True, distance, addresses)


def nobsl(location_id: int, distance: float) -> Candidate:
    return Candidate(location_id, False, distance, ("100 N MAIN ST",))


def test_the_clear_nearest_bsl_within_the_small_radius_is_taken() -> None:
    d = decide_by_point(HOME, [bsl(2, 40, "100 N MAIN ST"), bsl(1, 9, "100 N MAIN ST")], CONFIG)
    assert (d.location_id, d.method, d.distance_m, d.candidates) == (1, POINT, 9, 2)


def test_the_clear_nearest_is_taken_when_no_address_can_confirm_it() -> None:
    d = decide_by_point(HOME, [bsl(1, 12, "PO Box 4"), bsl(2, 30, "7 Oak Rd")], CONFIG)
    assert (d.location_id, d.method) == (1, POINT)


def test_a_nobsl_point_is_never_a_match_even_when_nearer() -> None:
    d = decide_by_point(HOME, [nobsl(9, 2), bsl(1, 10, "100 N MAIN ST")], CONFIG)
    assert (d.location_id, d.method) == (1, POINT)


def test_a_clear_nearest_whose_address_disagrees_yields_to_the_one_that_agrees() -> None:
    candidates = [bsl(1, 10, "102 N MAIN ST"), bsl(2, 70, "100 N MAIN ST")]
    d = decide_by_point(HOME, candidates, CONFIG)
    assert (d.location_id, d.method, d.distance_m) == (2, POINT_ADDRESS, 70)
    off = decide_by_point(HOME, candidates, MatchConfig(confirm_point=False))
    assert (off.location_id, off.method) == (1, POINT)


def test_farther_away_the_address_decides() -> None:
    candidates = [bsl(1, 40, "104 N MAIN ST"), bsl(2, 60, "100 NORTH MAIN STREET")]
    d = decide_by_point(HOME, candidates, CONFIG)
    assert (d.location_id, d.method) == (2, POINT_ADDRESS)


def test_several_close_bsls_are_told_apart_by_address() -> None:
    candidates = [bsl(1, 6, "102 N MAIN ST"), bsl(2, 8, "100 N MAIN ST")]
    d = decide_by_point(HOME, candidates, CONFIG)
    assert (d.location_id, d.method) == (2, POINT_ADDRESS)


def test_secondary_addresses_count_as_the_locations_own() -> None:
    candidates = [bsl(1, 30, "5 OTHER RD"), bsl(2, 50, "6 OTHER RD", "100 N MAIN ST")]
    d = decide_by_point(HOME, candidates, CONFIG)
    assert (d.location_id, d.method) == (2, POINT_ADDRESS)


def test_several_close_without_an_address_to_tell_them_apart_are_ambiguous() -> None:
    d = decide_by_point(HOME, [bsl(7, 6, "9 ELM ST"), bsl(3, 8, "11 ELM ST")], CONFIG)
    assert (d.location_id, d.method, d.reason) == (None, UNMATCHED, AMBIGUOUS)
    assert d.candidate_ids == (3, 7)


def test_two_equally_good_addresses_are_never_guessed() -> None:
    candidates = [bsl(5, 50, "100 N MAIN ST"), bsl(4, 52, "100 N MAIN ST"), bsl(6, 30, "9 ELM")]
    d = decide_by_point(HOME, candidates, CONFIG)
    assert (d.reason, d.candidate_ids, d.distance_m) == (AMBIGUOUS, (4, 5), 30)


def test_one_address_twice_is_decided_by_a_clearly_nearer_point() -> None:
    candidates = [bsl(5, 20, "100 N MAIN ST"), bsl(4, 90, "100 N MAIN ST")]
    d = decide_by_point(HOME, candidates, CONFIG)
    assert (d.location_id, d.method) == (5, POINT_ADDRESS)


def test_a_unit_that_agrees_beats_a_building_without_one() -> None:
    customer = Customer(1, "1 Elm St", "Apt 2")
    candidates = [bsl(1, 30, "1 ELM ST"), bsl(2, 35, "1 ELM ST APT 2")]
    assert decide_by_point(customer, candidates, CONFIG).location_id == 2


def test_nothing_within_reach() -> None:
    assert decide_by_point(HOME, [], CONFIG).reason == NOTHING_WITHIN_REACH
    far = decide_by_point(HOME, [bsl(1, 151, "100 N MAIN ST")], CONFIG)
    assert (far.reason, far.distance_m) == (NOTHING_WITHIN_REACH, None)
    unconfirmed = decide_by_point(HOME, [bsl(1, 40, "7 OAK RD")], CONFIG)
    assert (unconfirmed.reason, unconfirmed.distance_m) == (NOTHING_WITHIN_REACH, 40)


def test_nearest_not_bsl() -> None:
    d = decide_by_point(HOME, [nobsl(9, 5)], CONFIG)
    assert (d.location_id, d.reason, d.distance_m) == (None, NEAREST_NOT_BSL, 5)
    behind = decide_by_point(HOME, [nobsl(9, 5), bsl(1, 40, "7 OAK RD")], CONFIG)
    assert behind.reason == NEAREST_NOT_BSL


def test_without_coordinates_the_address_alone_decides_within_the_zip() -> None:
    customer = Customer(1, "100 N Main St", None, has_point=False)
    d = decide_by_address(customer, [bsl(1, None, "100 NORTH MAIN STREET")], CONFIG)
    assert (d.location_id, d.method, d.distance_m) == (1, ADDRESS, None)
    twice = [bsl(1, None, "100 N MAIN ST"), bsl(2, None, "100 N MAIN ST")]
    assert decide_by_address(customer, twice, CONFIG).candidate_ids == (1, 2)
    missing = decide_by_address(customer, [bsl(1, None, "100 S MAIN ST")], CONFIG)
    assert missing.reason == NO_COORDINATES_NO_ADDRESS
    unreadable = Customer(2, "PO Box 7", None, has_point=False)
    assert decide_by_address(unreadable, [], CONFIG).reason == NO_COORDINATES_NO_ADDRESS


def test_a_nobsl_is_never_matched_by_address() -> None:
    customer = Customer(1, "100 N Main St", None, has_point=False)
    assert decide_by_address(customer, [nobsl(1, 0)], CONFIG).location_id is None


def test_a_point_that_found_nothing_falls_back_to_its_address() -> None:
    nothing = decide_by_point(HOME, [], CONFIG)
    in_zip = [bsl(3, 4000, "100 N MAIN ST")]
    d = fall_back_to_address(nothing, HOME, in_zip, CONFIG)
    assert (d.location_id, d.method, d.distance_m) == (3, ADDRESS, 4000)
    off = MatchConfig(address_fallback=False)
    assert fall_back_to_address(nothing, HOME, in_zip, off) == nothing
    ambiguous = decide_by_point(HOME, [bsl(7, 6, "9 ELM ST"), bsl(3, 8, "11 ELM ST")], CONFIG)
    assert fall_back_to_address(ambiguous, HOME, in_zip, CONFIG) == ambiguous


def test_an_apartment_building_is_shared() -> None:
    building = [bsl(1, 8, "300 ELM ST")]
    a = decide_by_point(Customer(1, "300 Elm St", "Apt 1"), building, CONFIG)
    b = decide_by_point(Customer(2, "300 Elm St", "Apt 2"), building, CONFIG)
    assert a.location_id == b.location_id == 1


def test_the_radii_are_settings() -> None:
    candidates = [bsl(1, 20, "100 N MAIN ST"), bsl(2, 45, "7 OAK RD")]
    assert decide_by_point(HOME, candidates, CONFIG).method == POINT_ADDRESS
    wide = MatchConfig(point_radius_m=25)
    assert decide_by_point(HOME, candidates, wide).method == POINT
    narrow = MatchConfig(point_radius_m=10, address_radius_m=15)
    assert decide_by_point(HOME, candidates, narrow).reason == NOTHING_WITHIN_REACH


def test_match_settings_from_the_toml_file() -> None:
    config = parse_config(
        {"match": {"point_radius_m": 10, "address_radius_m": 200.5, "confirm_point": False}},
        "bdc.toml",
    ).match
    assert (config.point_radius_m, config.address_radius_m, config.confirm_point) == (
        10,
        200.5,
        False,
    )
    assert config.max_candidates == 20


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ({"radius": 5}, "unknown key 'radius' in \\[match\\]"),
        ({"point_radius_m": -1}, "point_radius_m = -1 must be a number from 1 to 1000"),
        ({"point_radius_m": "15"}, "point_radius_m = '15' must be a number"),
        ({"max_candidates": 2.5}, "max_candidates = 2.5 must be a whole number"),
        ({"street_similarity": True}, "street_similarity = True must be a number"),
        ({"confirm_point": "yes"}, "confirm_point = 'yes' must be true or false"),
        ({"point_radius_m": 200}, "point_radius_m \\(200\\) must not exceed address_radius_m"),
    ],
)
def test_bad_match_settings_are_refused(match: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=f"bdc.toml: .*{message}"):
        parse_config({"match": match}, "bdc.toml")


def test_an_unconfirmed_point_yields_to_its_address_found_in_the_zip() -> None:
    nearest = [bsl(1, 10, "102 N MAIN ST")]  # its own house was not among the candidates
    d = decide_by_point(HOME, nearest, CONFIG)
    assert (d.location_id, d.method, d.unconfirmed) == (1, POINT, True)
    in_zip = [bsl(1, 10, "102 N MAIN ST"), bsl(2, 120, "100 NORTH MAIN STREET")]
    found = fall_back_to_address(d, HOME, in_zip, CONFIG)
    assert (found.location_id, found.method, found.distance_m) == (2, POINT_ADDRESS, 120)
    too_far = [bsl(2, 900, "100 N MAIN ST")]
    assert fall_back_to_address(d, HOME, too_far, CONFIG) == d


def test_a_decision_from_the_first_few_points_stands_only_when_nothing_unseen_can_change_it() -> (
    None
):
    few = [bsl(1, 5, "100 N MAIN ST"), nobsl(9, 30)]
    assert settled(decide_by_point(HOME, few, CONFIG), few, 3, CONFIG, 30.0)  # all in reach seen
    three = [bsl(1, 5, "100 N MAIN ST"), nobsl(9, 8), nobsl(8, 40)]
    clear = decide_by_point(HOME, three, CONFIG)
    assert settled(clear, three, 3, CONFIG, 30.0)  # 40 m * cos(30) is beyond 5 + 5 m
    assert not settled(clear, three, 3, CONFIG, 80.0)  # near the pole degrees shrink more
    close = [bsl(1, 5, "100 N MAIN ST"), nobsl(9, 6), nobsl(8, 7)]
    assert not settled(decide_by_point(HOME, close, CONFIG), close, 3, CONFIG, 30.0)
    apart = [bsl(1, 10, "7 OAK RD"), bsl(2, 70, "100 N MAIN ST"), nobsl(9, 90)]
    assert not settled(decide_by_point(HOME, apart[:1] + apart[2:], CONFIG), apart, 3, CONFIG, 30)
