"""Inventory model catalogs: asked only when needed, field lists in parallel, remembered."""

from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest
from psycopg import sql

import dbcompare
from sonar_bdc.cli import build_parser
from sonar_bdc.errors import ConfigError, SonarError
from sonar_bdc.importer import run_import
from sonar_bdc.simulator import Faults, Simulator, generate
from sonar_bdc.simulator.data import add_item
from sonar_bdc.simulator.model import Dataset, FieldDef, ModelDef
from sonar_bdc.sonar.v1.model_fields import ModelFields
from test_import import check_exact

MODELS = 300


@pytest.fixture
def sim():
    with Simulator(generate(accounts=250, seed=7, models=MODELS)) as simulator:
        yield simulator


def used_models(ds: Dataset, accounts: list[int] | None = None) -> set[int]:
    """Catalog models of the items on ``accounts`` (all accounts by default)."""
    ids = set(ds.accounts if accounts is None else accounts)
    return {
        item.model_id
        for item in ds.items.values()
        if item.assignee_type == "accounts" and item.assignee_id in ids
        if item.model_id in ds.models
    }


def delta(sim: Simulator, before: dict[str, int]) -> dict[str, int]:
    after = sim.requests_by_kind
    return {
        kind: after[kind] - before.get(kind, 0)
        for kind in after
        if after[kind] > before.get(kind, 0)
    }


def execute(pg_conn, schema: str, query: str, params: tuple = ()) -> list[tuple]:
    return pg_conn.execute(sql.SQL(query).format(s=sql.Identifier(schema)), params).fetchall()


def stored_models(pg_conn, schema: str) -> dict[int, set[int]]:
    rows = execute(pg_conn, schema, "SELECT id, mac_field_ids FROM {s}.inventory_models")
    return {model_id: set(ids) for model_id, ids in rows}


def mac_ids(ds: Dataset, model_id: int) -> set[int]:
    return {f.id for f in ds.model_fields[model_id] if f.type == "mac"}


def busiest_mac_model(ds: Dataset) -> int:
    """The used model with a MAC field and a string field that is on the most items."""
    counts = Counter(i.model_id for i in ds.items.values() if i.assignee_type == "accounts")
    return max(
        (m for m in used_models(ds) if mac_ids(ds, m)
         if any(f.type == "string" for f in ds.model_fields[m])),
        key=lambda m: (counts[m], -m),
    )  # fmt: skip


def test_only_used_models_are_asked_once_and_a_rerun_with_nothing_stale_asks_no_catalog(
    sim, pg_schema, pg_conn, settings
) -> None:
    _, schema = pg_schema
    used = used_models(sim.dataset)
    assert 100 < len(used) < MODELS  # spread over many models, not all of them
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    check_exact(pg_conn, schema, sim)
    assert sim.requests_by_kind["model_fields"] == len(used)  # each used model once
    assert stored_models(pg_conn, schema) == {m: mac_ids(sim.dataset, m) for m in used}

    before = dict(sim.requests_by_kind)
    again = run_import(settings(sim, schema), show_progress=False)
    asked = delta(sim, before)
    assert again.exit_code == 0 and again.fetched == 0
    assert "inventory_catalog" not in asked and "model_fields" not in asked, asked
    assert sum(asked.values()) <= 25
    check_exact(pg_conn, schema, sim)


def test_the_catalog_is_sent_for_with_the_report_only_when_inventory_is_likely_stale(
    sim, pg_schema, pg_conn, settings
) -> None:
    from datetime import datetime, timedelta, timezone

    from sonar_bdc.store import Store

    db, schema = pg_schema
    cutoff = datetime.now(timezone.utc) - timedelta(days=7)
    with Store.connect(db, f"{schema}.") as store:
        store.ensure_schema()
        assert store.inventory_likely_stale(cutoff)  # a first import
        run_import(settings(sim, schema), show_progress=False)
        assert not store.inventory_likely_stale(cutoff)
        owner = next(a.id for a in sim.dataset.accounts.values() if not a.deleted)
        execute(pg_conn, schema, "UPDATE {s}.customers SET inventory_updated_at = NULL"
                " WHERE id = %s RETURNING id", (owner,))  # fmt: skip
        assert store.inventory_likely_stale(cutoff)


