"""Every failure ends exact, or says what is missing and the next run completes it.

The issue's fault scenarios against the simulator and real PostGIS: API faults
together, faults past the retry budget, SIGKILL at chosen points, PostgreSQL
restarted mid-run (on a private cluster), and two imports at once. Each ends by
comparing the whole database with the simulator's truth (``dbcompare``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import dbcompare
from sonar_bdc.cli import main
from sonar_bdc.importer import run_import
from sonar_bdc.simulator import Faults, Simulator, generate, views
from test_import import env_for

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
    pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    faults = Faults(
        error_rate=0.05,
        drop_rate=0.02,
        truncate_rate=0.02,
        rate_limit=200,  # requests/s: 16 workers send more than that
        session_expiry_every=200,
        seed=3,
    )
    with Simulator(generate(accounts=2000, seed=21), faults=faults) as sim:
        injected = dbcompare.count_faults(sim)
        config = settings(sim, schema, workers=16, initial_backoff=0.05)
        summary = run_import(config, show_progress=False)
        assert summary.exit_code == 0, (summary.failed, dict(injected))
        assert_exact(pg_conn, schema, sim)
    for kind in ("rate_limited", "error", "drop", "truncate", "session_expired"):
        assert injected[kind] > 0, f"no {kind} fault was injected: {dict(injected)}"
    # libcurl itself sends a request again, once, when a kept-alive connection closes
    # without an answer: such a drop never reaches the retry layer or its counters.
    resent = sim.request_count - summary.requests
    assert 0 <= resent <= injected["drop"]
    # Every other 429, 5xx, dropped and truncated answer was retried once, and counted.
    # A retry can also follow a session that expired again right after a new login.
    retriable = dbcompare.retriable_faults(injected) - resent
    assert retriable <= summary.retries <= retriable + injected["session_expired"]
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
    assert main([*argv, "-d", "0"]) == 1

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
    """SIGKILL the import once it waits for our lock; return the statement it waits in.

    pg_stat_activity reads a backend's query text from a snapshot but its wait event
    live, so the first sighting can pair the statement before (the staging COPY) with
    the lock wait of the upsert after it. A backend waiting for our lock cannot move
    on, so the statement read again, in a new snapshot, is the one that waits.
    """

    def blocked() -> bool:
        assert proc.poll() is None, proc.communicate()[0]
        return blocked_statement(conn, db) is not None

    wait_until(blocked, "the import to block on the locked row")
    statement = blocked_statement(conn, db)  # autocommit: a new snapshot
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert statement is not None
    return statement


def import_sessions(conn: psycopg.Connection, db: dict) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
    return conn.execute(query, [db["dbname"], "sonar-bdc"]).fetchone()[0]


@contextlib.contextmanager
def holding_row(
    db: dict, schema: str, customer_id: int, conn: psycopg.Connection
) -> Iterator[None]:
    """``hold_row`` until the block ends, then wait for a killed import's session to go.

    The session of a killed import ends once its blocked statement does; until then
    it holds the run lock, and a rerun would rightly refuse to start.
    """
    lock = hold_row(db, schema, customer_id)
    try:
        yield
    finally:
        lock.close()
    wait_until(lambda: import_sessions(conn, db) == 0, "the killed import's session to end")


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
    with holding_row(db, schema, middle, pg_conn):
        proc = spawn_import(sim, db, schema, tmp_path, "-d", "0")
        statement = kill_when_blocked(proc, pg_conn, db)
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
    with holding_row(db, schema, target, pg_conn):
        statement = kill_when_blocked(proc, pg_conn, db)
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
    with holding_row(db, schema, live[len(live) // 2 + 15], pg_conn):
        statement = kill_when_blocked(proc, pg_conn, db)
    assert "inventory_updated_at" in statement
    never = datetime(1970, 1, 1, tzinfo=timezone.utc)
    without_inventory = dbcompare.stale_ids(pg_conn, schema, never, "inventory")
    assert 0 < len(without_inventory) < len(live)  # part committed, part not
    assert dbcompare.integrity_problems(pg_conn, schema) == []
    sim.faults = Faults()
    finish(spawn_import(sim, db, schema, tmp_path, "--inventory-only"))
    assert_exact(pg_conn, schema, sim)


# --- 4. PostgreSQL restarted in the middle of a run ---------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateCluster:
    """A throwaway PostgreSQL cluster on its own port (run by postgres when we are root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sonar_bdc_pg_"))
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to postgres
            shutil.chown(self.dir, "postgres", "postgres")
        self.data, self.log = self.dir / "data", self.dir / "server.log"
        self.port = free_port()
        self.params = {"host": "127.0.0.1", "port": self.port, "user": "postgres",
                       "dbname": "postgres"}  # fmt: skip

    def pg_ctl(self, *args: str) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                          "-w", "-t", "60", *args)  # fmt: skip

    def _as_postgres(self, *argv: str) -> None:
        command = list(argv) if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)  # fmt: skip

    def start(self) -> None:
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres", "--no-sync")  # fmt: skip
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("start", "-o", options)
        with psycopg.connect(**self.params, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("sonar-bdc: error:")]


