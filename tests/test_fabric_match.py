"""``sonar-bdc fabric match`` end to end: the simulator serves known accounts, the
importer fills PostGIS, look-alike Fabric rows (never real Fabric data) are inserted
around them, and the command writes fabric_matches and the exceptions CSV."""

from __future__ import annotations

import csv
import math
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.bdc.config import MatchConfig
from sonar_bdc.cli import main
from sonar_bdc.fabric.match import STRATEGIES, decide_all
from sonar_bdc.importer import run_import
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Account, Address, Dataset, Simulator
from sonar_bdc.simulator.data import empty_dataset
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.matching import MatchDb

LAT, LON, ZIP = 32.45, -86.45, "36000"
REL = "2026-06-30"
# id: (line1, line2, has a point); each account ~1 km east of the previous one
ACCOUNTS = {
    1: ("100 Main Street", "", True),  # BSL 5 m away, a NoBSL shed 2 m away
    2: ("200 Oak Avenue", "", True),  # BSLs at 40 m (210 Oak) and 60 m (200 Oak)
    3: ("300 Elm St", "Apt 1", True),  # 3 and 4 share an apartment building
    4: ("300 Elm St", "Apt 2", True),  # (its point is beside 3's)
    5: ("400 N Pine Road", "", False),  # no point: by address in its ZIP
    6: ("999 Nowhere Ln", "", False),  # no point, no such address
    7: ("12 Lonely Rd", "", True),  # nothing within 150 m
    8: ("14 Barn Rd", "", True),  # only a NoBSL nearby
    9: ("500 Cedar St", "", True),  # two Fabric records with its address, 6 and 7 m
    10: ("600 Birch St", "", True),  # 602 Birch at 10 m, 600 Birch at 70 m
    11: ("700 Maple Dr", "", True),  # its address only in the Secondary file
    12: ("800 Walnut Ct", "", True),  # geocoded far off: by address in its ZIP
    13: ("900 Gone St", "", True),  # deleted in Sonar: not matched
    14: ("950 Left St", "", True),  # gone from the latest report: not matched
}
# location_id: (account it is near, metres east, metres north, bsl, address, unit_count)
FABRIC = {
    1000000001: (1, 5, 0, True, "100 MAIN ST", 1),
    1000000091: (1, 0, 2, False, "100 MAIN ST", 0),
    1000000002: (2, 40, 0, True, "210 OAK AVE", 1),
    1000000102: (2, -60, 0, True, "200 OAK AVENUE", 1),
    1000000003: (3, 0, 8, True, "300 ELM ST", 24),
    1000000005: (5, 3000, 0, True, "400 NORTH PINE RD", 1),
    1000000008: (8, 10, 0, False, "14 BARN RD", 0),
    1000000009: (9, 6, 0, True, "500 CEDAR ST", 1),
    1000000109: (9, -7, 0, True, "500 CEDAR ST", 1),
    1000000010: (10, 10, 0, True, "602 BIRCH ST", 1),
    1000000110: (10, 0, 70, True, "600 BIRCH ST", 1),
    1000000011: (11, 40, 0, True, "1 OTHER RD", 1),
    1000000111: (11, 0, 50, True, "2 OTHER RD", 1),
    1000000012: (12, 5000, 0, True, "800 WALNUT COURT", 1),
    1000000013: (13, 3, 0, True, "900 GONE ST", 1),
}
SECONDARY = {1000000111: "700 MAPLE DRIVE"}
EXPECTED = {  # customer: (location_id, method, reason)
    1: (1000000001, "point", None),
    2: (1000000102, "point_address", None),
    3: (1000000003, "point", None),
    4: (1000000003, "point", None),
    5: (1000000005, "address", None),
    6: (None, "unmatched", "no_coordinates_no_address"),
    7: (None, "unmatched", "nothing_within_reach"),
    8: (None, "unmatched", "nearest_not_bsl"),
    9: (None, "unmatched", "ambiguous"),
    10: (1000000110, "point_address", None),
    11: (1000000111, "point_address", None),
    12: (1000000012, "address", None),
}


def point(aid: int) -> tuple[float, float]:
    return LAT, LON + 0.01 * aid


def offset(aid: int, east: float, north: float) -> tuple[float, float]:
    lat, lon = point(aid)
    return lat + north / 111_320, lon + east / (111_320 * math.cos(math.radians(lat)))


