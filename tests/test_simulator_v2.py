"""The bundled Sonar v2 (GraphQL) simulator, over real loopback HTTP (httpx, no mocks).

``to_detail``/``to_inventory`` below read a v2 account the way the contract tells the
importer to (serviceable address, primary MAC field, technology names mapped back to
Form 477 codes, v1's cleaning rules); the tests check the wire against the v1 truth.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import expected
from expected import text
from sonar_bdc.records import CustomerDetail, CustomerInventory, Group, InventoryItem, Service
from sonar_bdc.simulator import Dataset, Faults, generate
from sonar_bdc.simulator.v2 import (
    TECHNOLOGY_CODES,
    TECHNOLOGY_NAMES,
    UNKNOWN_TECHNOLOGY,
    UNKNOWN_TECHNOLOGY_SERVICE_IDS,
    GraphQLSimulator,
)
from sonar_bdc.simulator.v2.entities import base_stamp

TOKEN = "sonar-token"
ACCOUNT_FIELDS = """
  id name account_status_id account_type_id updated_at
  account_status { id name activates_account }
  account_type { id name type }
  account_groups { page_info { total_count } entities { id name } }
  addresses {
    page_info { total_count }
    entities { id type line1 line2 city subdivision zip country county
      latitude longitude fips serviceable addressable_type addressable_id
      inventory_items { page_info { total_count } entities {
        id status inventoryitemable_type inventoryitemable_id inventory_model_id
        inventory_model { id name model_name manufacturer { id name } }
        inventory_model_field_data { entities { value
          inventory_model_field { id name primary type } } } } } }
  }
  account_services {
    page_info { total_count }
    entities { id account_id service_id quantity service { id name type enabled amount
      data_service_detail { download_speed_kilobits_per_second
        upload_speed_kilobits_per_second technology_code } } }
  }
"""
ACCOUNTS = (
    "query A($p: Paginator, $s: [Sorter], $q: [Search]) {"
    " accounts(paginator: $p, sorter: $s, search: $q) {"
    " page_info { page records_per_page total_count total_pages }"
    f" entities {{ {ACCOUNT_FIELDS} }} }} }}"
)
IDS = (
    "query A($p: Paginator, $s: [Sorter], $q: [Search]) {"
    " accounts(paginator: $p, sorter: $s, search: $q) {"
    " page_info { page records_per_page total_count total_pages } entities { id } } }"
)


# ---------------------------------------------------------------- helpers


def client(sim: GraphQLSimulator, token: str = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return httpx.Client(base_url=sim.base_url, headers=headers, timeout=10)


def gql(sim: GraphQLSimulator, query: str, **variables: Any) -> dict[str, Any]:
    """The ``data`` of a successful query (asserts HTTP 200 and no errors)."""
    with client(sim) as c:
        reply = c.post("/api/graphql", json={"query": query, "variables": variables})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def errors(sim: GraphQLSimulator, query: str, **variables: Any) -> list[str]:
    with client(sim) as c:
        reply = c.post("/api/graphql", json={"query": query, "variables": variables})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["data"] is None
    return [e["message"] for e in body["errors"]]


def ids(sim: GraphQLSimulator, **variables: Any) -> list[int]:
    page = gql(sim, IDS, p={"page": 1, "records_per_page": 10_000}, **variables)["accounts"]
    return [e["id"] for e in page["entities"]]


def updated_at(op: str, value: str) -> list[dict[str, Any]]:
    """A ``search`` on ``updated_at``."""
    return [
        {"datetime_fields": [{"attribute": "updated_at", "operator": op, "search_value": value}]}
    ]


def paged(n: int, size: int = 100) -> dict[str, int]:
    return {"page": n, "records_per_page": size}


def only_live(ds: Dataset) -> Dataset:
    """Undelete every account, so the live count is the generated count."""
    for account in ds.accounts.values():
        account.deleted = False
    ds.version += 1
    return ds


def _coordinate(value: Any, limit: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number != 0 and abs(number) <= limit else None


def serviceable(account: dict[str, Any]) -> dict[str, Any]:
    found = [a for a in account["addresses"]["entities"] if a["serviceable"]]
    assert len(found) == 1
    return found[0]


def to_detail(account: dict[str, Any]) -> CustomerDetail:
    services = []
    for link in account["account_services"]["entities"]:
        s, detail = link["service"], link["service"]["data_service_detail"]
        code = TECHNOLOGY_CODES.get(detail["technology_code"]) if detail else None
        services.append(
            Service(
                service_id=s["id"],
                name=text(s["name"]),
                data_service=detail is not None,
                download_kbps=detail["download_speed_kilobits_per_second"] if detail else None,
                upload_kbps=detail["upload_speed_kilobits_per_second"] if detail else None,
                technology_code=code,
                technology_name=None if code is None else str(code),
                quantity=link["quantity"],
            )
        )
    return CustomerDetail(
        id=account["id"],
        name=text(account["name"]),
        account_status_id=account["account_status_id"],
        account_type_id=account["account_type_id"],
        fips=text(serviceable(account)["fips"]),
        groups=tuple(
            Group(g["id"], text(g["name"])) for g in account["account_groups"]["entities"]
        ),
        services=tuple(services),
    )


def v2_truth(ds: Dataset, account_id: int) -> CustomerDetail:
    """v1's expected detail; v2 has no speeds or technology for non-data services."""
    detail = expected.detail(ds, account_id)
    assert detail is not None
    blank = {"download_kbps": None, "upload_kbps": None}
    services = tuple(
        s if s.data_service else replace(s, **blank, technology_code=None, technology_name=None)
        for s in detail.services
    )
    return replace(detail, services=services)


