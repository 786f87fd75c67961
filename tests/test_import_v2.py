"""The v2 import end to end: the v2 simulator over loopback HTTP, real PostGIS.

The central check imports one generated dataset twice, through the v1 simulator into
one schema and through the v2 simulator into another, and compares the tables. What
may differ, and why (the README's "Sonar v1 or v2?" table):

* ``customers.source``: v2 has no geocoding source; NULL.
* accounts deleted in Sonar: v1's report still lists them (404 on detail, so a row
  with ``deleted_at``); v2 never lists them, so a fresh v2 import has no row.
* ``services.technology_name``: what the source sent, v1 the number, v2 the enum name
  (``technology_code`` is the same).
* non-data services: v2 has no data detail for them, so speeds and technology are NULL
  (v1 sends 0 or null).
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

import dbcompare
import expected
from sonar_bdc.bdc.run import SubscriptionOptions, subscription
from sonar_bdc.errors import SonarAuthError, SonarBdcError
from sonar_bdc.importer import run_import
from sonar_bdc.importer import v2 as importer_v2
from sonar_bdc.importer.summary import Summary
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Dataset, Faults, Simulator, generate
from sonar_bdc.simulator.v2 import (
    TECHNOLOGY_NAMES,
    UNKNOWN_TECHNOLOGY,
    UNKNOWN_TECHNOLOGY_SERVICE_IDS,
    GraphQLSimulator,
)
from sonar_bdc.sonar.v2 import GraphQLErrors

pytestmark = pytest.mark.timeout(120)
SOURCE = dbcompare.REPORT_COLUMNS.index("source")


def run_import_v2(settings: Settings, *, show_progress: bool = True) -> Summary:
    """``run_import`` with ``--api v2``: a refused token leaves the database untouched."""
    return run_import(dataclasses.replace(settings, api="v2"), show_progress=show_progress)


@pytest.fixture
def run_v2(settings: Callable[..., Settings]) -> Callable[..., Summary]:
    """``run_v2(sim, schema, **overrides)``: a v2 import with the shared settings."""

    def run(sim: GraphQLSimulator, schema: str, **kw: Any) -> Summary:
        return run_import_v2(settings(sim, schema, **kw), show_progress=False)

    return run


def count(conn: psycopg.Connection, schema: str, table: str, where: str = "true") -> int:
    query = sql.SQL("SELECT count(*) FROM {}.{} WHERE " + where).format(
        sql.Identifier(schema), sql.Identifier(table)
    )
    return conn.execute(query).fetchone()[0]


def schema_exists(conn: psycopg.Connection, schema: str) -> bool:
    query = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s"
    return conn.execute(query, (schema,)).fetchone()[0] > 0


def v2_truth(conn: psycopg.Connection, schema: str, ds: Dataset) -> list[str]:
    """The database against the simulator's truth, as v2 can know it (see module doc)."""
    snap = dbcompare.snapshot(conn, schema)
    deleted_at_set = len(dbcompare.REPORT_COLUMNS) + 3  # position of "deleted_at IS NOT NULL"
    problems = [
        f"{i}: a deleted account is stored as live"
        for i in ds.deleted_ids()
        if i in snap["customers"] and not snap["customers"][i][deleted_at_set]
    ]
    problems += [f"{i}: missing" for i in ds.live_ids() if i not in snap["customers"]]
    truth = comparable_v1_truth(ds)
    got = comparable(snap, ds)
    for table in got:
        if got[table] != truth[table]:
            diff = {k for k in got[table].keys() | truth[table].keys()
                    if got[table].get(k) != truth[table].get(k)}  # fmt: skip
            problems.append(f"{table} differ for {sorted(diff)[:5]}")
    return problems


def comparable(snap: dict, ds: Dataset, v1: bool = False) -> dict[str, dict]:
    """A snapshot without what v1 and v2 may differ in (module doc), live accounts only."""
    live = set(ds.live_ids())
    services = {}
    for cid, rows in snap["services"].items():
        services[cid] = {_service(row, v1) for row in rows}
    customers = {
        cid: (*row[:SOURCE], None, *row[SOURCE + 1 :])
        for cid, row in snap["customers"].items()
        if cid in live
    }
    out = {"customers": customers, "services": services}
    out |= {k: dict(snap[k]) for k in ("groups", "links")}
    out = {t: {cid: v for cid, v in rows.items() if cid in live} for t, rows in out.items()}
    linked = set().union(*out["links"].values())  # items stay in their table once seen
    out["items"] = {i: v for i, v in snap["items"].items() if i in linked}
    return out


