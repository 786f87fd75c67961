"""The simulator's coverage polygons: a projected GeoJSON whose holes and gaps leave out
exactly the accounts the plan says, through loading and the availability file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.bdc.availability import AvailabilityOptions, availability
from sonar_bdc.coverage.run import load_coverage
from sonar_bdc.settings import Settings
from sonar_bdc.simulator.coverage import write_coverage
from sonar_bdc.simulator.data import generate
from sonar_bdc.store.coverage import AreaOffer


def test_the_file_lists_exactly_the_covered_accounts(
    pg_schema: tuple[dict, str], tmp_path: Path
) -> None:
    conninfo, schema = pg_schema
    settings = Settings(prefix=f"{schema}.", postgres_host=conninfo["host"],
                        postgres_port=conninfo["port"], postgres_user=conninfo["user"],
                        postgres_db=conninfo["dbname"])  # fmt: skip
    dataset = generate(accounts=400, seed=5)
    plan = write_coverage(dataset, tmp_path / "coverage.geojson")
    declared = json.loads(plan.path.read_text())["crs"]["properties"]["name"]
    assert declared == "urn:ogc:def:crs:EPSG::32614"
    assert plan.outside and plan.inside and not plan.inside & plan.outside
    load_coverage(settings, [plan.path], AreaOffer(70, 100, 20))
    with psycopg.connect(**conninfo, autocommit=True) as conn:  # look-alike BSLs at the accounts
        for account in dataset.accounts.values():
            if account.address.lat is not None:
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.fabric_locations (location_id, bsl_flag, fcc_rel, geom)"
                        " VALUES (%s, true, 'sim', ST_SetSRID(ST_MakePoint(%s, %s), 4326))"
                    ).format(sql.Identifier(schema)),
                    (1_000_000_000 + account.id, account.address.lon, account.address.lat),
                )
    out = tmp_path / "availability.csv"
    options = AvailabilityOptions(date(2024, 6, 30), 123456, "Sim", out,
                                  allow_incomplete_import=True)  # fmt: skip
    availability(settings, options)
    expected = [f"123456,Sim,{1_000_000_000 + i},70,100,20,1,X" for i in sorted(plan.inside)]
    assert out.read_text().splitlines()[1:] == expected


def test_simulate_writes_the_coverage_file_or_says_why_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sonar_bdc.cli import main

    path = tmp_path / "towers.geojson"
    assert main(["simulate", "--accounts", "300", "--write-coverage", str(path)]) == 0
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    assert features and "covers" in capsys.readouterr().out
    assert main(["simulate", "--accounts", "30", "--write-coverage", str(tmp_path / "no/x")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_simulate_writes_the_fabric_and_the_coverage_in_one_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sonar_bdc.cli import main

    argv = ["simulate", "--accounts", "100", "--write-fabric", str(tmp_path / "f"),
            "--write-coverage", str(tmp_path / "c.geojson")]  # fmt: skip
    assert main(argv) == 0
    assert list((tmp_path / "f").glob("*.zip")) and (tmp_path / "c.geojson").is_file()
    out = capsys.readouterr().out
    assert "covers" in out and "locations" in out
