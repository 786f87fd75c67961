"""Benchmark the Fabric as a filer runs it, on the simulator's look-alike Fabric.

A simulator import of ``--accounts`` customers, the simulator's Fabric for them written as
delivered (a ZIP of per-county CSVs) with ``--filler`` extra look-alike rows far from any
subscriber (a state's size), then ``fabric load`` and ``fabric match`` as the commands run
them. Prints the load's rows per second and the match's time, and the match scored
against the simulator's truth (precision, recall, matches to NoBSL points), with the
peak memory of this process. Creates its own database and drops it:

    .venv/bin/python bench/bench_fabric_e2e.py --accounts 50000 --filler 2000000
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from sonar_bdc.fabric.load import load_fabric
from sonar_bdc.fabric.match import MatchOptions, match
from sonar_bdc.simulator import generate
from sonar_bdc.simulator.fabric import make_fabric
from sonar_bdc.simulator.fabric_files import write_fabric

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from expected_fabric import score  # the tests' oracle
from scratch import import_simulated, scratch_database


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(conninfo: dict, accounts: int, filler: int, where: Path) -> None:
    dataset = generate(accounts=accounts, seed=1)
    settings = import_simulated(conninfo, dataset, "bench.")
    started = time.perf_counter()
    fabric = make_fabric(dataset, seed=1)
    path = write_fabric(fabric, where, filler=filler)
    print(f"simulated Fabric written: {time.perf_counter() - started:.1f} s, "
          f"{path.stat().st_size / 1e6:.0f} MB ZIP")  # fmt: skip
    before = peak_mb()
    loaded = load_fabric(settings, [path], progress=False)
    rows = loaded.rows
    print(f"fabric load: {rows:,} rows in {loaded.seconds:.1f} s = "
          f"{rows / loaded.seconds:,.0f} rows/s (peak RSS {peak_mb():.0f} MB, "
          f"{before:.0f} MB before)")  # fmt: skip
    started = time.perf_counter()
    summary = match(settings, MatchOptions(output=where / "unmatched.csv"))
    wall = time.perf_counter() - started
    t = summary.timings
    print(f"fabric match: {summary.customers:,} customers against {rows:,} rows in {wall:.1f} s "
          f"(candidates {t.candidates:.1f} s, decisions {t.decisions:.1f} s, write "
          f"{t.write:.1f} s)")  # fmt: skip
    with psycopg.connect(**conninfo) as conn:
        got = dict(conn.execute("SELECT customer_id, location_id FROM bench.fabric_matches"))
    s = score(fabric, got)
    print(f"precision {s.precision:.4f} ({s.right:,} of {s.matched:,} matches right; goal "
          f">= 0.995), recall {s.recall:.4f} (of {s.matchable:,} matchable; goal >= 0.98), "
          f"{s.to_nobsl} matches to NoBSL (goal 0)")  # fmt: skip
    print(f"peak RSS of the whole run: {peak_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--filler", type=int, default=2_000_000, help="extra Fabric rows")
    args = parser.parse_args()
    with scratch_database() as conninfo, tempfile.TemporaryDirectory() as tmp:
        run(conninfo, args.accounts, args.filler, Path(tmp))


if __name__ == "__main__":
    main()
