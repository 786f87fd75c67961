"""Benchmark ``sonar-bdc fabric load`` against the alternatives it was chosen over.

Writes a look-alike Fabric ZIP of ``--rows`` generated locations (never real data) to a
temporary directory, creates its own database (dropped at the end), and loads the file
into an empty prefix, each alternative in a child process (its own peak RSS):

- ``library``: the load as shipped: PostgreSQL reads the CSV itself over two connections
  into a staging table that checks every row, the key and indexes are built two at a
  time, then swapped in; prints where the time went;
- ``one-connection``: the library with one connection: PostgreSQL reads the CSV in one
  process, then the key and indexes are built one after the other;
- ``rows``: the same load with every file read row by row in Python (what a file with
  unknown columns gets, and the whole load before this design): rows split, checked
  and written as COPY text over one connection;
- ``parse-only``: the Python row reading and checking alone, no database;
- ``staging``: the CSV bytes COPYed unparsed into a text staging table, then one
  INSERT ... SELECT with casts and ST_MakePoint (PostgreSQL parses; no checks per line).

    .venv/bin/python bench/bench_fabric_load.py --rows 2000000

Each line gives wall seconds, rows/s, the child's own CPU seconds (the client's work;
the server's is not in it) and its peak RSS.

The alternatives import psycopg directly: they are the things being compared against.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import psycopg
from psycopg import sql

from sonar_bdc.fabric import load as fabric_load
from sonar_bdc.fabric.files import LOCATION_COLUMNS, reading, sources
from sonar_bdc.fabric.load import load_fabric
from sonar_bdc.settings import Settings
from sonar_bdc.store import fabric as store_fabric
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.fabric import FabricDb

ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
HEADER = ",".join((*LOCATION_COLUMNS, "fcc_rel"))
RELEASE = "06302025"
ALTERNATIVES = ("library", "one-connection", "rows", "parse-only", "staging")
STEPS: dict[str, float] = {}  # the library's split, printed by the parent


def write_fabric(path: Path, rows: int, seed: int = 1) -> None:
    """A look-alike Active BSL file in a ZIP, written as generated (memory stays flat)."""
    rnd = random.Random(seed)
    ids = iter(rnd.sample(range(1_000_000_000, 10_000_000_000), rows))
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("FCC_Active_BSL_lookalike.csv", "w") as raw,
    ):
        out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        out.write(HEADER + "\n")
        chunk = []
        for n in range(rows):
            bsl = "True" if rnd.random() < 0.9 else "False"
            chunk.append(
                f"{next(ids)},{n % 9999 + 1} EXAMPLE RD,SAMPLETOWN,TX,78{n % 1000:03d},,1,"
                f"{bsl},R,110,1,48187,48187210501{n % 10000:04d},8948a2b3fffffff,"
                f"{29 + rnd.random():.6f},{-98 - rnd.random():.6f},{RELEASE}\n"
            )
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
        out.flush()
        out.detach()


def settings_for(db: str, schema: str) -> Settings:
    return Settings(postgres_host=ADMIN["host"], postgres_port=ADMIN["port"],
                    postgres_user=ADMIN["user"], postgres_db=db, prefix=f"{schema}.")  # fmt: skip


def run_library(db: str, schema: str, path: Path) -> int:
    loaded = load_fabric(settings_for(db, schema), [path], progress=False)
    STEPS.update(loaded.replaced.steps)
    return loaded.rows


def run_parse_only(db: str, schema: str, path: Path) -> int:
    (source,) = sources([path])
    with reading(source) as reader:
        return sum(block.count("\n") for block in reader.copy_text(RELEASE))


def run_one_connection(db: str, schema: str, path: Path) -> int:
    """The library with one connection to copy and build the indexes on, in turn."""
    store_fabric.COPY_CONNECTIONS = 1
    return run_library(db, schema, path)


def run_rows(db: str, schema: str, path: Path) -> int:
    """The library with every file read row by row (as one with unknown columns is)."""
    fabric_load.csv_columns = lambda layout: None  # type: ignore[assignment]
    return run_library(db, schema, path)


def _table(schema: str) -> sql.Composed:
    return sql.SQL("{}.fabric_locations").format(sql.Identifier(schema))


def run_staging(db: str, schema: str, path: Path) -> int:
    text_cols = sql.SQL(", ").join(
        sql.SQL("{} text").format(sql.Identifier(c)) for c in (*LOCATION_COLUMNS, "fcc_rel")
    )
    with psycopg.connect(**{**ADMIN, "dbname": db}) as conn:
        conn.execute(sql.SQL("CREATE TEMP TABLE stage ({})").format(text_cols))
        (source,) = sources([path])
        with source.open() as raw, conn.cursor() as cur:
            raw.readline()  # the header
            with cur.copy("COPY stage FROM STDIN (FORMAT csv)") as copy:
                while chunk := raw.read(1 << 16):
                    copy.write(chunk)
        inserted = conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT location_id::bigint, address_primary, city, state, zip,"
                " NULLIF(zip_suffix, ''), unit_count::integer, bsl_flag::boolean,"
                " building_type_code, land_use_code, address_confidence_code, county_geoid,"
                " block_geoid, h3_9, fcc_rel,"
                " ST_SetSRID(ST_MakePoint(longitude::float8, latitude::float8), 4326) FROM stage"
            ).format(_table(schema))
        ).rowcount
        return inserted


def peak_rss_kb() -> int:
    """This process's peak RSS: VmHWM starts anew at exec, where ru_maxrss keeps the
    parent's peak (the generator's id sample) across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(alternative: str, db: str, path: Path) -> None:
    schema = f"b_{uuid.uuid4().hex[:8]}"
    conninfo = settings_for(db, schema).postgres_conninfo()
    FabricDb.connect(conninfo, parse_prefix(f"{schema}.")).close()  # the tables, empty
    runner = {"library": run_library, "one-connection": run_one_connection, "rows": run_rows,
              "parse-only": run_parse_only, "staging": run_staging}  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    rows = runner[alternative](db, schema, path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rss_mb = peak_rss_kb() / 1024
    print(json.dumps({"rows": rows, "seconds": seconds, "cpu": cpu, "rss_mb": rss_mb,
                      "steps": STEPS}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="locations (2,000,000)")
    parser.add_argument("--only", choices=ALTERNATIVES, action="append", help="run only these")
    parser.add_argument("--file", type=Path, help="load this look-alike ZIP (else generate one)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], Path(args.child[2]))
        return
    db = f"bench_fabric_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.file or Path(tmp) / "fabric.zip"
            if args.file is None:
                start = time.perf_counter()
                write_fabric(path, args.rows)
                print(f"generated {args.rows:,} look-alike rows in "
                      f"{time.perf_counter() - start:.1f} s", flush=True)  # fmt: skip
            for alternative in args.only or ALTERNATIVES:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", alternative, db, str(path)],
                    check=True, capture_output=True, text=True,
                ).stdout  # fmt: skip
                r = json.loads(out.strip().splitlines()[-1])
                print(f"{alternative:14} {r['rows']:>10,} rows  {r['seconds']:6.1f} s  "
                      f"{r['rows'] / r['seconds']:>9,.0f} rows/s  client CPU {r['cpu']:5.1f} s  "
                      f"peak RSS {r['rss_mb']:.0f} MB", flush=True)  # fmt: skip
                if r["steps"]:
                    print("    " + ", ".join(f"{k} {v:.2f} s" for k, v in r["steps"].items()
                                           if v >= 0.005), flush=True)  # fmt: skip
    finally:
        with psycopg.connect(**ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(db)))  # fmt: skip


if __name__ == "__main__":
    main()