def known_dataset() -> Dataset:
    ds = empty_dataset(seed=3)
    for aid, (line1, line2, has_point) in ACCOUNTS.items():
        lat, lon = point(aid) if has_point else (None, None)
        if aid == 4:
            lat, lon = offset(3, 0, 12)  # the same building as 3
        if aid == 12:
            lat, lon = LAT + 0.3, LON  # the ZIP's centre, kilometres from the house
        address = Address(
            line1, line2, "Town", "AL", ZIP, fips=None, lat=lat, lon=lon,
            lat_raw=str(lat) if has_point else "", lon_raw=str(lon) if has_point else "",
        )  # fmt: skip
        ds.accounts[aid] = Account(
            aid, f"Customer {aid}", 2, 1, [], address, [(700, 1)], [], deleted=aid == 13
        )
    return ds


def insert_fabric(conn: psycopg.Connection, schema: str) -> None:
    locations = sql.Identifier(schema, "fabric_locations")
    for location_id, (aid, east, north, bsl, address, units) in FABRIC.items():
        lat, lon = offset(aid, east, north)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (location_id, address_primary, city, state, zip, unit_count,"
                " bsl_flag, block_geoid, fcc_rel, geom) VALUES (%s, %s, 'TOWN', 'AL', %s, %s,"
                " %s, '010010201001000', %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
            ).format(locations),
            [location_id, address, ZIP, units, bsl, REL, lon, lat],
        )
    for location_id, address in SECONDARY.items():
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (location_id, address, zip, primary_secondary, fcc_rel)"
                " VALUES (%s, %s, %s, 'Secondary', %s)"
            ).format(sql.Identifier(schema, "fabric_addresses")),
            [location_id, address, ZIP, REL],
        )


