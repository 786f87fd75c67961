"""The importer end to end: simulator over loopback HTTP, real PostGIS, exact comparison."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from psycopg import sql

import dbcompare
from sonar_bdc import stopping
from sonar_bdc.cli import main
from sonar_bdc.importer import run_import, v1
from sonar_bdc.simulator import Faults, Simulator, generate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dataset_seed() -> int:
    return 7


@pytest.fixture
def sim():
    with Simulator(generate(accounts=250, seed=7), layout="A") as simulator:
        yield simulator


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


def check_exact(pg_conn, schema, sim, layout="A", **kw) -> None:
    problems = dbcompare.mismatches(pg_conn, schema, sim.dataset, layout, **kw)
    assert problems == [], problems[:10]


def count(pg_conn, schema: str, table: str, where: str = "true") -> int:
    query = sql.SQL("SELECT count(*) FROM {}.{} WHERE " + where).format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    return pg_conn.execute(query).fetchone()[0]


def test_full_import_is_exact_and_a_second_run_fetches_only_report_and_catalogs(
    sim, pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    summary = run_import(settings(sim, schema), show_progress=False)
    assert summary.exit_code == 0
    assert summary.listed == len(sim.dataset.accounts) == summary.new
    assert len(summary.deleted) == len(sim.dataset.deleted_ids()) > 0
    assert summary.invalid_coordinates > 0 and summary.duplicate_rows > 0
    check_exact(pg_conn, schema, sim)

    before = dict(sim.requests_by_kind)
    again = run_import(settings(sim, schema), show_progress=False)
    after = sim.requests_by_kind
    assert after.get("detail", 0) == before.get("detail", 0)
    assert after.get("inventory", 0) == before.get("inventory", 0)
    assert after["report"] == before["report"] + 1
    assert (again.new, again.updated, again.fetched) == (0, 0, 0)
    assert again.skipped_fresh == again.listed
    meta = dict(
        pg_conn.execute(
            sql.SQL("SELECT key, value FROM {}.metadata").format(sql.Identifier(schema))
        ).fetchall()
    )
    for key in ("report_imported_at", "customers_imported_at", "inventory_imported_at"):
        assert meta.get(key)


def test_layout_b_is_detected_and_imported_exactly(pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    with Simulator(generate(accounts=120, seed=3), layout="B") as sim_b:
        summary = run_import(settings(sim_b, schema), show_progress=False)
        assert summary.layout == "B"
        check_exact(pg_conn, schema, sim_b, layout="B")


def test_changed_accounts_are_made_equal_again_with_force(
    sim, pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    run_import(settings(sim, schema), show_progress=False)
    changed = sim.change_accounts(fraction=0.1, seed=11)
    assert changed
    assert dbcompare.mismatches(pg_conn, schema, sim.dataset) != []  # the change is visible
    summary = run_import(settings(sim, schema, force=True), show_progress=False)
    assert summary.exit_code == 0
    assert summary.updated >= len(changed) // 2
    check_exact(pg_conn, schema, sim)


def test_days_zero_refreshes_everything(sim, pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    run_import(settings(sim, schema), show_progress=False)
    sim.change_accounts(fraction=0.2, seed=5)
    summary = run_import(settings(sim, schema, days=0), show_progress=False)
    assert summary.skipped_fresh == 0
    check_exact(pg_conn, schema, sim)


def test_limit_fetches_at_most_that_many_and_the_rest_stays_stale(
    sim, pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    summary = run_import(settings(sim, schema, limit=40), show_progress=False)
    assert summary.fetched + len(summary.deleted) == 40
    # Nothing was fresh: the rest is stale, left for a later run, not "skipped as fresh".
    assert summary.skipped_fresh == 0
    assert summary.left_for_later == len(sim.dataset.accounts) - 40
    assert count(pg_conn, schema, "customers") == len(sim.dataset.accounts)
    assert count(pg_conn, schema, "customers", "updated_at IS NOT NULL") == 40
    rest = run_import(settings(sim, schema), show_progress=False)
    assert rest.fetched + len(rest.deleted) == len(sim.dataset.accounts) - 40
    check_exact(pg_conn, schema, sim)


def test_customers_only_and_inventory_only_keep_separate_freshness(
    sim, pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    run_import(settings(sim, schema, customers_only=True), show_progress=False)
    assert sim.requests_by_kind.get("inventory", 0) == 0
    assert count(pg_conn, schema, "customer_inventory") == 0
    check_exact(pg_conn, schema, sim, inventory=False)

    details_before = sim.requests_by_kind["detail"]
    run_import(settings(sim, schema, inventory_only=True), show_progress=False)
    assert sim.requests_by_kind["detail"] == details_before
    check_exact(pg_conn, schema, sim)

    # Each part is now fresh: neither run refetches the other's data.
    before = dict(sim.requests_by_kind)
    for only in ("customers_only", "inventory_only"):
        summary = run_import(settings(sim, schema, **{only: True}), show_progress=False)
        assert summary.fetched == 0 and summary.skipped_fresh == summary.listed
    assert sim.requests_by_kind["detail"] == before["detail"]
    assert sim.requests_by_kind.get("inventory", 0) == before.get("inventory", 0)


def test_dry_run_fetches_everything_and_writes_nothing(sim, pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    summary = run_import(settings(sim, schema, dry_run=True), show_progress=False)
    assert summary.dry_run and summary.fetched == len(sim.dataset.live_ids())
    exists = pg_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchone()[0]
    assert exists == 0


def test_failed_customers_exit_1_stay_stale_and_the_next_run_completes(
    sim, pg_schema, pg_conn, tmp_path, monkeypatch, caplog
) -> None:
    db, schema = pg_schema
    bad = sim.dataset.live_ids()[:3]
    sim.faults = Faults(fail_accounts=frozenset(bad))
    for key, value in env_for(sim, db).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    argv = [
        "import",
        "-p",
        f"{schema}.",
        "--max-retries",
        "1",
        "--initial-backoff",
        "0.01",
        "-w",
        "4",
    ]
    assert main(argv) == 1
    log_text = (tmp_path / "bdc_import.log").read_text()
    assert all(str(cid) in log_text for cid in bad)
    stale = pg_conn.execute(
        sql.SQL("SELECT id FROM {}.customers WHERE updated_at IS NULL ORDER BY id").format(
            sql.Identifier(schema)
        )
    ).fetchall()
    assert [r[0] for r in stale] == bad
    others = [cid for cid in sim.dataset.accounts if cid not in bad]
    check_exact(pg_conn, schema, sim, ids=others)

    sim.faults = Faults()
    assert main(argv) == 0
    check_exact(pg_conn, schema, sim)


@pytest.mark.parametrize(
    ("argv_extra", "environ", "message"),
    [
        (["-p", "bad;prefix"], {}, "prefix"),
        ([], {"SONAR_PASSWORD": ""}, "SONAR_PASSWORD"),
        ([], {"SONAR_PASSWORD": "wrong"}, "SONAR_PASSWORD"),
        ([], {"POSTGRES_PORT": "1"}, "POSTGRES"),
        ([], {"POSTGRES_DB": "no_such_db_here"}, "POSTGRES_DB"),
        (["--env-file", "/nonexistent/.env"], {}, "no such file"),
    ],
)
def test_configuration_errors_exit_2_with_one_line_and_create_nothing(
    sim, pg_schema, pg_conn, monkeypatch, tmp_path, capsys, argv_extra, environ, message
) -> None:
    db, schema = pg_schema
    for key, value in {**env_for(sim, db), **environ}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    code = main(["import", "-p", f"{schema}.", *argv_extra])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert "'wrong'" not in err[0]  # the password is never echoed
    created = pg_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchone()[0]
    assert created == 0


def _start_import(sim, db, schema, tmp_path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "direct_bdc_import.py"),
            "-p",
            f"{schema}.",
            "-w",
            "4",
            "-b",
            "10",
            "-c",
            "20",
            "--initial-backoff",
            "0.01",
            *extra,
        ],
        env=env_for(sim, db),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_details(sim, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sim.requests_by_kind.get("detail", 0) < n:
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.02)


def test_direct_bdc_import_script_runs_the_same_import(sim, pg_schema, pg_conn, tmp_path) -> None:
    db, schema = pg_schema
    proc = _start_import(sim, db, schema, tmp_path)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "Import summary" in out
    check_exact(pg_conn, schema, sim)


def test_ctrl_c_commits_complete_customers_and_exits_non_zero(
    sim, pg_schema, pg_conn, tmp_path
) -> None:
    db, schema = pg_schema
    sim.faults = Faults(latency=0.01)
    proc = _start_import(sim, db, schema, tmp_path)
    _wait_for_details(sim, 60)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert run_outcomes(pg_conn, schema) == [("interrupted", True)]
    done = count(pg_conn, schema, "customers", "updated_at IS NOT NULL")
    assert 0 < done < len(sim.dataset.accounts)
    # What was committed is whole: every refreshed live customer is exact.
    refreshed = [
        r[0]
        for r in pg_conn.execute(
            sql.SQL(
                "SELECT id FROM {}.customers WHERE updated_at IS NOT NULL"
                " AND inventory_updated_at IS NOT NULL"
            ).format(sql.Identifier(schema))
        ).fetchall()
    ]
    check_exact(pg_conn, schema, sim, ids=refreshed)
    sim.faults = Faults()
    rerun = _start_import(sim, db, schema, tmp_path)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out
    check_exact(pg_conn, schema, sim)


def test_sigkill_mid_run_then_rerun_makes_the_database_exact(
    sim, pg_schema, pg_conn, tmp_path
) -> None:
    db, schema = pg_schema
    sim.faults = Faults(latency=0.01)
    proc = _start_import(sim, db, schema, tmp_path)
    _wait_for_details(sim, 100)
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert run_outcomes(pg_conn, schema) == [("running", False)]  # what status calls killed
    sim.faults = Faults()
    rerun = _start_import(sim, db, schema, tmp_path)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out
    check_exact(pg_conn, schema, sim)
    assert run_outcomes(pg_conn, schema) == [("running", False), ("complete", True)]


def test_a_signal_while_the_report_is_written_commits_the_rows_read_and_records_the_run(
    sim, pg_schema, pg_conn, monkeypatch, settings
) -> None:
    """SIGTERM lands while the report streams into the database (here mid-batch, while
    the next rows are read inside a pipelined upsert): the rows read are committed,
    the run stops there, recorded interrupted, and the next run finishes the work."""
    _, schema = pg_schema
    config = settings(sim, schema, batch_size=10, commit_interval=1000)
    assert run_import(config, show_progress=False).exit_code == 0
    customers, metadata = sql.Identifier(schema, "customers"), sql.Identifier(schema, "metadata")
    report_done = sql.SQL("SELECT value FROM {} WHERE key = 'report_imported_at'").format(metadata)
    (first_seen,) = pg_conn.execute(
        sql.SQL("SELECT max(last_seen_at) FROM {}").format(customers)
    ).fetchone()
    (first_report,) = pg_conn.execute(report_done).fetchone()
    real = v1.counted

    def signalled(rows, bar):
        for n, row in enumerate(real(rows, bar)):
            if n == 95:
                signal.raise_signal(signal.SIGTERM)
            yield row

    monkeypatch.setattr(v1, "counted", signalled)
    with stopping.stop_signals_as_interrupts():
        summary = run_import(config, show_progress=False)
        assert stopping.terminated()
    assert summary.interrupted
    assert run_outcomes(pg_conn, schema) == [("complete", True), ("interrupted", True)]
    refreshed = pg_conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE last_seen_at > %s").format(customers), [first_seen]
    ).fetchone()[0]
    assert 80 < refreshed <= 96  # the rows read before the stop, committed
    assert pg_conn.execute(report_done).fetchone() == (first_report,)  # the report is not whole
    monkeypatch.undo()
    assert run_import(config, show_progress=False).exit_code == 0
    check_exact(pg_conn, schema, sim)


def run_outcomes(pg_conn, schema: str) -> list[tuple[str, bool]]:
    query = sql.SQL("SELECT outcome, finished_at IS NOT NULL FROM {} ORDER BY id").format(
        sql.Identifier(schema, "import_runs")
    )
    return pg_conn.execute(query).fetchall()


def test_listing_all_items_and_asking_per_customer_store_identical_rows(
    sim, pg_schema, pg_conn, monkeypatch, settings
) -> None:
    from sonar_bdc.importer import fetching

    _, schema = pg_schema
    listed = run_import(settings(sim, schema), show_progress=False)
    pages = sim.requests_by_kind["api_list"]
    assert sim.requests_by_kind.get("inventory", 0) == 0  # 250 accounts: the listing is cheaper
    monkeypatch.setattr(fetching, "list_inventory", lambda *args: None)
    other = f"{schema}_per_customer"
    try:
        asked = run_import(settings(sim, other), show_progress=False)
        assert sim.requests_by_kind["inventory"] == asked.fetched  # gone accounts stop at 404
        assert sim.requests_by_kind["api_list"] - pages < pages  # only the catalogs again
        assert listed.exit_code == asked.exit_code == 0
        bulk, per_customer = dbcompare.snapshot(pg_conn, schema), dbcompare.snapshot(pg_conn, other)
        assert bulk["items"] and sum(map(len, bulk["links"].values())) > 0
        assert bulk == per_customer
    finally:
        pg_conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(other)))
    check_exact(pg_conn, schema, sim)


def _unassign_first_items(sim: Simulator, count: int) -> None:
    """Make the first ``count`` items stock (held by no account): the ones that
    ``Faults.vanish_during_listing`` deletes from page 1 while the listing is read."""
    for item in list(sim.dataset.items.values())[:count]:
        sim.dataset.accounts[item.assignee_id].item_ids.remove(item.id)
        item.assignee_type, item.assignee_id = "network_sites", 1


def test_items_changing_while_listed_are_listed_again(
    sim, pg_schema, pg_conn, caplog, settings
) -> None:
    _, schema = pg_schema
    _unassign_first_items(sim, 1)
    border = list(sim.dataset.items.values())[100]  # page 2 would start with it
    assert border.assignee_type == "accounts"
    # A first import: no stored inventory to fall back on if ``border`` were skipped.
    sim.faults = Faults(vanish_during_listing=1)
    with caplog.at_level("INFO", logger="sonar_bdc.importer"):
        result = run_import(settings(sim, schema), show_progress=False)
    assert result.exit_code == 0
    assert len(sim.dataset.items) == 304  # one deleted after page 1 of the first listing
    assert "while its pages were read (page 2); listing all items once more" in caplog.text
    assert sim.requests_by_kind.get("inventory", 0) == 0  # the second listing held
    check_exact(pg_conn, schema, sim)  # ``border`` included


def test_items_changing_through_two_listings_are_asked_per_customer(
    sim, pg_schema, pg_conn, caplog, settings
) -> None:
    _, schema = pg_schema
    _unassign_first_items(sim, 2)
    sim.faults = Faults(vanish_during_listing=2)
    with caplog.at_level("INFO", logger="sonar_bdc.importer"):
        result = run_import(settings(sim, schema), show_progress=False)
    assert result.exit_code == 0 and len(sim.dataset.items) == 303
    assert "in the second listing too" in caplog.text
    assert "asking per customer instead" in caplog.text
    assert sim.requests_by_kind["inventory"] == result.fetched
    check_exact(pg_conn, schema, sim)


def test_a_real_removal_is_confirmed_one_by_one_and_applied(
    sim, pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    owner = next(a for a in sim.dataset.accounts.values() if not a.deleted and a.item_ids)
    removed = owner.item_ids.pop()
    del sim.dataset.items[removed]
    asked_before = sim.requests_by_kind.get("inventory", 0)
    again = run_import(settings(sim, schema, force=True), show_progress=False)
    assert again.exit_code == 0 and sim.requests_by_kind["inventory"] - asked_before == 1
    links = count(pg_conn, schema, "customer_inventory", f"inventory_item_id = {removed}")
    assert links == 0
    check_exact(pg_conn, schema, sim)


def test_unwritable_log_file_is_one_line_and_exit_2(sim, pg_schema, monkeypatch, capsys) -> None:
    db, schema = pg_schema
    for key, value in env_for(sim, db).items():
        monkeypatch.setenv(key, value)
    code = main(["import", "-p", f"{schema}.", "--log-file", "/nonexistent/dir/bdc.log"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "--log-file" in err[0], err


def test_first_ctrl_c_sets_a_flag_and_a_second_one_interrupts() -> None:
    import signal as signals

    from sonar_bdc.stopping import stop_signals_as_flag

    before = signals.getsignal(signals.SIGINT)
    with stop_signals_as_flag() as stop:
        signals.raise_signal(signals.SIGINT)  # would abort a database statement if raised
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            signals.raise_signal(signals.SIGINT)
    assert signals.getsignal(signals.SIGINT) is before


def test_bulk_listing_refuses_an_instance_that_repeats_pages_of_unassigned_items() -> None:
    from sonar_bdc.errors import SonarDataError
    from sonar_bdc.importer.bulk_inventory import checked
    from sonar_bdc.sonar.v1 import ItemsPage

    stock_only = ItemsPage(assigned=[], total_pages=3, item_ids=frozenset({1, 2}))
    other = ItemsPage(assigned=[], total_pages=3, item_ids=frozenset({3}))
    assert list(checked([stock_only, other])) == [[], []]
    with pytest.raises(SonarDataError, match="repeats an earlier page"):
        list(checked([stock_only, other, stock_only]))


def test_bulk_listing_notices_the_item_count_moving() -> None:
    from sonar_bdc.importer.bulk_inventory import ListingChanged, checked
    from sonar_bdc.sonar.v1 import ItemsPage

    def page(count: int | None, *ids: int) -> ItemsPage:
        return ItemsPage([], 2, frozenset(ids), count)

    assert len(list(checked([page(3, 1, 2), page(3, 3)]))) == 2
    assert len(list(checked([page(None, 1, 2), page(None, 3)]))) == 2  # no count: no check
    assert len(list(checked([page(3, 1, 2), page(4, 3, 9)]))) == 2  # an item added: harmless
    with pytest.raises(ListingChanged, match="fell from 3 to 2 while its pages were read"):
        list(checked([page(3, 1, 2), page(2, 4)]))
    with pytest.raises(ListingChanged, match="fell from 4 to 3"):  # one added, then one gone
        list(checked([page(3, 1, 2), page(4, 3, 5), page(3, 6)]))


def test_bulk_listing_refuses_pages_that_mostly_repeat_the_one_before() -> None:
    from sonar_bdc.errors import SonarDataError
    from sonar_bdc.importer.bulk_inventory import checked
    from sonar_bdc.sonar.v1 import ItemsPage

    def page(*ids: int) -> ItemsPage:
        return ItemsPage(assigned=[], total_pages=3, item_ids=frozenset(ids))

    shifted = [page(1, 2, 3, 4), page(4, 5, 6, 7), page(8, 9)]  # an item added meanwhile
    assert len(list(checked(shifted))) == 3
    with pytest.raises(SonarDataError, match="page 2 repeats most of page 1"):
        list(checked([page(1, 2, 3, 4), page(2, 3, 4, 5)]))  # one item gone, page ignored


def test_listing_pages_come_in_order_with_few_fetched_ahead() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sonar_bdc.concurrency import in_order

    called: list[int] = []
    with ThreadPoolExecutor(4) as pool:
        pages = in_order(pool, lambda n: called.append(n) or n * 10, range(1, 21), window=3)
        for seen, value in enumerate(pages, start=1):
            assert value == seen * 10
            assert len(called) <= seen + 3  # never more than the window ahead
    assert sorted(called) == list(range(1, 21))


def test_plan_keeps_order_parts_and_slices() -> None:
    from sonar_bdc.importer.fetching import Job
    from sonar_bdc.importer.v1 import _plan

    plan = _plan([5, 3, 9], [3, 7], None)
    assert list(plan) == [Job(5, True, False), Job(3, True, True), Job(9, True, False),
                          Job(7, False, True)]  # fmt: skip
    assert len(plan) == 4 and plan[-1] == Job(7, False, True)
    assert list(plan[:2]) == [Job(5, True, False), Job(3, True, True)]
    assert list(_plan([5, 3, 9], [3, 7], 1)) == [Job(5, True, False)]
    assert not _plan([], [], None)


def test_a_run_that_wrote_rows_leaves_fresh_planner_statistics(
    sim, pg_schema, pg_conn, settings
) -> None:
    """Without ANALYZE, the filing's first queries after a bulk import planned for empty
    tables (seconds instead of a fraction at 50,000 customers)."""
    _, schema = pg_schema
    query = (
        "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables"
        " WHERE schemaname = %s AND relname IN ('customers', 'services')"
    )
    assert run_import(settings(sim, schema, dry_run=True), show_progress=False).exit_code == 0
    assert dict(pg_conn.execute(query, [schema]).fetchall()) in ({}, dict.fromkeys(
        ("customers", "services"), False))  # fmt: skip
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    pg_conn.commit()  # a new snapshot of the statistics
    assert dict(pg_conn.execute(query, [schema]).fetchall()) == {
        "customers": True, "services": True,
    }  # fmt: skip
