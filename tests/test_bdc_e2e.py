"""End to end: the simulator serves a small known Sonar, the importer fills PostGIS,
the user loads hand-built tract polygons, and the commands write the exact files."""

from __future__ import annotations

import argparse
import csv
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sonar_bdc.bdc.cli_args import add_bdc_commands, run_bdc_command
from sonar_bdc.errors import ConfigError
from sonar_bdc.importer import run_import
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Account, Address, Dataset, Simulator
from sonar_bdc.simulator.data import empty_dataset
from sonar_bdc.simulator.model import ServiceDef

HEADER = (
    "tract,technology_code,advertised_download_speed,advertised_upload_speed,"
    "total_connections,consumer_connections"
)
TRACTS = {  # 2020 tracts as 0.1-degree squares: two with a leading zero
    "01001020100": (-86.5, 32.4),
    "01001020200": (-86.4, 32.4),
    "48029110100": (-98.5, 29.4),
}
IN_0100, IN_0200, IN_TX, NOWHERE = (32.45, -86.45), (32.45, -86.35), (29.45, -98.45), (40.0, -75.0)
B_0100, B_0200, B_TX = "010010201001000", "010010202002001", "480291101003000"
ODD = ServiceDef(990, "Odd 50/5", "recurring", True, True, 50_000, 5_000, 80, "10.00")
# Simulator catalog: statuses 2 Active, 5 Active-Delinquent, 3 Inactive; types 1 Residential,
# 2 Business (commercial), 4 Farm & Ranch (residential); group 4 VIP; services 694 Basic
# 15/2 (70), 695 Fixed Wireless 25/3 (70), 697 CBRS 100/20 (70), 700 Fiber 100/100 (50),
# 720 ADSL 6/1 (10), 721 SDSL 3/3 (20), 740 Powerline 10/1 (90), 804 VoIP (no data).
# id: (name, status, type, groups, point, fips, services)
ACCOUNTS = {
    1: ("Ada", 2, 1, [], IN_0100, B_0100, [700]),
    2: ("Bob", 2, 2, [], IN_0200, None, [695]),
    3: ("Cat", 2, 1, [], IN_0200, "", [694, 695]),
    4: ("Dan", 2, 1, [], IN_0200, B_0100, [700]),
    5: ("Eve", 2, 1, [], None, None, [700]),
    6: ("Fay", 2, 1, [], NOWHERE, "4802911010", [700]),
    7: ("Gus", 2, 1, [], IN_0100, B_0100, [804]),
    8: ("Hal", 2, 1, [], IN_0100, B_0100, [990, 804]),
    9: ("Ivy", 3, 1, [], IN_0100, B_0100, [700]),
    10: ("Jon", 2, 1, [], IN_0100, B_0100, [700]),  # deleted in Sonar
    11: ("Kim", 5, 1, [4], IN_TX, B_TX, [697]),
    12: ("Lee", 2, 4, [], IN_0100, B_0100, [694]),
    13: ("Mo", 2, 1, [], None, B_0100, [720]),
    14: ("Ned", 2, 1, [], IN_0200, B_0200, [721]),
    15: ("Oz", 2, 1, [], IN_TX, B_TX, [740]),
    16: ("Pam", 2, 1, [], IN_0100, B_0100, [700]),  # gone from the second report
}
CONFIG = """
[[technology.service]]
id = 694
technology_code = 71

[[technology.service]]
name_pattern = "cbrs *"
technology_code = 72

[consumer]
business_groups = ["VIP"]
"""
EXPECTED_WITH_CONFIG = [
    HEADER,
    "01001020100,10,6.144,0.768,1,1",  # Mo: ADSL, fips without coordinates
    "01001020100,50,100,100,1,1",  # Ada: fips and polygon agree
    "01001020100,71,15,2.048,1,1",  # Lee: service id 694 -> 71, Farm & Ranch is residential
    "01001020200,10,3.072,3.072,1,1",  # Ned: SDSL (20) -> copper 10
    "01001020200,70,25,3.072,2,1",  # Bob (business) by polygon, Cat at her fastest plan
    "48029110100,0,10.24,1.024,1,1",  # Oz: power line (90) -> 0
    "48029110100,72,100,20.48,1,0",  # Kim: Active-Delinquent, CBRS name rule, VIP business
]
EXPECTED_REASONS = {
    7: "no_data_service",
    8: "unmapped_technology",
    5: "no_coordinates",
    6: "no_tract",
    4: "conflicting_tract",
}


def account(
    aid: int,
    name: str,
    status: int,
    kind: int,
    groups: list[int],
    point: tuple[float, float] | None,
    fips: str | None,
    services: list[int],
) -> Account:
    lat, lon = point or (None, None)
    address = Address(
        f"{aid} Main St",
        "",
        "Town",
        "AL",
        "36000",
        fips=fips,
        lat=lat,
        lon=lon,
        lat_raw=str(lat) if point else "",
        lon_raw=str(lon) if point else "",
    )
    return Account(
        aid, name, status, kind, groups, address, [(s, 1) for s in services], [], deleted=aid == 10
    )