def _service(row: tuple, v1: bool) -> tuple:
    service_id, name, data, down, up, code, tech_name, quantity = row
    if not data:
        return (service_id, name, data, None, None, None, None, quantity)
    expected_name = str(code) if v1 else TECHNOLOGY_NAMES.get(code, (None,))[0]
    return (service_id, name, data, down, up, code, tech_name == expected_name, quantity)


def comparable_v1_truth(ds: Dataset) -> dict[str, dict]:
    """What a v1 import of ``ds`` stores, in ``comparable`` form (from dbcompare's rules)."""
    snap: dict[str, Any] = {"customers": {}, "groups": {}, "services": {}, "links": {}, "items": {}}
    for cid in ds.live_ids():
        exp = expected.customer(ds, cid)
        r, d, inv = exp.report, exp.detail, exp.inventory
        assert d is not None and inv is not None
        geom = (r.longitude, r.latitude, 4326) if r.latitude is not None else (None, None, None)
        snap["customers"][cid] = (
            *(getattr(r, c) for c in dbcompare.REPORT_COLUMNS),
            d.account_status_id, d.account_type_id, d.fips, False, *geom,
        )  # fmt: skip
        snap["groups"][cid] = {g.id for g in d.groups}
        snap["services"][cid] = {
            (s.service_id, s.name, s.data_service, s.download_kbps, s.upload_kbps,
             s.technology_code, s.technology_name, s.quantity)
            for s in d.services
        }  # fmt: skip
        snap["links"][cid] = {i.id for i in inv.items}
        for i in inv.items:
            snap["items"][i.id] = (i.inventory_model_id, i.model_name, i.manufacturer_id,
                                   i.manufacturer_name, i.status, i.mac_address)  # fmt: skip
    snap = {t: {k: v for k, v in rows.items() if v or t in ("customers", "items")}
            for t, rows in snap.items()}  # fmt: skip
    return comparable(snap, ds, v1=True)


def catalogs(conn: psycopg.Connection, schema: str) -> list:
    return [
        conn.execute(
            sql.SQL("SELECT * FROM {}.{} ORDER BY id").format(
                sql.Identifier(schema), sql.Identifier(t)
            )
        ).fetchall()
        for t in ("groups", "account_statuses", "account_types")
    ]


@pytest.fixture
def sim() -> Iterator[GraphQLSimulator]:
    with GraphQLSimulator(generate(accounts=250, seed=7)) as simulator:
        yield simulator


@pytest.fixture
def two_schemas(pg_database: dict, pg_conn: psycopg.Connection) -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    names = (f"t_v1_{tag}", f"t_v2_{tag}")
    yield names
    for name in names:
        pg_conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


# ---------------------------------------------------------------- v1 and v2 alike


