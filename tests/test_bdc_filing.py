"""The subscription file from a database filled through the store, with loaded tracts.

A small known dataset covers every path: fips and polygon tracts, leading-zero
tracts, every exclusion reason, the mapping overrides and consumer groups.
"""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shapefiles import write_polygons
from sonar_bdc.bdc.run import SubscriptionOptions, load_tracts, subscription
from sonar_bdc.errors import ConfigError, StoreUnavailable
from sonar_bdc.records import (
    AccountStatus,
    AccountType,
    Catalogs,
    CustomerDetail,
    Group,
    ReportRow,
    Service,
)
from sonar_bdc.settings import Settings
from sonar_bdc.store import Store
from sonar_bdc.store.runs import PARTS

SEEN = datetime(2024, 6, 30, 12, tzinfo=timezone.utc)
HEADER = (
    "tract,technology_code,advertised_download_speed,advertised_upload_speed,"
    "total_connections,consumer_connections"
)
# Three 2020 tracts, two with a leading zero; squares of 0.1 degree.
TRACTS = {
    "01001020100": (-86.5, 32.4),
    "01001020200": (-86.4, 32.4),
    "48029110100": (-98.5, 29.4),
}
IN_0100, IN_0200, IN_TX, NOWHERE = (32.45, -86.45), (32.45, -86.35), (29.45, -98.45), (40.0, -75.0)
FIBER = Service(10, "Fiber 100", True, 100_000, 100_000, 50, "50", 1)
WIRELESS = Service(20, "Wireless 25", True, 25_000, 3_000, 70, "70", 1)
SLOW = Service(21, "Wireless 10", True, 10_000, 1_000, 70, "70", 1)
VOICE = Service(30, "Voice", False, 0, 0, None, None, 1)
ODD = Service(40, "Odd 50", True, 50_000, 5_000, 80, "80", 1)
CBRS = Service(50, "CBRS 2", True, 2_048, 512, 70, "70", 1)
PINNED = Service(694, "Rural 25", True, 25_000, 3_000, 70, "70", 1)
CATALOGS = Catalogs(
    groups=(Group(1, "Commercial"), Group(2, "Friends")),
    statuses=(AccountStatus(1, "Active", True), AccountStatus(2, "Inactive", False)),
    types=(AccountType(1, "Residential", "residential"), AccountType(2, "Business", "commercial")),
)
CONFIG = """
[[technology.service]]
id = 694
technology_code = 71

[[technology.service]]
name_pattern = "cbrs*"
technology_code = 72

[consumer]
business_groups = ["Commercial"]
"""

# id: (name, status, point, status id, type id, fips, services, groups)
CUSTOMERS = {
    1: ("Ada", "Active", IN_0100, 1, 1, "010010201001000", (FIBER,), ()),
    2: ("Bob", "Active", IN_0200, 1, 2, None, (WIRELESS,), ()),
    3: ("Cat", "Active", IN_0200, 1, 1, None, (SLOW, WIRELESS), ()),
    4: ("Dan", "Active", IN_0200, 1, 1, "010010201001001", (FIBER,), ()),
    5: ("Eve", "Active", None, 1, 1, None, (FIBER,), ()),
    6: ("Fay", "Active", NOWHERE, 1, 1, "12345", (FIBER,), ()),
    7: ("Gus", "Active", IN_0100, 1, 1, "010010201001000", (VOICE,), ()),
    8: ("Hal", "Active", IN_0100, 1, 1, "010010201001000", (ODD,), ()),
    9: ("Ivy", "Inactive", IN_0100, 2, 1, "010010201001000", (FIBER,), ()),
    10: ("Jon", "Active", IN_0100, 1, 1, "010010201001000", (FIBER,), ()),
    11: ("Kim", "Mystery", IN_0100, 99, 1, "010010201001000", (FIBER,), ()),
    12: ("Lee", "Active", IN_TX, 1, 1, "480291101002000", (CBRS,), (1, 2)),
    13: ("Mo", "Active", None, 1, 1, "010010201001000", (PINNED,), ()),
}
DELETED, GONE_FROM_REPORT = 10, 14
COUNTS = {"listed": 13, "new": 14, "updated": 0, "failed": 0, "deleted": 1,
          "failed_ids": [], "message": None, "parts": list(PARTS)}  # fmt: skip


