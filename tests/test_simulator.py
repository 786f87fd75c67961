"""The bundled simulator, over real loopback HTTP (httpx, no mocks).

The small reference parsers below apply the cleaning rules of
``expected`` (tests/expected.py) to what the wire carries; the tests check that
the wire and that truth agree, for both report layouts.
"""

from __future__ import annotations

import html
import json
import math
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

import expected
from expected import text
from sonar_bdc.records import CustomerDetail, Group, ReportRow, Service
from sonar_bdc.simulator import Dataset, Faults, Simulator, generate
from sonar_bdc.simulator.nasty import ADDRESS_KINDS, BAD_COORDINATES, NAME_KINDS

REPORT = "/reports/accounts/contact_information/json"
AUTH = ("admin", "sonar")
META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
LINK = re.compile(r'<a href="/accounts/(\d+)">(.*)</a>', re.S)


# ---------------------------------------------------------------- helpers


OPEN_CLIENTS: list[httpx.Client] = []  # closed after each test (warnings are errors)


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def opened(client: httpx.Client) -> httpx.Client:
    OPEN_CLIENTS.append(client)
    return client


def login(sim: Simulator, password: str = "sonar") -> httpx.Client:
    """A web-session client logged in the way public clients do it."""
    client = opened(httpx.Client(base_url=sim.base_url, timeout=10))
    page = client.get("/")
    token = page.headers["X-Meta-CSRF-Token"]
    form = {"username": "admin", "password": password, "_token": token}
    client.post("/", data=form, headers={"X-CSRF-TOKEN": token})
    return client


def api(sim: Simulator) -> httpx.Client:
    return opened(httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=10))


