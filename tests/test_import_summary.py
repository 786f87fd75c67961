"""What the import's summary and log lines say, against the simulator and real PostGIS:
each count names what it counts, and progress covers every long phase."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator

import pytest

from sonar_bdc.importer import progress, run_import
from sonar_bdc.importer.summary import Summary, plural
from sonar_bdc.simulator import Simulator, generate

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(generate(accounts=250, seed=7), layout="A") as simulator:
        yield simulator


def row(summary: Summary, label: str) -> str:
    """The value of the summary line labelled ``label``."""
    for line in summary.lines()[1:]:
        name, _, value = line.strip().partition("  ")
        if name.strip() == label:
            return value.strip()
    raise AssertionError(f"no summary line {label!r} in {summary.lines()}")


def test_plural() -> None:
    assert [plural(n, "account") for n in (0, 1, 2)] == ["0 accounts", "1 account", "2 accounts"]
    assert plural(1, "customer has", "customers have") == "1 customer has"
    assert plural(3, "customer has", "customers have") == "3 customers have"


def test_inventory_only_counts_inventories_not_details(sim, pg_schema, settings) -> None:
    _, schema = pg_schema
    first = run_import(settings(sim, schema), show_progress=False)
    live = len(sim.dataset.live_ids())
    assert (first.details, first.inventories) == (live, live)
    again = run_import(settings(sim, schema, inventory_only=True, force=True),
                       show_progress=False)  # fmt: skip
    # The listing of all items answers for every listed customer (no per-customer 404).
    assert (again.details, again.inventories, again.fetched) == (0, again.listed, again.listed)
    assert row(again, "details fetched") == "0"
    assert row(again, "inventories refreshed") == str(again.listed)
    assert row(again, "customers refreshed") == str(again.listed)


def test_a_forced_run_counts_only_the_newly_deleted(sim, pg_schema, caplog, settings) -> None:
    _, schema = pg_schema
    gone = len(sim.dataset.deleted_ids())
    first = run_import(settings(sim, schema), show_progress=False)
    assert len(first.newly_deleted) == gone > 0 and first.already_deleted == []
    caplog.clear()
    caplog.set_level(logging.INFO, logger="sonar_bdc")
    again = run_import(settings(sim, schema, force=True), show_progress=False)
    assert len(again.deleted) == gone  # Sonar still answers 404 for them
    assert again.newly_deleted == [] and len(again.already_deleted) == gone
    assert row(again, "newly deleted in Sonar") == "0"
    assert row(again, "already marked deleted") == str(gone)
    messages = [r.getMessage() for r in caplog.records]
    assert not any("now marked deleted" in m for m in messages)
    assert any(f"{plural(gone, 'account')} marked deleted by an earlier run" in m
               for m in messages)  # fmt: skip


def test_the_wait_line_names_back_off_and_rate_limiting(sim, pg_schema, settings) -> None:
    _, schema = pg_schema
    summary = run_import(settings(sim, schema, limit=5), show_progress=False)
    assert re.fullmatch(
        r"\d+\.\d s \(all workers\)", row(summary, "time in back-off and rate limit")
    )
    assert not any("time waiting" in line for line in summary.lines())


def test_time_in_database_is_the_stores_share_of_the_run(sim, pg_schema, settings) -> None:
    _, schema = pg_schema
    summary = run_import(settings(sim, schema, limit=5), show_progress=False)
    assert 0 < summary.db_seconds <= summary.wall_seconds
    assert row(summary, "time in database") == f"{summary.db_seconds:.1f} s"
    assert summary.as_dict()["db_seconds"] == summary.db_seconds


def test_force_with_limit_does_not_promise_a_later_run(sim, pg_schema, caplog, settings) -> None:
    _, schema = pg_schema
    run_import(settings(sim, schema), show_progress=False)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="sonar_bdc")
    forced = run_import(settings(sim, schema, force=True, limit=10), show_progress=False)
    left = forced.listed - 10
    assert forced.left_for_later == left and row(forced, "left out by --limit") == str(left)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "left for a later run" not in messages
    assert (f"{left} not refreshed by this run (--limit); a run without --force refreshes "
            "them only once older than --days") in messages  # fmt: skip


def test_one_account_is_not_one_accounts(pg_schema, caplog, settings) -> None:
    _, schema = pg_schema
    caplog.set_level(logging.INFO, logger="sonar_bdc")
    dataset = generate(accounts=1, seed=1)
    with Simulator(dataset, layout="A") as one:
        run_import(settings(one, schema), show_progress=False)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("report: 1 account in 1 row (layout A)") for m in messages)
    assert any(m.startswith("1 customer to refresh") for m in messages)
    assert not re.search(r"\b1 (accounts|customers|rows)\b", "\n".join(messages))


def test_without_a_terminal_the_report_and_the_inventory_listing_show_progress(
    sim, pg_schema, caplog, monkeypatch, settings
) -> None:
    _, schema = pg_schema
    monkeypatch.setattr(progress, "INTERVAL", 3600.0)  # only each phase's closing line
    caplog.set_level(logging.INFO, logger="sonar_bdc.progress")
    summary = run_import(settings(sim, schema), show_progress=True)
    lines = "\n".join(r.getMessage() for r in caplog.records)
    assert re.search(r"^report download: \d+(\.\d)? kB after \d+ s", lines, re.M)
    assert re.search(rf"^report accounts: {summary.listed} after", lines, re.M)
    assert re.search(r"^inventory pages: (\d+)/\1 after", lines, re.M)
    assert re.search(rf"^customers: {summary.fetched + len(summary.deleted)}/\d+ after", lines,
                     re.M)  # fmt: skip


def test_v2_counts_what_limit_leaves_out_in_both_passes(pg_schema, caplog, settings) -> None:
    from sonar_bdc.simulator.v2 import GraphQLSimulator

    _, schema = pg_schema
    with GraphQLSimulator(generate(accounts=150, seed=3)) as v2:
        base = settings(v2, schema, rate_limit=None)
        first = run_import(base, show_progress=False)
        assert (first.left_for_later, first.skipped_fresh) == (0, 0)
        forced = run_import(dataclasses.replace(base, force=True, limit=10), show_progress=False)
        caplog.set_level(logging.INFO, logger="sonar_bdc")
        light = run_import(dataclasses.replace(base, days=0, limit=10), show_progress=False)
    for summary in (forced, light):  # one full pass, one light pass with 10 by id
        assert summary.fetched == 10 and summary.skipped_fresh == 0
        assert summary.left_for_later == summary.listed - 10
    assert f"10 customers to refresh, {light.listed - 10} stale ones left for a later run" in (
        caplog.text
    )