def to_inventory(account: dict[str, Any]) -> CustomerInventory:
    items = []
    for item in serviceable(account)["inventory_items"]["entities"]:
        model = item["inventory_model"]
        maker = model["manufacturer"] if model else None
        macs = [
            d["value"]
            for d in item["inventory_model_field_data"]["entities"]
            if d["inventory_model_field"] and d["inventory_model_field"]["primary"]
        ]
        items.append(
            InventoryItem(
                id=item["id"],
                inventory_model_id=item["inventory_model_id"],
                model_name=model["name"] if model else None,
                manufacturer_id=maker["id"] if maker else None,
                manufacturer_name=maker["name"] if maker else None,
                status=item["status"].lower(),
                mac_address=text(macs[0]) if macs else None,
            )
        )
    return CustomerInventory(customer_id=account["id"], items=tuple(items))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate(accounts=600, seed=21)


@pytest.fixture(scope="module")
def sim(ds: Dataset) -> Iterator[GraphQLSimulator]:
    with GraphQLSimulator(ds) as running:
        yield running


@pytest.fixture
def fresh() -> Iterator[GraphQLSimulator]:
    with GraphQLSimulator(generate(accounts=60, seed=5)) as running:
        yield running


# ---------------------------------------------------------------- transport


def test_introspection_lists_the_technology_names(sim: GraphQLSimulator) -> None:
    query = '{ __type(name: "TechnologyCode") { enumValues { name description } } }'
    values = gql(sim, query)["__type"]["enumValues"]
    assert [v["name"] for v in values] == [name for name, _ in TECHNOLOGY_NAMES.values()]
    assert all(v["description"] for v in values)
    assert "accounts" in str(gql(sim, "{ __schema { queryType { fields { name } } } }"))


