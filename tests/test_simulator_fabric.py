"""The simulated Fabric: deterministic, shaped like the delivered files, and its truth
holds the hard cases at realistic shares."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from expected_fabric import expected_matches, score
from sonar_bdc.cli import main
from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator import generate
from sonar_bdc.simulator.buildings import is_plain
from sonar_bdc.simulator.fabric import make_fabric
from sonar_bdc.simulator.fabric_files import (
    ADDRESS_COLUMNS,
    LAYOUTS,
    LOCATION_COLUMNS,
    synthetic_lines,
    write_fabric,
    write_truth,
)
from sonar_bdc.simulator.fabric_geo import Grid, distance_m
from sonar_bdc.simulator.fabric_model import Fabric, Location, parse_release
from sonar_bdc.simulator.fabric_text import Street, parse_line, spell, unit_text
from sonar_bdc.simulator.model import Dataset


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(accounts=5000, seed=3)


@pytest.fixture(scope="module")
def fabric(dataset: Dataset) -> Fabric:
    return make_fabric(dataset, seed=1)


def _by_id(fabric: Fabric) -> dict[int, Location]:
    return {loc.location_id: loc for loc in fabric.locations}


def _key(line: str) -> Street | None:
    """A Fabric line in canonical parts: full stops and a trailing unit dropped."""
    line = re.sub(r" (LOT|TRLR|TRAILER|UNIT|#|APT|APARTMENT|STE|SUITE) \S+$", "", line,
                  flags=re.IGNORECASE)  # fmt: skip
    return parse_line(line.replace(".", ""))


def _read_zip(path: Path) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(path) as zf:
        out = {}
        for name in zf.namelist():
            with zf.open(name) as raw:
                out[name] = list(csv.reader(io.TextIOWrapper(raw, encoding="utf-8")))
        return out


def test_same_dataset_and_seed_same_fabric(dataset: Dataset, fabric: Fabric) -> None:
    again = make_fabric(generate(accounts=5000, seed=3), seed=1)
    assert again.locations == fabric.locations and again.addresses == fabric.addresses
    assert again.placements == fabric.placements
    other = make_fabric(dataset, seed=2)
    assert other.truth != fabric.truth


def test_ids_are_filing_ids_unique_and_referenced(fabric: Fabric) -> None:
    ids = [loc.location_id for loc in fabric.locations]
    assert len(ids) == len(set(ids))
    assert all(1_000_000_000 <= i <= 9_999_999_999 for i in ids)
    known = set(ids)
    bsl = {loc.location_id for loc in fabric.locations if loc.bsl_flag}
    assert all(a.location_id in bsl for a in fabric.addresses)
    assert all(t in bsl for t in fabric.truth.values() if t is not None)
    assert all(c in known for p in fabric.placements.values() for c in p.candidates)


def test_every_account_has_an_answer_and_a_reason_when_none(
    dataset: Dataset, fabric: Fabric
) -> None:
    assert set(fabric.placements) == set(dataset.accounts)
    reasons = {"no_coordinates_no_address", "nothing_within_reach", "ambiguous", "nearest_not_bsl"}
    for p in fabric.placements.values():
        assert (p.location_id is None) == (p.why is not None)
        assert p.why is None or p.why in reasons
        assert bool(p.candidates) == (p.why == "ambiguous")


def test_hard_cases_at_realistic_shares(fabric: Fabric) -> None:
    n = len(fabric.placements)
    cases = Counter(p.case for p in fabric.placements.values())
    far = sum(1 for p in fabric.placements.values() if p.distance_m and p.distance_m > 20)
    assert 0.03 <= far / n <= 0.09
    assert 0.035 <= cases["apartment"] / n <= 0.065
    assert 0.03 <= cases["shed"] / n <= 0.08
    assert 0.015 <= cases["no_bsl"] / n <= 0.05
    assert 0.005 <= cases["twin"] / n <= 0.02
    assert cases["secondary"] and cases["neighbour"] and cases["no_coordinates"]
    located = [p for p in fabric.placements.values() if p.distance_m is not None]
    within_15 = sum(1 for p in located if p.distance_m is not None and p.distance_m <= 15)
    assert within_15 / len(located) > 0.85  # most points within 15 m


def test_near_answers_are_the_nearest_bsl(dataset: Dataset, fabric: Fabric) -> None:
    grid = Grid()
    for loc in fabric.locations:
        if loc.bsl_flag:
            grid.add(loc.latitude, loc.longitude, loc.location_id)
    for account_id, p in fabric.placements.items():
        if p.case not in ("near", "neighbour", "shed") or p.location_id is None:
            continue
        addr = dataset.accounts[account_id].address
        assert addr.lat is not None and addr.lon is not None
        assert p.distance_m is not None and p.distance_m <= 12.5
        nearest = min(grid.near(addr.lat, addr.lon, 200.0), key=lambda hit: hit[1])
        assert nearest[0] == p.location_id


def test_sheds_are_nobsl_and_nearer_than_the_house(dataset: Dataset, fabric: Fabric) -> None:
    nobsl = [loc for loc in fabric.locations if not loc.bsl_flag]
    sheds = [(i, p) for i, p in fabric.placements.items() if p.case == "shed"]
    assert sheds
    for account_id, p in sheds:
        addr = dataset.accounts[account_id].address
        assert addr.lat is not None and addr.lon is not None and p.distance_m is not None
        nearest = min(distance_m(addr.lat, addr.lon, s.latitude, s.longitude) for s in nobsl)
        assert nearest < p.distance_m
    assert all(loc.unit_count == 0 and loc.building_type_code == "" for loc in nobsl)


def test_apartment_tenants_share_one_multi_unit_location(dataset: Dataset, fabric: Fabric) -> None:
    tenants: dict[int, list[int]] = defaultdict(list)
    for account_id, p in fabric.placements.items():
        if p.case == "apartment":
            assert p.location_id is not None
            tenants[p.location_id].append(account_id)
    assert tenants
    locations = _by_id(fabric)
    for location_id, accounts in tenants.items():
        assert len(accounts) >= 2
        assert locations[location_id].unit_count >= len(accounts)
        lines = {dataset.accounts[a].address.line1 for a in accounts}
        units = {dataset.accounts[a].address.line2 for a in accounts}
        assert len(lines) == 1 and len(units) == len(accounts) and None not in units


def test_addresses_are_spelled_differently_but_parse_the_same(
    dataset: Dataset, fabric: Fabric
) -> None:
    locations = _by_id(fabric)
    differ = 0
    for account_id, p in fabric.placements.items():
        line1 = dataset.accounts[account_id].address.line1
        if p.case != "near" or p.location_id is None or not is_plain(line1):
            continue
        primary = locations[p.location_id].address_primary
        differ += primary != line1
        assert _key(primary) == parse_line(line1)
    assert differ > 0


def test_accounts_without_coordinates_are_found_by_address_and_zip(
    dataset: Dataset, fabric: Fabric
) -> None:
    locations = _by_id(fabric)
    found = 0
    for account_id, p in fabric.placements.items():
        addr = dataset.accounts[account_id].address
        if addr.lat is not None or p.location_id is None:
            continue
        loc = locations[p.location_id]
        assert loc.zip == addr.zip
        own = parse_line(addr.line1)
        lines = {_key(a.address) for a in fabric.addresses if a.location_id == p.location_id}
        assert own in lines | {_key(loc.address_primary)}
        found += 1
    assert found > 100


def test_a_second_release_renumbers_some_locations(dataset: Dataset, fabric: Fabric) -> None:
    later = make_fabric(dataset, seed=1, release="06302026")
    assert later.release.number == fabric.release.number + 1
    before = [(loc.latitude, loc.longitude, loc.location_id) for loc in fabric.locations]
    after = [(loc.latitude, loc.longitude, loc.location_id) for loc in later.locations]
    assert [b[:2] for b in before] == [a[:2] for a in after]  # the same places
    changed = sum(1 for b, a in zip(before, after, strict=True) if b[2] != a[2])
    assert 0.02 * len(before) <= changed <= 0.08 * len(before)
    moved = {b[2]: a[2] for b, a in zip(before, after, strict=True)}
    for account_id, location_id in fabric.truth.items():
        want = None if location_id is None else moved[location_id]
        assert later.truth[account_id] == want


@pytest.mark.parametrize("name", ["secondary", "supplemental", "legacy"])
def test_the_zip_holds_per_county_csvs_with_the_real_headers(
    tmp_path: Path, fabric: Fabric, name: str
) -> None:
    path = write_fabric(fabric, tmp_path, name)
    assert path.name == "FCC_Fabric_12312025_rel_8.zip"
    files = _read_zip(path)
    lay = LAYOUTS[name]
    kind = "Supplemental" if name == "supplemental" else "Secondary"
    counties = {loc.county_geoid for loc in fabric.locations}
    for county in counties:
        for k in ("Active_BSL", "Active_NoBSL", kind):
            assert f"FCC_{k}_12312025_rel_8_{county}.csv" in files
    rows = 0
    for file_name, content in files.items():
        header, *body = content
        if kind in file_name:
            assert header == lay.secondary_header()
            assert header[9] == (
                "primary_supplemental" if lay.supplemental else "primary_secondary"
            )
            assert all(r[9] == kind for r in body)
        else:
            assert header[:16] == list(LOCATION_COLUMNS)
            assert all(r[7] == ("True" if "Active_BSL" in file_name else "False") for r in body)
            rows += len(body)
        assert (header[-1] == "fcc_rel") == lay.fcc_rel
        assert all(len(r) == len(header) for r in body)
        assert not lay.fcc_rel or all(r[-1] == "12312025" for r in body)
    assert rows == len(fabric.locations)


def test_block_geoid_is_a_15_digit_block_of_the_county(fabric: Fabric) -> None:
    for loc in fabric.locations:
        assert len(loc.block_geoid) == 15 and loc.block_geoid.isdigit()
        assert loc.block_geoid.startswith(loc.county_geoid) and len(loc.county_geoid) == 5
        assert len(loc.h3_9) == 15 and loc.h3_9.startswith("89")


def test_filler_rows_stream_in_and_keep_away_from_subscribers(tmp_path: Path) -> None:
    ds = generate(accounts=300, seed=5)
    fabric = make_fabric(ds)
    files = _read_zip(write_fabric(fabric, tmp_path, filler=3000))
    rows = [r for name, c in files.items() if "Active" in name for r in c[1:]]
    filler = [r for r in rows if int(r[0]) >= 5_000_000_000]
    assert len(rows) == len(fabric.locations) + 3000 and len(filler) == 3000
    assert len({r[0] for r in rows}) == len(rows)
    geocodes = fabric.geocodes
    for r in filler[:500]:
        lat, lon = float(r[14]), float(r[15])
        assert all(distance_m(lat, lon, g[0], g[1]) >= 150 for g in geocodes)


def test_synthetic_lines_parse_as_location_rows() -> None:
    rel, lay = parse_release("12312025"), LAYOUTS["secondary"]
    lines = list(synthetic_lines(100, "48029", rel, lay, bsl=False))
    rows = list(csv.reader(lines))
    assert all(len(r) == 17 and r[7] == "False" and r[-1] == "12312025" for r in rows)
    with pytest.raises(ConfigError):
        next(synthetic_lines(1, "99999", rel, lay))


def test_releases_are_as_of_dates() -> None:
    assert parse_release("06302022").number == 1
    assert parse_release("12312025").number == 8
    for bad in ("12312021", "01012025", "2025-12-31", "rel_8"):
        with pytest.raises(ConfigError, match="MMDDYYYY"):
            parse_release(bad)


def test_spelling_variants_keep_number_and_street() -> None:
    street = parse_line("120 N Flores St")
    assert street is not None
    assert spell(street, "usps", "").line == "120 N FLORES ST"
    assert spell(street, "words", "").line == "120 NORTH FLORES STREET"
    assert spell(street, "dotted", "").line == "120 N. Flores St."
    assert spell(street, "as_typed", "120 N Flores St").line == "120 N Flores St"
    assert parse_line("120 North Flores Street") == street
    assert parse_line("12 Hwy 97 W") == parse_line("12 HIGHWAY 97 WEST")
    assert parse_line("\\N") is None
    assert (
        unit_text("Lot 17", "usps") == "LOT 17" and unit_text("Apt 4B", "words") == "APARTMENT 4B"
    )
    assert unit_text("#1", "usps") == "# 1"


def test_the_oracle_scores_the_truth_perfectly(fabric: Fabric) -> None:
    expected = expected_matches(fabric)
    perfect = score(fabric, {c: e.location_id for c, e in expected.items()})
    assert perfect.precision == 1.0 and perfect.recall == 1.0 and perfect.to_nobsl == 0
    nobsl = next(loc.location_id for loc in fabric.locations if not loc.bsl_flag)
    wrong = score(fabric, {next(iter(expected)): nobsl})
    assert wrong.to_nobsl == 1 and wrong.precision == 0.0


def test_truth_csv(tmp_path: Path, fabric: Fabric) -> None:
    with write_truth(fabric, tmp_path / "t.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(fabric.placements)
    assert {r["case"] for r in rows} >= {"near", "far", "apartment", "no_bsl"}


def test_simulate_writes_the_fabric_and_exits(tmp_path: Path, capsys) -> None:
    out = tmp_path / "fabric"
    argv = ["simulate", "--accounts", "80", "--write-fabric", str(out),
            "--fabric-release", "12312025", "--fabric-release", "06302026",
            "--fabric-truth", str(tmp_path / "truth.csv")]  # fmt: skip
    assert main(argv) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["FCC_Fabric_06302026_rel_9.zip", "FCC_Fabric_12312025_rel_8.zip"]
    assert (tmp_path / "truth_12312025.csv").exists()
    want = make_fabric(generate(accounts=80, seed=1), seed=1)
    files = _read_zip(out / "FCC_Fabric_12312025_rel_8.zip")
    ids = {int(r[0]) for name, c in files.items() if "Active" in name for r in c[1:]}
    assert ids == {loc.location_id for loc in want.locations}
    assert "wrote" in capsys.readouterr().out


def test_simulate_refuses_a_bad_release_or_directory(tmp_path: Path, capsys) -> None:
    bad = ["simulate", "--accounts", "5", "--write-fabric", str(tmp_path)]
    assert main([*bad, "--fabric-release", "13312025"]) == 2
    (tmp_path / "file").write_text("x")
    assert main(["simulate", "--accounts", "5", "--write-fabric", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert "MMDDYYYY" in err and "cannot write" in err and "Traceback" not in err


def test_headers_match_the_issue() -> None:
    assert ",".join(LOCATION_COLUMNS) == (
        "location_id,address_primary,city,state,zip,zip_suffix,unit_count,bsl_flag,"
        "building_type_code,land_use_code,address_confidence_code,county_geoid,block_geoid,"
        "h3_9,latitude,longitude"
    )
    assert ",".join(ADDRESS_COLUMNS) == (
        "location_id,address_id,parcel_id,address_confidence_code,address_range,"
        "pre_direction,street_name,suffix,post_direction,primary_secondary,address,city,"
        "state,zip,zip_suffix,address_source"
    )


def test_generate_makes_about_5_percent_apartment_tenants(dataset: Dataset) -> None:
    groups = Counter((a.address.line1, a.address.zip) for a in dataset.accounts.values())
    tenants = sum(n for n in groups.values() if n > 1)
    assert 0.04 <= tenants / len(dataset.accounts) <= 0.06
    again = generate(accounts=5000, seed=3)
    assert [a.address for a in again.accounts.values()] == [
        a.address for a in dataset.accounts.values()
    ]


def test_the_fabric_holds_no_hostile_text_from_sonar(fabric: Fabric) -> None:
    """Sonar's hostile values (NUL, control characters) never reach the Fabric, whose
    addresses come from clean records: a hostile line gets a generated address instead."""
    import dataclasses

    texts = [
        value
        for record in [*fabric.locations, *fabric.addresses]
        for value in dataclasses.astuple(record)
        if isinstance(value, str)
    ]
    assert texts and not [t for t in texts if any(ord(c) < 0x20 for c in t)]
