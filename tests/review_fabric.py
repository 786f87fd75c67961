"""Look-alike Fabric rows for the review page's tests: ``make_fabric``'s locations and its
right answers written straight into fabric_locations and fabric_matches (never real
Fabric data), as ``sonar-bdc fabric match`` would leave them."""

from __future__ import annotations

import psycopg
from psycopg import sql

from sonar_bdc.simulator.fabric import make_fabric
from sonar_bdc.simulator.model import Dataset


def load_lookalike_fabric(conn: psycopg.Connection, schema: str, dataset: Dataset) -> int:
    """Insert the dataset's look-alike Fabric and a match per account; return the matches."""
    fabric = make_fabric(dataset, seed=1)
    rel = fabric.release.fcc_rel
    locations = sql.Identifier(schema, "fabric_locations")
    with conn.cursor() as cur:
        with cur.copy(
            sql.SQL(
                "COPY {} (location_id, address_primary, city, state, zip, bsl_flag,"
                " block_geoid, unit_count, fcc_rel, geom) FROM STDIN"
            ).format(locations)
        ) as copy:
            for loc in fabric.locations:
                copy.write_row((
                    loc.location_id, _text(loc.address_primary), _text(loc.city), loc.state,
                    loc.zip, loc.bsl_flag, loc.block_geoid, loc.unit_count, rel,
                    f"SRID=4326;POINT({loc.longitude} {loc.latitude})",
                ))  # fmt: skip
        matches = [
            (aid, p.location_id, rel, "point" if p.location_id else "unmatched",
             None if p.location_id else p.why or "nothing_within_reach")
            for aid, p in fabric.placements.items()
        ]  # fmt: skip
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} (customer_id, location_id, fcc_rel, method, reason)"
                " VALUES (%s, %s, %s, %s, %s)"
            ).format(sql.Identifier(schema, "fabric_matches")),
            matches,
        )
    conn.commit()
    return len(matches)


def _text(value: str) -> str:
    """PostgreSQL text holds no NUL: the look-alike's nasty spellings may."""
    return value.replace("\x00", "")


def drop_schema(conninfo: dict, schema: str) -> None:
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