@pytest.mark.parametrize("nested_limit", [None, 1])
def test_v1_and_v2_imports_of_one_dataset_store_the_same_rows(
    pg_database: dict,
    pg_conn,
    two_schemas: tuple[str, str],
    tmp_path: Path,
    nested_limit: int | None,
    settings,
    run_v2,
) -> None:
    ds = generate(accounts=250, seed=7)
    schema_v1, schema_v2 = two_schemas
    with Simulator(ds, layout="A") as v1:
        assert run_import(settings(v1, schema_v1), show_progress=False).exit_code == 0
    with GraphQLSimulator(ds, nested_limit=nested_limit) as v2:
        summary = run_v2(v2, schema_v2)
    assert summary.exit_code == 0 and summary.listed == summary.new == len(ds.live_ids())

    snap_v1 = comparable(dbcompare.snapshot(pg_conn, schema_v1), ds, v1=True)
    snap_v2 = comparable(dbcompare.snapshot(pg_conn, schema_v2), ds)
    for table in snap_v1:
        assert snap_v2[table] == snap_v1[table], table
    assert catalogs(pg_conn, schema_v1) == catalogs(pg_conn, schema_v2)
    # What the issue says may differ, differs only as documented.
    assert count(pg_conn, schema_v2, "customers", "source IS NOT NULL") == 0
    assert count(pg_conn, schema_v1, "customers", "deleted_at IS NOT NULL") == len(ds.deleted_ids())
    assert count(pg_conn, schema_v2, "customers", "deleted_at IS NOT NULL") == 0
    assert v2_truth(pg_conn, schema_v2, ds) == []
    # v2 sends each block's census year (the simulator: 2010 for ids 5 mod 16); v1 none.
    assert count(pg_conn, schema_v1, "customers", "census_year IS NOT NULL") == 0
    assert count(pg_conn, schema_v2, "customers", "census_year = 2010") > 0
    assert count(pg_conn, schema_v2, "customers", "census_year = 2010 AND id % 16 <> 5") == 0
    assert count(pg_conn, schema_v2, "customers", "(fips IS NULL) <> (census_year IS NULL)") == 0

    if nested_limit is None:  # the BDC outputs read both databases the same way
        # ... the census year aside: a 2010 block needs tract polygons (test_bdc_tract_sources)
        pg_conn.execute(
            sql.SQL("UPDATE {} SET census_year = NULL").format(
                sql.Identifier(schema_v2, "customers")
            )
        )
        pg_conn.commit()
        files = [_filing(settings(None, s), tmp_path / s) for s in two_schemas]
        assert files[0] == files[1]


def _filing(settings: Settings, out: Path) -> tuple[list, list]:
    out.mkdir()
    options = SubscriptionOptions(as_of=date(2025, 6, 30), output=out / "subscription.csv")
    summary = subscription(settings, options)
    with summary.csv_path.open(encoding="utf-8") as file:
        rows = list(csv.reader(file))
    exceptions = []
    if summary.exceptions_path is not None and summary.exceptions_path.exists():
        with summary.exceptions_path.open(encoding="utf-8") as file:
            exceptions = [r for r in csv.reader(file) if "deleted" not in " ".join(r).lower()]
    return rows, exceptions


# ---------------------------------------------------------------- requests and freshness


