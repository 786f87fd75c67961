"""Which 2020 tract a counted customer gets: the Fabric match, then a 2020 (or unknown
vintage) census block, then the tract polygon; an old census's block never names it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from sonar_bdc.bdc.model import Connection, Exclusion
from sonar_bdc.bdc.run import SubscriptionOptions, subscription
from sonar_bdc.settings import Settings
from test_bdc_filing import filled, read_csv  # noqa: F401 - the fixture and a helper
from test_bdc_rules import customer, decide

OLD_BLOCK = "010010201001001"  # tract 01001020100, from the 2010 census


def test_the_fabric_block_wins_over_every_other_source() -> None:
    got = decide(customer(fabric_block="480291101002000", polygon_tracts=("01001020200",)))
    assert isinstance(got, Connection)
    assert (got.tract, got.tract_source, got.warning) == ("48029110100", "fabric", None)


def test_a_malformed_fabric_block_is_ignored() -> None:
    got = decide(customer(fabric_block="4802911"))
    assert isinstance(got, Connection) and got.tract_source == "fips"


def test_a_block_without_census_year_counts_as_unknown_vintage() -> None:
    got = decide(customer(census_year=None))
    assert isinstance(got, Connection)
    assert (got.tract, got.tract_source) == ("01001020100", "fips_unknown_vintage")


def test_an_old_block_defers_to_the_polygon_with_a_warning() -> None:
    got = decide(customer(fips=OLD_BLOCK, census_year=2010, polygon_tracts=("01001020200",)))
    assert isinstance(got, Connection)
    assert (got.tract, got.tract_source) == ("01001020200", "polygon")
    assert isinstance(got.warning, Exclusion) and got.warning.reason == "old_census_block"
    assert "counted in 2020 tract 01001020200" in got.warning.detail
    assert "from the 2010 census" in got.warning.detail


def test_an_old_block_agreeing_with_the_polygon_gives_no_warning() -> None:
    got = decide(customer(fips=OLD_BLOCK, census_year=2010, polygon_tracts=("01001020100",)))
    assert isinstance(got, Connection) and got.tract_source == "polygon" and got.warning is None


def test_an_old_block_alone_places_nobody() -> None:
    got = decide(customer(fips=OLD_BLOCK, census_year=2010), tracts=0)
    assert isinstance(got, Exclusion) and got.reason == "no_tract"
    assert "from the 2010 census, not a 2020 tract" in got.detail
    got = decide(customer(fips=OLD_BLOCK, census_year=2010, has_point=False))
    assert isinstance(got, Exclusion) and got.reason == "no_coordinates"


def _execute(settings: Settings, statement: str, *params: object) -> None:
    schema = settings.prefix.rstrip(".")
    with psycopg.connect(**settings.postgres_conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(s=sql.Identifier(schema)), params)


def test_the_file_takes_each_source_in_order(filled: Settings, tmp_path: Path) -> None:  # noqa: F811
    _execute(filled, "UPDATE {s}.customers SET census_year = 2020 WHERE id = 1")  # Ada
    _execute(filled, "UPDATE {s}.customers SET census_year = 2010 WHERE id IN (4, 13)")  # Dan, Mo
    _execute(
        filled,
        "INSERT INTO {s}.fabric_locations (location_id, bsl_flag, block_geoid, fcc_rel, geom)"
        " VALUES (1000000007, true, '010010201002000', '2025-12', ST_MakePoint(-86.35, 32.45))",
    )
    _execute(
        filled,
        "INSERT INTO {s}.fabric_matches (customer_id, location_id, fcc_rel, method, candidates)"
        " VALUES (2, 1000000007, '2025-12', 'point', 1)",  # Bob
    )
    out = tmp_path / "s.csv"
    summary = subscription(filled, SubscriptionOptions(date(2024, 6, 30), out))
    # Ada: 2020 block; Bob: Fabric; Cat: polygon; Dan: polygon over his 2010 block;
    # Lee: a block of unknown census year; Mo: a 2010 block and no point, left out.
    assert summary.tract_sources == {
        "fips": 1, "fabric": 1, "polygon": 2, "fips_unknown_vintage": 1,
    }  # fmt: skip
    assert summary.listed_warnings == {"old_census_block": 1}
    assert summary.excluded["no_coordinates"] == 2 and summary.excluded["conflicting_tract"] == 0
    listed = read_csv(summary.exceptions_path)
    assert listed[-1][:3] == ["4", "Dan", "old_census_block"]  # after every exclusion
    rows = read_csv(out)[1:]
    assert ["01001020100", "70", "25", "3", "1", "0"] in rows  # Bob (business), by his Fabric block
    assert ["01001020200", "50", "100", "100", "1", "1"] in rows  # Dan, counted
    lines = summary.lines()
    assert "counted with a warning: 1 (also listed in" in "\n".join(lines)
    assert any("from a census block of unknown census year: 1" in line for line in lines)


def test_tables_from_before_the_fabric_still_file(filled: Settings, tmp_path: Path) -> None:  # noqa: F811
    """Tables last imported by 0.4 (no Fabric tables, no census year): blocks of unknown
    vintage, as before."""
    _execute(filled, "DROP TABLE {s}.fabric_matches")
    _execute(filled, "ALTER TABLE {s}.customers DROP COLUMN census_year")
    summary = subscription(filled, SubscriptionOptions(date(2024, 6, 30), tmp_path / "o.csv"))
    assert summary.tract_sources == {"fips_unknown_vintage": 3, "polygon": 2}
