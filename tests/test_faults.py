"""Every failure ends exact, or says what is missing and the next run completes it.

The issue's fault scenarios against the simulator and real PostGIS: API faults
together, faults past the retry budget, SIGKILL at chosen points, PostgreSQL
restarted mid-run (on a private cluster), and two imports at once. Each ends by
comparing the whole database with the simulator's truth (``dbcompare``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

import dbcompare
from sonar_bdc.cli import main
from sonar_bdc.importer import run_import
from sonar_bdc.simulator import Faults, Simulator, generate
from test_import import env_for, settings_for

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = pytest.mark.timeout(180)


def assert_exact(
    conn: psycopg.Connection, schema: str, sim: Simulator, stale: list[int] = (), **kw
) -> None:
    problems = dbcompare.mismatches(conn, schema, sim.dataset, sim.layout, **kw)
    problems += dbcompare.integrity_problems(conn, schema, stale)
    assert problems == [], problems[:10]


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# --- 1. API faults together ---------------------------------------------------------------


def test_api_faults_together_end_exact_and_the_summary_counts_every_retry(
    pg_schema, pg_conn
) -> None:
    db, schema = pg_schema
    faults = Faults(
        error_rate=0.05,
        drop_rate=0.02,
        truncate_rate=0.02,
        rate_limit=300,  # requests/s: 16 workers send more than that
        session_expiry_every=200,
        seed=3,
    )
    with Simulator(generate(accounts=2000, seed=21), faults=faults) as sim:
        injected = dbcompare.count_faults(sim)
        settings = settings_for(sim, db, schema, workers=16, initial_backoff=0.05)
        summary = run_import(settings, show_progress=False)
        assert summary.exit_code == 0, (summary.failed, dict(injected))
        assert_exact(pg_conn, schema, sim)
    for kind in ("rate_limited", "error", "drop", "truncate", "session_expired"):
        assert injected[kind] > 0, f"no {kind} fault was injected: {dict(injected)}"
    # Every 429, 5xx, dropped and truncated answer was retried once, and counted.
    assert summary.retries == dbcompare.retriable_faults(injected)
    assert summary.requests == sim.request_count
    assert any("retries" in line and str(summary.retries) in line for line in summary.lines())


# --- 2. Faults past the retry budget --------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(generate(accounts=400, seed=5)) as simulator:
        yield simulator


def test_accounts_failing_past_the_budget_exit_1_stay_stale_and_the_next_run_completes(
    sim, pg_schema, pg_conn, tmp_path, monkeypatch
) -> None:
    db, schema = pg_schema
    for key, value in env_for(sim, db).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    argv = ["import", "-p", f"{schema}.", "-w", "8", "--initial-backoff", "0.01"]
    assert main(argv) == 0
    assert_exact(pg_conn, schema, sim)

    # A week later: accounts changed, and some of them fail past the retry budget
    # while random faults hit everything else.
    changed = sim.change_accounts(fraction=0.2, seed=9)
    bad = sorted(changed[::7])
    assert len(bad) >= 5
    sim.faults = Faults(error_rate=0.05, drop_rate=0.02, fail_accounts=bad, seed=4)
    before = datetime.now(timezone.utc)
    assert main([*argv, "-d", "0", "--max-retries", "3"]) == 1

    log_text = (tmp_path / "bdc_import.log").read_text()
    failed_line = next(line for line in log_text.splitlines() if "customers failed" in line)
    assert failed_line.rsplit(": ", 1)[-1] == ", ".join(map(str, bad))
    assert dbcompare.stale_ids(pg_conn, schema, before) == set(bad)
    others = [cid for cid in sim.dataset.accounts if cid not in bad]
    assert_exact(pg_conn, schema, sim, stale=bad, ids=others)
    # The failed accounts still hold last week's detail: stale, not half-written.
    assert dbcompare.mismatches(pg_conn, schema, sim.dataset, ids=bad) != []

    sim.faults = Faults()
    assert main([*argv, "-d", "0"]) == 0
    assert_exact(pg_conn, schema, sim)


# --- 3. SIGKILL at chosen points ----------------------------------------------------------


def spawn_import(sim: Simulator, db: dict, schema: str, cwd: Path, *extra: str) -> subprocess.Popen:
    """``direct_bdc_import.py`` in a subprocess: small batches, frequent commits."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "direct_bdc_import.py"), "-p", f"{schema}.", "-w", "4",
         "-b", "10", "-c", "40", "--initial-backoff", "0.01", *extra],
        env=env_for(sim, db), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen, code: int = 0) -> str:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, out
    return out


def hold_row(db: dict, schema: str, customer_id: int) -> psycopg.Connection:
    """Lock one customer row in an open transaction: the importer blocks when it writes it."""
    conn = psycopg.connect(**db)
    query = sql.SQL(
        "SELECT updated_at, inventory_updated_at FROM {}.customers WHERE id = %s FOR UPDATE"
    )
    row = conn.execute(query.format(sql.Identifier(schema)), [customer_id]).fetchone()
    assert row is not None, f"customer {customer_id} is not in the database yet"
    return conn


