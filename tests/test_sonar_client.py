"""SonarClient against the simulator over loopback HTTP: data, logins, faults, limits.

Every test starts its own simulator (cheap) over one shared dataset. Backoffs are
tiny so the whole file runs in seconds.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import expected
from dbcompare import count_faults
from sonar_bdc.errors import SonarAuthError, SonarNotFound, SonarRetriesExhausted
from sonar_bdc.simulator import Dataset, Faults, Simulator, generate
from sonar_bdc.sonar.v1 import SonarClient, SonarConfig

pytestmark = pytest.mark.timeout(60)
USER, PASSWORD = "admin", "s3cret-Pa55"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    ds = generate(accounts=300, seed=1)
    assert ds.deleted_ids(), "the tests below need at least one deleted account"
    return ds


@pytest.fixture
def sim(dataset: Dataset) -> Iterator[Simulator]:
    with Simulator(dataset, layout="A", username=USER, password=PASSWORD) as simulator:
        yield simulator


def config(sim: Simulator, **over: Any) -> SonarConfig:
    settings: dict[str, Any] = {
        "username": USER, "password": PASSWORD, "timeout": 5.0, "max_retries": 8,
        "initial_backoff": 0.01, "max_backoff": 0.05,
    }  # fmt: skip
    return SonarConfig(sim.base_url, **{**settings, **over})


def without_nul(value: Any) -> Any:
    """Records with NUL characters removed: the store's cleaning step, not the client's."""
    if isinstance(value, str):
        return value.replace("\x00", "") or None
    if isinstance(value, tuple) and hasattr(value, "_make"):  # a named tuple: ReportRow
        return value._make(without_nul(v) for v in value)
    if isinstance(value, tuple | list):
        return type(value)(without_nul(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: without_nul(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    return value


def fetch_customer(client: SonarClient, catalog: Any, account_id: int) -> tuple:
    try:
        return client.account_detail(account_id), client.account_inventory(account_id, catalog)
    except SonarNotFound:
        return None, None


def expected_customer(ds: Dataset, account_id: int) -> tuple:
    return expected.detail(ds, account_id), expected.inventory(ds, account_id)


# --- pagination -------------------------------------------------------------------------


@pytest.mark.parametrize(("accounts", "pages"), [(0, 1), (1, 1), (100, 1), (101, 2)])
def test_pagination_edges(accounts: int, pages: int) -> None:
    ds = generate(accounts=accounts, seed=2)
    with Simulator(ds, username=USER, password=PASSWORD) as sim, SonarClient(config(sim)) as c:
        ids = [item["id"] for item in c.iter_pages("accounts")]
        assert ids == list(ds.accounts)
        assert sim.requests_by_kind.get("api_list") == pages == c.stats.requests


# --- the report -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["A", "B"])
def test_report_in_both_layouts_detected(
    dataset: Dataset, layout: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        Simulator(dataset, layout=layout, username=USER, password=PASSWORD) as sim,
        SonarClient(config(sim)) as client,
        caplog.at_level(logging.INFO, logger="sonar_bdc.sonar"),
    ):
        report = client.report()
    assert report.layout == layout and f"report layout {layout} detected" in caplog.text
    truth = [expected.report_row(dataset, i, layout) for i in dataset.accounts]
    assert without_nul(tuple(report.rows)) == tuple(truth)
    assert report.raw_rows == dataset.report_row_count()
    assert report.duplicate_rows == report.raw_rows - len(dataset.accounts) > 0
    assert report.invalid_coordinates == sum(1 for row in truth if row.latitude is None) > 0


def test_report_past_the_memory_spool_is_read_from_disk(
    sim: Simulator, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report body is written to a temporary file, not held: same rows either way."""
    from sonar_bdc.sonar.v1 import transport

    monkeypatch.setattr(transport, "SPOOL_IN_MEMORY", 4096)
    spools: list[Any] = []
    real = transport.tempfile.SpooledTemporaryFile

    def recorded(*args: Any, **kwargs: Any) -> Any:
        spools.append(real(*args, **kwargs))
        return spools[-1]

    monkeypatch.setattr(transport.tempfile, "SpooledTemporaryFile", recorded)
    with SonarClient(config(sim)) as client:
        report = client.report()
        assert len(spools) == 1 and spools[0]._rolled  # on disk: the body is far over 4 KB
        assert spools[0].closed  # the temporary file is gone once the rows are read
        with client.report_reader() as reader:
            assert next(iter(reader)).id == report.rows[0].id
            assert not spools[1].closed
        assert spools[1].closed
    truth = [expected.report_row(dataset, i, "A") for i in dataset.accounts]
    assert without_nul(tuple(report.rows)) == tuple(truth)


def test_report_layout_set_explicitly_wins(sim: Simulator) -> None:
    with SonarClient(config(sim, report_layout="B")) as client:
        report = client.report()
    assert report.layout == "B"  # read as told (the data is layout A): coordinates vanish
    assert all(row.latitude is None for row in report.rows)


# --- records ----------------------------------------------------------------------------