def _coordinate(value: Any, limit: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    ok = math.isfinite(number) and number != 0 and abs(number) <= limit
    return number if ok else None


def parse_row(row: list[Any], layout: str) -> ReportRow:
    """A report row the way the importer should read it."""
    if layout == "A":
        line1, city, state, zip_, lat, lon, plus4, line2 = row[10:18]
        country, source = row[20], row[21]
    else:
        line1, line2, city, state, zip_, lat, lon = row[10:17]
        plus4 = country = source = None
    latitude, longitude = _coordinate(lat, 90), _coordinate(lon, 180)
    if latitude is None or longitude is None:
        latitude = longitude = None
    link = LINK.fullmatch(row[1])
    assert link and int(link[1]) == int(row[0])
    assert html.unescape(link[2]) == row[3]  # the first row's contact is the account
    return ReportRow(
        id=int(row[0]),
        name=text(row[3]),
        status=text(row[2]),
        address=text(line1),
        street2=text(line2),
        city=text(city),
        state=text(state),
        zip=text(zip_),
        plus4=text(plus4),
        country=text(country),
        source=text(source),
        latitude=latitude,
        longitude=longitude,
    )


def parse_detail(body: dict[str, Any]) -> CustomerDetail:
    account = body["account"]
    physical = [a for a in account["addresses"] if a["address_type"]["name"] == "physical"]
    assert len(physical) == 1
    services = tuple(
        Service(
            service_id=s["id"],
            name=text(s["name"]),
            data_service=s["data_service"],
            download_kbps=s["download_in_kilobits"],
            upload_kbps=s["upload_in_kilobits"],
            technology_code=s["technology_code"],
            technology_name=None if s["technology_code"] is None else str(s["technology_code"]),
            quantity=s["pivot"]["quantity"],
        )
        for s in account["services"]
    )
    return CustomerDetail(
        id=account["id"],
        name=text(account["name"]),
        account_status_id=account["account_status_id"],
        account_type_id=account["account_type_id"],
        fips=text(physical[0]["fips"]),
        groups=tuple(Group(g["id"], text(g["name"])) for g in account["groups"]),
        services=services,
    )


def first_rows(rows: list[list[Any]]) -> dict[int, list[Any]]:
    firsts: dict[int, list[Any]] = {}
    for row in rows:
        firsts.setdefault(int(row[0]), row)
    return firsts


def snapshot(sim: Simulator) -> dict[int, tuple[Any, ...]]:
    """Everything the endpoints say about each account."""
    web, rest = login(sim), api(sim)
    report = web.get(REPORT).json()["data"]
    grouped: dict[int, list[list[Any]]] = {}
    for row in report:
        grouped.setdefault(int(row[0]), []).append(row)
    state = {}
    for account_id, rows in grouped.items():
        detail = web.get(f"/accounts/{account_id}/json")
        inventory = rest.get(f"/api/v1/accounts/{account_id}/inventory_items")
        state[account_id] = (rows, detail.status_code, detail.text, inventory.text)
    return state


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def big() -> Dataset:
    return generate(accounts=3000, seed=11)


@pytest.fixture(scope="module", params=["A", "B"])
def layout_sim(request: pytest.FixtureRequest, big: Dataset) -> Iterator[Simulator]:
    with Simulator(big, layout=request.param) as sim:
        yield sim


@pytest.fixture
def small_sim() -> Iterator[Simulator]:
    with Simulator(generate(accounts=30, seed=4)) as sim:
        yield sim


# ---------------------------------------------------------------- the dataset


def test_generate_is_deterministic() -> None:
    assert generate(accounts=300, seed=7) == generate(accounts=300, seed=7)
    assert generate(accounts=300, seed=7) != generate(accounts=300, seed=8)


def test_generate_makes_as_many_accounts_as_asked() -> None:
    # Its speed is a figure for bench/, not a test (timing fails on a loaded machine).
    assert len(generate(accounts=10_000, seed=1).accounts) == 10_000


def test_dataset_holds_every_nasty_kind(big: Dataset) -> None:
    names = {a.name for a in big.accounts.values()}
    for kind, (_, values) in NAME_KINDS.items():
        assert names & set(values), f"no {kind} name"
    lines = {a.address.line1 for a in big.accounts.values()}
    for kind, (_, values) in ADDRESS_KINDS.items():
        assert lines & set(values), f"no {kind} address"
    assert max(len(line) for line in lines) >= 2000
    raws = {(a.address.lat_raw, a.address.lon_raw) for a in big.accounts.values()}
    for kind, (_, lat, lon) in BAD_COORDINATES.items():
        assert any(_matches(lat, r[0]) and _matches(lon, r[1]) for r in raws), kind
    accounts = list(big.accounts.values())
    assert any(isinstance(a.address.lat_raw, float) for a in accounts)
    assert any(isinstance(a.address.lat_raw, str) and a.address.lat for a in accounts)
    assert {a.contacts for a in accounts} == {1, 2, 3}
    assert big.deleted_ids() and any(not a.services for a in accounts)
    assert any(not big.services[s].data_service for a in accounts for s, _ in a.services)
    assert any(a.address.fips is None for a in accounts)
    items = list(big.items.values())
    assert any(i.model_id not in big.models for i in items)
    assert any(i.model_id_as_text for i in items)
    assert {i.assignee_type for i in items} >= {"accounts", "network_sites", "inventory_locations"}
    macs = [expected.inventory(big, a.id) for a in accounts if not a.deleted]
    flat = [item.mac_address for inv in macs if inv for item in inv.items]
    assert None in flat and any(flat)


def _matches(pattern: Any, raw: Any) -> bool:
    return (
        isinstance(raw, str)
        if pattern == "VALID"
        else raw == pattern and type(raw) is type(pattern)
    )


def test_truth_is_consistent(big: Dataset) -> None:
    for account in big.accounts.values():
        addr = account.address
        assert (addr.lat is None) == (addr.lon is None)
        if addr.lat is not None and addr.lon is not None:
            assert 25 < addr.lat < 37 and -107 < addr.lon < -93  # TX and neighbours
            assert float(str(addr.lat_raw)) == addr.lat and float(str(addr.lon_raw)) == addr.lon
        if addr.fips:
            state_code = {"TX": "48", "OK": "40", "NM": "35", "LA": "22"}[addr.state]
            assert len(addr.fips) == 15 and addr.fips.isdigit()
            assert addr.fips.startswith(state_code)
        if account.deleted:
            assert not account.item_ids and expected.detail(big, account.id) is None
        for item_id in account.item_ids:
            item = big.items[item_id]
            assert (item.assignee_type, item.assignee_id) == ("accounts", account.id)


# ---------------------------------------------------------------- /api/v1


@pytest.mark.parametrize("count", [0, 1, 100, 101])
def test_pagination_edges(count: int) -> None:
    with Simulator(generate(accounts=count, seed=1)) as sim, api(sim) as client:
        first = client.get("/api/v1/accounts").json()
        second = client.get("/api/v1/accounts", params={"page": 2}).json()
        far = client.get("/api/v1/accounts", params={"page": 99}).json()
        capped = client.get("/api/v1/accounts", params={"limit": 500}).json()
        small = client.get("/api/v1/accounts", params={"limit": 7, "page": 2}).json()
    pages = max(1, math.ceil(count / 100))
    assert first["paginator"] == {
        "total_count": count,
        "total_pages": pages,
        "current_page": 1,
        "limit": 100,
    }
    assert len(first["data"]) == min(count, 100)
    assert len(second["data"]) == max(0, count - 100)
    assert far["data"] == [] and far["paginator"]["current_page"] == 99
    assert capped["paginator"]["limit"] == 100 and len(capped["data"]) == min(count, 100)
    assert len(small["data"]) == min(7, max(0, count - 7))
    ids = [a["id"] for a in first["data"] + second["data"]]
    assert ids == list(sim.dataset.accounts)


def test_basic_auth_is_required(small_sim: Simulator) -> None:
    for auth in (None, ("admin", "wrong"), ("nobody", "sonar")):
        response = httpx.get(f"{small_sim.base_url}/api/v1/accounts", auth=auth)
        assert response.status_code == 401
        assert response.json()["error"]["status_code"] == 401
        assert isinstance(response.json()["error"]["message"], str)
    web = login(small_sim)  # a web session does not open the API
    assert web.get("/api/v1/accounts").status_code == 401


def test_catalogs_and_inventory(small_sim: Simulator) -> None:
    ds = small_sim.dataset
    with api(small_sim) as client:
        services = client.get("/api/v1/system/services").json()["data"]
        statuses = client.get("/api/v1/system/account_statuses").json()["data"]
        models = client.get("/api/v1/inventory/models").json()["data"]
        fields = client.get("/api/v1/inventory/models/2/fields").json()["data"]
        items = client.get("/api/v1/inventory/items", params={"limit": 100}).json()
        missing = client.get("/api/v1/inventory/models/99/fields")
    assert {s["technology_code"] for s in services} >= {0, 10, 20, 30, 40, 50, 60, 70, 90}
    assert all(isinstance(s["amount"], str) for s in services)
    assert any(not s["data_service"] and not s["download_in_kilobits"] for s in services)
    assert {s["name"]: s["active"] for s in statuses}["Active-Delinquent"] is True
    assert len(models) == len(ds.models)
    assert [f["type"] for f in fields] == ["string", "mac"]
    assert items["paginator"]["total_count"] == len(ds.items)
    assert all({"assignee_type", "assignee_id"} <= set(i) for i in items["data"])
    assert missing.status_code == 404


def test_account_inventory_matches_truth(big: Dataset) -> None:
    with Simulator(big) as sim, api(sim) as client:
        for account_id in list(big.accounts)[:150]:
            response = client.get(f"/api/v1/accounts/{account_id}/inventory_items")
            truth = expected.inventory(big, account_id)
            if truth is None:
                assert response.status_code == 404
                assert response.json()["error"]["status_code"] == 404
                continue
            got = [(i["id"], int(i["inventory_model_id"])) for i in response.json()["data"]]
            want = [(i.id, i.inventory_model_id) for i in truth.items]
            assert got == want
        assert client.get("/api/v1/accounts/1/inventory_items").status_code == 404


# ---------------------------------------------------------------- web session


def test_login_flow(small_sim: Simulator) -> None:
    base = small_sim.base_url
    assert httpx.get(f"{base}{REPORT}").status_code == 302  # no session at all
    with httpx.Client(base_url=base) as client:
        page = client.get("/")
        token = page.headers["X-Meta-CSRF-Token"]
        meta = META_TOKEN.search(page.text)
        assert meta and meta[1] == token
        assert client.get(REPORT).headers["location"] == "/"  # guest session
        no_token = client.post("/", data={"username": "admin", "password": "sonar"})
        assert no_token.status_code == 302 and no_token.headers["location"] == "/"
        bad = client.post("/", data={"username": "admin", "password": "x", "_token": token})
        assert bad.status_code == 200 and "csrf-token" in bad.text
        assert client.get(REPORT).status_code == 302
        good = client.post(
            "/", data={"username": "admin", "password": "sonar"}, headers={"X-CSRF-TOKEN": token}
        )
        assert good.status_code == 302 and good.headers["location"] == "/home"
        report = client.get(REPORT)
        assert report.status_code == 200
        assert report.headers["content-type"] == "application/json; charset=utf-8"
        assert len(report.json()["data"]) == small_sim.dataset.report_row_count()
        assert client.get("/home").status_code == 200


def test_session_expiry_redirects(small_sim: Simulator) -> None:
    small_sim.faults = Faults(session_expiry_every=2)
    account_id = small_sim.dataset.live_ids()[0]
    client = login(small_sim)
    assert client.get(f"/accounts/{account_id}/json").status_code == 200
    expired = client.get(f"/accounts/{account_id}/json")
    assert expired.status_code == 302 and expired.headers["location"] == "/"
    assert client.get(REPORT).status_code == 302  # the session is gone for good
    client = login(small_sim)
    assert client.get(REPORT).status_code == 200


def test_report_layouts_render_the_truth(layout_sim: Simulator) -> None:
    ds, layout = layout_sim.dataset, layout_sim.layout
    response = login(layout_sim).get(REPORT, timeout=30)
    rows = response.json()["data"]
    assert len(rows) == ds.report_row_count()
    assert all(len(row) == 22 for row in rows)
    firsts = first_rows(rows)
    assert list(firsts) == list(ds.accounts)
    for account_id, row in firsts.items():
        assert parse_row(row, layout) == expected.report_row(ds, account_id, layout)
        account = ds.accounts[account_id]
        groups = ", ".join(ds.groups[g].name for g in account.group_ids)
        assert row[9] == groups
        if layout == "B" and account.mailing:
            assert row[17] == account.mailing.line1


def test_duplicate_rows_differ_only_in_contact_fields(big: Dataset) -> None:
    with Simulator(big) as sim:
        rows = login(sim).get(REPORT).json()["data"]
    firsts = first_rows(rows)
    duplicates = [row for row in rows if row is not firsts[int(row[0])]]
    assert len(duplicates) == big.report_row_count() - len(big.accounts) > 0
    for row in duplicates:
        first = firsts[int(row[0])]
        assert row[3] != first[3]
        assert row[:3] == first[:3] and row[9:] == first[9:]


def test_details_render_the_truth_and_unicode_survives(big: Dataset) -> None:
    nasty = {v for _, values in NAME_KINDS.values() for v in values}
    chosen = [a.id for a in big.accounts.values() if a.name in nasty or a.mailing or a.deleted]
    chosen += list(big.accounts)[:100]
    with Simulator(big) as sim:
        client = login(sim)
        for account_id in chosen:
            response = client.get(f"/accounts/{account_id}/json")
            account = big.accounts[account_id]
            if account.deleted:
                assert response.status_code == 404
                continue
            body = response.json()
            assert body["account"]["name"] == account.name  # NUL, emoji, quotes intact
            assert parse_detail(body) == expected.detail(big, account_id)
        assert client.get("/accounts/999999/json").status_code == 404


def test_detail_is_bulky(big: Dataset) -> None:
    bulky = max(big.accounts.values(), key=lambda a: a.usage_months if not a.deleted else 0)
    with Simulator(big) as sim:
        response = login(sim).get(f"/accounts/{bulky.id}/json")
    assert len(response.content) > 20_000
    assert len(response.json()["account"]["data_usage_histories"]) == bulky.usage_months


# ---------------------------------------------------------------- faults


def test_error_faults_hit_data_but_not_login(small_sim: Simulator) -> None:
    client = login(small_sim)
    small_sim.faults = Faults(error_rate=1.0, seed=3)
    account_id = small_sim.dataset.live_ids()[0]
    statuses = {client.get(f"/accounts/{account_id}/json").status_code for _ in range(12)}
    statuses |= {api(small_sim).get("/api/v1/accounts").status_code for _ in range(12)}
    assert statuses <= {500, 502, 503, 504} and len(statuses) > 1
    assert login(small_sim).get("/home").status_code == 200  # login stays reliable


def test_drop_fault_closes_without_answer(small_sim: Simulator) -> None:
    small_sim.faults = Faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        api(small_sim).get("/api/v1/system/services")


def test_truncate_fault_sends_half_a_body(small_sim: Simulator) -> None:
    small_sim.faults = Faults(truncate_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        api(small_sim).get("/api/v1/system/services")
    request = (
        "GET /api/v1/system/services HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Basic YWRtaW46c29uYXI=\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", small_sim.port), timeout=5) as sock:
        sock.sendall(request.encode())
        received = b"".join(iter(lambda: sock.recv(65536), b""))
    head, _, body = received.partition(b"\r\n\r\n")
    declared = re.search(rb"Content-Length: (\d+)", head)
    assert declared
    length = int(declared[1])
    assert head.startswith(b"HTTP/1.1 200") and 0 < len(body) < length
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_rate_limit_answers_429(small_sim: Simulator) -> None:
    small_sim.faults = Faults(rate_limit=0.2)
    client = api(small_sim)
    assert client.get("/api/v1/system/account_types").status_code == 200
    limited = client.get("/api/v1/system/account_types")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json() == {"error": "Request limit of 400/min reached."}
    assert httpx.get(f"{small_sim.base_url}/").status_code == 429  # login is limited too
    assert httpx.get(f"{small_sim.base_url}/_simulator/stats").status_code == 200
    small_sim.faults = Faults(rate_limit=0.2, retry_after=None)
    client.get("/api/v1/system/account_types")
    limited = client.get("/api/v1/system/account_types")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers


def test_the_banner_says_where_and_how_to_log_in() -> None:
    with Simulator(generate(accounts=3, seed=4), "B", "ann", "pw") as sim:
        assert sim.banner() == (
            f"Sonar simulator on {sim.base_url} (layout B, 3 accounts)\n"
            "  username: ann\n  password: pw"
        )


def test_fail_accounts_and_latency(small_sim: Simulator) -> None:
    bad, good = small_sim.dataset.live_ids()[:2]
    small_sim.faults = Faults(fail_accounts=frozenset({bad}), latency=0.15)
    web, rest = login(small_sim), api(small_sim)
    assert web.get(f"/accounts/{bad}/json").status_code == 500
    assert rest.get(f"/api/v1/accounts/{bad}/inventory_items").status_code == 500
    started = time.perf_counter()
    assert web.get(f"/accounts/{good}/json").status_code == 200
    assert time.perf_counter() - started >= 0.15
    assert rest.get(f"/api/v1/accounts/{good}/inventory_items").status_code == 200


# ---------------------------------------------------------------- changes, load, lifecycle


def test_change_accounts_changes_what_endpoints_return() -> None:
    with Simulator(generate(accounts=120, seed=5)) as sim:
        before = snapshot(sim)
        changed = sim.change_accounts(fraction=0.1, seed=2)
        after = snapshot(sim)
        ds = sim.dataset
        for account_id in ds.live_ids()[:40]:
            inventory = api(sim).get(f"/api/v1/accounts/{account_id}/inventory_items").json()
            truth = expected.inventory(ds, account_id)
            assert truth and [i["id"] for i in inventory["data"]] == [i.id for i in truth.items]
    assert changed == sorted(changed) and len(changed) >= 12
    differing = sorted(i for i in before if before[i] != after[i])
    assert differing == changed
    again = Simulator(generate(accounts=120, seed=5)).change_accounts(fraction=0.1, seed=2)
    assert again == changed


def test_admin_endpoints(small_sim: Simulator) -> None:
    login(small_sim)
    response = httpx.post(f"{small_sim.base_url}/_simulator/change?fraction=0.2&seed=9")
    changed = response.json()["changed"]
    assert changed and set(changed) <= set(small_sim.dataset.accounts)
    stats = httpx.get(f"{small_sim.base_url}/_simulator/stats").json()
    assert stats == {"request_count": 2, "requests_by_kind": {"login": 2}}
    assert small_sim.request_count == 2


def test_32_concurrent_clients(big: Dataset) -> None:
    ids = big.live_ids()[:640]
    threads_before = threading.active_count()  # other tests may leave threads behind
    with Simulator(big) as sim:

        def worker(chunk: list[int]) -> list[tuple[int, int]]:
            web, rest = login(sim), api(sim)
            results = []
            for account_id in chunk:
                detail = web.get(f"/accounts/{account_id}/json")
                assert parse_detail(detail.json()) == expected.detail(big, account_id)
                inventory = rest.get(f"/api/v1/accounts/{account_id}/inventory_items")
                results.append((detail.status_code, inventory.status_code))
            return results

        with ThreadPoolExecutor(32) as pool:
            chunks = [ids[i::32] for i in range(32)]
            results = [r for rs in pool.map(worker, chunks) for r in rs]
        assert results == [(200, 200)] * len(ids)
        kinds = sim.requests_by_kind
    assert kinds == {"login": 64, "detail": 640, "inventory": 640}
    # stop() closed the 64 keep-alive connections: their handler threads end.
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before


def test_stop_closes_keepalive_connections() -> None:
    sim = Simulator(generate(accounts=3, seed=1)).start()
    client = api(sim)
    assert client.get("/api/v1/accounts").status_code == 200
    sim.stop()
    with pytest.raises(httpx.TransportError):
        client.get("/api/v1/accounts")
    sim.stop()  # idempotent


def test_bad_settings_are_refused() -> None:
    from sonar_bdc.errors import ConfigError

    with pytest.raises(ConfigError, match="layout"):
        Simulator(generate(accounts=1), layout="C")
    with pytest.raises(ConfigError, match="error_rate"):
        Faults(error_rate=2.0)
    with pytest.raises(ConfigError, match="accounts"):
        generate(accounts=-1)
