"""The demo writes simulated customers only into tables of its own (issue 14, defect 1)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sonar_bdc import cli
from sonar_bdc.bdc.cli_args import previous_filing_date
from sonar_bdc.errors import ConfigError
from sonar_bdc.importer import run_import
from sonar_bdc.settings import ENV_FIELDS, Settings
from sonar_bdc.simulator import Simulator, generate
from sonar_bdc.store.demo import DEMO_MARK, DEMO_PREFIX

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def demo_env(pg_database: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The test database in the environment, no .env, a log file in tmp_path."""
    for name in ENV_FIELDS:
        monkeypatch.delenv(name, raising=False)
    env = {
        "POSTGRES_HOST": pg_database["host"],
        "POSTGRES_PORT": str(pg_database["port"]),
        "POSTGRES_USER": pg_database["user"],
        "POSTGRES_DB": pg_database["dbname"],
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return ["--accounts", "40", "-w", "2", "--log-file", str(tmp_path / "demo.log")]


def state(conn: psycopg.Connection, schema: str) -> tuple:
    """What the demo must not change: customers, services and the import record."""
    t = lambda name: sql.Identifier(schema, name)  # noqa: E731
    customers = conn.execute(
        sql.SQL("SELECT count(*), max(last_seen_at), max(updated_at) FROM {}").format(
            t("customers")
        )
    ).fetchone()
    services = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t("services"))).fetchone()
    meta = conn.execute(
        sql.SQL("SELECT key, value FROM {} ORDER BY key").format(t("metadata"))
    ).fetchall()
    return customers, services, meta


def test_the_demo_refuses_a_prefix_holding_a_real_import(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection, demo_env: list[str],
    capsys: pytest.CaptureFixture[str], settings: Callable[..., Settings],
) -> None:  # fmt: skip
    _, schema = pg_schema
    with Simulator(generate(accounts=60, seed=2)) as sim:
        real = settings(sim, schema, workers=2)
        assert run_import(real, show_progress=False).exit_code == 0
    before = state(pg_conn, schema)
    capsys.readouterr()  # the import's own output

    assert cli.main(["demo", "-p", f"{schema}.", "--seed", "7", *demo_env]) == 2
    err = capsys.readouterr().err
    assert f"prefix {schema}." in err and "choose another -p" in err
    assert len(err.strip().splitlines()) == 1
    assert state(pg_conn, schema) == before

    # An import record alone (customers not yet written) is real data too.
    pg_conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, "customers")))
    assert cli.main(["demo", "-p", f"{schema}.", *demo_env]) == 2
    assert "an import record" in capsys.readouterr().err


