"""Pure parts of the v2 client: JSON -> records, technology names, documents, paging."""

from __future__ import annotations

import pytest
from graphql import parse, validate

from sonar_bdc.errors import ConfigError, SonarDataError
from sonar_bdc.records import Group, InventoryItem, Service
from sonar_bdc.simulator.v2 import TECHNOLOGY_CODES
from sonar_bdc.simulator.v2.schema import build
from sonar_bdc.sonar.v2 import queries
from sonar_bdc.sonar.v2.paging import iter_pages, walk
from sonar_bdc.sonar.v2.parse import (
    is_cut,
    mac_address,
    parse_account,
    parse_item,
    parse_type,
    split_zip,
    state_of,
)
from sonar_bdc.sonar.v2.technology_names import BUILT_IN, TechnologyTable, parse_name_table


def connection(*rows: dict, total: int | None = None) -> dict:
    return {
        "entities": list(rows),
        "page_info": {"total_count": len(rows) if total is None else total},
    }


def field_data(value: str, name: str, primary: bool = False) -> dict:
    return {"value": value, "inventory_model_field": {"name": name, "primary": primary}}


MODEL = {"id": 7, "name": "LTU-LR", "manufacturer": {"id": 1, "name": "Ubiquiti"}}
ITEM = {
    "id": 501, "status": "FUNCTIONAL", "inventory_model_id": 7, "inventory_model": MODEL,
    "inventory_model_field_data": connection(
        field_data("SN1", "Serial"), field_data("AA:BB", "MAC Address", primary=True)
    ),
}  # fmt: skip
MAILING = {"id": 1, "type": "MAILING", "serviceable": False, "line1": "PO Box 1"}
PHYSICAL = {
    "id": 2724, "type": "PHYSICAL", "line1": "12 Oak St", "line2": None, "city": "Seguin",
    "subdivision": "US_TX", "zip": "78155-0042", "country": "US", "latitude": "29.5688",
    "longitude": -97.9647, "fips": "481870001001000", "serviceable": True,
    "inventory_items": connection(ITEM),
}  # fmt: skip
SPEEDS = {"download_speed_kilobits_per_second": 25000, "upload_speed_kilobits_per_second": 5000}
DATA = {**SPEEDS, "technology_code": "TERRESTRIAL_FIXED_WIRELESS"}
ACCOUNT = {
    "id": "9263",  # Int64Bit may come as a numeric string
    "name": "Jane Doe",
    "account_status_id": 1,
    "account_type_id": None,
    "account_status": {"id": 1, "name": "Active"},
    "account_type": {"id": 2},
    "account_groups": connection({"id": 3, "name": "Tower 7"}),
    "addresses": connection(MAILING, PHYSICAL),
    "account_services": connection(
        {"quantity": 1, "service_id": 694,
         "service": {"id": 694, "name": "Basic 25/5", "type": "DATA", "data_service_detail": DATA}},
        {"quantity": 2,
         "service": {"id": 800, "name": "Static IP", "type": "RECURRING",
                     "data_service_detail": None}},
    ),
}  # fmt: skip


def test_a_full_account_becomes_the_records_v1_builds() -> None:
    got = parse_account(ACCOUNT, TechnologyTable(), full=True)
    assert got is not None and got.detail is not None and got.inventory is not None
    r = got.report
    assert (r.id, r.name, r.status, r.address, r.street2, r.city, r.state) == (
        9263, "Jane Doe", "Active", "12 Oak St", None, "Seguin", "TX"
    )  # fmt: skip
    assert (r.zip, r.plus4, r.country, r.source) == ("78155", "0042", "US", None)
    assert (r.latitude, r.longitude) == (29.5688, -97.9647)
    d = got.detail
    assert (d.account_status_id, d.account_type_id, d.fips) == (1, 2, "481870001001000")
    assert d.groups == (Group(3, "Tower 7"),)
    assert d.services == (
        Service(694, "Basic 25/5", True, 25000, 5000, 70, "TERRESTRIAL_FIXED_WIRELESS", 1),
        Service(800, "Static IP", False, None, None, None, None, 2),
    )
    assert got.inventory.items == (
        InventoryItem(501, 7, "LTU-LR", 1, "Ubiquiti", "functional", "AA:BB"),
    )
    assert got.rejected_fips is None


def test_a_light_account_has_only_the_report_row() -> None:
    got = parse_account(ACCOUNT, TechnologyTable(), full=False)
    assert got is not None and got.detail is None and got.inventory is None
    assert got.report.city == "Seguin"


