"""The filing's gate and ``sonar-bdc status``: no subscription file from an import that
was interrupted, killed, failed, is still running, left customers without detail, or
is too old; the run records behind it. Simulator over loopback, real PostGIS."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.cli import main
from sonar_bdc.errors import SonarAuthError, StoreError
from sonar_bdc.importer import fetching, run_import
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Faults, Simulator, generate
from sonar_bdc.store import Store, ddl, migrate, parse_prefix, queries

AS_OF = "2026-06-30"
REAL_CTRL_C = fetching.stop_signals_as_flag


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(generate(accounts=60, seed=5)) as simulator:
        yield simulator


@pytest.fixture
def env(pg_database: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's environment: the test database, and no stray .env (cwd is tmp_path)."""
    for key, value in {
        "POSTGRES_HOST": pg_database["host"],
        "POSTGRES_PORT": str(pg_database["port"]),
        "POSTGRES_USER": pg_database["user"],
        "POSTGRES_DB": pg_database["dbname"],
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """The shared factory with no retries (a fault ends the run) and two workers."""
    return functools.partial(settings, max_retries=0, workers=2)


class _StopAfter(threading.Event):
    """Ctrl-C as the importer sees it: the flag reads set after ``n`` customers."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def is_set(self) -> bool:
        self.n -= 1
        return self.n < 0


def ctrl_c_after(monkeypatch: pytest.MonkeyPatch, customers: int) -> None:
    @contextlib.contextmanager
    def flag() -> Iterator[threading.Event]:
        yield _StopAfter(customers)

    monkeypatch.setattr(fetching, "stop_signals_as_flag", flag)


def subscription(schema: str, *extra: str) -> int:
    return main(["bdc", "subscription", "--as-of", AS_OF, "-p", f"{schema}.", *extra])


def status(schema: str, *extra: str) -> int:
    return main(["status", "-p", f"{schema}.", *extra])


def runs(conn: psycopg.Connection, schema: str) -> list[tuple]:
    query = sql.SQL(
        "SELECT outcome, finished_at IS NOT NULL, failed, failed_ids, message, parts"
        " FROM {} ORDER BY id"
    ).format(sql.Identifier(schema, "import_runs"))
    return conn.execute(query).fetchall()


def execute(conn: psycopg.Connection, template: str, schema: str, table: str) -> None:
    conn.execute(sql.SQL(template).format(sql.Identifier(schema, table)))


def csv_files(where: Path) -> list[Path]:
    return sorted(where.glob("*.csv"))


# ------------------------------------------------------------------ interrupted imports


def test_interrupted_first_import_is_refused_unless_overridden(
    sim, pg_schema, pg_conn, env, monkeypatch, capsys, settings
) -> None:
    _, schema = pg_schema
    ctrl_c_after(monkeypatch, 10)
    summary = run_import(settings(sim, schema), show_progress=False)
    assert summary.interrupted
    assert runs(pg_conn, schema)[0][:2] == ("interrupted", True)
    capsys.readouterr()

    assert subscription(schema) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "was interrupted before it finished" in err[0]
    assert "never had their account detail imported" in err[0]
    assert "--allow-incomplete-import" in err[0]
    assert csv_files(env) == []

    assert subscription(schema, "--allow-incomplete-import") == 0
    assert [p.name for p in csv_files(env)] == [
        f"bdc_subscription_{AS_OF}.csv",
        f"bdc_subscription_{AS_OF}.exceptions.csv",
    ]
    err = capsys.readouterr().err
    assert "filed anyway (--allow-incomplete-import): the last import" in err
    assert "WARNING" in err

    monkeypatch.setattr(fetching, "stop_signals_as_flag", REAL_CTRL_C)  # a plain import finishes
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    assert [r[0] for r in runs(pg_conn, schema)] == ["interrupted", "complete"]
    assert subscription(schema, "-o", "again.csv") == 0
    assert "oldest account detail" in capsys.readouterr().err


def test_ctrl_c_before_any_detail_is_refused(
    sim, pg_schema, pg_conn, env, monkeypatch, capsys, settings
) -> None:
    _, schema = pg_schema

    def interrupted(self: Store, catalogs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "write_catalogs", interrupted)
    assert run_import(settings(sim, schema), show_progress=False).interrupted
    assert runs(pg_conn, schema)[0][0] == "interrupted"
    capsys.readouterr()
    assert subscription(schema) == 1
    err = capsys.readouterr().err
    assert "was interrupted before it finished" in err
    assert "never had their account detail imported" in err
    assert csv_files(env) == []


def test_a_failed_import_is_refused_and_names_its_error(
    sim, pg_schema, pg_conn, env, monkeypatch, capsys, settings
) -> None:
    _, schema = pg_schema

    def broken(self: Store, catalogs: object) -> None:
        raise StoreError("saving the catalogs failed: disk full")

    monkeypatch.setattr(Store, "write_catalogs", broken)
    with pytest.raises(StoreError):
        run_import(settings(sim, schema), show_progress=False)
    outcome, finished, _, _, message, _ = runs(pg_conn, schema)[0]
    assert (outcome, finished, message) == ("error", True, "saving the catalogs failed: disk full")
    capsys.readouterr()
    assert subscription(schema) == 1
    assert "failed: saving the catalogs failed: disk full" in capsys.readouterr().err
    assert csv_files(env) == []


def test_an_error_mid_batch_is_recorded_without_committing_the_batch(
    sim, pg_schema, pg_conn, monkeypatch, settings
) -> None:
    _, schema = pg_schema
    real_fetch, calls = fetching.Fetcher.__call__, []

    def fetch(self: fetching.Fetcher, job: fetching.Job) -> object:
        calls.append(job)
        if len(calls) > 20:
            raise SonarAuthError("Sonar refused the login (check SONAR_USERNAME)")
        return real_fetch(self, job)

    monkeypatch.setattr(fetching.Fetcher, "__call__", fetch)
    with pytest.raises(SonarAuthError):
        run_import(settings(sim, schema, commit_interval=1000), show_progress=False)
    outcome, finished, _, _, message, _ = runs(pg_conn, schema)[0]
    assert (outcome, finished) == ("error", True)
    assert message == "Sonar refused the login (check SONAR_USERNAME)"
    detailed = pg_conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE updated_at IS NOT NULL").format(
            sql.Identifier(schema, "customers")
        )
    ).fetchone()[0]
    assert detailed == 0  # the open batch was rolled back, not committed with the record


def test_a_killed_import_is_refused(sim, pg_schema, pg_conn, env, settings) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    assert subscription(schema, "-o", "before.csv") == 0
    # What a killed import leaves: its row 'running', and nobody holding the run lock.
    execute(
        pg_conn,
        "INSERT INTO {} (api, parts) VALUES ('v1', '{{report,catalogs,detail,inventory}}')",
        schema,
        "import_runs",
    )
    assert subscription(schema, "-o", "after.csv") == 1
    assert not (env / "after.csv").exists()
    assert status(schema) == 1


def test_failed_customers_are_recorded_and_never_detailed_ones_refused(
    sim, pg_schema, pg_conn, env, capsys, settings
) -> None:
    _, schema = pg_schema
    victim = sorted(sim.dataset.accounts)[3]
    sim.faults = Faults(fail_accounts={victim})
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 1
    outcome, _, failed, failed_ids, _, _ = runs(pg_conn, schema)[0]
    assert (outcome, failed, failed_ids) == ("failed_customers", 1, [victim])
    capsys.readouterr()
    assert subscription(schema) == 1
    assert "1 of " in capsys.readouterr().err
    assert status(schema, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["customers"]["failed_last_run"] == 1
    assert report["last_import"]["detail"]["outcome"] == "failed_customers"


# ------------------------------------------------------------------ never-detailed, old detail


def test_customers_never_detailed_are_refused(
    sim, pg_schema, pg_conn, env, capsys, settings
) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    pg_conn.execute(
        sql.SQL("UPDATE {t} SET updated_at = NULL WHERE id = (SELECT min(id) FROM {t})").format(
            t=sql.Identifier(schema, "customers")
        )
    )
    capsys.readouterr()
    assert subscription(schema) == 1
    assert "1 of " in capsys.readouterr().err
    assert csv_files(env) == []


def test_old_detail_is_refused_past_max_detail_age(
    sim, pg_schema, pg_conn, env, capsys, settings
) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    pg_conn.execute(
        sql.SQL(
            "UPDATE {t} SET updated_at = updated_at - interval '20 days'"
            " WHERE id = (SELECT min(id) FROM {t})"
        ).format(t=sql.Identifier(schema, "customers"))
    )
    capsys.readouterr()
    assert subscription(schema) == 1
    err = capsys.readouterr().err
    assert "20 days older than the latest report" in err and "--max-detail-age 14" in err
    assert "import -f on or near the as-of date" in err
    assert csv_files(env) == []
    assert subscription(schema, "--max-detail-age", "30") == 0
    oldest = pg_conn.execute(
        sql.SQL("SELECT min(updated_at)::date FROM {}").format(sql.Identifier(schema, "customers"))
    ).fetchone()[0]
    assert f"oldest account detail {oldest}" in capsys.readouterr().err
    assert status(schema) == 1
    assert status(schema, "--max-detail-age", "30") == 0


def test_an_import_months_before_the_as_of_date_is_refused(
    sim, pg_schema, pg_conn, env, capsys, settings
) -> None:
    """Consistent in itself (detail as recent as its report), but 200 days old."""
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    pg_conn.execute(
        sql.SQL(
            "UPDATE {} SET last_seen_at = last_seen_at - interval '200 days',"
            " updated_at = updated_at - interval '200 days'"
        ).format(sql.Identifier(schema, "customers"))
    )
    capsys.readouterr()
    assert status(schema) == 1
    assert "days before today" in capsys.readouterr().out
    as_of = last_filing_date(date.today())  # at most 184 days ago: the data is 16+ before it
    assert status(schema, "--as-of", as_of) == 1
    assert main(["bdc", "subscription", "--as-of", as_of, "-p", f"{schema}."]) == 1
    err = capsys.readouterr().err
    assert "days before the as-of date" in err and "import -f on or near the as-of date" in err
    assert csv_files(env) == []
    assert subscription(schema, "--allow-incomplete-import") == 0


def last_filing_date(today: date) -> str:
    """The latest June 30 or December 31 on or before ``today``."""
    for candidate in (date(today.year, 12, 31), date(today.year, 6, 30)):
        if candidate <= today:
            return candidate.isoformat()
    return date(today.year - 1, 12, 31).isoformat()


# ------------------------------------------------------------------ a running import


def test_a_held_run_lock_refuses_even_with_the_override(
    sim, pg_schema, pg_database, env, capsys, settings
) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    key = parse_prefix(f"{schema}.").lock_key()
    with psycopg.connect(**pg_database, autocommit=True) as other:
        assert other.execute(queries.TRY_LOCK, [key]).fetchone()[0]
        capsys.readouterr()
        assert subscription(schema, "--allow-incomplete-import") == 1
        err = capsys.readouterr().err
        assert "an import is running against" in err and "--allow-incomplete-import" not in err
        assert csv_files(env) == []
        assert status(schema) == 1
        out = capsys.readouterr().out
        assert "import running now: yes" in out
    assert status(schema) == 0  # the lock is free again


# ------------------------------------------------------------------ status


def test_status_of_an_empty_prefix_says_import_and_creates_nothing(
    pg_schema, pg_conn, env, capsys
) -> None:
    _, schema = pg_schema
    assert status(schema) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"not ready to file: no import found at {schema}.: run sonar-bdc import"]
    assert status(schema, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ready"] is False and report["problems"] == [out[0].split(": ", 1)[1]]
    exists = pg_conn.execute(queries.SCHEMA_EXISTS, [schema]).fetchone()[0]
    assert not exists  # read-only: no schema, no table


def test_status_after_a_complete_import_and_a_filing(
    sim, pg_schema, pg_conn, env, capsys, settings
) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    assert status(schema) == 0
    text = capsys.readouterr().out
    assert "ready to file: yes" in text
    assert "import running now: no" in text
    assert ": complete" in text
    assert subscription(schema) == 0
    capsys.readouterr()
    assert status(schema, "--json", "--days", "0") == 0
    report = json.loads(capsys.readouterr().out)
    live = sum(1 for a in sim.dataset.accounts.values() if not a.deleted)
    assert report["ready"] is True and report["problems"] == []
    assert report["customers"]["listed"] == live
    assert report["customers"]["never_detailed"] == 0
    assert report["customers"]["stale_detail"] == live  # --days 0: everything is stale
    assert report["customers"]["deleted"] == len(sim.dataset.accounts) - live
    assert {part: run["outcome"] for part, run in report["last_import"].items()} == dict.fromkeys(
        ("report", "catalogs", "detail", "inventory"), "complete"
    )
    filing = report["last_filing"]
    assert filing["as_of"] == AS_OF
    assert filing["file"] == str((env / f"bdc_subscription_{AS_OF}.csv").resolve())
    exceptions = env / f"bdc_subscription_{AS_OF}.exceptions.csv"
    excluded = len(exceptions.read_text().splitlines()) - 1
    assert sum(filing["excluded"].values()) == excluded
    assert report["tracts_loaded"] == 0
    assert report["fabric"] is None  # never loaded at this prefix


def test_a_dry_run_records_nothing(sim, pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    dry = run_import(settings(sim, schema, dry_run=True, force=True), show_progress=False)
    assert dry.exit_code == 0
    assert [r[0] for r in runs(pg_conn, schema)] == ["complete"]


def test_an_inventory_only_run_records_its_parts(sim, pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    config = settings(sim, schema, inventory_only=True)
    assert run_import(config, show_progress=False).exit_code == 0
    assert runs(pg_conn, schema)[0][5] == ["report", "catalogs", "inventory"]


# ------------------------------------------------------------------ schema v2 -> v3


def test_a_v2_database_reads_as_unrecorded_then_upgrades_to_v3(
    pg_schema, pg_conn, env, capsys
) -> None:
    db, schema = pg_schema
    prefix = parse_prefix(f"{schema}.")
    with psycopg.connect(**db) as conn:  # a database sonar-bdc 2 left: versions 1 and 2
        conn.execute(queries.create_schema_sql(prefix))
        for version in (1, 2):
            migrate.apply_version(conn, prefix, version)
        conn.execute(
            sql.SQL("INSERT INTO {} (id, last_seen_at, updated_at) VALUES (1, now(), now())")
            .format(prefix.table("customers"))
        )  # fmt: skip
    assert status(schema) == 1
    assert "predate sonar-bdc's import records" in capsys.readouterr().out
    assert subscription(schema) == 1  # nothing says how it was imported
    has_runs = [prefix.schema_name, prefix.name("import_runs")]
    assert not pg_conn.execute(queries.TABLE_EXISTS, has_runs).fetchone()[0]
    with Store.connect(db, prefix) as store:
        store.ensure_schema()
        assert store.schema_version() == ddl.LATEST_VERSION >= 3
    assert pg_conn.execute(queries.TABLE_EXISTS, has_runs).fetchone()[0]
    kept = pg_conn.execute(sql.SQL("SELECT count(*) FROM {}").format(prefix.table("customers")))
    assert kept.fetchone()[0] == 1


def test_a_run_that_limit_cut_short_does_not_stand_for_a_complete_import(
    sim, pg_schema, pg_conn, env, monkeypatch, capsys, settings
) -> None:
    """`-f -l 0` after an interrupted -f left every customer unrefreshed: still not ready."""
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    ctrl_c_after(monkeypatch, 10)
    assert run_import(settings(sim, schema, force=True), show_progress=False).interrupted
    monkeypatch.setattr(fetching, "stop_signals_as_flag", REAL_CTRL_C)
    limited = run_import(settings(sim, schema, force=True, limit=0), show_progress=False)
    assert limited.exit_code == 0 and limited.left_for_later > 0
    assert runs(pg_conn, schema)[-1][5] == ["report", "catalogs"]  # not detail or inventory
    capsys.readouterr()
    assert status(schema) == 1
    assert "was interrupted before it finished" in capsys.readouterr().out
    # A plain run that finds nothing stale completes the import as of its --days.
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    assert status(schema) == 0


def test_the_run_record_counts_only_accounts_newly_marked_deleted(
    sim, pg_schema, pg_conn, env, capsys, settings
) -> None:
    _, schema = pg_schema
    gone = sum(1 for a in sim.dataset.accounts.values() if a.deleted)
    assert gone > 0
    first = run_import(settings(sim, schema), show_progress=False)
    again = run_import(settings(sim, schema, force=True), show_progress=False)
    assert len(first.newly_deleted) == gone and again.newly_deleted == []
    recorded = pg_conn.execute(
        sql.SQL("SELECT deleted FROM {} ORDER BY id").format(sql.Identifier(schema, "import_runs"))
    ).fetchall()
    assert recorded == [(gone,), (0,)]
    assert status(schema, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["last_import"]["detail"]["deleted"] == 0


def test_status_and_filing_name_another_applications_table(pg_schema, pg_conn, env, capsys) -> None:
    _, schema = pg_schema
    pg_conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    pg_conn.execute(
        sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, foo text)").format(
            sql.Identifier(schema, "customers")
        )
    )
    assert status(schema) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{schema}.customers" in err[0], err
    assert subscription(schema) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{schema}.customers" in err[0], err
