"""Each exit code, really produced, and README's table checked against the mapping.

0 done, 1 some customers failed, 2 configuration or environment (one line), 75
another import holds the run lock, 130 Ctrl-C, 143 SIGTERM: each is what a cron job
or a script decides on, so each is produced here by the real thing (a lock held by
another connection, a real SIGTERM to a real import) and never by a mock.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.cli import main
from sonar_bdc.errors import EXIT_CODES, PrefixTaken, SonarConnectionFailed
from sonar_bdc.simulator import Faults, Simulator, generate
from sonar_bdc.sonar.v1 import SonarClient, SonarConfig
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.migrate import schema_version
from test_import import ROOT, check_exact, count, env_for
from test_sonar_connect import certificate, tls_port  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)


PASSWORD = "x7-not-in-any-message"  # masking a common word would garble what we check


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(generate(accounts=120, seed=3), password=PASSWORD) as simulator:
        yield simulator


def run(sim: Simulator, db: dict, schema: str, monkeypatch, *argv: str, **environ: str) -> int:
    """``sonar-bdc import -p SCHEMA.`` in-process against ``sim`` (a later ``-p`` wins)."""
    for key, value in {**env_for(sim, db), "SONAR_PASSWORD": PASSWORD, **environ}.items():
        monkeypatch.setenv(key, value)
    try:
        return main(["import", "-p", f"{schema}.", "--initial-backoff", "0.01", *argv])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


LOG_LINE = re.compile(r"\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def one_line(capsys) -> str:
    """The one line on stderr that is not a log line: the error."""
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if not LOG_LINE.match(line)]
    assert len(lines) == 1, err
    return lines[0]


# --- README ------------------------------------------------------------------------------


def readme_exit_codes() -> dict[int, str]:
    """The rows of the table under README's "Exit codes": {code: meaning}."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("Exit codes") :]
    rows = {}
    for line in section.splitlines()[1:]:
        if rows and not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells and re.fullmatch(r"`\d+`", cells[0]):
            rows[int(cells[0].strip("`"))] = cells[1]
    return rows


def test_the_readme_table_is_the_mapping_the_code_uses() -> None:
    assert readme_exit_codes() == EXIT_CODES


# --- 75: another import holds the lock ----------------------------------------------------


def test_a_second_import_while_the_lock_is_held_exits_75_and_logs_it(
    sim, pg_schema, monkeypatch, capsys, tmp_path
) -> None:
    db, schema = pg_schema
    with psycopg.connect(**db, autocommit=True) as holder:
        key = parse_prefix(f"{schema}.").lock_key()
        assert holder.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()[0]
        before = sim.requests_by_kind.get("detail", 0)
        assert run(sim, db, schema, monkeypatch) == 75
        line = one_line(capsys)
        assert line.startswith("sonar-bdc: error: another sonar-bdc import is running"), line
        assert sim.requests_by_kind.get("detail", 0) == before  # nothing was fetched
    # The log file of the refused run records the same line (cron sees only the log),
    # and says where it is.
    log_text = (tmp_path / "bdc_import.log").read_text()
    assert line in log_text and f"log file: {tmp_path / 'bdc_import.log'}" in log_text
    assert run(sim, db, schema, monkeypatch) == 0  # the lock is free again


# --- 2: configuration, one line, nothing fetched -----------------------------------------


@pytest.mark.parametrize(
    ("environ", "culprit"),
    [
        ({"SONAR_HOST": "{host}/api/v1"}, "has a path"),
        ({"SONAR_HOST": "{host}?x=1"}, "has a query"),
        ({"SONAR_HOST": "my sonar.example.com"}, "not a host name"),
        ({"SONAR_HOST": "example.sonar.software"}, "the example from .env.example"),
        ({"SONAR_HOST": "https://{host}"}, "SONAR_PROTOCOL=http"),
    ],
)
def test_sonar_host_mistakes_exit_2_before_any_request(
    sim, pg_schema, monkeypatch, capsys, environ, culprit
) -> None:
    db, schema = pg_schema
    host = sim.base_url.removeprefix("http://")
    environ = {key: value.format(host=host) for key, value in environ.items()}
    before = sim.request_count
    assert run(sim, db, schema, monkeypatch, **environ) == 2
    line = one_line(capsys)
    assert "SONAR_HOST" in line and culprit in line, line
    assert sim.request_count == before


def test_a_pasted_address_is_taken_whole(sim, pg_schema, monkeypatch) -> None:
    db, schema = pg_schema
    environ = {"SONAR_HOST": sim.base_url + "/"}
    monkeypatch.delenv("SONAR_PROTOCOL", raising=False)
    for key, value in {**env_for(sim, db), "SONAR_PASSWORD": PASSWORD, **environ}.items():
        if key != "SONAR_PROTOCOL":
            monkeypatch.setenv(key, value)
    assert main(["import", "-p", f"{schema}.", "-l", "5"]) == 0


@pytest.mark.parametrize("days", ["inf", "1e308", "100000000", "nan"])
def test_absurd_days_exit_2_before_anything_is_fetched(
    sim, pg_schema, monkeypatch, capsys, days
) -> None:
    db, schema = pg_schema
    before = sim.request_count
    assert run(sim, db, schema, monkeypatch, "-d", days) == 2
    assert "-d/--days must be a number of days from 0 to 36500" in one_line(capsys)
    assert sim.request_count == before


def test_an_env_file_with_invalid_utf8_exits_2_naming_it(
    sim, pg_schema, monkeypatch, capsys, tmp_path
) -> None:
    db, schema = pg_schema
    (tmp_path / "prod.env").write_bytes(b"SONAR_USERNAME=jos\xe9\n")
    assert run(sim, db, schema, monkeypatch, "--env-file", "prod.env") == 2
    line = one_line(capsys)
    assert str(tmp_path / "prod.env") in line and "UTF-8" in line, line


