"""The availability location list from a small known dataset: coverage, served locations,
offers, every cross-check, and each validation rule writing nothing."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from coverage_files import polygon_wkb, project, square, write_polygons
from sonar_bdc.bdc.availability import AvailabilityOptions, availability
from sonar_bdc.bdc.availability_output import write_files
from sonar_bdc.bdc.gate import ImportNotReady
from sonar_bdc.coverage.run import load_coverage
from sonar_bdc.errors import ConfigError, FilingValidationError
from sonar_bdc.settings import Settings
from sonar_bdc.store.coverage import AreaOffer
from test_bdc_filing import CONFIG, filled  # noqa: F401 - the fixture

AS_OF = date(2024, 6, 30)
HEADER = (
    "provider_id,brand_name,location_id,technology,max_advertised_download_speed,"
    "max_advertised_upload_speed,low_latency,business_residential_code"
)
OFFERS = (
    CONFIG
    + """
[offers."50"]
download_mbps = 50
upload_mbps = 50
low_latency = true
business_residential_code = "R"
"""
)
# location_id: (BSL?, lon, lat); look-alike rows, never real Fabric data.
LOCATIONS = {
    1000000001: (True, -86.45, 32.45),  # Ada's
    1000000002: (True, -86.35, 32.45),  # Bob's
    1000000003: (False, -86.44, 32.44),  # a shed (NoBSL) in every area: Mo matched to it
    1000000004: (True, -86.43, 32.43),  # nobody's, inside the fast 70 area
    1000000005: (True, -98.45, 29.45),  # Lee's (72), outside the 72 coverage
    1000000006: (True, -80.05, 35.05),  # nobody's, inside the 72 coverage
    1000000007: (True, -75.0, 40.0),  # nobody's, in no coverage: never listed
}
MATCHES = {1: 1000000001, 2: 1000000002, 12: 1000000005, 13: 1000000003, 3: None}


def execute(settings: Settings, statement: str, params: tuple = ()) -> None:
    schema = settings.prefix.rstrip(".")
    with psycopg.connect(**settings.postgres_conninfo(), autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute(sql.SQL(statement).format(s=sql.Identifier(schema)), params)


def add_fabric(settings: Settings) -> None:
    for location, (bsl, lon, lat) in LOCATIONS.items():
        execute(
            settings,
            "INSERT INTO {s}.fabric_locations (location_id, bsl_flag, block_geoid, fcc_rel, geom)"
            " VALUES (%s, %s, '010010201001000', '2024-06',"
            " ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (location, bsl, lon, lat),
        )
    for customer, location in MATCHES.items():
        method, reason = ("point", None) if location else ("unmatched", "nothing_within_reach")
        execute(
            settings,
            "INSERT INTO {s}.fabric_matches (customer_id, location_id, fcc_rel, method, reason)"
            " VALUES (%s, %s, '2024-06', %s, %s)",
            (customer, location, method, reason),
        )


@pytest.fixture
def ready(filled: Settings, tmp_path: Path) -> Settings:  # noqa: F811
    add_fabric(filled)
    a = write_polygons(tmp_path / "fiber.geojson", [polygon_wkb([square(-86.5, 32.4, 0.1)])])
    load_coverage(filled, [a], AreaOffer(50))
    # One wide wireless area in a projected CRS, and a small faster one inside it.
    b = write_polygons(
        tmp_path / "wide.gpkg", [polygon_wkb(project([square(-86.5, 32.4, 0.2)], 32616))],
        "EPSG:32616",
    )  # fmt: skip
    load_coverage(filled, [b], AreaOffer(70))
    c = write_polygons(tmp_path / "fast.geojson", [polygon_wkb([square(-86.435, 32.425, 0.01)])])
    load_coverage(filled, [c], AreaOffer(70, 100, 20))
    d = write_polygons(tmp_path / "cbrs.geojson", [polygon_wkb([square(-80.1, 35.0, 0.1)])])
    load_coverage(filled, [d], AreaOffer(72, 25, 3))
    (tmp_path / "bdc.toml").write_text(OFFERS)
    return filled


def options(tmp_path: Path, **changes: object) -> AvailabilityOptions:
    values: dict = {"as_of": AS_OF, "provider_id": 123456, "brand_name": "Acme",
                    "output": tmp_path / "out" / "availability.csv",
                    "config": tmp_path / "bdc.toml"}  # fmt: skip
    return AvailabilityOptions(**{**values, **changes})


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_exact_availability_file(ready: Settings, tmp_path: Path) -> None:
    summary = availability(ready, options(tmp_path))
    out = tmp_path / "out" / "availability.csv"
    assert out.read_bytes().split(b"\r\n") == [
        HEADER.encode(),
        b"123456,Acme,1000000001,50,50,50,1,R",  # fiber area, the configured offer
        b"123456,Acme,1000000001,70,25,3,1,X",  # wide area: Sonar's fastest 70 plan, assumed
        b"123456,Acme,1000000002,70,25,3,1,X",  # Bob's, wide area
        b"123456,Acme,1000000004,50,50,50,1,R",
        b"123456,Acme,1000000004,70,100,20,1,X",  # the fastest area covering it
        b"123456,Acme,1000000005,72,0,0,1,X",  # Lee: served outside coverage, 2.048/0.512 tier
        b"123456,Acme,1000000006,72,25,3,1,X",  # the 72 area's own offer
        b"",
    ]
    checks = [row[:5] for row in read(tmp_path / "out" / "availability.exceptions.csv")]
    assert checks == [
        ["check", "customer_id", "name", "location_id", "technology"],
        ["served_unmatched", "3", "Cat", "", "70"],
        ["served_nobsl", "13", "Mo", "1000000003", "71"],
        ["not_covered", "12", "Lee", "1000000005", "72"],
        ["plan_faster_than_offer", "1", "Ada", "1000000001", "50"],
        ["technology_not_in_availability", "", "", "", "71"],
    ]
    assert summary.written.rows == 7 and summary.written.locations == 5 and summary.served == 3
    assert set(summary.assumptions) == {70, 71, 72}
    assert "25/3 Mbps from the fastest active plan sold on it in Sonar" in summary.assumptions[70]
    text = "\n".join(summary.lines() + summary.warnings())
    assert "Fabric release 2024-06" in text
    assert 'technology 70: no complete [offers."70"] in the configuration; assumed' in text
    # Subscription connections and availability locations per technology and tier.
    assert "  50    >=100/20         1         0" in text  # Ada's 100/100 plan
    assert "  50      >=25/3         0         2" in text  # the 50/50 offer, two locations
    assert "  72       <25/3         1         1" in text


def test_a_failed_check_writes_nothing_and_keeps_the_old_file(
    ready: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "availability.csv"
    out.parent.mkdir()
    out.write_text("old")
    for change in ({"provider_id": 12345}, {"brand_name": " "}):
        with pytest.raises(FilingValidationError, match="no file written: line 2"):
            availability(ready, options(tmp_path, **change))
        assert out.read_text() == "old"
        assert not (tmp_path / "out" / "availability.exceptions.csv").exists()
        assert sorted(p.name for p in out.parent.iterdir()) == ["availability.csv"]


ROW = (1000000001, 70, 25, 3, True, "X")


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([(999999999, *ROW[1:])], "location_id 999999999 is not a 10-digit Fabric location id"),
        ([(ROW[0], 80, *ROW[2:])], "technology 80 is not a BDC code"),
        ([(*ROW[:2], 12, 2, *ROW[4:])], "12/2 Mbps is below 25/3 and not one of the FCC's tiers"),
        ([(*ROW[:2], -25, 3, *ROW[4:])], "-25 Mbps is negative"),
        ([(*ROW[:4], 2, "X")], "low_latency 2 is not 1 or 0"),
        ([(*ROW[:5], "Q")], "business_residential_code 'Q' is not R, B or X"),
        ([ROW, ROW], "line 3 .* listed twice"),
    ],
)
def test_each_validation_rule(tmp_path: Path, rows: list, problem: str) -> None:
    out = tmp_path / "a.csv"
    with pytest.raises(FilingValidationError, match=problem):
        write_files(out, 123456, "Acme", rows, lambda written: [])
    assert list(tmp_path.iterdir()) == []


def test_the_import_gate_applies(ready: Settings, tmp_path: Path) -> None:
    with pytest.raises(ImportNotReady, match="nothing was written"):
        availability(ready, options(tmp_path, as_of=date(2025, 6, 30)))
    assert not (tmp_path / "out").exists()


def test_coverage_without_any_offer_is_refused(ready: Settings, tmp_path: Path) -> None:
    a = write_polygons(tmp_path / "cable.geojson", [polygon_wkb([square(-86.5, 32.4, 0.1)])])
    load_coverage(ready, [a], AreaOffer(40))
    with pytest.raises(ConfigError, match=r"technology 40 has coverage but no offer"):
        availability(ready, options(tmp_path))


def test_no_fabric_is_refused(filled: Settings, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(ConfigError, match=r"no Fabric locations at .*: run sonar-bdc fabric load"):
        availability(filled, options(tmp_path, config=None))


def test_an_offer_entry_is_checked(ready: Settings, tmp_path: Path) -> None:
    (tmp_path / "bdc.toml").write_text('[offers."70"]\ndownload_mbps = 12.5\nupload_mbps = 3\n')
    with pytest.raises(ConfigError, match=r'\[offers."70"\]: 12.5 is not a whole number of Mbps'):
        availability(ready, options(tmp_path))
