"""Benchmark the BDC availability file: synthetic Fabric locations against coverage polygons.

Creates its own database (dropped at the end) with the schema, ``--locations`` synthetic
look-alike Fabric BSLs (``generate_series``, uniform over a 4 x 4 degree box; never real
Fabric data) and ``--polygons`` coverage areas (64-sided circles of 5-25 km, three
technologies, different offers), then writes the file through the library call the CLI
uses and prints the time, the rows and the peak memory of this process.

    .venv/bin/python bench/bench_availability.py --locations 2000000 --polygons 50
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

from scratch import database_settings, scratch_database
from sonar_bdc.bdc.availability import AvailabilityOptions, availability
from sonar_bdc.store import Store

PREFIX = "bench."
CONFIG = """
[offers."70"]
download_mbps = 100
upload_mbps = 20
[offers."71"]
download_mbps = 250
upload_mbps = 25
"""


def fill(conninfo: dict, locations: int, polygons: int) -> None:
    with Store.connect(conninfo, PREFIX) as store:
        store.ensure_schema()
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO bench.fabric_locations (location_id, bsl_flag, fcc_rel, geom)"
            " SELECT 1000000000 + i, i %% 20 <> 0, '2024-06',"
            " ST_SetSRID(ST_MakePoint(-100 + 4 * random(), 30 + 4 * random()), 4326)"
            " FROM generate_series(1, %s) AS i",
            [locations],
        )
        conn.execute(
            "INSERT INTO bench.coverage_areas (technology, download_mbps, upload_mbps, source,"
            " feature, source_crs, geom)"
            " SELECT (ARRAY[70, 71, 50])[1 + i %% 3], CASE WHEN i %% 3 = 2 THEN 1000 END,"
            " CASE WHEN i %% 3 = 2 THEN 500 END, 'bench', i, 'EPSG:4326',"
            " ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(-99.8 + 3.6 * random(),"
            "   30.2 + 3.6 * random()), 4326)::geography, 5000 + 20000 * random(), 16)::geometry)"
            " FROM generate_series(1, %s) AS i",
            [polygons],
        )
        conn.execute("ANALYZE bench.fabric_locations")
        conn.execute("ANALYZE bench.coverage_areas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=2_000_000)
    parser.add_argument("--polygons", type=int, default=50)
    args = parser.parse_args()
    with scratch_database() as conninfo:
        started = time.perf_counter()
        fill(conninfo, args.locations, args.polygons)
        print(f"filled {args.locations:,} locations, {args.polygons} polygons "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "bdc.toml"
            config.write_text(CONFIG)
            settings = database_settings(conninfo, PREFIX)
            options = AvailabilityOptions(
                date(2024, 6, 30), 123456, "Bench", Path(tmp) / "a.csv", config,
                allow_incomplete_import=True,
            )  # fmt: skip
            started = time.perf_counter()
            summary = availability(settings, options)
            elapsed = time.perf_counter() - started
            size = (Path(tmp) / "a.csv").stat().st_size
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"availability file: {summary.written.rows:,} rows, "
              f"{summary.written.locations:,} locations, {size / 1e6:.0f} MB "
              f"in {elapsed:.1f} s; peak memory of this process {peak:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