def square(x: float, y: float, size: float = 0.1) -> list[list[float]]:
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def tracts_geojson(path: Path, tracts: dict[str, tuple[float, float]]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"GEOID": geoid},
            "geometry": {"type": "Polygon", "coordinates": [square(x, y)]},
        }
        for geoid, (x, y) in tracts.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def report_row(cid: int, name: str, status: str, point: tuple[float, float] | None) -> ReportRow:
    lat, lon = point or (None, None)
    return ReportRow(
        cid,
        name,
        status,
        f"{cid} Main St",
        None,
        "Town",
        "AL",
        "36000",
        latitude=lat,
        longitude=lon,
    )


def fill(conninfo: dict, prefix: str) -> None:
    """What an import writes: two reports (14 drops out), catalogs, details, a deletion."""
    with Store.connect(conninfo, prefix) as store:
        store.ensure_schema()
        run_id = store.start_run("v1", ["report", "catalogs", "detail", "inventory"], {})
        store.write_report(
            [report_row(GONE_FROM_REPORT, "Ned", "Active", IN_0100)], SEEN - timedelta(days=1)
        )
        store.write_report([report_row(c, *v[:3]) for c, v in CUSTOMERS.items()], SEEN)
        store.write_catalogs(CATALOGS)
        with store.writer() as w:
            for cid, (name, _, _, status, kind, fips, services, groups) in CUSTOMERS.items():
                w.add_detail(
                    CustomerDetail(
                        cid, name, status, kind, fips, tuple(Group(g) for g in groups), services
                    ),
                    SEEN,
                )
            w.add_detail(
                CustomerDetail(GONE_FROM_REPORT, "Ned", 1, 1, "010010201001000", (), (FIBER,)), SEEN
            )
            w.mark_deleted(DELETED, SEEN)
        store.finish_run(run_id, "complete", COUNTS)  # as the importer records it


@pytest.fixture
def filled(pg_schema: tuple[dict, str], tmp_path: Path) -> Settings:
    conninfo, schema = pg_schema
    fill(conninfo, f"{schema}.")
    settings = Settings(
        prefix=f"{schema}.",
        postgres_host=conninfo["host"],
        postgres_port=conninfo["port"],
        postgres_user=conninfo["user"],
        postgres_db=conninfo["dbname"],
    )
    loaded = load_tracts(settings, [tracts_geojson(tmp_path / "tracts.geojson", TRACTS)])
    assert (loaded.shapes, loaded.tracts, loaded.total) == (3, 3, 3)
    return settings


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_exact_subscription_file(filled: Settings, tmp_path: Path) -> None:
    config = tmp_path / "bdc.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out" / "subscription.csv"
    summary = subscription(filled, SubscriptionOptions(date(2024, 6, 30), out, config))
    assert out.read_text().splitlines() == [
        HEADER,
        "01001020100,50,100,100,1,1",  # Ada: fips
        "01001020100,71,25,3,1,1",  # Mo: fips without coordinates, service id rule
        "01001020200,70,25,3,2,1",  # Bob (business type) and Cat (fastest plan): polygon
        "48029110100,72,2.048,0.512,1,0",  # Lee: name rule, business group
    ]
    rows = read_csv(out)
    assert ",".join(rows[0]) == HEADER and all(len(r[0]) == 11 for r in rows[1:])
    listed = {int(r[0]): (r[2], r[3]) for r in read_csv(summary.exceptions_path)[1:]}
    assert {cid: reason for cid, (reason, _) in listed.items()} == {
        11: "unknown_status",
        7: "no_data_service",
        8: "unmapped_technology",
        5: "no_coordinates",
        6: "no_tract",
        4: "conflicting_tract",
    }
    assert "in tract 01001020100, but the point" in listed[4][1]
    assert "'12345' is not 15 digits" in listed[6][1]
    # v1 sends no census year: the blocks are of unknown vintage, and the summary says so.
    assert summary.tract_sources == {"fips_unknown_vintage": 3, "polygon": 2}
    assert summary.connections == 5 and summary.consumer == 3
    assert summary.skipped == {
        "inactive status": 1,
        "deleted in Sonar": 1,
        "not in the latest report": 1,
    }
    [warning] = summary.warnings()
    assert warning.startswith("3 connections take their tract from a census block whose census")


def test_defaults_without_configuration(filled: Settings, tmp_path: Path) -> None:
    out = tmp_path / "default.csv"
    subscription(filled, SubscriptionOptions(date(2024, 6, 30), out))
    assert read_csv(out)[1:] == [
        ["01001020100", "50", "100", "100", "1", "1"],
        ["01001020100", "70", "25", "3", "1", "1"],
        ["01001020200", "70", "25", "3", "2", "1"],
        ["48029110100", "70", "2.048", "0.512", "1", "1"],
    ]