def blocked_statement(conn: psycopg.Connection, db: dict) -> str | None:
    """The statement an import is blocked on by a row lock, if it is."""
    row = conn.execute(
        "SELECT query FROM pg_stat_activity WHERE datname = %s AND application_name = 'sonar-bdc'"
        " AND wait_event_type = 'Lock'",
        [db["dbname"]],
    ).fetchone()
    return None if row is None else row[0]


def kill_when_blocked(proc: subprocess.Popen, conn: psycopg.Connection, db: dict) -> str:
    """SIGKILL the import once it waits for our lock; return the statement it was in."""
    statement: list[str] = []

    def blocked() -> bool:
        assert proc.poll() is None, proc.communicate()[0]
        found = blocked_statement(conn, db)
        statement.extend([found] if found else [])
        return bool(found)

    wait_until(blocked, "the import to block on the locked row")
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return statement[0]


def meta(conn: psycopg.Connection, schema: str, key: str) -> str | None:
    query = sql.SQL("SELECT value FROM {}.metadata WHERE key = %s").format(sql.Identifier(schema))
    row = conn.execute(query, [key]).fetchone()
    return None if row is None else row[0]


def refreshed_ids(conn: psycopg.Connection, schema: str) -> list[int]:
    query = sql.SQL(
        "SELECT id FROM {}.customers WHERE updated_at IS NOT NULL"
        " AND inventory_updated_at IS NOT NULL"
    ).format(sql.Identifier(schema))
    return [r[0] for r in conn.execute(query).fetchall()]


def test_sigkill_during_the_report_write_then_rerun_is_exact(
    sim, pg_schema, pg_conn, tmp_path
) -> None:
    db, schema = pg_schema
    finish(spawn_import(sim, db, schema, tmp_path))
    sim.change_accounts(fraction=0.2, seed=2)
    first_seen = meta(pg_conn, schema, "report_imported_at")
    middle = list(sim.dataset.accounts)[len(sim.dataset.accounts) * 2 // 3]
    lock = hold_row(db, schema, middle)
    try:
        proc = spawn_import(sim, db, schema, tmp_path, "-d", "0")
        statement = kill_when_blocked(proc, pg_conn, db)
    finally:
        lock.close()
    assert "last_seen_at" in statement  # the report upsert
    assert meta(pg_conn, schema, "report_imported_at") == first_seen
    partly = pg_conn.execute(
        sql.SQL("SELECT count(DISTINCT last_seen_at) FROM {}.customers").format(
            sql.Identifier(schema)
        )
    ).fetchone()[0]
    assert partly == 2  # some report batches were committed, the rest were not
    assert dbcompare.integrity_problems(pg_conn, schema) == []
    finish(spawn_import(sim, db, schema, tmp_path, "-d", "0"))
    assert_exact(pg_conn, schema, sim)


def test_sigkill_in_the_middle_of_details_then_rerun_is_exact(
    sim, pg_schema, pg_conn, tmp_path
) -> None:
    db, schema = pg_schema
    sim.faults = Faults(latency=0.005)
    proc = spawn_import(sim, db, schema, tmp_path)
    wait_until(lambda: sim.requests_by_kind.get("detail", 0) > 0, "the first detail request")
    live = sim.dataset.live_ids()
    target = live[len(live) // 2 + 15]  # inside a commit interval, not at its start
    lock = hold_row(db, schema, target)
    try:
        statement = kill_when_blocked(proc, pg_conn, db)
    finally:
        lock.close()
    assert "account_status_id" in statement  # the detail upsert
    refreshed = refreshed_ids(pg_conn, schema)
    assert 0 < len(refreshed) < sim.requests_by_kind["detail"]  # some were not committed
    # What was committed is whole: every refreshed customer is exact.
    assert_exact(pg_conn, schema, sim, ids=refreshed)
    sim.faults = Faults()
    finish(spawn_import(sim, db, schema, tmp_path))
    assert_exact(pg_conn, schema, sim)


def test_sigkill_during_inventory_then_rerun_is_exact(sim, pg_schema, pg_conn, tmp_path) -> None:
    db, schema = pg_schema
    finish(spawn_import(sim, db, schema, tmp_path, "--customers-only"))
    assert_exact(pg_conn, schema, sim, inventory=False)
    sim.faults = Faults(latency=0.005)
    first_seen = meta(pg_conn, schema, "report_imported_at")
    proc = spawn_import(sim, db, schema, tmp_path, "--inventory-only")
    wait_until(
        lambda: meta(pg_conn, schema, "report_imported_at") != first_seen, "the report write"
    )
    live = sim.dataset.live_ids()
    lock = hold_row(db, schema, live[len(live) // 2 + 15])
    try:
        statement = kill_when_blocked(proc, pg_conn, db)
    finally:
        lock.close()
    assert "inventory_updated_at" in statement
    never = datetime(1970, 1, 1, tzinfo=timezone.utc)
    without_inventory = dbcompare.stale_ids(pg_conn, schema, never, "inventory")
    assert 0 < len(without_inventory) < len(live)  # part committed, part not
    assert dbcompare.integrity_problems(pg_conn, schema) == []
    sim.faults = Faults()
    finish(spawn_import(sim, db, schema, tmp_path, "--inventory-only"))
    assert_exact(pg_conn, schema, sim)
