"""Benchmark ``sonar-bdc fabric match``: customers against a synthetic Fabric.

Creates its own database (dropped at the end) and fills it in SQL (generate_series):
``--locations`` look-alike Fabric points (90% BSL houses 25 m apart along streets 60 m
apart, 10% NoBSL sheds 8 m behind a house, 5% with a Secondary address) and
``--customers`` customers taken from the houses: 85% geocoded within 12 m of their
house, 10% 20-150 m off, 5% without coordinates; addresses spelled as the Fabric, with
suffixes written out and capitalised, or in lower case with a unit in street2.
Nothing here is real Fabric data.

Then matches them once per candidate strategy, printing the wall time split into the
candidate query, the decisions and the write, and how many matches are right:

    .venv/bin/python bench/bench_fabric_match.py --locations 2000000 --customers 50000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from sonar_bdc.bdc.config import MatchConfig
from sonar_bdc.fabric.address import clear_cache
from sonar_bdc.fabric.match import STRATEGIES, Timings, decide_all, match_row
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.matching import MatchDb
from sonar_bdc.store.migrate import ensure_schema

PREFIX = parse_prefix("bench.")
FIRST = ["OAK", "PINE", "MAPLE", "CEDAR", "ELM", "ASPEN", "BIRCH", "WILLOW", "HICKORY", "SPRUCE"]
SECOND = ["RIDGE", "HOLLOW", "CREEK", "VALLEY", "MEADOW", "FOREST", "SPRING", "HILL", "LAKE"]
SUFFIXES = [("ST", "Street"), ("AVE", "Avenue"), ("RD", "Road"), ("DR", "Drive"), ("LN", "Lane")]

# Houses: street s = i / 200, house h = i % 200; 100 streets side by side (5.2 km apart),
# rows of streets 60 m apart. House numbers run by block (s % 10 thousands), so in a ZIP
# (50 streets) five houses share each number, as on a real grid of numbered blocks.
# Location ids: houses 1e9 + i, sheds 1.5e9 + j.
LOCATIONS_SQL = """
INSERT INTO bench.fabric_locations (location_id, address_primary, city, state, zip,
  unit_count, bsl_flag, block_geoid, fcc_rel, geom)
SELECT 1000000000 + i, (100 + 2 * (i %% 200) + 1000 * ((i / 200) %% 10))::text || ' '
  || (%(first)s::text[])[1 + (i / 200) %% 10] || ' '
  || (%(second)s::text[])[1 + (i / 2000) %% 9] || ' ' || (i / 18000)::text || ' '
  || (%(suffix)s::text[])[1 + (i / 200) %% 5], 'TOWN', 'TX', (70000 + i / 10000)::text, 1, true,
  '480291101001000', 'bench', ST_SetSRID(ST_MakePoint(
    -98.0 + (((i / 200) %% 100) * 5200 + (i %% 200) * 25) / 96405.0,
    30.0 + ((i / 200) / 100) * 60 / 111320.0), 4326)
FROM generate_series(0, %(houses)s - 1) AS i
"""
SHEDS_SQL = """
INSERT INTO bench.fabric_locations (location_id, address_primary, zip, unit_count, bsl_flag,
  fcc_rel, geom)
SELECT 1500000000 + j, f.address_primary, f.zip, 0, false, 'bench',
  ST_Translate(f.geom, 0, 8 / 111320.0)
FROM generate_series(0, %(sheds)s - 1) AS j
JOIN bench.fabric_locations f ON f.location_id = 1000000000 + j * 9
"""
SECONDARY_SQL = """
INSERT INTO bench.fabric_addresses (location_id, address, zip, primary_secondary, fcc_rel)
SELECT location_id, address_primary || ' UNIT A', zip, 'Secondary', 'bench'
FROM bench.fabric_locations WHERE bsl_flag AND location_id %% 20 = 0
"""
# Customer k lives in house (k * step) (ids: k + 1); offsets in metres, random directions.
CUSTOMERS_SQL = """
INSERT INTO bench.customers (id, name, address, street2, zip, latitude, longitude, geom,
  last_seen_at, updated_at)