LOG_LINE = re.compile(r"\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def stray_lines(out: str) -> list[str]:
    """Console lines that are neither our log lines nor our one error line (tracebacks...)."""
    ours = ("sonar-bdc: error:", "Import summary", "  ")
    return [
        line
        for line in out.splitlines()
        if line.strip() and not LOG_LINE.match(line) and not line.startswith(ours)
    ]


@pytest.fixture(scope="module")
def restarted_run(tmp_path_factory) -> Iterator[dict]:
    """One import whose PostgreSQL restarts mid-run, then a rerun; what each did."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"initdb is not available at {PG_BIN}: cannot start a private cluster")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot run initdb as postgres")
    cluster, cwd = PrivateCluster(), tmp_path_factory.mktemp("restart")
    try:
        cluster.start()
        with Simulator(generate(accounts=400, seed=5), faults=Faults(latency=0.005)) as sim:
            db, schema = cluster.params, "sonar"
            proc = spawn_import(sim, db, schema, cwd)
            wait_until(lambda: sim.requests_by_kind.get("detail", 0) > 0, "details to flow")
            live = sim.dataset.live_ids()
            # Restart while the import is inside a write: it waits for a locked row.
            lock = hold_row(db, schema, live[len(live) // 2 + 15])
            with psycopg.connect(**db, autocommit=True) as conn:
                wait_until(lambda: blocked_statement(conn, db), "the import to block")
            cluster.pg_ctl("restart", "-m", "fast")
            with contextlib.suppress(psycopg.Error):
                lock.close()
            out, _ = proc.communicate(timeout=120)
            sim.faults = Faults()
            rerun = spawn_import(sim, db, schema, cwd)
            rerun_out, _ = rerun.communicate(timeout=120)
            with psycopg.connect(**db, autocommit=True) as conn:
                problems = dbcompare.mismatches(conn, schema, sim.dataset)
                problems += dbcompare.integrity_problems(conn, schema)
        yield {"code": proc.returncode, "out": out, "rerun_code": rerun.returncode,
               "rerun_out": rerun_out, "problems": problems}  # fmt: skip
    finally:
        cluster.stop()


def test_postgresql_restart_mid_run_then_the_rerun_is_exact(restarted_run) -> None:
    assert restarted_run["rerun_code"] == 0, restarted_run["rerun_out"]
    assert restarted_run["problems"] == [], restarted_run["problems"][:10]


def test_postgresql_restart_mid_run_finishes_or_stops_with_exit_1_and_one_clear_line(
    restarted_run,
) -> None:
    code, out = restarted_run["code"], restarted_run["out"]
    assert stray_lines(out) == [], out
    if code != 0:  # reconnecting and finishing is fine too
        assert code == 1, out
        lines = error_lines(out)
        assert len(lines) == 1, out
        assert "database" in lines[0].lower() or "postgresql" in lines[0].lower(), out


# --- 5. The same import twice at once -------------------------------------------------------


def waiting_imports(conn: psycopg.Connection, db: dict) -> int:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        " AND application_name = 'sonar-bdc' AND wait_event_type = 'Lock'"
    )
    return conn.execute(query, [db["dbname"]]).fetchone()[0]


class HeldReport:
    """Report requests the simulator holds (``asked``) until ``release`` is set."""

    def __init__(self) -> None:
        self.release, self._asked = threading.Event(), list[int]()

    @property
    def asked(self) -> int:
        return len(self._asked)

    def ask(self) -> None:
        self._asked.append(1)  # list.append is atomic: server threads may race here


@contextlib.contextmanager
def report_held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldReport]:
    """The simulator answers no report request until ``release`` is set.

    An import asks for the report only once it holds the run lock, so while the first
    request waits here, that import certainly holds the lock: a second import started
    now overlaps it, whatever the machine's speed.
    """
    held, answer = HeldReport(), views.report

    def hold(state: Any, req: Any) -> Any:
        held.ask()
        held.release.wait(timeout=120)
        return answer(state, req)

    monkeypatch.setattr(views, "report", hold)
    try:
        yield held
    finally:
        held.release.set()


def assert_the_second_refuses_while_the_first_runs(
    procs: list[subprocess.Popen], held: HeldReport
) -> None:
    """One import holds the run lock (its report request is held): the other must
    refuse at once with one clear line, and the first then finishes.

    Without the lock the other import would ask for the report too: that is a failure,
    seen at once rather than after a timeout."""
    wait_until(
        lambda: held.asked >= 2 or any(p.poll() is not None for p in procs),
        "one import to refuse, or both to ask for the report",
    )
    assert held.asked <= 1, "both imports ran at once"
    refused = next(p for p in procs if p.poll() is not None)
    out = finish_any(refused)
    assert refused.returncode == 75, out
    lines = error_lines(out)
    assert len(lines) == 1 and "another sonar-bdc import is running" in lines[0], out
    held.release.set()
    (running,) = [p for p in procs if p is not refused]
    finish(running)


def finish_any(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=120)
    return out


def test_two_imports_at_once_one_refuses_clearly_and_the_other_finishes(
    sim, pg_schema, pg_conn, tmp_path, monkeypatch
) -> None:
    db, schema = pg_schema
    finish(spawn_import(sim, db, schema, tmp_path, "--customers-only"))
    sim.change_accounts(fraction=0.2, seed=3)
    with report_held(monkeypatch) as held:
        procs = [spawn_import(sim, db, schema, tmp_path, "-d", "0") for _ in range(2)]
        assert_the_second_refuses_while_the_first_runs(procs, held)
    finish(spawn_import(sim, db, schema, tmp_path, "-d", "0"))
    assert_exact(pg_conn, schema, sim)


def test_two_first_imports_at_once_on_a_new_schema_one_refuses_clearly_and_the_other_finishes(
    sim, pg_schema, pg_conn, tmp_path, monkeypatch
) -> None:
    db, schema = pg_schema
    # Hold the schema's creation open, so both imports reach CREATE SCHEMA together.
    gate = psycopg.connect(**db)
    with report_held(monkeypatch) as held:
        try:
            gate.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            procs = [spawn_import(sim, db, schema, tmp_path) for _ in range(2)]
            wait_until(lambda: waiting_imports(pg_conn, db) == 2, "both imports to wait")
        finally:
            gate.rollback()
            gate.close()
        assert_the_second_refuses_while_the_first_runs(procs, held)
    finish(spawn_import(sim, db, schema, tmp_path))
    assert_exact(pg_conn, schema, sim)