@pytest.mark.parametrize("option", [{"customers_only": True}, {"limit": 0}])
def test_runs_refreshing_no_inventory_ask_no_inventory_catalog(
    sim, pg_schema, pg_conn, option, settings
) -> None:
    _, schema = pg_schema
    summary = run_import(settings(sim, schema, **option), show_progress=False)
    assert summary.exit_code == 0
    kinds = sim.requests_by_kind
    assert kinds.get("inventory_catalog", 0) == kinds.get("model_fields", 0) == 0, kinds


@pytest.mark.parametrize("stale", [1, 40], ids=["per customer", "listing"])
def test_stale_customers_ask_only_for_their_models_stored_past_days(
    sim, pg_schema, pg_conn, stale, caplog, settings
) -> None:
    _, schema = pg_schema
    run_import(settings(sim, schema), show_progress=False)
    owners = [a.id for a in sim.dataset.accounts.values() if not a.deleted and a.item_ids]
    owners = owners[:stale]
    execute(pg_conn, schema, "UPDATE {s}.inventory_models SET"
            " fields_fetched_at = fields_fetched_at - interval '30 days' RETURNING id")  # fmt: skip
    execute(pg_conn, schema, "UPDATE {s}.customers SET inventory_updated_at ="
            " inventory_updated_at - interval '30 days' WHERE id = ANY(%s) RETURNING id",
            (owners,))  # fmt: skip
    before = dict(sim.requests_by_kind)
    caplog.clear()  # the first run's lines too, when an earlier test left INFO on
    with caplog.at_level(logging.INFO, logger="sonar_bdc.importer"):
        summary = run_import(settings(sim, schema, days=7), show_progress=False)
    assert summary.exit_code == 0 and summary.fetched == stale
    assert ("listing all items" in caplog.text) == (stale > 1)
    assert delta(sim, before)["model_fields"] == len(used_models(sim.dataset, owners))
    check_exact(pg_conn, schema, sim)


def test_a_model_added_between_runs_is_the_only_one_asked(
    sim, pg_schema, pg_conn, settings
) -> None:
    import random

    _, schema = pg_schema
    run_import(settings(sim, schema), show_progress=False)
    ds = sim.dataset
    new = max(ds.models) + 1
    ds.models[new] = ModelDef(new, "New Radio", 1, 1)
    ds.model_fields[new] = [FieldDef(90001, "Serial", "string"), FieldDef(90002, "MAC", "mac")]
    owner = next(a for a in ds.accounts.values() if not a.deleted)
    item = add_item(ds, random.Random(1), "accounts", owner.id)
    item.model_id, item.fields = new, [(90001, "SN-NEW"), (90002, "02:00:00:00:00:01")]
    ds.version += 1
    execute(pg_conn, schema, "UPDATE {s}.customers SET inventory_updated_at = NULL RETURNING id")
    before = dict(sim.requests_by_kind)
    assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
    assert delta(sim, before)["model_fields"] == 1  # every other model is remembered
    assert stored_models(pg_conn, schema)[new] == {90002}
    check_exact(pg_conn, schema, sim)