def test_an_account_without_an_id_is_skipped_and_one_without_address_has_no_location() -> None:
    assert parse_account({"name": "x"}, TechnologyTable(), full=True) is None
    got = parse_account({"id": 5, "addresses": connection()}, TechnologyTable(), full=True)
    assert got is not None and got.report.address is None and got.report.latitude is None


@pytest.mark.parametrize("fips", ["4818700010010", "", None, "48187000100100X"])
def test_a_fips_that_is_not_15_digits_is_stored_null_and_counted(fips: str | None) -> None:
    account = {
        **ACCOUNT,
        "addresses": connection({**ACCOUNT["addresses"]["entities"][1], "fips": fips}),
    }
    got = parse_account(account, TechnologyTable(), full=True)
    assert got is not None and got.detail is not None and got.detail.fips is None
    assert got.rejected_fips == (fips or None)


@pytest.mark.parametrize(
    ("lat", "lon"), [("0", "-97.9"), ("91.5", "-97.9"), (None, "-97.9"), ("29.5", None)]
)
def test_coordinates_get_v1s_cleaning(lat: object, lon: object) -> None:
    address = {**PHYSICAL, "latitude": lat, "longitude": lon}
    got = parse_account({"id": 1, "addresses": connection(address)}, TechnologyTable(), False)
    assert got is not None and (got.report.latitude, got.report.longitude) == (None, None)


def test_the_service_address_is_the_serviceable_one_else_the_physical_one() -> None:
    physical = {"id": 2, "type": "PHYSICAL", "city": "A"}
    other = {"id": 3, "type": "MAILING", "city": "B", "serviceable": "true"}
    got = parse_account(
        {"id": 1, "addresses": connection(physical, other)}, TechnologyTable(), False
    )
    assert got is not None and got.report.city == "B"
    addresses = connection(other | {"serviceable": False}, physical)
    got = parse_account({"id": 1, "addresses": addresses}, TechnologyTable(), False)
    assert got is not None and got.report.city == "A"


@pytest.mark.parametrize(
    ("value", "state"),
    [("US_TX", "TX"), ("GB_SCT", "SCT"), ("TX", "TX"), (None, None), ("US_", None)],
)
def test_state_is_the_subdivision_after_the_underscore(
    value: str | None, state: str | None
) -> None:
    assert state_of(value) == state


@pytest.mark.parametrize(
    ("value", "parts"),
    [("78155-1234", ("78155", "1234")), ("78155", ("78155", None)), ("7815", ("7815", None)),
     ("78155 1234", ("78155 1234", None)), ("K1A 0B1", ("K1A 0B1", None)), (None, (None, None))],
)  # fmt: skip
def test_zip_plus4_is_split_like_v1_other_zips_stay_whole(value: str | None, parts: tuple) -> None:
    assert split_zip(value) == parts


def test_the_mac_is_the_primary_field_else_a_mac_typed_else_a_mac_named_one() -> None:
    def row(value: str, name: str, primary: bool = False, kind: str = "STRING") -> dict:
        return {
            "value": value,
            "inventory_model_field": {"name": name, "primary": primary, "type": kind},
        }

    assert mac_address([row("s", "Serial"), row("m", "Radio MAC", primary=True)]) == "m"
    assert mac_address([row("a", "MAC Address"), row("b", "Eth", kind="MAC")]) == "b"
    assert mac_address([row("s", "Serial"), row("m", "Ethernet MAC")]) == "m"
    assert mac_address([row("s", "Serial"), row("m", "Macro setting")]) is None
    assert (
        mac_address([row("", "MAC", primary=True), row("x", "Other MAC")]) is None
    )  # empty = none
    assert mac_address([{"value": "x", "inventory_model_field": None}]) is None


def test_an_item_without_model_keeps_its_model_id_and_has_no_mac() -> None:
    raw = {"id": 9, "status": "LOST", "inventory_model_id": "404", "inventory_model": None}
    got = parse_item(raw | {"inventory_model_field_data": connection()})
    assert got == InventoryItem(9, 404, None, None, None, "lost", None)


def test_account_types_are_lower_cased_like_v1() -> None:
    assert parse_type({"id": 1, "name": "Residential", "type": "RESIDENTIAL"}).type == "residential"  # type: ignore[union-attr]


def test_a_connection_is_cut_when_total_count_exceeds_its_entities() -> None:
    assert is_cut(connection({"id": 1}, total=2))
    assert not is_cut(connection({"id": 1}))
    assert not is_cut({"entities": []})  # no page_info: nothing to compare with
    assert not is_cut(None)


# ---------------------------------------------------------------- technology names


def test_the_built_in_table_knows_every_name_the_simulator_uses() -> None:
    table = TechnologyTable()
    assert {name: table.code(name) for name in TECHNOLOGY_CODES} == TECHNOLOGY_CODES
    assert table.missing(TECHNOLOGY_CODES) == []