SELECT k + 1, 'Customer ' || k, CASE k %% 10
    WHEN 0 THEN lower(f.address_primary) WHEN 1 THEN lower(f.address_primary)
    WHEN 2 THEN initcap(replace(replace(replace(f.address_primary || '|', ' ST|', ' STREET'),
      ' AVE|', ' AVENUE'), '|', ''))
    ELSE f.address_primary END,
  CASE WHEN k %% 10 < 2 THEN 'Apt ' || (k %% 7)::text ELSE '' END, f.zip,
  ST_Y(p), ST_X(p), p, '2026-06-30', '2026-06-30'
FROM generate_series(0, %(customers)s - 1) AS k
JOIN bench.fabric_locations f ON f.location_id = 1000000000 + k * %(step)s
CROSS JOIN LATERAL (SELECT CASE
    WHEN k %% 20 = 7 THEN NULL
    WHEN k %% 10 = 3 THEN ST_Project(f.geom::geography, 20 + random() * 130,
      random() * 2 * pi())::geometry
    ELSE ST_Project(f.geom::geography, random() * 12, random() * 2 * pi())::geometry
  END AS p) AS moved
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=2_000_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("-k", "--max-candidates", type=int, default=MatchConfig().max_candidates)
    parser.add_argument("--host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--user", default=os.environ.get("PGUSER", "postgres"))
    return parser.parse_args(argv)


@contextmanager
def bench_database(admin: dict) -> Iterator[dict]:
    name = f"sonar_bdc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield {**admin, "dbname": name}
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def fill(conninfo: dict, locations: int, customers: int) -> None:
    houses = locations * 9 // 10
    started = time.perf_counter()
    with psycopg.connect(**conninfo) as conn:
        ensure_schema(conn, PREFIX)
        conn.execute("SELECT setseed(0.42)")
        names = {"first": FIRST, "second": SECOND, "suffix": [s for s, _ in SUFFIXES]}
        conn.execute(LOCATIONS_SQL, {**names, "houses": houses})
        conn.execute(SHEDS_SQL, {"sheds": locations - houses})
        conn.execute(SECONDARY_SQL, {})
        step = max(1, houses // customers)
        conn.execute(CUSTOMERS_SQL, {"customers": customers, "step": step})
        conn.commit()
        conn.autocommit = True
        # A GiST index grown row by row answers KNN about 4x slower than one built over
        # the loaded table: rebuild it, as a bulk load (COPY, then the index) leaves it.
        conn.execute("REINDEX TABLE bench.fabric_locations")
        conn.execute("VACUUM ANALYZE bench.fabric_locations")
        conn.execute("VACUUM ANALYZE bench.fabric_addresses")
        conn.execute("VACUUM ANALYZE bench.customers")
    print(f"filled {locations:,} locations, {customers:,} customers in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def run(conninfo: dict, strategy: str, args: argparse.Namespace) -> None:
    customers, locations = args.customers, args.locations
    clear_cache()  # every strategy parses from scratch
    timings = Timings()
    started = time.perf_counter()
    with MatchDb(psycopg.connect(**conninfo), PREFIX) as db:
        rows = db.customers()
        decisions = decide_all(
            db, rows, MatchConfig(max_candidates=args.max_candidates), strategy, timings
        )
        write_started = time.perf_counter()
        db.write((match_row(d, "bench") for d in decisions.values()), "bench", "now")
        timings.write = time.perf_counter() - write_started
    wall = time.perf_counter() - started
    houses = locations * 9 // 10
    step = max(1, houses // customers)
    matched = [d for d in decisions.values() if d.location_id is not None]
    wrong = [d for d in matched if d.location_id != 1_000_000_000 + (d.customer_id - 1) * step]
    if wrong:
        print("  wrong by method:", dict(Counter(d.method for d in wrong)),
              "at distances:", sorted(round(d.distance_m or -1) for d in wrong)[:20])  # fmt: skip
    print(
        f"{strategy:12} wall {wall:5.1f} s = candidates {timings.candidates:5.1f} s"
        f" + decisions {timings.decisions:5.1f} s + write {timings.write:4.1f} s (+ rest);"
        f" matched {len(matched):,}/{len(decisions):,},"
        f" right {1 - len(wrong) / max(1, len(matched)):.4f}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    admin = {"host": args.host, "port": args.port, "user": args.user, "dbname": "postgres"}
    with bench_database(admin) as conninfo:
        fill(conninfo, args.locations, args.customers)
        for strategy in args.strategies.split(","):
            run(conninfo, strategy, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