def test_a_changed_mac_field_is_taken_with_force(sim, pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    run_import(settings(sim, schema), show_progress=False)
    ds = sim.dataset
    # The model's MAC is now its serial number field (that data, on its items).
    model = busiest_mac_model(ds)
    mac = next(f for f in ds.model_fields[model] if f.type == "mac")
    serial = next(f for f in ds.model_fields[model] if f.type == "string")
    ds.model_fields[model] = [
        FieldDef(f.id, f.name, "mac" if f is serial else "string" if f is mac else f.type)
        for f in ds.model_fields[model]
    ]
    assert dbcompare.mismatches(pg_conn, schema, ds) != []
    summary = run_import(settings(sim, schema, force=True), show_progress=False)
    assert summary.exit_code == 0
    assert stored_models(pg_conn, schema)[model] == {serial.id}
    check_exact(pg_conn, schema, sim)


@pytest.mark.parametrize("listing", [True, False], ids=["listing", "per customer"])
def test_a_model_whose_fields_fail_leaves_mac_empty_and_is_asked_next_run(
    sim, pg_schema, pg_conn, caplog, monkeypatch, listing, settings
) -> None:
    from sonar_bdc.importer import fetching

    if not listing:
        monkeypatch.setattr(fetching, "list_inventory", lambda *args: None)
    _, schema = pg_schema
    ds = sim.dataset
    failing = busiest_mac_model(ds)
    owners = {i.assignee_id for i in ds.items.values()
              if i.model_id == failing and i.assignee_type == "accounts"}  # fmt: skip
    sim.faults = Faults(fail_models={failing})
    with caplog.at_level(logging.WARNING, logger="sonar_bdc.importer"):
        first = run_import(settings(sim, schema, max_retries=1), show_progress=False)
    assert first.exit_code == 0 and not first.failed
    named = [r for r in caplog.records if f"inventory model {failing}:" in r.getMessage()]
    assert len(named) == 1, caplog.text
    macs = execute(pg_conn, schema, "SELECT mac_address FROM {s}.inventory_items"
                   " WHERE inventory_model_id = %s", (failing,))  # fmt: skip
    assert macs and all(mac is None for (mac,) in macs)
    problems = dbcompare.mismatches(pg_conn, schema, ds)
    assert problems and all("item" in p for p in problems)  # only those MACs differ
    assert failing not in stored_models(pg_conn, schema)
    stale = dbcompare.stale_ids(pg_conn, schema, first_seen(pg_conn, schema), "inventory")
    assert stale == owners  # their customers are asked again next run

    sim.faults = Faults()
    before = dict(sim.requests_by_kind)
    again = run_import(settings(sim, schema), show_progress=False)
    assert again.exit_code == 0
    assert delta(sim, before)["model_fields"] == 1
    check_exact(pg_conn, schema, sim)


def first_seen(pg_conn, schema: str):
    return execute(pg_conn, schema, "SELECT min(last_seen_at) FROM {s}.customers")[0][0]


def test_field_lists_are_fetched_in_parallel_each_once() -> None:
    # A serial loop never has four fetches waiting at the barrier together: it breaks.
    barrier = threading.Barrier(4, timeout=10)
    calls: list[int] = []

    def fetch(model_id: int) -> frozenset[int]:
        calls.append(model_id)
        barrier.wait()
        return frozenset({model_id * 10})

    fields = ModelFields(fetch, known={99: frozenset({990})})
    threads = [threading.Thread(target=fields.ensure, args=([*range(8), 99],)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(calls) == list(range(8))  # each once; the known one not at all
    assert dict(fields) == {**{m: frozenset({m * 10}) for m in range(8)}, 99: frozenset({990})}
    assert set(fields.fetched) == set(range(8)) and not fields.failed


def test_a_failed_field_list_is_asked_once_per_run() -> None:
    calls: list[int] = []

    def fetch(model_id: int) -> frozenset[int]:
        calls.append(model_id)
        raise SonarError("GET /api/v1/inventory/models/5/fields: HTTP 500")

    fields = ModelFields(fetch)
    fields.ensure([5])
    fields.ensure([5])
    assert calls == [5] and fields.failed == {5} and 5 not in fields


def test_simulator_catalog_has_many_models_of_several_field_types() -> None:
    ds = generate(accounts=500, seed=3, models=MODELS)
    assert len(ds.models) == MODELS
    assert len(used_models(ds)) > 200
    types = {f.type for fields in ds.model_fields.values() for f in fields}
    assert {"mac", "string", "integer", "imsi"} <= types
    without_mac = {m for m in used_models(ds) if not mac_ids(ds, m)}
    assert without_mac
    assert len(generate(accounts=50, seed=3).models) == 10  # the tests' default stays small
    with pytest.raises(ConfigError):
        generate(accounts=1, models=5)
    assert build_parser().parse_args(["simulate"]).models == MODELS
    assert build_parser().parse_args(["simulate", "--models", "40"]).models == 40