def test_names_match_whatever_the_spelling_and_unknown_ones_are_not_guessed() -> None:
    table = TechnologyTable()
    assert table.code("terrestrial fixed-wireless") == 70
    assert table.code("LICENSED_FIXED_WIRELESS_NEW") is None
    assert table.code(None) is None
    assert table.missing(["SATELLITE", "CBRS", "cbrs"]) == ["CBRS", "cbrs"]


def test_the_table_is_extended_and_overridden_by_the_setting() -> None:
    extra = parse_name_table("LICENSED_FIXED_WIRELESS_NEW=71, SATELLITE = 61\nCBRS=70")
    assert extra == {"LICENSED_FIXED_WIRELESS_NEW": 71, "SATELLITE": 61, "CBRS": 70}
    table = TechnologyTable(extra)
    assert (table.code("LICENSED_FIXED_WIRELESS_NEW"), table.code("satellite")) == (71, 61)
    assert table.code("VDSL") == BUILT_IN["VDSL"]
    assert parse_name_table(None) == parse_name_table("  ") == {}


@pytest.mark.parametrize("text", ["CBRS", "CBRS=", "=70", "CBRS=seventy", "CBRS=99", "A=70,B:50"])
def test_a_bad_name_table_names_the_setting_and_the_form(text: str) -> None:
    with pytest.raises(
        ConfigError, match=r"SONAR_TECHNOLOGY_NAMES: .* is not NAME=<Form 477 code>"
    ):
        parse_name_table(text)


# ---------------------------------------------------------------- documents and paging


def test_every_document_is_valid_against_the_simulator_schema() -> None:
    schema = build()
    documents = [queries.accounts(True), queries.accounts(False), queries.COUNT,
                 queries.TECHNOLOGY_NAMES, queries.CATALOGS, *queries.ADDRESSES_OF_ACCOUNT.values(),
                 queries.SERVICES_OF_ACCOUNT, queries.GROUPS_OF_ACCOUNT, queries.ITEMS_AT_ADDRESS,
                 queries.FIELD_DATA_OF_ITEM]  # fmt: skip
    for document in documents:
        assert validate(schema, parse(document)) == [], document


def test_id_search_ors_one_search_object_per_id() -> None:
    assert queries.id_search([4, 5]) == [
        {"integer_fields": [{"attribute": "id", "operator": "EQ", "search_value": 4}]},
        {"integer_fields": [{"attribute": "id", "operator": "EQ", "search_value": 5}]},
    ]


def pages_of(*pages: list[dict], total_pages: int | None = None):
    def fetch(page: int) -> dict:
        rows = pages[page - 1] if page <= len(pages) else []
        info = {"total_pages": len(pages) if total_pages is None else total_pages}
        return {"entities": rows, "page_info": info}

    return fetch


def test_paging_stops_after_total_pages_or_at_an_empty_page() -> None:
    assert list(iter_pages(pages_of([{"id": 1}], [{"id": 2}]), "x")) == [[{"id": 1}], [{"id": 2}]]
    assert list(iter_pages(pages_of([{"id": 1}], total_pages=9), "x")) == [[{"id": 1}]]
    assert list(iter_pages(pages_of(), "x")) == []


def test_paging_refuses_a_repeated_page() -> None:
    with pytest.raises(SonarDataError, match="page 2 repeats an earlier page"):
        list(
            iter_pages(lambda page: {"entities": [{"id": 1}], "page_info": {"total_pages": 5}}, "x")
        )


def test_walk_goes_through_one_entity_lists() -> None:
    data = {"accounts": {"entities": [{"account_groups": {"entities": [1]}}]}}
    assert walk(data, ("accounts", "account_groups")) == {"entities": [1]}
    assert walk({"accounts": {"entities": []}}, ("accounts", "account_groups")) is None


@pytest.mark.parametrize(
    ("fips", "year", "stored"),
    [
        ("481870001001000", 2020, 2020),
        ("481870001001000", "2010", 2010),
        ("481870001001000", None, None),
        ("481870001001000", "soon", None),
        ("481870001001000", 1066, None),
        ("4818700010", 2020, None),  # no block, so no census year either
    ],
)
def test_the_census_year_is_kept_beside_a_block(
    fips: str, year: object, stored: int | None
) -> None:
    address = {**ACCOUNT["addresses"]["entities"][1], "fips": fips, "census_year": year}
    got = parse_account({**ACCOUNT, "addresses": connection(address)}, TechnologyTable(), True)
    assert got is not None and got.detail is not None and got.detail.census_year == stored
