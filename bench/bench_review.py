"""Benchmark the review page: a simulator import of 50,000 customers with a look-alike
Fabric matched and coverage loaded, then the page's size, the time to write it, and the
time headless Chromium (Debian's, via Playwright) takes to open it until it is
interactive, and to answer a table-row click. Goals (issue 19): under 15 MB, under 3 s.

Creates its own database (dropped at the end); never real Fabric data. Each phase is
timed apart: ``--keep`` leaves the database in place and prints its name, and
``--database NAME`` reuses it (no import), to measure the page alone again.

    .venv/bin/python bench/bench_review.py --accounts 50000
    .venv/bin/python bench/bench_review.py --accounts 50000 --keep
    .venv/bin/python bench/bench_review.py --database sonar_bdc_bench_1234abcd --keep
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from sonar_bdc.coverage.run import load_coverage
from sonar_bdc.review.run import ReviewOptions, review
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import generate
from sonar_bdc.simulator.coverage import write_coverage
from sonar_bdc.store.coverage import AreaOffer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from review_fabric import load_lookalike_fabric  # the tests' look-alike loader
from scratch import database_settings, import_simulated, scratch_database

SCHEMA = "bench"


def fill(conninfo: dict, accounts: int, where: Path) -> Settings:
    dataset = generate(accounts=accounts, seed=1)
    settings = import_simulated(conninfo, dataset, f"{SCHEMA}.")
    started = time.perf_counter()
    with psycopg.connect(**conninfo) as conn:
        load_lookalike_fabric(conn, SCHEMA, dataset)
    print(f"look-alike Fabric loaded and matched: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    load_coverage(settings, [write_coverage(dataset, where / "towers.geojson").path], AreaOffer(70))
    print(f"coverage loaded: {time.perf_counter() - started:.1f} s")
    return settings


def open_page(path: Path, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no chromium: run scripts/setup.sh")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        for run in range(1, runs + 1):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            started = time.perf_counter()
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            ready = time.perf_counter() - started
            # Leaflet's canvas paints on the next animation frame: wait for it too.
            page.evaluate(
                "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))"
            )
            painted = time.perf_counter() - started
            row = page.locator("[data-listing=exclusions] tr.pick").first
            started = time.perf_counter()
            row.click()
            page.wait_for_selector("#info[data-customer-id]")
            click = time.perf_counter() - started
            steps = page.evaluate(
                "() => performance.getEntriesByType('measure')"
                ".filter((m) => m.name.startsWith('review:'))"
                ".map((m) => `${m.name.slice(7)} ${m.duration.toFixed(0)}`)"
            )
            markers = page.get_attribute("body", "data-markers")
            print(
                f"open #{run}: interactive in {ready:.2f} s, painted in {painted:.2f} s "
                f"({markers} markers); "
                f"a row click selected its customer in {click * 1000:.0f} ms"
            )
            print(f"  steps (ms): {'; '.join(steps)}")
            page.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3, help="page openings measured")
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--database", help="reuse a database a --keep run left (no import)")
    args = parser.parse_args()
    with (
        scratch_database(args.database, args.keep) as conninfo,
        tempfile.TemporaryDirectory() as tmp,
    ):
        if args.database is None:
            settings = fill(conninfo, args.accounts, Path(tmp))
        else:
            settings = database_settings(conninfo, f"{SCHEMA}.")
        started = time.perf_counter()
        result = review(settings, ReviewOptions(Path(tmp) / "review.html"))
        print(f"page written in {time.perf_counter() - started:.1f} s: "
              f"{result.size / 1e6:.1f} MB (goal < 15 MB)")  # fmt: skip
        for line in result.lines()[1:]:
            print(line)
        open_page(result.path, args.runs)


if __name__ == "__main__":
    main()