def test_without_tract_polygons_only_fips_places_customers(
    pg_schema: tuple[dict, str], tmp_path: Path
) -> None:
    conninfo, schema = pg_schema
    fill(conninfo, f"{schema}.")
    settings = Settings(
        prefix=f"{schema}.",
        postgres_host=conninfo["host"],
        postgres_port=conninfo["port"],
        postgres_user=conninfo["user"],
        postgres_db=conninfo["dbname"],
    )
    summary = subscription(settings, SubscriptionOptions(date(2024, 6, 30), tmp_path / "a.csv"))
    # Ada, Dan (no polygon to disagree), Mo, Lee
    assert summary.tract_sources == {"fips_unknown_vintage": 4}
    assert summary.excluded["no_tract"] == 3  # Bob, Cat, Fay
    listed = read_csv(tmp_path / "a.exceptions.csv")
    assert any("no tract polygons are loaded" in r[3] for r in listed)


def test_tracts_reload_replaces_by_geoid_and_bad_files_change_nothing(
    filled: Settings, tmp_path: Path
) -> None:
    moved = tracts_geojson(tmp_path / "moved.geojson", {"01001020200": (-86.5, 32.4)})
    assert load_tracts(filled, [moved]).total == 3
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        '{"type": "FeatureCollection", "features": [{"properties": {"GEOID": "1"},'
        ' "geometry": {"type": "Polygon", "coordinates": []}}]}'
    )
    with pytest.raises(ConfigError, match="not an 11-digit"):
        load_tracts(filled, [moved, bad], replace=True)
    assert load_tracts(filled, []).total == 3  # the failed --replace load changed nothing
    summary = subscription(filled, SubscriptionOptions(date(2024, 6, 30), tmp_path / "b.csv"))
    # 01001020200 moved onto 01001020100: Ada's point is covered by both, her fips tract is
    # one of them (no conflict); Dan's point is in no tract any more, his fips stands alone.
    assert summary.excluded["conflicting_tract"] == 0
    assert summary.excluded["no_tract"] == 3  # Bob, Cat, Fay
    assert load_tracts(filled, [moved], replace=True).total == 1


def test_missing_import_is_a_clear_error(pg_schema: tuple[dict, str], tmp_path: Path) -> None:
    conninfo, schema = pg_schema
    settings = Settings(
        prefix=f"{schema}.",
        postgres_host=conninfo["host"],
        postgres_port=conninfo["port"],
        postgres_user=conninfo["user"],
        postgres_db=conninfo["dbname"],
    )
    with pytest.raises(StoreUnavailable, match="run sonar-bdc import first"):
        subscription(settings, SubscriptionOptions(date(2024, 6, 30), tmp_path / "x.csv"))
    assert list(tmp_path.iterdir()) == []


def test_zipped_shapefile_with_a_hole_and_an_island(filled: Settings, tmp_path: Path) -> None:
    base = tmp_path / "tl_2020_01_tract"
    outer = [[-86.5, 32.4], [-86.5, 32.5], [-86.4, 32.5], [-86.4, 32.4], [-86.5, 32.4]]
    hole = [[-86.46, 32.44], [-86.44, 32.44], [-86.44, 32.46], [-86.46, 32.46], [-86.46, 32.44]]
    write_polygons(base, [("GEOID", 11)], [
        ([outer, hole], ["01001020100"]),  # with a hole around Ada's point ...
        ([list(reversed(hole))], ["01001020300"]),  # ... where the island tract lies
    ])  # fmt: skip
    archive = tmp_path / "tl_2020_01_tract.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for ext in (".shp", ".shx", ".dbf"):
            z.write(base.with_suffix(ext), base.with_suffix(ext).name)
    loaded = load_tracts(filled, [archive], replace=True)
    assert (loaded.tracts, loaded.total) == (2, 2)
    summary = subscription(filled, SubscriptionOptions(date(2024, 6, 30), tmp_path / "c.csv"))
    listed = {r[0]: r[3] for r in read_csv(tmp_path / "c.exceptions.csv")[1:]}
    # Ada (fips 01001020100) sits in the island tract now: a conflict, reported.
    assert "point (32.45, -86.45) is in tract 01001020300" in listed["1"]
    assert summary.excluded["conflicting_tract"] == 1
