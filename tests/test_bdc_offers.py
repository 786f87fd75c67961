"""Offers (pure): the FCC's speeds, the tiers below 25/3, the TOML section, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonar_bdc.bdc.config import load_config
from sonar_bdc.bdc.offers import OfferEntry, resolve, speeds_problem, tier_of_kbps
from sonar_bdc.errors import ConfigError


@pytest.mark.parametrize(
    ("kbps", "filed"),
    [((1_000_000, 500_000), (1000, 500)), ((25_999, 3_500), (25, 3)), ((15_000, 2_000), (10, 1)),
     ((24_000, 5_000), (10, 1)), ((5_000, 1_000), (4, 1)), ((2_048, 512), (0, 0)),
     ((30_000, 2_000), (10, 1))],
)  # fmt: skip
def test_plans_are_filed_down_to_whole_mbps_or_a_tier(
    kbps: tuple[int, int], filed: tuple[int, int]
) -> None:
    assert tier_of_kbps(*kbps) == filed


def test_speeds_below_25_3_must_be_a_tier() -> None:
    assert speeds_problem(25, 3) is None and speeds_problem(4, 1) is None
    assert speeds_problem(0, 0) is None
    assert "not one of the FCC's tiers" in (speeds_problem(20, 3) or "")
    assert "not a whole number" in (speeds_problem(25.5, 3) or "")
    assert "not a whole number" in (speeds_problem(True, 3) or "")


def test_the_defaults_fill_what_the_entry_leaves_out() -> None:
    got = resolve(70, OfferEntry(low_latency=False), (50_000, 10_000))
    assert got is not None
    assert (got.offer.download_mbps, got.offer.upload_mbps, got.offer.low_latency) == (
        50,
        10,
        False,
    )
    assert got.offer.business_residential_code == "X"
    assert got.assumed and "50/10 Mbps from the fastest active plan" in got.assumed
    satellite = resolve(60, OfferEntry((100, 10)), None)
    assert satellite is not None and satellite.offer.low_latency is False
    assert resolve(50, None, None) is None  # nothing to go by


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[offers."80"]\ndownload_mbps = 1', "'80' is not a BDC code"),
        ('[offers."70"]\ndownload_mbps = 100', "give download_mbps and upload_mbps together"),
        ('[offers."70"]\nspeed = 1', "unknown key 'speed'"),
        ('[offers."70"]\nlow_latency = 1', "low_latency must be true or false"),
        ('[offers."70"]\nbusiness_residential_code = "C"', "must be one of R, B, X"),
        ('[offers]\n"70" = 5', "must be a table"),
    ],
)
def test_offer_entries_are_checked(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bdc.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert problem in str(exc.value)


def test_the_example_file_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "docs" / "bdc.example.toml"
    assert load_config(example).offers[70] == OfferEntry((100, 20), True, "X")