def test_another_applications_metadata_table_exits_2_naming_it(
    sim, pg_schema, pg_conn, monkeypatch, capsys
) -> None:
    db, schema = pg_schema
    pg_conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    pg_conn.execute(
        sql.SQL("CREATE TABLE {}.metadata (id serial PRIMARY KEY, title text, body jsonb)").format(
            sql.Identifier(schema)
        )
    )
    assert run(sim, db, schema, monkeypatch) == 2
    line = one_line(capsys)
    assert f"table {schema}.metadata was not created by sonar-bdc" in line, line
    assert f"-p {schema}.sonar_bdc_" in line
    assert count(pg_conn, schema, "metadata") == 0  # theirs, untouched
    tables = pg_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [schema]
    ).fetchone()[0]
    assert tables == 1  # nothing of ours created beside it
    # The suggested prefix works.
    assert run(sim, db, schema, monkeypatch, "-p", f"{schema}.sonar_bdc_", "-l", "5") == 0


def test_another_applications_customers_table_exits_2_naming_it(
    sim, pg_schema, pg_conn, monkeypatch, capsys
) -> None:
    db, schema = pg_schema
    pg_conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    pg_conn.execute(
        sql.SQL("CREATE TABLE {}.customers (id int PRIMARY KEY, foo text)").format(
            sql.Identifier(schema)
        )
    )
    assert run(sim, db, schema, monkeypatch) == 2
    line = one_line(capsys)
    assert f"table {schema}.customers was not created by sonar-bdc" in line, line
    assert f"-p {schema}.sonar_bdc_" in line
    tables = pg_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [schema]
    ).fetchone()[0]
    assert tables == 1  # theirs alone: nothing of ours created beside it
    # What status reads first refuses it too, naming every table of theirs.
    pg_conn.execute(sql.SQL("CREATE TABLE {}.groups (x int)").format(sql.Identifier(schema)))
    with pytest.raises(PrefixTaken, match=rf"tables {schema}.customers, {schema}.groups were"):
        schema_version(pg_conn, parse_prefix(f"{schema}."))
    assert schema_version(pg_conn, parse_prefix(f"{schema}.sonar_bdc_")) == 0  # the way out


# --- DNS and TLS failures are not retried ------------------------------------------------


def client_for(url: str, **over: object) -> SonarClient:
    settings = {"max_retries": 5, "initial_backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0}
    return SonarClient(SonarConfig(url, "admin", "sonar", **{**settings, **over}))  # type: ignore[arg-type]


def test_a_host_name_that_does_not_resolve_fails_at_the_first_attempt() -> None:
    # RFC 6761: .invalid never resolves, with or without a network.
    with client_for("https://sonar-bdc-test.invalid") as client:
        with pytest.raises(SonarConnectionFailed, match="SONAR_HOST") as info:
            client.login()
        assert (client.stats.requests, client.stats.retries) == (1, 0)
    assert info.value.exit_code == 2 and "sonar-bdc-test.invalid" in str(info.value)


def test_a_host_name_that_does_not_resolve_exits_2(sim, pg_schema, monkeypatch, capsys) -> None:
    db, schema = pg_schema
    code = run(sim, db, schema, monkeypatch, "--max-retries", "50", "--initial-backoff", "60",
               SONAR_HOST="sonar-bdc-test.invalid")  # fmt: skip
    assert code == 2  # 50 retries of 60 s each would time the test out
    assert "SONAR_HOST" in one_line(capsys)


def test_a_certificate_for_another_host_fails_at_the_first_attempt(
    tls_port: int,  # noqa: F811 (the fixture)
    certificate: tuple[Path, Path],  # noqa: F811
) -> None:
    # The certificate names 127.0.0.1 only; "localhost" reaches the same server.
    with client_for(f"https://localhost:{tls_port}", verify=str(certificate[0])) as client:
        with pytest.raises(SonarConnectionFailed, match="SONAR_CA_BUNDLE") as info:
            client.login()
        assert (client.stats.requests, client.stats.retries) == (1, 0)
    assert info.value.exit_code == 2


# --- 143: SIGTERM, as Ctrl-C ---------------------------------------------------------------


def test_sigterm_commits_completed_customers_prints_the_summary_and_exits_143(
    pg_schema, pg_conn, tmp_path
) -> None:
    db, schema = pg_schema
    with Simulator(generate(accounts=250, seed=7), faults=Faults(latency=0.01)) as slow:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "direct_bdc_import.py"), "-p", f"{schema}.", "-w", "4",
             "-b", "10", "-c", "20", "--initial-backoff", "0.01"],
            env=env_for(slow, db), cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        wait_for(lambda: slow.requests_by_kind.get("detail", 0) >= 60, proc)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 143, out
        assert "Import summary (interrupted)" in out
        assert "stopped by SIGTERM: completed work was committed" in out
        log_text = (tmp_path / "bdc_import.log").read_text()
        assert "stopped by SIGTERM" in log_text and "Import summary (interrupted)" in log_text
        done = count(pg_conn, schema, "customers", "updated_at IS NOT NULL")
        assert 0 < done < len(slow.dataset.accounts)
        refreshed = [
            row[0]
            for row in pg_conn.execute(
                sql.SQL(
                    "SELECT id FROM {}.customers WHERE updated_at IS NOT NULL"
                    " AND inventory_updated_at IS NOT NULL"
                ).format(sql.Identifier(schema))
            ).fetchall()
        ]
        check_exact(pg_conn, schema, slow, ids=refreshed)  # what was committed is whole


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.02)
