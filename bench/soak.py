"""Soak: repeated imports against a changing, faulty Sonar, the database checked after each.

    .venv/bin/python bench/soak.py --minutes 10

Creates its own database (dropped at the end) and serves a simulator. Until the
time is up, each run: changes a share of the accounts (and now and then deletes
one), picks its faults (5xx, dropped connections, truncated bodies, a rate limit,
session expiry; in some runs accounts that fail past the retry budget; every
``--kill-every``-th run a SIGKILL mid-run followed by a rerun), imports with
``-d 0`` (every customer refreshed), and compares the whole database with the
simulator's truth. Every fourth run is a ``--customers-only`` then an
``--inventory-only`` pass. A run may end in exit 0 (then the whole database must
be exact) or exit 1 naming failed accounts (then those must be exactly the ones
made to fail, and everything else exact). Anything else counts as a mismatch.

Prints runs, accounts checked, faults injected and mismatches (must be 0); exits 1
when there was any mismatch.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from sonar_bdc.importer import run_import
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Faults, Simulator, generate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import dbcompare  # noqa: E402  (the tests' whole-database comparison)

SCHEMA = "soak"


@dataclass
class Tally:
    runs: int = 0
    killed: int = 0
    exit_1: int = 0
    accounts_checked: int = 0
    mismatches: int = 0
    examples: list[str] = field(default_factory=list)

    def problems(self, run: int, found: list[str]) -> None:
        self.mismatches += len(found)
        self.examples += [f"run {run}: {problem}" for problem in found[: 5 - len(self.examples)]]


@contextmanager
def soak_database(admin: dict) -> Iterator[dict]:
    name = f"sonar_bdc_soak_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db = {**admin, "dbname": name}
    try:
        with psycopg.connect(**db, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield db
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def settings_for(sim: Simulator, db: dict, **kw: object) -> Settings:
    base = Settings(
        sonar_protocol="http",
        sonar_host=sim.base_url.removeprefix("http://"),
        sonar_username="admin",
        sonar_password="sonar",
        postgres_host=db["host"],
        postgres_port=db["port"],
        postgres_user=db["user"],
        postgres_db=db["dbname"],
        prefix=f"{SCHEMA}.",
        days=0,
        workers=8,
        initial_backoff=0.05,
        log_file=None,
    )
    return dataclasses.replace(base, **kw)


def env_for(sim: Simulator, db: dict) -> dict[str, str]:
    return {
        **os.environ,
        "SONAR_PROTOCOL": "http",
        "SONAR_HOST": sim.base_url.removeprefix("http://"),
        "SONAR_USERNAME": "admin",
        "SONAR_PASSWORD": "sonar",
        "POSTGRES_HOST": db["host"],
        "POSTGRES_PORT": str(db["port"]),
        "POSTGRES_USER": db["user"],
        "POSTGRES_DB": db["dbname"],
    }


# --- what changes between runs -------------------------------------------------------------


def change_sonar(sim: Simulator, rng: random.Random, run: int) -> int:
    """A week of ISP work: some accounts change, now and then one is deleted."""
    changed = len(sim.change_accounts(fraction=rng.uniform(0.02, 0.15), seed=run))
    if rng.random() < 0.3:
        ds = sim.dataset
        account = ds.accounts[rng.choice(ds.live_ids())]
        for item_id in account.item_ids:  # its equipment goes back to a warehouse
            ds.items[item_id].assignee_type = "inventory_locations"
            ds.items[item_id].assignee_id = 1
        account.item_ids, account.deleted = [], True
        ds.version += 1
        changed += 1
    return changed


def pick_faults(sim: Simulator, rng: random.Random, run: int) -> Faults:
    failing = rng.sample(sim.dataset.live_ids(), rng.randint(1, 5)) if rng.random() < 0.3 else []
    return Faults(
        error_rate=rng.uniform(0, 0.08),
        drop_rate=rng.uniform(0, 0.03),
        truncate_rate=rng.uniform(0, 0.03),
        rate_limit=rng.choice((0, 0, 150, 400)),
        session_expiry_every=rng.choice((0, 50, 200)),
        fail_accounts=frozenset(failing),
        seed=run,
    )


# --- one run and its check -----------------------------------------------------------------


def check(
    conn: psycopg.Connection, sim: Simulator, failed: list[int], ids: list[int] | None = None
):
    """Problems of the database against the truth; ``failed`` accounts may be stale."""
    wanted = [
        cid for cid in (ids if ids is not None else sim.dataset.accounts) if cid not in failed
    ]
    problems = dbcompare.mismatches(conn, SCHEMA, sim.dataset, ids=wanted)
    problems += dbcompare.integrity_problems(conn, SCHEMA, stale=failed)
    return len(wanted), problems


def import_once(sim: Simulator, db: dict, run: int) -> list[int]:
    """One import (or a customers-only + inventory-only pair); the failed account ids."""
    passes = [{"customers_only": True}, {"inventory_only": True}] if run % 4 == 3 else [{}]
    failed: set[int] = set()
    for options in passes:
        summary = run_import(settings_for(sim, db, **options), show_progress=False)
        if summary.exit_code not in (0, 1):
            raise RuntimeError(f"exit {summary.exit_code}")
        failed |= set(summary.failed)
    return sorted(failed)


def killed_import(sim: Simulator, db: dict, workdir: Path, rng: random.Random) -> None:
    """``direct_bdc_import.py`` killed with SIGKILL after a random share of the details."""
    before = sim.requests_by_kind.get("detail", 0)
    target = before + rng.randint(1, max(1, len(sim.dataset.accounts) * 3 // 4))
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "direct_bdc_import.py"), "-p", f"{SCHEMA}.", "-d", "0",
         "-w", "8", "-b", "20", "-c", "100", "--initial-backoff", "0.05"],
        env=env_for(sim, db), cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while proc.poll() is None and sim.requests_by_kind.get("detail", 0) < target:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def committed_by_killed_run(conn: psycopg.Connection, since: datetime) -> tuple[list, list]:
    """(customers fully refreshed since ``since``, the others) after a killed run."""
    stale = dbcompare.stale_ids(conn, SCHEMA, since) | dbcompare.stale_ids(
        conn, SCHEMA, since, "inventory"
    )
    query = sql.SQL("SELECT id FROM {}.customers").format(sql.Identifier(SCHEMA))
    everyone = {r[0] for r in conn.execute(query).fetchall()}
    return sorted(everyone - stale), sorted(stale)


def soak_run(ctx: dict, run: int) -> str:
    sim, db, conn, tally, rng = ctx["sim"], ctx["db"], ctx["conn"], ctx["tally"], ctx["rng"]
    changed = change_sonar(sim, rng, run) if run > 0 else 0
    faults = pick_faults(sim, rng, run) if run > 0 else Faults()
    sim.faults = faults
    note = ""
    if run > 0 and run % ctx["kill_every"] == 0:
        since = datetime.now(timezone.utc)
        killed_import(sim, db, ctx["workdir"], rng)
        tally.killed += 1
        done, stale = committed_by_killed_run(conn, since)
        checked, problems = check(conn, sim, stale, ids=done)
        tally.accounts_checked += checked
        tally.problems(run, [f"after SIGKILL: {p}" for p in problems])
        note = f", killed after {len(done)} customers"
    try:
        failed = import_once(sim, db, run)
    except Exception as exc:  # an unexpected end is a mismatch, not the end of the soak
        tally.problems(run, [f"the import ended with {type(exc).__name__}: {exc}"])
        return f"run {run}: FAILED ({exc})"
    unexpected = sorted(set(failed) - set(faults.fail_accounts))
    if unexpected:
        tally.problems(run, [f"accounts failed without a persistent fault: {unexpected}"])
    tally.exit_1 += bool(failed)
    checked, problems = check(conn, sim, failed)
    tally.accounts_checked += checked
    tally.problems(run, problems)
    return (
        f"run {run}: {changed} changed, exit {1 if failed else 0}"
        f" ({len(failed)} failed as injected){note}, {checked} checked, {len(problems)} mismatches"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to soak (10)")
    parser.add_argument("--accounts", type=int, default=1500, help="simulated accounts (1500)")
    parser.add_argument("--seed", type=int, default=1, help="dataset and fault seed (1)")
    parser.add_argument("--kill-every", type=int, default=5, help="SIGKILL every N-th run (5)")
    parser.add_argument("--log-file", help="the importer's log (default: none)")
    parser.add_argument("--host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--user", default=os.environ.get("PGUSER", "postgres"))
    return parser.parse_args(argv)


def quiet_logging(log_file: str | None) -> None:
    logger = logging.getLogger("sonar_bdc")
    logger.propagate, logger.handlers = False, []
    handler: logging.Handler = logging.NullHandler()
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)


def report(tally: Tally, injected: Counter[str], seconds: float) -> None:
    kinds = ", ".join(f"{kind} {injected[kind]}" for kind in dbcompare.FAULT_KINDS)
    print(f"\nSoak: {seconds / 60:.1f} minutes")
    print(
        f"  runs              {tally.runs} ({tally.killed} killed mid-run, {tally.exit_1} exit 1)"
    )
    print(f"  accounts checked  {tally.accounts_checked}")
    total = sum(injected.values()) + tally.killed
    print(f"  faults injected   {total} ({kinds}, SIGKILL {tally.killed})")
    print(f"  mismatches        {tally.mismatches}")
    for example in tally.examples:
        print(f"    {example}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logging(args.log_file)
    admin = {"host": args.host, "port": args.port, "user": args.user, "dbname": "postgres"}
    tally, started = Tally(), time.monotonic()
    deadline = started + args.minutes * 60
    with (
        soak_database(admin) as db,
        psycopg.connect(**db, autocommit=True) as conn,
        Simulator(generate(accounts=args.accounts, seed=args.seed)) as sim,
        tempfile.TemporaryDirectory() as workdir,
    ):
        injected = dbcompare.count_faults(sim)
        ctx = {"sim": sim, "db": db, "conn": conn, "tally": tally, "workdir": Path(workdir),
               "rng": random.Random(args.seed), "kill_every": args.kill_every}  # fmt: skip
        while tally.runs == 0 or time.monotonic() < deadline:
            print(soak_run(ctx, tally.runs), flush=True)
            tally.runs += 1
    report(tally, injected, time.monotonic() - started)
    return 1 if tally.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