def test_bearer_token_is_required(sim: GraphQLSimulator) -> None:
    body = {"query": "{ accounts { entities { id } } }"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        reply = httpx.post(sim.base_url + "/api/graphql", json=body, headers=headers)
        assert reply.status_code == 401
        assert reply.json() == {"message": "Unauthenticated."}


def test_query_errors_are_graphql_errors(sim: GraphQLSimulator) -> None:
    assert errors(sim, "{ nope }") == ["Cannot query field 'nope' on type 'Query'."]
    assert "Syntax Error" in errors(sim, "{ accounts {")[0]
    bad_page = "{ accounts(paginator: {page: 0, records_per_page: 5}) { entities { id } } }"
    assert "page" in errors(sim, bad_page)[0]
    with client(sim) as c:
        assert c.post("/api/graphql", content=b"not json").status_code == 400
        assert c.get("/api/graphql").status_code == 405


def test_rate_limit_answers_429_with_sonars_body(fresh: GraphQLSimulator) -> None:
    fresh.faults = Faults(rate_limit=1, retry_after="7")
    with client(fresh) as c:
        replies = [c.post("/api/graphql", json={"query": "{ __typename }"}) for _ in range(8)]
    limited = [r for r in replies if r.status_code == 429]
    assert limited and replies[0].status_code == 200
    assert limited[0].json() == {"error": "Request limit of 400/min reached."}
    assert limited[0].headers["Retry-After"] == "7"
    assert fresh.request_count == 8


def test_the_rate_limit_refills_by_the_simulators_clock() -> None:
    now = [0.0]
    with GraphQLSimulator(generate(accounts=3, seed=5), clock=lambda: now[0]) as sim:
        sim.faults = Faults(rate_limit=1)
        with client(sim) as c:

            def status() -> int:
                return c.post("/api/graphql", json={"query": "{ __typename }"}).status_code

            assert [status(), status()] == [200, 429]
            now[0] += 1.0  # one second: one request more, however long the test took
            assert [status(), status()] == [200, 429]


def test_the_banner_says_where_and_how_to_authorize(fresh: GraphQLSimulator) -> None:
    assert fresh.banner() == (
        f"Sonar v2 (GraphQL) simulator on {fresh.url} (60 accounts)\n"
        f"  Authorization: Bearer {fresh.token}"
    )


def test_fail_next_with_errors(fresh: GraphQLSimulator) -> None:
    fresh.fail_next_with_errors(2)
    query = "{ accounts { entities { id } } }"
    assert errors(fresh, query) == errors(fresh, query) == ["Internal server error"]
    assert gql(fresh, query)["accounts"]["entities"]


def test_fail_accounts_fail_their_page(fresh: GraphQLSimulator) -> None:
    victim = fresh.dataset.live_ids()[7]
    fresh.faults = Faults(fail_accounts=frozenset({victim}))
    assert gql(fresh, IDS, p=paged(1, 5))["accounts"]["entities"]
    assert errors(fresh, IDS, p=paged(2, 5)) == ["Internal server error"]
    assert gql(fresh, IDS, p=paged(3, 5))["accounts"]["entities"]


def test_server_errors_from_the_fault_knobs(fresh: GraphQLSimulator) -> None:
    fresh.faults = Faults(error_rate=1.0, seed=3)
    with client(fresh) as c:
        replies = [c.post("/api/graphql", json={"query": "{ __typename }"}) for _ in range(20)]
    assert {r.status_code for r in replies} == {500, 502, 503, 504}
    assert next(r for r in replies if r.status_code == 500).json() == {"message": "Server Error"}
    assert "<html>" in next(r for r in replies if r.status_code == 502).text


def test_dropped_and_truncated_answers(fresh: GraphQLSimulator) -> None:
    body = {"query": "{ accounts { entities { id name } } }"}
    for faults in (Faults(drop_rate=1.0), Faults(truncate_rate=1.0)):
        fresh.faults = faults
        with client(fresh) as c, pytest.raises(httpx.TransportError):
            c.post("/api/graphql", json=body)
    fresh.faults = Faults()
    assert gql(fresh, body["query"])["accounts"]["entities"]


def test_admin_endpoints_are_uncounted(fresh: GraphQLSimulator) -> None:
    gql(fresh, "{ __typename }")
    with httpx.Client(base_url=fresh.base_url) as c:
        changed = c.post("/_simulator/change", params={"fraction": "0.1", "seed": "4"})
        stats = c.get("/_simulator/stats").json()
    assert changed.status_code == 200 and changed.json()["changed"]
    assert stats == {"request_count": 1} and fresh.request_count == 1


# ---------------------------------------------------------------- paging


@pytest.mark.parametrize("count", [0, 1, 100, 101])
def test_paging_edges(count: int) -> None:
    with GraphQLSimulator(only_live(generate(accounts=count, seed=2))) as sim:
        first = gql(sim, IDS, p=paged(1))["accounts"]
        second = gql(sim, IDS, p=paged(2))["accounts"]
        default = gql(sim, "{ accounts { page_info { records_per_page } entities { id } } }")
    assert first["page_info"] == {
        "page": 1,
        "records_per_page": 100,
        "total_count": count,
        "total_pages": math.ceil(count / 100),
    }
    assert len(first["entities"]) == min(count, 100)
    assert len(second["entities"]) == max(0, count - 100)
    got = [e["id"] for e in first["entities"] + second["entities"]]
    assert got == sorted(sim.dataset.accounts)
    assert len(default["accounts"]["entities"]) == min(count, 100)
    assert default["accounts"]["page_info"]["records_per_page"] == 100


def test_page_size_is_capped_and_past_the_end_is_empty(sim: GraphQLSimulator) -> None:
    big = gql(sim, IDS, p=paged(1, 50_000))["accounts"]
    assert big["page_info"]["records_per_page"] == 10_000
    assert [e["id"] for e in big["entities"]] == sim.dataset.live_ids()
    past = gql(sim, IDS, p=paged(99, 100))["accounts"]
    assert past["entities"] == [] and past["page_info"]["total_count"] == len(big["entities"])


def test_deleted_accounts_are_absent(sim: GraphQLSimulator, ds: Dataset) -> None:
    listed = ids(sim)
    assert ds.deleted_ids() and not set(ds.deleted_ids()) & set(listed)
    one = "query($id: Int64Bit) { accounts(id: $id) { entities { id } } }"
    assert gql(sim, one, id=ds.deleted_ids()[0])["accounts"]["entities"] == []
    assert gql(sim, one, id=str(listed[3]))["accounts"]["entities"] == [{"id": listed[3]}]


def test_sorter(sim: GraphQLSimulator, ds: Dataset) -> None:
    live = [ds.accounts[i] for i in ds.live_ids()]
    assert ids(sim, s=[{"attribute": "id", "direction": "DESC"}]) == ds.live_ids()[::-1]
    by_status = sorted(live, key=lambda a: (-a.status_id, a.name))
    sorter = [
        {"attribute": "account_status_id", "direction": "DESC"},
        {"attribute": "name", "direction": "ASC"},
    ]
    assert ids(sim, s=sorter) == [a.id for a in by_status]
    assert "direction" in errors(sim, IDS, s=[{"attribute": "id", "direction": "UP"}])[0]
    assert "Unknown attribute" in errors(sim, IDS, s=[{"attribute": "x", "direction": "ASC"}])[0]


# ---------------------------------------------------------------- search


def test_integer_search_operators(sim: GraphQLSimulator, ds: Dataset) -> None:
    live = ds.live_ids()
    pivot = live[len(live) // 2]
    wanted = {
        "EQ": [i for i in live if i == pivot],
        "NEQ": [i for i in live if i != pivot],
        "GT": [i for i in live if i > pivot],
        "GTE": [i for i in live if i >= pivot],
        "LT": [i for i in live if i < pivot],
        "LTE": [i for i in live if i <= pivot],
    }
    for op, want in wanted.items():
        search = [{"integer_fields": [{"attribute": "id", "operator": op, "search_value": pivot}]}]
        assert ids(sim, q=search) == want, op


def test_search_ands_within_and_ors_across(sim: GraphQLSimulator, ds: Dataset) -> None:
    def crit(attribute: str, op: str, value: int) -> dict[str, Any]:
        return {"attribute": attribute, "operator": op, "search_value": value}

    window = {"integer_fields": [crit("id", "GT", 1100), crit("id", "LTE", 1200)]}
    leads = {"integer_fields": [crit("account_status_id", "EQ", 1)]}
    want = [
        a.id
        for a in ds.accounts.values()
        if not a.deleted and (1100 < a.id <= 1200 or a.status_id == 1)
    ]
    assert ids(sim, q=[window, leads]) == want
    eq_arg = "{ accounts(account_status_id: 1) { page_info { total_count } } }"
    leads_only = [a for a in ds.accounts.values() if not a.deleted and a.status_id == 1]
    assert gql(sim, eq_arg)["accounts"]["page_info"]["total_count"] == len(leads_only)
    active = "{ account_statuses(activates_account: true) { entities { id } } }"
    assert [e["id"] for e in gql(sim, active)["account_statuses"]["entities"]] == [2, 5]


def test_datetime_search_on_updated_at(fresh: GraphQLSimulator) -> None:
    live = fresh.dataset.live_ids()
    cut = sorted(base_stamp(i) for i in live)[len(live) // 3]
    for op, test in (("GT", cut.__lt__), ("LTE", cut.__ge__)):
        search = updated_at(op, cut.isoformat())
        assert ids(fresh, q=search) == [i for i in live if test(base_stamp(i))], op
    before = datetime.now(timezone.utc)
    changed = fresh.change_accounts(0.1, seed=3)
    search = updated_at("GTE", before.replace(tzinfo=None).isoformat())  # naive: UTC
    assert ids(fresh, q=search) == changed
    stamp = gql(fresh, IDS.replace("{ id }", "{ updated_at }"), q=search)
    when = datetime.fromisoformat(stamp["accounts"]["entities"][0]["updated_at"])
    assert when.utcoffset() == timedelta(hours=-5) and when > before


def test_changes_show_in_the_next_query(fresh: GraphQLSimulator) -> None:
    query = f"query($id: Int64Bit) {{ accounts(id: $id) {{ entities {{ {ACCOUNT_FIELDS} }} }} }}"
    changed = fresh.change_accounts(0.2, seed=9)
    for account_id in changed:
        account = gql(fresh, query, id=account_id)["accounts"]["entities"][0]
        assert to_detail(account) == v2_truth(fresh.dataset, account_id)
        assert to_inventory(account) == expected.inventory(fresh.dataset, account_id)


# ---------------------------------------------------------------- data and nesting


def test_accounts_equal_the_v1_truth(sim: GraphQLSimulator, ds: Dataset) -> None:
    page = gql(sim, ACCOUNTS, p=paged(1, 1000))["accounts"]["entities"]
    assert len(page) == len(ds.live_ids())
    for account in page:
        aid = account["id"]
        assert to_detail(account) == v2_truth(ds, aid), aid
        assert to_inventory(account) == expected.inventory(ds, aid), aid
        status, kind = ds.statuses[ds.accounts[aid].status_id], ds.types[ds.accounts[aid].type_id]
        assert account["account_status"]["activates_account"] == status.active
        assert account["account_type"]["type"] == kind.type.upper()


def test_addresses_equal_the_v1_truth(sim: GraphQLSimulator, ds: Dataset) -> None:
    page = gql(sim, ACCOUNTS, p=paged(1, 1000))["accounts"]["entities"]
    for account in page:
        truth, address = expected.report_row(ds, account["id"]), serviceable(account)
        zip_code, _, plus4 = address["zip"].partition("-")
        assert address["type"] == "PHYSICAL" and address["addressable_id"] == account["id"]
        assert address["subdivision"] == f"US_{truth.state}" and address["country"] == "US"
        assert (text(address["line1"]), text(address["line2"])) == (truth.address, truth.street2)
        assert (address["city"], zip_code, plus4 or None) == (truth.city, truth.zip, truth.plus4)
        lat, lon = _coordinate(address["latitude"], 90), _coordinate(address["longitude"], 180)
        clean = (lat, lon) if lat is not None and lon is not None else (None, None)
        assert clean == (truth.latitude, truth.longitude)
        for coordinate in (address["latitude"], address["longitude"]):
            assert coordinate is None or isinstance(coordinate, str)
        mailing = [a for a in account["addresses"]["entities"] if not a["serviceable"]]
        assert [m["type"] for m in mailing] == (
            ["MAILING"] if ds.accounts[account["id"]].mailing else []
        )
    lats = {serviceable(a)["latitude"] for a in page}
    assert None in lats and "0" in lats  # not geocoded, and a zero the importer must drop


def test_nested_lists_come_whole(sim: GraphQLSimulator, ds: Dataset) -> None:
    page = gql(sim, ACCOUNTS, p=paged(1, 1000))["accounts"]["entities"]
    for account in page:
        for name in ("addresses", "account_services", "account_groups"):
            info, entities = account[name]["page_info"], account[name]["entities"]
            assert info["total_count"] == len(entities)
    serviceable_only = (
        "{ accounts(paginator: {page: 1, records_per_page: 1000}) { entities {"
        " addresses(serviceable: true) { entities { serviceable } } } } }"
    )
    for account in gql(sim, serviceable_only)["accounts"]["entities"]:
        assert [a["serviceable"] for a in account["addresses"]["entities"]] == [True]


def test_nested_limit_cuts_lists_and_roots_complete_them(ds: Dataset) -> None:
    with GraphQLSimulator(ds, nested_limit=1) as sim:
        page = gql(sim, ACCOUNTS, p=paged(1, 1000))["accounts"]["entities"]
        cut = [a for a in page if a["account_services"]["page_info"]["total_count"] > 1]
        assert cut
        for account in cut[:5]:
            services = account["account_services"]
            assert len(services["entities"]) == 1 and services["page_info"]["total_count"] > 1
            query = "query($id: Int64Bit) { account_services(account_id: $id) { entities { id } } }"
            rest = gql(sim, query, id=account["id"])["account_services"]["entities"]
            assert len(rest) == services["page_info"]["total_count"]
        with_mail = next(a for a in page if a["addresses"]["page_info"]["total_count"] == 2)
        query = "query($id: Int64Bit) { addresses(addressable_id: $id) { entities { type } } }"
        rest = gql(sim, query, id=with_mail["id"])["addresses"]["entities"]
        assert sorted(a["type"] for a in rest) == ["MAILING", "PHYSICAL"]
        many = next(
            a for a in page if serviceable(a)["inventory_items"]["page_info"]["total_count"] > 1
        )
        query = (
            'query($id: Int64Bit) { inventory_items(inventoryitemable_type: "Address",'
            " inventoryitemable_id: $id) { entities { id } } }"
        )
        rest = gql(sim, query, id=serviceable(many)["id"])["inventory_items"]["entities"]
        assert [i["id"] for i in rest] == sorted(ds.accounts[many["id"]].item_ids)


def test_nested_connections_take_filters_sorter_and_paginator(
    sim: GraphQLSimulator, ds: Dataset
) -> None:
    account = next(a for a in ds.accounts.values() if not a.deleted and len(a.services) > 2)
    query = (
        "query($id: Int64Bit, $s: [Sorter], $p: Paginator, $one: Int64Bit) {"
        " accounts(id: $id) { entities { account_services(sorter: $s, paginator: $p) {"
        " page_info { total_count total_pages } entities { service_id } }"
        ' data: account_services(search: [{exists: ["service_id"]}], service_id: $one)'
        " { entities { service_id } } } } }"
    )
    one = account.services[0][0]
    sorter = [{"attribute": "service_id", "direction": "DESC"}]
    reply = gql(sim, query, id=account.id, s=sorter, p=paged(1, 2), one=one)
    entity = reply["accounts"]["entities"][0]
    want = sorted((sid for sid, _ in account.services), reverse=True)
    assert [e["service_id"] for e in entity["account_services"]["entities"]] == want[:2]
    info = entity["account_services"]["page_info"]
    assert info == {"total_count": len(want), "total_pages": math.ceil(len(want) / 2)}
    assert entity["data"]["entities"] == [{"service_id": one}]


def test_string_and_boolean_search(sim: GraphQLSimulator, ds: Dataset) -> None:
    partial = {"attribute": "name", "search_value": "garcia", "partial_matching": True}
    search = [{"string_fields": [partial]}]
    want = [a.id for a in ds.accounts.values() if not a.deleted and "garcia" in a.name.lower()]
    assert want and ids(sim, q=search) == want
    query = (
        "{ account_statuses(search: [{boolean_fields:"
        ' [{attribute: "activates_account", search_value: false}]}]) { entities { id } } }'
    )
    assert [e["id"] for e in gql(sim, query)["account_statuses"]["entities"]] == [1, 3, 4]


def test_unknown_technology_name(ds: Dataset) -> None:
    with GraphQLSimulator(ds, unknown_technology=True) as sim:
        names = gql(sim, '{ __type(name: "TechnologyCode") { enumValues { name } } }')
        services = gql(
            sim, "{ services { entities { id data_service_detail { technology_code } } } }"
        )
    assert UNKNOWN_TECHNOLOGY in [v["name"] for v in names["__type"]["enumValues"]]
    codes = {
        s["id"]: s["data_service_detail"]["technology_code"]
        for s in services["services"]["entities"]
        if s["data_service_detail"]
    }
    assert {
        i for i, c in codes.items() if c == UNKNOWN_TECHNOLOGY
    } == UNKNOWN_TECHNOLOGY_SERVICE_IDS


def test_catalogs_and_other_inventory(sim: GraphQLSimulator, ds: Dataset) -> None:
    query = "{ services { entities { id type amount } } account_types { entities { type } } }"
    data = gql(sim, query)
    by_id = {s["id"]: s for s in data["services"]["entities"]}
    assert by_id[694] == {"id": 694, "type": "DATA", "amount": 3995}
    assert by_id[802]["type"] == "ONE_TIME" and by_id[800]["type"] == "RECURRING"
    assert {t["type"] for t in data["account_types"]["entities"]} == {"RESIDENTIAL", "COMMERCIAL"}
    query = (
        '{ inventory_items(inventoryitemable_type: "NetworkSite",'
        " paginator: {page: 1, records_per_page: 10000}) { entities { id } } }"
    )
    sites = [i.id for i in ds.items.values() if i.assignee_type == "network_sites"]
    got = gql(sim, query)["inventory_items"]["entities"]
    assert [i["id"] for i in got] == sites