def test_catalogs_details_and_inventory(sim: Simulator, dataset: Dataset) -> None:
    ids = dataset.live_ids()[:60] + dataset.deleted_ids()
    with SonarClient(config(sim)) as client:
        assert without_nul(client.catalogs()) == expected.catalogs(dataset)
        catalog = client.inventory_catalog()
        got = {i: fetch_customer(client, catalog, i) for i in ids}
        stats = client.stats
    assert {i: without_nul(v) for i, v in got.items()} == {
        i: expected_customer(dataset, i) for i in ids
    }
    assert any(inv.items for _, inv in got.values() if inv) and stats.retries == 0
    assert stats.not_found == len(dataset.deleted_ids())


def test_deleted_account_is_not_found_without_retry(sim: Simulator, dataset: Dataset) -> None:
    deleted = dataset.deleted_ids()[0]
    with SonarClient(config(sim)) as client:
        client.login()
        before = client.stats.requests
        with pytest.raises(SonarNotFound):
            client.account_detail(deleted)
        with pytest.raises(SonarNotFound):
            client.account_inventory(deleted, client.inventory_catalog())
        assert client.stats.retries == 0 and client.stats.not_found == 2
        assert client.stats.requests > before


# --- logins -----------------------------------------------------------------------------


def test_login_checks_both_surfaces(sim: Simulator) -> None:
    with SonarClient(config(sim)) as client:
        client.login()
        assert client.stats.logins == 1
        assert sim.requests_by_kind == {"login": 2, "api_list": 1}  # GET + POST /, one API call