def known_dataset() -> Dataset:
    ds = empty_dataset(seed=1)
    ds.services[ODD.id] = ODD
    for aid, values in ACCOUNTS.items():
        ds.accounts[aid] = account(aid, *values)
    return ds


def tracts_geojson(path: Path) -> Path:
    def square(x: float, y: float) -> list[list[float]]:
        return [[x, y], [x + 0.1, y], [x + 0.1, y + 0.1], [x, y + 0.1], [x, y]]

    features = [
        {
            "type": "Feature",
            "properties": {"GEOID": geoid, "NAMELSAD": f"Census Tract {geoid}"},
            "geometry": {"type": "Polygon", "coordinates": [square(x, y)]},
        }
        for geoid, (x, y) in TRACTS.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(scope="module")
def imported(
    pg_database: dict, settings: Callable[..., Settings]
) -> Iterator[tuple[Settings, dict]]:
    """The known dataset imported twice; account 16 is gone from the second report."""
    prefix = f"e2e_{uuid.uuid4().hex[:8]}."
    with Simulator(known_dataset()) as sim:
        config = settings(sim, prefix=prefix, workers=2)
        assert run_import(config, show_progress=False).exit_code == 0
        del sim.dataset.accounts[16]
        sim.dataset.version += 1
        assert run_import(config, show_progress=False).exit_code == 0
    env = {
        "POSTGRES_HOST": pg_database["host"],
        "POSTGRES_PORT": str(pg_database["port"]),
        "POSTGRES_USER": pg_database["user"],
        "POSTGRES_DB": pg_database["dbname"],
    }
    yield config, env


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sonar-bdc")
    add_bdc_commands(parser.add_subparsers(dest="command", required=True))
    return run_bdc_command(parser.parse_args(argv))


@pytest.fixture
def with_tracts(
    imported: tuple[Settings, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    settings, env = imported
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    tracts = tracts_geojson(tmp_path / "tracts.geojson")
    assert cli(["tracts", "load", str(tracts), "--replace", "-p", settings.prefix]) == 0
    return settings.prefix


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_exact_file_from_the_simulator(
    with_tracts: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bdc.toml"
    config.write_text(CONFIG)
    out = tmp_path / "june.csv"
    argv = [
        "bdc",
        "subscription",
        "--as-of",
        "2024-06-30",
        "-o",
        str(out),
        "--config",
        str(config),
        "-p",
        with_tracts,
    ]
    assert cli(argv) == 0
    assert out.read_text(encoding="utf-8").splitlines() == EXPECTED_WITH_CONFIG
    with out.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        assert next(reader) == HEADER.split(",")
        assert all(len(row[0]) == 11 and row[0].isdigit() for row in reader)
    listed = read_rows(tmp_path / "june.exceptions.csv")
    assert {int(r["customer_id"]): r["reason"] for r in listed} == EXPECTED_REASONS
    assert [r["reason"] for r in listed] == [
        "no_data_service",
        "unmapped_technology",
        "no_coordinates",
        "no_tract",
        "conflicting_tract",
    ]
    err = capsys.readouterr().err
    assert "connections counted: 8, consumer 6 (75.0%)" in err
    assert "technology 70: 2 (consumer 1)" in err
    assert (
        "2020 tract from the matched Fabric location: 0, from a 2020 census block: 0, "
        "from a census block of unknown census year: 6, from tract polygons: 2 "
        "(3 tracts loaded)"
    ) in err
    assert "conflicting_tract: 1" in err
    assert "deleted in Sonar 1" in err and "inactive status 1" in err
    assert "not in the latest report 1" in err
    assert "days after the as-of date" in err  # imported today, as of 2024


def test_defaults_without_a_configuration(with_tracts: str, tmp_path: Path) -> None:
    assert cli(["bdc", "subscription", "--as-of", "2024-12-31", "-p", with_tracts]) == 0
    rows = read_rows(tmp_path / "bdc_subscription_2024-12-31.csv")
    by_key = {(r["tract"], r["technology_code"], r["advertised_download_speed"]): r for r in rows}
    assert by_key[("01001020100", "70", "15")]["consumer_connections"] == "1"  # Lee: 694 -> 70
    kim = by_key[("48029110100", "70", "100")]
    assert (kim["advertised_upload_speed"], kim["consumer_connections"]) == ("20.48", "1")


def test_a_bad_configuration_writes_nothing(with_tracts: str, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[technology]\n"70" = 75\n')
    with pytest.raises(ConfigError, match="75 is not a BDC code"):
        cli(
            [
                "bdc",
                "subscription",
                "--as-of",
                "2024-06-30",
                "--config",
                str(config),
                "-p",
                with_tracts,
            ]
        )
    assert not list(tmp_path.glob("*.csv"))
