"""Account detail, catalogs and inventory items -> records (pure functions)."""

from __future__ import annotations

import pytest

from sonar_bdc.errors import SonarDataError
from sonar_bdc.records import AccountStatus, AccountType, Group, InventoryItem, Service
from sonar_bdc.sonar.parse import parse_all
from sonar_bdc.sonar.v1.inventory import InventoryCatalog, InventoryModel, mac_field_ids
from sonar_bdc.sonar.v1.parse import parse_account_detail, parse_status, parse_type

FIPS = "480291915001012"


def address(type_name: str | None, type_id: int, fips: object = FIPS) -> dict:
    kind = {"id": type_id, "name": type_name} if type_name else None
    return {"line1": "1 Main St", "fips": fips, "address_type_id": type_id, "address_type": kind}


def detail(**over) -> dict:
    account = {
        "id": 9263, "name": "Jane Doe", "account_status_id": "2", "account_type_id": 1,
        "addresses": [address("mailing", 2, "999999999999999"), address("physical", 1)],
        "groups": [{"id": 1, "name": "Group A", "pivot": {}}, {"name": "no id"}],
        "services": [
            {"id": 694, "name": "Basic 15/2", "data_service": True,
             "download_in_kilobits": 15000, "upload_in_kilobits": "2048",
             "technology_code": 70, "amount": "39.95",
             "pivot": {"account_id": 9263, "service_id": 694, "quantity": 2}},
            {"id": "695", "name": "Fee", "data_service": 0, "technology_code": None},
        ],
    }  # fmt: skip
    account.update(over)
    return {"account": account}


def test_account_detail() -> None:
    parsed = parse_account_detail(detail(), 9263)
    assert (parsed.id, parsed.name, parsed.account_status_id, parsed.account_type_id) == (
        9263, "Jane Doe", 2, 1,
    )  # fmt: skip
    assert parsed.fips == FIPS
    assert parsed.groups == (Group(1, "Group A"),)
    assert parsed.services == (
        Service(694, "Basic 15/2", True, 15000, 2048, 70, "70", 2),
        Service(695, "Fee", False, None, None, None, None, None),
    )


@pytest.mark.parametrize(
    ("addresses", "fips"),
    [([address(None, 2, "111111111111111"), address(None, 1)], FIPS),  # by type id 1
     ([address("Physical", 3)], FIPS),  # the name wins over the id
     ([address("mailing", 2)], None),
     ([address("physical", 1, None)], None),
     ([address("physical", 1, "48029191500101")], None),  # 14 digits: lost a leading zero
     ([address("physical", 1, 480291915001012)], FIPS),
     ([address("physical", 1, "48029191500101X")], None),
     ("not a list", None), (None, None)],
)  # fmt: skip
def test_fips_from_physical_address(addresses: object, fips: str | None) -> None:
    assert parse_account_detail(detail(addresses=addresses), 9263).fips == fips


def test_detail_for_another_account_is_refused() -> None:
    with pytest.raises(SonarDataError, match="answered with account 1"):
        parse_account_detail(detail(id=1), 9263)


@pytest.mark.parametrize("body", [{"data": {}}, [], None, {"account": "x"}])
def test_detail_without_account(body: object) -> None:
    with pytest.raises(SonarDataError, match="no 'account' object"):
        parse_account_detail(body, 1)


def test_catalog_records() -> None:
    statuses = [{"id": 1, "name": "Active", "active": True}, {"id": "2", "active": "false"},
                {"id": None, "name": "broken"}]  # fmt: skip
    assert parse_all(statuses, parse_status, "statuses") == [
        AccountStatus(1, "Active", True), AccountStatus(2, None, False),
    ]  # fmt: skip
    types = [{"id": 1, "name": "Residential", "type": "residential"}]
    assert parse_all(types, parse_type, "types") == [AccountType(1, "Residential", "residential")]


def test_mac_field_ids() -> None:
    fields = [{"id": 9, "type": "string"}, {"id": 12, "type": "mac"}, {"id": 11, "type": "MAC"}]
    assert mac_field_ids(fields) == {11, 12}
    assert mac_field_ids([{"id": 9, "type": "string"}, "junk"]) == frozenset()


def test_inventory_item_resolution() -> None:
    catalog = InventoryCatalog(
        models={5: InventoryModel(5, "ePMP 1000", 3), 6: InventoryModel(6, "Mystery", 99)},
        manufacturers={3: "Cambium"},
        mac_fields={5: frozenset({11, 12})},
    )
    fields = [{"field_id": 10, "data": "SN1"}, {"field_id": "11", "data": "00:04:56:AA:BB:CC"},
              {"field_id": 12, "data": "second MAC"}]  # fmt: skip
    assert catalog.item({"id": 1, "inventory_model_id": 5, "status": "functional",
                         "fields": fields}) == InventoryItem(
        1, 5, "ePMP 1000", 3, "Cambium", "functional", "00:04:56:AA:BB:CC"
    )  # fmt: skip
    assert catalog.item({"id": 2, "inventory_model_id": 6, "fields": fields}) == InventoryItem(
        2, 6, "Mystery", 99, None, None, None
    )
    assert catalog.item({"id": "3", "inventory_model_id": 77}) == InventoryItem(3, 77)
    assert catalog.item({"inventory_model_id": 5}) is None