def test_wrong_password_stops_at_once(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(sim, password="wrong-password-123")
    with SonarClient(cfg) as client, caplog.at_level(logging.DEBUG):
        with pytest.raises(SonarAuthError) as info:
            client.login()
        message = str(info.value)
        assert "SONAR_USERNAME" in message and "SONAR_PASSWORD" in message
        assert "wrong-password-123" not in message and "\n" not in message
        assert client.stats.retries == 0 and sim.requests_by_kind["login"] == 2
        with pytest.raises(SonarAuthError):  # remembered: no second refused login
            client.account_detail(1001)
        assert sim.requests_by_kind["login"] == 2
    assert "wrong-password-123" not in caplog.text


def test_wrong_api_password_stops_at_once(sim: Simulator) -> None:
    with SonarClient(config(sim, password="nope")) as client:
        with pytest.raises(SonarAuthError, match="SONAR_USERNAME and SONAR_PASSWORD"):
            list(client.iter_pages("accounts"))
        assert client.stats.requests == 1 and client.stats.retries == 0


def test_session_expiry_logs_in_again_transparently(sim: Simulator, dataset: Dataset) -> None:
    sim.faults = Faults(session_expiry_every=4)
    ids = dataset.live_ids()[:20]
    with SonarClient(config(sim)) as client:
        details = [client.account_detail(i) for i in ids]
        stats = client.stats
    assert without_nul(tuple(details)) == tuple(expected.detail(dataset, i) for i in ids)
    assert stats.retries == 0
    assert stats.logins == 1 + sim.requests_by_kind["detail"] // 4 > 3


def test_session_expiry_under_concurrency_logs_in_once_per_expiry(
    sim: Simulator, dataset: Dataset
) -> None:
    sim.faults = Faults(session_expiry_every=15)
    ids = dataset.live_ids()[:150]
    with SonarClient(config(sim, pool_size=16)) as client, ThreadPoolExecutor(16) as pool:
        details = list(pool.map(client.account_detail, ids))
        stats = client.stats
    assert without_nul(tuple(details)) == tuple(expected.detail(dataset, i) for i in ids)
    expiries = sim.requests_by_kind["detail"] // 15
    assert expiries >= 5 and stats.logins <= expiries + 1


# --- faults -----------------------------------------------------------------------------

FAULTS = {
    "5xx": (Faults(error_rate=0.3, seed=1), {}),
    "dropped connection": (Faults(drop_rate=0.3, seed=2), {}),
    "truncated body": (Faults(truncate_rate=0.3, seed=3), {}),
    "timeout": (Faults(jitter=0.2, seed=4), {"timeout": 0.1}),
    "429 without Retry-After": (Faults(rate_limit=40, retry_after=None), {"max_backoff": 0.2}),
}


@pytest.mark.parametrize("kind", FAULTS)
def test_fault_recovers_within_retry_budget(sim: Simulator, dataset: Dataset, kind: str) -> None:
    faults, over = FAULTS[kind]
    ids = dataset.live_ids()[: 6 if kind == "timeout" else 40]
    with SonarClient(config(sim, max_retries=12, **over)) as client:
        client.login()
        catalog = client.inventory_catalog()
        sim.faults = faults
        report = client.report()
        got = [fetch_customer(client, catalog, i) for i in ids]
        stats = client.stats
    assert len(report.rows) == len(dataset.accounts)
    assert without_nul(got) == [expected_customer(dataset, i) for i in ids]
    assert stats.retries > 0 and stats.wait_seconds > 0


PERSISTENT = {
    "5xx": (Faults(error_rate=1.0), {}),
    "dropped connection": (Faults(drop_rate=1.0), {}),
    "truncated body": (Faults(truncate_rate=1.0), {}),
    "timeout": (Faults(latency=0.3), {"timeout": 0.1}),
    "429": (Faults(rate_limit=0.001, retry_after="0"), {}),
}


@pytest.mark.parametrize("kind", PERSISTENT)
def test_fault_past_retry_budget_fails_cleanly(sim: Simulator, kind: str) -> None:
    faults, over = PERSISTENT[kind]
    with SonarClient(config(sim, max_retries=2, **over)) as client:
        sim.faults = faults
        if kind == "429":
            list(client.iter_pages("system/account_groups"))  # spends the one token
        before = client.stats
        with pytest.raises(SonarRetriesExhausted) as info:
            list(client.iter_pages("system/account_statuses"))
        after = client.stats
    message = str(info.value)
    assert "gave up after 2 retries" in message and "--max-retries" in message
    assert "/api/v1/system/account_statuses" in message and "\n" not in message
    assert after.retries - before.retries == 2 and after.requests - before.requests == 3


def test_failing_account_does_not_stop_the_others(sim: Simulator, dataset: Dataset) -> None:
    bad, *good = dataset.live_ids()[:5]
    sim.faults = Faults(fail_accounts=frozenset({bad}))
    with SonarClient(config(sim, max_retries=1)) as client:
        with pytest.raises(SonarRetriesExhausted, match=f"/accounts/{bad}/json: HTTP 500"):
            client.account_detail(bad)
        assert [d.id for d in map(client.account_detail, good)] == good


def timed(action: Callable[[], Any]) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


def test_retry_after_is_honoured(sim: Simulator) -> None:
    with SonarClient(config(sim, max_backoff=5.0)) as client:
        client.login()
        sim.faults = Faults(rate_limit=1, retry_after="1")  # one token, one more per second
        list(client.iter_pages("system/account_groups"))
        elapsed = timed(lambda: list(client.iter_pages("system/account_statuses")))
        stats = client.stats
    assert stats.retries == 1 and 1.0 <= stats.wait_seconds < 1.5 and elapsed >= 1.0


class StillClock:
    """A simulator's clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_absurd_retry_after_is_capped(dataset: Dataset) -> None:
    clock = StillClock()  # the rate limit refills only when the test says so: no real wait
    sim = Simulator(dataset, username=USER, password=PASSWORD, clock=clock)
    with sim, SonarClient(config(sim, max_backoff=0.0, max_retries=3)) as client:
        client.login()
        sim.faults = Faults(rate_limit=2, retry_after="86400")
        for _ in range(2):  # the bucket's two tokens
            list(client.iter_pages("system/account_groups"))
        with pytest.raises(SonarRetriesExhausted):  # 429 until the clock moves
            list(client.iter_pages("system/account_groups"))
        refused = client.stats
        clock.now += 0.5  # one token back, at two a second
        list(client.iter_pages("system/account_groups"))
    # Sonar asked for a day before each retry: each waited max_backoff at most.
    assert refused.retries == 3 and refused.wait_seconds == 0.0


# --- concurrency ------------------------------------------------------------------------


def run_threads(client: SonarClient, threads: int, per_thread: int) -> None:
    def work() -> None:
        for _ in range(per_thread):
            list(client.iter_pages("system/account_types"))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_rate_limit_is_held_by_20_threads(sim: Simulator) -> None:
    rate, threads, per_thread = 50.0, 20, 4
    sim.faults = Faults(rate_limit=rate, retry_after=None)
    with SonarClient(config(sim, rate_limit=rate, pool_size=threads)) as client:
        elapsed = timed(lambda: run_threads(client, threads, per_thread))
        stats = client.stats
    total = threads * per_thread
    assert stats.retries == 0 and stats.requests == sim.request_count == total  # no 429 at all
    assert elapsed >= (total - 1) / rate * 0.95 and stats.wait_seconds > 0


def test_without_the_limiter_the_same_load_is_refused(sim: Simulator) -> None:
    sim.faults = Faults(rate_limit=50.0, retry_after=None)  # the control for the test above
    with SonarClient(config(sim, pool_size=20, max_retries=30, max_backoff=0.1)) as client:
        run_threads(client, 20, 4)
        assert client.stats.retries > 0


def test_32_threads_share_one_client_through_mixed_faults(sim: Simulator, dataset: Dataset) -> None:
    sim.faults = Faults(
        error_rate=0.05, drop_rate=0.03, truncate_rate=0.03, session_expiry_every=40, seed=5
    )
    injected = count_faults(sim)
    ids = list(dataset.accounts)
    with SonarClient(config(sim, pool_size=8, max_retries=10)) as client:
        catalog = client.inventory_catalog()
        with ThreadPoolExecutor(32) as pool:
            got = list(pool.map(lambda i: fetch_customer(client, catalog, i), ids))
        stats = client.stats
    assert without_nul(got) == [expected_customer(dataset, i) for i in ids]
    assert stats.retries > 0 and stats.logins > 1
    # Every request counted once on both ends, but for the ones libcurl sent again by
    # itself after a kept-alive connection closed without an answer.
    assert 0 <= sim.request_count - stats.requests <= injected["drop"]