def test_a_full_import_costs_at_most_002_requests_per_customer_with_the_limiter_on(
    pg_schema: tuple[dict, str], pg_conn, run_v2
) -> None:
    _, schema = pg_schema
    ds = generate(accounts=1000, seed=11)
    with GraphQLSimulator(ds) as big:
        summary = run_v2(big, schema, rate_limit=None)  # v2's default: 400/min
        assert summary.requests == big.request_count
        again = run_v2(big, schema)
    customers = len(ds.live_ids())
    assert summary.requests / customers <= 0.02, summary.requests
    assert summary.wait_seconds > 0  # the shared limiter is on by default for v2
    assert summary.fetched == customers and v2_truth(pg_conn, schema, ds) == []
    # Nothing stale: only the listing (light), no account in full.
    assert again.fetched == 0 and again.skipped_fresh == again.listed == customers
    assert (again.new, again.updated) == (0, 0)
    assert again.requests <= 3 + -(-customers // 100)


@pytest.mark.parametrize("accounts", [0, 1, 101])
def test_paging_edges_import_exactly(
    pg_schema: tuple[dict, str], pg_conn, accounts: int, run_v2
) -> None:
    _, schema = pg_schema
    ds = generate(accounts=accounts, seed=2)
    with GraphQLSimulator(ds) as edge:
        summary = run_v2(edge, schema)
    assert summary.exit_code == 0 and summary.listed == len(ds.live_ids())
    assert v2_truth(pg_conn, schema, ds) == []


def test_changes_and_deletions_follow_days_force_and_limit(
    sim: GraphQLSimulator, pg_schema: tuple[dict, str], pg_conn, run_v2
) -> None:
    _, schema = pg_schema
    first = run_v2(sim, schema, limit=40)  # 40 of 244: a light listing, then 40 by id
    assert first.fetched == 40 and first.listed == len(sim.dataset.live_ids())
    assert count(pg_conn, schema, "customers", "updated_at IS NOT NULL") == 40
    rest = run_v2(sim, schema)
    assert rest.fetched == first.listed - 40 and v2_truth(pg_conn, schema, sim.dataset) == []

    changed = sim.change_accounts(fraction=0.1, seed=11)
    assert v2_truth(pg_conn, schema, sim.dataset) != []
    fresh = run_v2(sim, schema)  # within --days: report fields only
    assert fresh.fetched == 0 and fresh.updated > 0
    forced = run_v2(sim, schema, force=True)
    assert forced.fetched == forced.listed and forced.updated >= len(changed) // 2
    assert v2_truth(pg_conn, schema, sim.dataset) == []

    gone = sim.dataset.live_ids()[5]
    sim.dataset.accounts[gone].deleted = True
    sim.dataset.version += 1
    after = run_v2(sim, schema, days=0)
    assert after.deleted == [gone] and after.fetched == after.listed
    assert count(pg_conn, schema, "customers", f"id = {gone} AND deleted_at IS NOT NULL") == 1
    assert count(pg_conn, schema, "services", f"customer_id = {gone}") == 0
    assert v2_truth(pg_conn, schema, sim.dataset) == []


def test_customers_only_and_inventory_only_keep_separate_freshness(
    sim: GraphQLSimulator, pg_schema: tuple[dict, str], pg_conn, run_v2
) -> None:
    _, schema = pg_schema
    run_v2(sim, schema, customers_only=True)
    assert count(pg_conn, schema, "customer_inventory") == 0
    assert count(pg_conn, schema, "customers", "inventory_updated_at IS NOT NULL") == 0
    inventory = run_v2(sim, schema, inventory_only=True)
    assert inventory.fetched == inventory.listed
    assert v2_truth(pg_conn, schema, sim.dataset) == []
    assert run_v2(sim, schema, customers_only=True).fetched == 0
    assert run_v2(sim, schema, inventory_only=True).fetched == 0


def test_dry_run_fetches_and_writes_nothing(
    sim: GraphQLSimulator, pg_schema, pg_conn, run_v2
) -> None:
    _, schema = pg_schema
    summary = run_v2(sim, schema, dry_run=True)
    assert summary.dry_run and summary.fetched == len(sim.dataset.live_ids())
    assert not schema_exists(pg_conn, schema)


# ---------------------------------------------------------------- errors and limits


def test_a_refused_token_exits_2_naming_sonar_token_and_creates_nothing(
    sim: GraphQLSimulator, pg_schema: tuple[dict, str], pg_conn, run_v2
) -> None:
    _, schema = pg_schema
    with pytest.raises(SonarAuthError) as caught:
        run_v2(sim, schema, sonar_token="not-the-token")
    message = str(caught.value)
    assert caught.value.exit_code == 2 and "SONAR_TOKEN" in message and "\n" not in message
    assert "not-the-token" not in message
    assert not schema_exists(pg_conn, schema)


def test_the_cli_reports_a_refused_token_in_one_line(
    sim: GraphQLSimulator, pg_schema: tuple[dict, str], pg_conn, monkeypatch, capsys, tmp_path
) -> None:
    from sonar_bdc.cli import main

    db, schema = pg_schema
    env = {"SONAR_PROTOCOL": "http", "SONAR_HOST": sim.base_url.removeprefix("http://"),
           "SONAR_TOKEN": "wrong", "POSTGRES_HOST": db["host"], "POSTGRES_PORT": str(db["port"]),
           "POSTGRES_USER": db["user"], "POSTGRES_DB": db["dbname"]}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--api", "v2", "-p", f"{schema}."]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SONAR_TOKEN" in err[0]
    assert not schema_exists(pg_conn, schema)


def test_a_graphql_error_stops_the_run_before_that_page_is_written(
    sim: GraphQLSimulator, pg_schema: tuple[dict, str], pg_conn, run_v2
) -> None:
    _, schema = pg_schema
    live = sim.dataset.live_ids()
    sim.faults = Faults(fail_accounts=frozenset({live[150]}))  # on page 2 of 3
    with pytest.raises(GraphQLErrors) as caught:
        run_v2(sim, schema)
    assert "accounts page 2" in str(caught.value) and "Internal server error" in str(caught.value)
    assert isinstance(caught.value, SonarBdcError) and caught.value.exit_code == 1
    ids = {row[0] for row in pg_conn.execute(
        sql.SQL("SELECT id FROM {}.customers").format(sql.Identifier(schema)))}  # fmt: skip
    assert ids == set(live[:100])  # page 1 only: nothing of page 2 (or 3)
    sim.faults = Faults()
    assert run_v2(sim, schema).exit_code == 0
    assert v2_truth(pg_conn, schema, sim.dataset) == []


def test_a_429_rate_limit_reply_is_waited_out(pg_schema: tuple[dict, str], pg_conn, run_v2) -> None:
    _, schema = pg_schema
    ds = generate(accounts=400, seed=4)
    with GraphQLSimulator(ds, faults=Faults(rate_limit=2.0, retry_after="0.3")) as limited:
        summary = run_v2(limited, schema, max_retries=8)
    assert summary.exit_code == 0 and summary.retries > 0 and summary.wait_seconds >= 0.3
    assert v2_truth(pg_conn, schema, ds) == []


def test_an_unknown_technology_name_is_reported_and_stored_without_a_code(
    pg_schema: tuple[dict, str], pg_conn, caplog: pytest.LogCaptureFixture, run_v2
) -> None:
    _, schema = pg_schema
    ds = generate(accounts=250, seed=7)
    with GraphQLSimulator(ds, unknown_technology=True) as odd, caplog.at_level(logging.WARNING):
        summary = run_v2(odd, schema)
    assert summary.exit_code == 0
    (service_id,) = UNKNOWN_TECHNOLOGY_SERVICE_IDS
    rows = pg_conn.execute(
        sql.SQL("SELECT DISTINCT technology_code, technology_name FROM {}.services"
                " WHERE service_id = %s").format(sql.Identifier(schema)), (service_id,),
    ).fetchall()  # fmt: skip
    assert rows == [(None, UNKNOWN_TECHNOLOGY)]
    warnings = [r.getMessage() for r in caplog.records if UNKNOWN_TECHNOLOGY in r.getMessage()]
    assert len(warnings) == 2  # the enum at start, the services at the end
    assert all("[technology.names] NAME = <BDC code>" in w for w in warnings)
    known = count(pg_conn, schema, "services", "data_service AND technology_code IS NULL")
    assert known == count(pg_conn, schema, "services", f"service_id = {service_id}")


# ---------------------------------------------------------------- progress under cron


def test_under_cron_the_rate_limited_listing_and_id_fetches_report_while_waiting(
    pg_schema: tuple[dict, str], caplog: pytest.LogCaptureFixture, monkeypatch, settings
) -> None:
    """stderr is not a terminal here: progress lines come from a timer, so a phase that
    waits on the rate limiter still says where it stands (the README's "a line every
    10 s"; a small interval stands in for 10 s)."""
    from sonar_bdc.importer import progress

    _, schema = pg_schema
    monkeypatch.setattr(progress, "INTERVAL", 0.05)
    caplog.set_level(logging.INFO, logger="sonar_bdc.progress")
    with GraphQLSimulator(generate(accounts=150, seed=3)) as slow:
        # 1/3 s between requests, so the light run's customers phase waits on the limiter
        # even when the steps before it were slow (at 1/8 s, on a loaded machine, it once
        # finished before the first timer line: a flaky test).
        full = settings(slow, schema, rate_limit=3.0)
        run_import_v2(full, show_progress=True)
        light = dataclasses.replace(full, days=0, limit=10)  # a light listing, 10 by id
        run_import_v2(light, show_progress=True)
    lines = "\n".join(r.getMessage() for r in caplog.records)
    # Lines before the first page came: only a timer writes those.
    assert re.search(r"^accounts: 0/\d+ after", lines, re.M)
    assert re.search(r"^customers: 0/10 after", lines, re.M)
    assert re.search(r"^accounts: (\d+)/\1 after", lines, re.M)  # and one at the end


def test_sonar_technology_names_warns_once_that_it_is_deprecated(caplog) -> None:

    importer_v2.warn_technology_names_deprecated.cache_clear()
    base = Settings(sonar_host="sonar.example.com", sonar_token="t", api="v2")
    with caplog.at_level(logging.WARNING, logger="sonar_bdc"):
        importer_v2.v2_config(base)
        assert not caplog.records  # not set: nothing to say
        named = dataclasses.replace(base, technology_names="CBRS=70")
        assert importer_v2.v2_config(named).technology_names == {"CBRS": 70}  # still read
        importer_v2.v2_config(named)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert "SONAR_TECHNOLOGY_NAMES is deprecated" in warnings[0]
    assert "[technology.names]" in warnings[0]
