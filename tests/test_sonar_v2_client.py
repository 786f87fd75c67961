"""GraphQLClient against the v2 simulator over loopback HTTP (no mocks).

Checks the records against the simulator's truth (``Dataset.expected_*``), with the
v2 spellings the contract documents: no ``source`` (v2 lacks it), non-data services
without speeds or technology (v2 has no data detail for them), technology names.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import expected
import sonar_bdc.sonar
from expected import text
from sonar_bdc.concurrency import PoolMapper
from sonar_bdc.errors import SonarAuthError
from sonar_bdc.records import Service
from sonar_bdc.simulator import Dataset, Faults, generate
from sonar_bdc.simulator.v2 import (
    TECHNOLOGY_NAMES,
    UNKNOWN_TECHNOLOGY,
    UNKNOWN_TECHNOLOGY_SERVICE_IDS,
    GraphQLSimulator,
)
from sonar_bdc.simulator.v2.entities import census_year
from sonar_bdc.sonar.v2 import GraphQLClient, GraphQLConfig, GraphQLErrors, V2Account

pytestmark = pytest.mark.timeout(60)


def live_dataset(accounts: int, seed: int = 3) -> Dataset:
    """A dataset of exactly ``accounts`` live accounts (v2 never lists deleted ones)."""
    ds = generate(accounts=accounts, seed=seed)
    for account in ds.accounts.values():
        account.deleted = False
    return ds


def client_for(sim: GraphQLSimulator, token: str = "sonar-token", **over: object) -> GraphQLClient:
    settings = {"max_retries": 3, "initial_backoff": 0.01, "max_backoff": 0.5, "workers": 4}
    return GraphQLClient(GraphQLConfig(sim.base_url, token, **{**settings, **over}))  # type: ignore[arg-type]


def v2_service(service: Service) -> Service:
    """What v2 reports for a v1 service: its name for the code; no detail, no speeds."""
    if not service.data_service:
        return dataclasses.replace(
            service,
            download_kbps=None,
            upload_kbps=None,
            technology_code=None,
            technology_name=None,
        )
    return dataclasses.replace(
        service, technology_name=TECHNOLOGY_NAMES[service.technology_code or 0][0]
    )


def stored(record: Any) -> Any:
    """A record as the store keeps it: NUL characters removed (text() of the truth)."""
    if isinstance(record, tuple):
        return tuple(stored(r) for r in record)
    if not dataclasses.is_dataclass(record):
        return text(record) if isinstance(record, str) else record
    values = {f.name: stored(getattr(record, f.name)) for f in dataclasses.fields(record)}
    return dataclasses.replace(record, **values)  # type: ignore[type-var]


def mismatches(ds: Dataset, accounts: list[V2Account]) -> list[str]:
    problems = []
    for account in accounts:
        want = expected.customer(ds, account.report.id)
        assert want.detail is not None and want.inventory is not None
        detail = dataclasses.replace(
            want.detail,
            services=tuple(map(v2_service, want.detail.services)),
            census_year=None if want.detail.fips is None else census_year(want.detail.id),
        )
        got = stored((account.report, account.detail, account.inventory))
        truth = (want.report._replace(source=None), detail, want.inventory)
        if got != truth:
            problems.append(f"{account.report.id}: {got} != {truth}")
    return problems


@pytest.fixture(scope="module")
def sim() -> Iterator[GraphQLSimulator]:
    with GraphQLSimulator(generate(accounts=250, seed=7)) as simulator:
        yield simulator


def test_a_full_listing_is_exact_in_one_request_per_100_accounts(sim: GraphQLSimulator) -> None:
    with client_for(sim) as client:
        client.login()
        before = sim.request_count
        pages = list(client.iter_account_pages(full=True))
        used = sim.request_count - before
    accounts = [a for page in pages for a in page.accounts]
    assert [a.report.id for a in accounts] == sim.dataset.live_ids()
    assert mismatches(sim.dataset, accounts) == []
    assert used == len(pages) == math.ceil(len(accounts) / 100)
    assert client.account_count() == len(accounts)


def test_the_light_listing_has_the_same_report_rows(sim: GraphQLSimulator) -> None:
    with client_for(sim) as client:
        light = [a for page in client.iter_account_pages(full=False) for a in page.accounts]
        full = [a for page in client.iter_account_pages(full=True) for a in page.accounts]
    assert [a.report for a in light] == [a.report for a in full]
    assert all(a.detail is None and a.inventory is None for a in light)


@pytest.mark.parametrize("accounts", [0, 1, 100, 101])
def test_paging_edges(accounts: int) -> None:
    with GraphQLSimulator(live_dataset(accounts)) as edge, client_for(edge) as client:
        pages = list(client.iter_account_pages(full=True))
        used = edge.request_count
    ids = [a.report.id for page in pages for a in page.accounts]
    assert ids == sorted(edge.dataset.accounts) and len(ids) == accounts
    assert used == max(1, math.ceil(accounts / 100))
    sizes = [min(100, accounts - start) for start in range(0, accounts, 100)]
    assert [len(p.accounts) for p in pages] == (sizes or [0])


def test_nested_lists_cut_short_are_completed_exactly() -> None:
    ds = generate(accounts=120, seed=5)
    with GraphQLSimulator(ds, nested_limit=1) as cut, client_for(cut) as client:
        full_pages = list(client.iter_account_pages(full=True))
        light_pages = list(client.iter_account_pages(full=False))
    accounts = [a for page in full_pages for a in page.accounts]
    light = [a for page in light_pages for a in page.accounts]
    completed = sum(page.completed for page in full_pages + light_pages)
    assert mismatches(ds, accounts) == []
    assert [a.report for a in light] == [a.report for a in accounts]
    many_items = [a for a in accounts if a.inventory and len(a.inventory.items) > 1]
    many_groups = [a for a in accounts if a.detail and len(a.detail.groups) > 1]
    assert many_items and many_groups and completed >= len(many_items) + len(many_groups)


def test_asked_ids_come_100_a_request_with_missing_ones_reported(sim: GraphQLSimulator) -> None:
    live = sim.dataset.live_ids()
    gone = [*sim.dataset.deleted_ids()[:2], 999_999]
    asked = live[:150] + gone
    with client_for(sim) as client:
        before = sim.request_count
        pages = list(client.iter_account_pages(full=True, ids=asked))
        used = sim.request_count - before
    assert used == 2 and [p.asked for p in pages] == [tuple(asked[:100]), tuple(asked[100:])]
    got = [a.report.id for p in pages for a in p.accounts]
    assert got == live[:150]
    assert [i for p in pages for i in p.missing] == gone
    assert mismatches(sim.dataset, [a for p in pages for a in p.accounts]) == []


def test_an_account_sonar_refuses_is_isolated_and_the_others_still_come() -> None:
    ds = live_dataset(60)
    bad = sorted(ds.accounts)[17]
    faults = Faults(fail_accounts=frozenset({bad}))
    with GraphQLSimulator(ds, faults=faults) as failing, client_for(failing) as client:
        pages = list(client.iter_account_pages(full=True, ids=sorted(ds.accounts)))
        with pytest.raises(GraphQLErrors, match=r"accounts page 1: .*Internal server error"):
            list(client.iter_account_pages(full=True))
    (page,) = pages
    assert list(page.failed) == [bad] and "Internal server error" in page.failed[bad]
    assert sorted(a.report.id for a in page.accounts) == sorted(set(ds.accounts) - {bad})
    assert page.missing == []


def test_a_graphql_error_is_raised_with_sonars_text_and_not_retried(sim: GraphQLSimulator) -> None:
    with client_for(sim) as client:
        client.login()
        sim.fail_next_with_errors(1)
        before = sim.request_count
        with pytest.raises(GraphQLErrors, match=r"catalogs page 1: .*Internal server error"):
            client.catalogs()
        assert sim.request_count == before + 1
        assert client.catalogs().statuses  # the next one goes through


def test_a_refused_token_is_an_auth_error_naming_sonar_token(sim: GraphQLSimulator) -> None:
    before = sim.request_count
    with (
        client_for(sim, token="wrong") as client,
        pytest.raises(SonarAuthError, match="SONAR_TOKEN"),
    ):
        client.login()
    assert sim.request_count == before + 1


def test_429_rate_limit_replies_are_waited_out_and_retried() -> None:
    ds = live_dataset(500)
    faults = Faults(rate_limit=2.0, retry_after="0.3")  # a burst of 2, then 429
    with (
        GraphQLSimulator(ds, faults=faults) as limited,
        client_for(limited, max_retries=8) as client,
        ThreadPoolExecutor(4) as pool,  # 4 pages at once, as the import run asks for them
    ):
        pages = client.iter_account_pages(full=True, mapper=PoolMapper(pool, 8))
        accounts = [a for page in pages for a in page.accounts]
        stats = client.stats
    assert len(accounts) == 500 and mismatches(ds, accounts) == []
    assert stats.retries > 0 and stats.wait_seconds >= 0.3


def test_unknown_technology_names_are_kept_reported_and_never_guessed() -> None:
    ds = generate(accounts=200, seed=7)
    with GraphQLSimulator(ds, unknown_technology=True) as odd, client_for(odd) as client:
        names = client.technology_names()
        pages = list(client.iter_account_pages(full=True))
    accounts = [a for page in pages for a in page.accounts]
    assert client.technology.missing(names) == [UNKNOWN_TECHNOLOGY]
    assert set().union(*(page.unknown_technology_names for page in pages)) == {UNKNOWN_TECHNOLOGY}
    services = [s for a in accounts for s in a.detail.services]  # type: ignore[union-attr]
    odd_ones = [s for s in services if s.service_id in UNKNOWN_TECHNOLOGY_SERVICE_IDS]
    assert odd_ones and all(
        (s.technology_code, s.technology_name) == (None, UNKNOWN_TECHNOLOGY) for s in odd_ones
    )
    assert all(
        s.technology_code is not None for s in services if s.data_service and s not in odd_ones
    )


def test_catalogs_come_in_one_request_as_v1_stores_them(sim: GraphQLSimulator) -> None:
    with client_for(sim) as client:
        before = sim.request_count
        catalogs = client.catalogs()
        assert sim.request_count == before + 1
    assert catalogs == expected.catalogs(sim.dataset)


def test_pages_come_in_page_order_on_the_callers_pool(sim: GraphQLSimulator) -> None:
    ids = sim.dataset.live_ids()[:250]
    with client_for(sim) as client, ThreadPoolExecutor(4, thread_name_prefix="run") as pool:
        one_by_one = list(client.iter_account_pages(full=True))
        pooled = list(client.iter_account_pages(full=True, mapper=PoolMapper(pool, 8)))
        asked = list(client.iter_account_pages(full=True, ids=ids, mapper=PoolMapper(pool, 8)))
    assert pooled == one_by_one and len(pooled) == 3
    assert [p.asked for p in asked] == [tuple(ids[:100]), tuple(ids[100:200]), tuple(ids[200:])]


def test_the_sonar_package_opens_no_threads() -> None:
    """Worker threads belong to the import run (importer/); the clients take a Mapper."""
    root = Path(sonar_bdc.sonar.__file__).parent
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        assert "concurrent.futures" not in text and "threading.Thread" not in text, path
