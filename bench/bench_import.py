#!/usr/bin/env python3
"""Import benchmark: wall time against the floor the API sets, requests per customer, memory.

    .venv/bin/python bench/bench_import.py                  # 5,000 accounts, 30 ms latency
    .venv/bin/python bench/bench_import.py --accounts 50000 --scenarios full10,fresh

The simulator runs in its own process (`sonar-bdc simulate`) so it does not share the
importer's GIL; each import runs in a fresh child process so its peak RSS is its own.
Prints one table row per scenario. The floor is requests x latency / workers, or
requests / rate limit when one is set; "x floor" is wall time over that floor. CPU
per request, the importer's and the simulator's, says how much of this 2-core
machine the two took from each other (a real Sonar runs elsewhere).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import urllib3
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DB = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}
BENCH_DB = os.environ.get("BENCH_DB", "sonar_bdc_bench")  # one per concurrent bench


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    workers: int
    rate_limit: float | None = None
    fresh_schema: bool = True  # a full import into an empty schema
    stale_share: float | None = None  # incremental: make this share of customers stale
    max_accounts: int | None = None  # rate-limited runs are slow: cap them
    api: str = "v1"
    models: int = 10  # inventory models in Sonar's catalog (10: the fixed ones)


SCENARIOS = {
    "full10": Scenario("full import, 10 workers", 10),
    "full32": Scenario("full import, 32 workers", 32),
    "limit20": Scenario("full import, 32 workers, 20 req/s", 32, 20.0, max_accounts=2000),
    "fresh": Scenario("incremental, nothing stale", 10, fresh_schema=False, stale_share=0.0),
    # A live catalog: every radio, router and ONT model an ISP ever stocked.
    "full10m": Scenario("full import, 10 workers, 300 models", 10, models=300),
    "freshm": Scenario(
        "incremental, nothing stale, 300 models",
        10,
        fresh_schema=False,
        stale_share=0.0,
        models=300,
    ),
    "stale10": Scenario("incremental, 10% stale", 10, fresh_schema=False, stale_share=0.1),
    # v2 (GraphQL) under Sonar's 400/min limit, which the importer applies by default.
    "v2": Scenario("v2 full import, 10 workers, 400/min", 10, 400 / 60, api="v2"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_simulator(accounts: int, latency: float, sc: Scenario) -> tuple:
    port = free_port()
    rate_limit, api = sc.rate_limit, sc.api
    cmd = [
        str(ROOT / ".venv/bin/sonar-bdc"),
        "simulate",
        "--accounts",
        str(accounts),
        "--port",
        str(port),
        "--latency",
        str(latency),
        "--api",
        api,
        "--models",
        str(sc.models),
    ]
    if rate_limit:
        cmd += ["--rate-limit", str(rate_limit)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib3.request("GET", url, timeout=1, retries=False)
            return proc, port
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the simulator did not start")


def reset_database() -> None:
    with psycopg.connect(**DB, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    with psycopg.connect(**{**DB, "dbname": BENCH_DB}, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")


def prepare_schema(schema: str, scenario: Scenario) -> None:
    with psycopg.connect(**{**DB, "dbname": BENCH_DB}, autocommit=True) as conn:
        if scenario.fresh_schema:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        elif scenario.stale_share:
            # Age a share of the customers past --days so the run refreshes them.
            conn.execute(
                sql.SQL(
                    "UPDATE {s}.customers SET updated_at = updated_at - interval '30 days',"
                    " inventory_updated_at = inventory_updated_at - interval '30 days'"
                    " WHERE id IN (SELECT id FROM {s}.customers ORDER BY random()"
                    " LIMIT (SELECT ceil(count(*) * %s) FROM {s}.customers))"
                ).format(s=sql.Identifier(schema)),
                (scenario.stale_share,),
            )


def run_child(port: int, schema: str, scenario: Scenario) -> tuple[dict, int]:
    """One import in a fresh process: its summary and its peak RSS in kB."""
    env = {
        **os.environ,
        "SONAR_PROTOCOL": "http",
        "SONAR_HOST": f"127.0.0.1:{port}",
        "SONAR_USERNAME": "admin",
        "SONAR_PASSWORD": "sonar",
        "SONAR_TOKEN": "sonar-token",
        "SONAR_API": scenario.api,
        "POSTGRES_HOST": DB["host"],
        "POSTGRES_USER": DB["user"],
        "POSTGRES_DB": BENCH_DB,
    }
    args = [
        sys.executable,
        __file__,
        "--child",
        "--prefix",
        f"{schema}.",
        "--workers",
        str(scenario.workers),
    ]
    if scenario.rate_limit:
        # The importer's own limiter, just under the instance's limit.
        args += ["--rate-limit", str(scenario.rate_limit * 0.95)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, cwd="/tmp")
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"import failed ({status}): {out[-2000:]!r}")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    summary["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return summary, usage.ru_maxrss


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_main(prefix: str, workers: int, rate_limit: float | None) -> None:
    from sonar_bdc.importer import run_import
    from sonar_bdc.importer.malloc import limit_arenas
    from sonar_bdc.settings import load_settings

    settings = load_settings(
        {"prefix": prefix, "workers": workers, "rate_limit": rate_limit, "log_file": None}
    )
    if os.environ.get("BENCH_ARENAS") != "default":  # as `sonar-bdc import` does
        limit_arenas()
    summary = run_import(settings, show_progress=False)
    print(json.dumps(summary.as_dict()))


def row(name: str, accounts: int, s: dict, rss_kb: int, latency: float, sc: Scenario) -> str:
    requests = s["requests"]
    customers = max(s["fetched"] + s["deleted"], 1)
    floor = requests / sc.rate_limit if sc.rate_limit else requests * latency / sc.workers
    cpu_ms = 1000 / max(requests, 1)
    return (
        f"| {name} | {accounts} | {s['wall_seconds']:.1f} | {requests} | "
        f"{requests / customers:.3f} | {requests / max(s['wall_seconds'], 1e-9):.0f} | "
        f"{floor:.1f} | {s['wall_seconds'] / max(floor, 1e-9):.2f} | "
        f"{100 * s['db_seconds'] / max(s['wall_seconds'], 1e-9):.0f}% | {rss_kb / 1024:.0f} | "
        f"{s['cpu_seconds'] * cpu_ms:.2f} | {s['simulator_cpu_seconds'] * cpu_ms:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.03)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate-limit", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.prefix, args.workers, args.rate_limit)
        return
    reset_database()
    print(f"latency {args.latency * 1000:.0f} ms per request; customers = details fetched")
    print(
        "| scenario | accounts | wall s | requests | req/customer | req/s | floor s "
        "| x floor | in DB | peak RSS MB | importer CPU ms/req | simulator CPU ms/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in args.scenarios.split(","):
        sc = SCENARIOS[key]
        accounts = min(args.accounts, sc.max_accounts or args.accounts)
        sim, port = start_simulator(accounts, args.latency, sc)
        try:
            schema = f"bench_{accounts}" if not sc.rate_limit else f"bench_{key}_{accounts}"
            if not sc.fresh_schema:
                prepare_schema(schema, SCENARIOS["full10"])
                run_child(port, schema, SCENARIOS["full32"])  # make it complete first
            prepare_schema(schema, sc)
            simulator_cpu = cpu_seconds(sim.pid)
            summary, rss = run_child(port, schema, sc)
            summary["simulator_cpu_seconds"] = cpu_seconds(sim.pid) - simulator_cpu
            print(row(sc.name, accounts, summary, rss, args.latency, sc), flush=True)
        finally:
            sim.terminate()
            sim.wait()


if __name__ == "__main__":
    main()