def test_the_demo_runs_again_on_its_own_prefix(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection, demo_env: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, schema = pg_schema
    prefix = f"{schema}."
    assert cli.main(["demo", "-p", prefix, *demo_env]) == 0
    out = capsys.readouterr().out
    assert f"prefix {prefix}" in out  # the psql hint says where
    # It ends with the end product: the subscription file and the review page, as of the
    # last filing date, their paths printed.
    as_of = previous_filing_date(date.today())
    page = Path("demo_review.html").resolve()
    assert f"demo_subscription_{as_of}.csv" in out and str(page) in out
    assert Path(f"demo_subscription_{as_of}.exceptions.csv").is_file()
    assert 'id="review-data"' in page.read_text(encoding="utf-8")
    assert cli.main(["demo", "-p", prefix, "--seed", "3", *demo_env]) == 0
    mark = pg_conn.execute(
        sql.SQL("SELECT value FROM {} WHERE key = %s").format(sql.Identifier(schema, "metadata")),
        [DEMO_MARK],
    ).fetchone()
    assert mark == ("40 accounts, seed 3, api v1",)


def test_the_demo_default_prefix_is_its_own() -> None:
    args = cli.build_parser().parse_args(["demo"])
    assert args.prefix == DEMO_PREFIX
    assert cli.DEMO_PREFIX is DEMO_PREFIX  # one definition, not two that may drift
    assert args.prefix != Settings().prefix
    assert cli.build_parser().parse_args(["import"]).prefix is None  # import: Settings' default


def test_a_real_import_refuses_the_demos_prefix(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection, demo_env: list[str],
    settings: Callable[..., Settings],
) -> None:  # fmt: skip
    _, schema = pg_schema
    assert cli.main(["demo", "-p", f"{schema}.", *demo_env]) == 0
    before = state(pg_conn, schema)
    with Simulator(generate(accounts=30, seed=5)) as sim:
        real = settings(sim, schema, workers=2)
        with pytest.raises(ConfigError, match="simulated customers of sonar-bdc demo"):
            run_import(real, show_progress=False)
    assert state(pg_conn, schema) == before


def test_an_unfinished_env_file_does_not_stop_the_demo_filing_or_status(
    pg_schema: tuple[dict, str], demo_env: list[str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`cp .env.example .env` leaves the example SONAR_HOST: only the import needs it."""
    _, schema = pg_schema
    example = Path(__file__).resolve().parents[1] / ".env.example"
    (tmp_path / ".env").write_text(
        example.read_text() + "SONAR_PROTOCOL=gopher\nSONAR_CA_BUNDLE=/nowhere.pem\n"
    )
    prefix = f"{schema}."
    assert cli.main(["demo", "-p", prefix, *demo_env]) == 0
    assert cli.main(["status", "-p", prefix]) == 0
    assert cli.main(["bdc", "subscription", "-p", prefix, "--as-of", "2026-06-30"]) == 0
    capsys.readouterr()
    assert cli.main(["import", "-p", prefix]) == 2  # the import does need a real Sonar
    assert "SONAR_" in capsys.readouterr().err


def test_sigterm_stops_the_demo_as_the_import_exit_143_recorded_interrupted(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection, demo_env: list[str],
    tmp_path: Path,
) -> None:  # fmt: skip
    """SIGTERM lands while the writing loop waits on a table lock held here, so it
    arrives at a known point; the demo must stop as `sonar-bdc import` does."""
    _, schema = pg_schema
    prefix = f"{schema}."
    assert cli.main(["demo", "-p", prefix, *demo_env]) == 0  # the tables, to lock
    services = sql.Identifier(schema, "services")
    with psycopg.connect(**pg_schema[0]) as holder:
        holder.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(services))
        proc = subprocess.Popen(
            [sys.executable, "-m", "sonar_bdc.cli", "demo", "-p", prefix, "-f", "-b", "5",
             *demo_env],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            wait_until_waiting_on_a_lock(pg_conn, proc)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)  # the handler runs while the statement waits
        finally:
            holder.rollback()  # the write goes through; the loop then sees the stop
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "stopped by SIGTERM: completed work was committed" in out
    assert "Import summary (interrupted)" in out
    assert "stopped by SIGTERM" in (tmp_path / "demo.log").read_text()
    runs = sql.SQL("SELECT outcome FROM {} ORDER BY id").format(
        sql.Identifier(schema, "import_runs")
    )
    assert [row[0] for row in pg_conn.execute(runs)] == ["complete", "interrupted"]


def wait_until_waiting_on_a_lock(conn: psycopg.Connection, proc: subprocess.Popen) -> None:
    waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'" \
        " AND application_name = 'sonar-bdc' AND datname = current_database()"  # fmt: skip
    deadline = time.monotonic() + 60
    while not conn.execute(waiting).fetchone()[0]:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the demo never reached the locked table"
        time.sleep(0.05)


def test_the_demo_from_the_root_directory_exits_2_naming_the_log_file(
    demo_env: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir("/")
    without_log_file = demo_env[: demo_env.index("--log-file")]
    assert cli.main(["demo", *without_log_file]) == 2
    assert "--log-file bdc_import.log would be written in /" in capsys.readouterr().err
    assert not Path("/bdc_import.log").exists()


def test_the_demo_files_as_of_the_last_filing_date_before_today() -> None:
    assert previous_filing_date(date(2026, 7, 1)) == date(2026, 6, 30)
    assert previous_filing_date(date(2026, 6, 30)) == date(2025, 12, 31)
    assert previous_filing_date(date(2026, 1, 1)) == date(2025, 12, 31)
    assert previous_filing_date(date(2026, 12, 31)) == date(2026, 6, 30)