@pytest.fixture(scope="module")
def imported(pg_database: dict, settings: Callable[..., Settings]) -> Iterator[str]:
    """The known accounts imported twice (14 gone from the second report), with Fabric."""
    schema = f"fm_{uuid.uuid4().hex[:8]}"
    with Simulator(known_dataset()) as sim:
        config = settings(sim, schema, workers=2)
        assert run_import(config, show_progress=False).exit_code == 0
        del sim.dataset.accounts[14]
        sim.dataset.version += 1
        assert run_import(config, show_progress=False).exit_code == 0
    with psycopg.connect(**pg_database, autocommit=True) as conn:
        insert_fabric(conn, schema)
    try:
        yield schema
    finally:
        with psycopg.connect(**pg_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def env(pg_database: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_HOST", pg_database["host"])
    monkeypatch.setenv("POSTGRES_PORT", str(pg_database["port"]))
    monkeypatch.setenv("POSTGRES_USER", pg_database["user"])
    monkeypatch.setenv("POSTGRES_DB", pg_database["dbname"])


def matches(conn: psycopg.Connection, schema: str) -> dict[int, tuple]:
    rows = conn.execute(
        sql.SQL(
            "SELECT customer_id, location_id, method, reason, fcc_rel, distance_m,"
            " candidates, candidate_ids FROM {}"
        ).format(sql.Identifier(schema, "fabric_matches"))
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def meta(conn: psycopg.Connection, schema: str, key: str) -> str | None:
    row = conn.execute(
        sql.SQL("SELECT value FROM {} WHERE key = %s").format(sql.Identifier(schema, "metadata")),
        [key],
    ).fetchone()
    return None if row is None else row[0]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_rule_on_the_imported_customers(
    imported: str, env: None, pg_conn: psycopg.Connection, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "exceptions.csv"
    assert main(["fabric", "match", "-p", f"{imported}.", "-o", str(out)]) == 0
    found = matches(pg_conn, imported)
    assert {cid: row[:3] for cid, row in found.items()} == EXPECTED
    assert all(row[3] == (REL if row[0] else None) for row in found.values())
    assert found[1][4] == pytest.approx(5, abs=0.5)
    assert found[2][4] == pytest.approx(60, abs=1) and found[2][5] == 2
    assert found[9][6] == [1000000009, 1000000109]
    assert meta(pg_conn, imported, "fabric_match_release") == REL
    assert meta(pg_conn, imported, "fabric_matched_at")
    listed = read_csv(out)
    assert [int(r["customer_id"]) for r in listed] == [6, 7, 8, 9]
    by_id = {int(r["customer_id"]): r for r in listed}
    assert by_id[9]["candidate_ids"] == "1000000009 1000000109"
    assert by_id[9]["reason"] == "ambiguous" and float(by_id[9]["nearest_distance_m"]) < 7
    assert (by_id[6]["address"], by_id[6]["zip"], by_id[6]["name"]) == (
        "999 Nowhere Ln", ZIP, "Customer 6",
    )  # fmt: skip
    assert by_id[8]["nearest_distance_m"] == "10.0"
    err = capsys.readouterr().err
    assert f"Fabric release {REL}: 8 of 12 customers matched" in err
    assert "matched by point 3, point_address 3, address 2" in err
    assert "unmatched 4: no_coordinates_no_address 1, nothing_within_reach 1" in err
    assert "ambiguous 1, nearest_not_bsl 1" in err
    assert "100 MAIN ST" not in err  # Fabric addresses are never printed


def test_a_run_rewrites_the_matches_whole(
    imported: str, env: None, pg_conn: psycopg.Connection, tmp_path: Path
) -> None:
    table = sql.Identifier(imported, "fabric_matches")
    pg_conn.execute(
        sql.SQL(
            "INSERT INTO {} (customer_id, location_id, method, fcc_rel) VALUES"
            " (424242, 1000000001, 'point', 'old') ON CONFLICT DO NOTHING"
        ).format(table)
    )
    assert main(["fabric", "match", "-p", f"{imported}.", "-o", str(tmp_path / "x.csv")]) == 0
    assert set(matches(pg_conn, imported)) == set(EXPECTED)


def test_the_settings_change_the_matches(
    imported: str, env: None, pg_conn: psycopg.Connection, tmp_path: Path
) -> None:
    config = tmp_path / "bdc.toml"
    config.write_text("[match]\naddress_radius_m = 50\naddress_fallback = false\n")
    argv = ["fabric", "match", "-p", f"{imported}.", "--config", str(config)]
    assert main(argv) == 0
    found = matches(pg_conn, imported)
    assert found[2][:3] == (None, "unmatched", "nothing_within_reach")  # 200 Oak is 60 m off
    assert found[12][:3] == (None, "unmatched", "nothing_within_reach")  # no fallback
    assert (tmp_path / "fabric_match_exceptions.csv").is_file()  # the default name


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[match]\npoint_radius_m = 0\n", "point_radius_m = 0 must be a number from 1"),
        ("[match]\nradius = 5\n", "unknown key 'radius' in [match]"),
        ("[match\n", "not valid TOML"),
    ],
)
def test_a_bad_configuration_changes_nothing(
    imported: str, env: None, pg_conn: psycopg.Connection, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], config: str, message: str,
) -> None:  # fmt: skip
    path = tmp_path / "bad.toml"
    path.write_text(config)
    before = meta(pg_conn, imported, "fabric_matched_at")
    assert main(["fabric", "match", "-p", f"{imported}.", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert meta(pg_conn, imported, "fabric_matched_at") == before
    assert not (tmp_path / "fabric_match_exceptions.csv").exists()


def test_an_exceptions_path_that_is_a_directory_changes_nothing(
    imported: str, env: None, pg_conn: psycopg.Connection, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    before = meta(pg_conn, imported, "fabric_matched_at")
    assert main(["fabric", "match", "-p", f"{imported}.", "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert meta(pg_conn, imported, "fabric_matched_at") == before
    assert list(tmp_path.iterdir()) == []


def test_standard_output_is_refused(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fabric", "match", "-o", "-"])
    assert exc.value.code == 2
    assert "standard output (-) is not supported" in capsys.readouterr().err


def test_no_import_is_refused(
    pg_schema: tuple[dict, str], env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, schema = pg_schema
    assert main(["fabric", "match", "-p", f"{schema}."]) == 2
    err = capsys.readouterr().err
    assert f"no imported customers at {schema}.: run sonar-bdc import first" in err
    assert len(err.strip().splitlines()) == 1


def test_no_fabric_is_refused(
    pg_schema: tuple[dict, str], env: None, settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:  # fmt: skip
    _, schema = pg_schema
    ds = empty_dataset(seed=4)
    ds.accounts[1] = known_dataset().accounts[1]
    with Simulator(ds) as sim:
        assert run_import(settings(sim, schema, workers=1), show_progress=False).exit_code == 0
    assert main(["fabric", "match", "-p", f"{schema}."]) == 2
    err = capsys.readouterr().err
    assert f"no Fabric loaded at {schema}.: run sonar-bdc fabric load" in err
    assert not (tmp_path / "fabric_match_exceptions.csv").exists()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_candidate_strategy_decides_alike(
    imported: str, pg_database: dict, strategy: str
) -> None:
    with MatchDb(psycopg.connect(**pg_database), parse_prefix(f"{imported}.")) as db:
        decisions = decide_all(db, db.customers(), MatchConfig(), strategy)
    found = {cid: (d.location_id, d.method, d.reason) for cid, d in decisions.items()}
    assert found == EXPECTED
