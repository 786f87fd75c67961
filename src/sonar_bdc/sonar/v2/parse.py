"""Sonar v2 JSON -> the same typed records v1 produces. Pure functions, no HTTP.

Where v2 spells a value differently, it is brought to v1's meaning so both sources
fill the tables alike: the state is the part of ``subdivision`` after ``_``; a
``zip`` of ZIP+4 form (``78155-1234``) is split into ``zip`` and ``plus4``;
``fips`` is kept only as a 15-digit block code; inventory ``status`` and account
type ``type`` are lower-cased; the MAC is the primary field's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ...records import (
    AccountStatus,
    AccountType,
    CustomerDetail,
    CustomerInventory,
    InventoryItem,
    ReportRow,
    Service,
)
from ..parse import objects, parse_all, parse_fips, parse_group
from ..values import parse_bool, parse_coordinates, parse_int, parse_text
from .technology_names import TechnologyTable

Raw = dict[str, Any]
_ZIP_PLUS4 = re.compile(r"(\d{5})-(\d{4})")
_MAC_NAME = re.compile(r"(?<![a-z])mac(?![a-z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class V2Account:
    """One account as records: ``detail``/``inventory`` are None from a light query."""

    report: ReportRow
    detail: CustomerDetail | None = None
    inventory: CustomerInventory | None = None
    rejected_fips: str | None = None  # a fips that is not a 15-digit block (stored NULL)


# --- connections ----------------------------------------------------------------------


def obj(value: Any) -> Raw:
    """``value`` if it is a JSON object, else an empty one (a null to-one relation)."""
    return value if isinstance(value, dict) else {}


def entities(connection: Any) -> list[Raw]:
    """The objects of a connection (``{"entities": [...]}``); anything else is none."""
    return objects(connection.get("entities")) if isinstance(connection, dict) else []


def total_count(connection: Any) -> int | None:
    info = connection.get("page_info") if isinstance(connection, dict) else None
    return parse_int(info.get("total_count")) if isinstance(info, dict) else None


def is_cut(connection: Any) -> bool:
    """True when the connection says it holds more entities than it sent."""
    total = total_count(connection)
    return total is not None and total > len(entities(connection))


# --- accounts -------------------------------------------------------------------------


def parse_account(raw: Raw, table: TechnologyTable, full: bool) -> V2Account | None:
    """An account's records; None without a usable id."""
    account_id = parse_int(raw.get("id"))
    if account_id is None:
        return None
    addresses = entities(raw.get("addresses"))
    address = service_address(addresses)
    report = report_row(account_id, raw, address)
    if not full:
        return V2Account(report)
    fips = parse_text(address.get("fips")) if address else None
    detail = CustomerDetail(
        id=account_id,
        name=report.name,
        account_status_id=_id_of(raw, "account_status"),
        account_type_id=_id_of(raw, "account_type"),
        fips=parse_fips(fips),
        census_year=_census_year(address, parse_fips(fips)),
        groups=tuple(parse_all(entities(raw.get("account_groups")), parse_group, "groups")),
        services=tuple(_services(entities(raw.get("account_services")), table)),
    )
    inventory = CustomerInventory(account_id, tuple(_items(addresses)))
    rejected = fips if fips is not None and detail.fips is None else None
    return V2Account(report, detail, inventory, rejected)


def _census_year(address: Raw | None, fips: str | None) -> int | None:
    """The census the block is from (2010 and 2020 tracts differ); only with a block."""
    if address is None or fips is None:
        return None
    year = parse_int(address.get("census_year"))
    return year if year is not None and 1990 <= year <= 2100 else None


def _id_of(raw: Raw, relation: str) -> int | None:
    """``account_status_id``, else the id of the ``account_status`` object."""
    return _first_int(raw.get(f"{relation}_id"), obj(raw.get(relation)).get("id"))


def _first_int(*values: Any) -> int | None:
    """The first value that parses as an id."""
    return next((n for n in map(parse_int, values) if n is not None), None)


def service_address(addresses: list[Raw]) -> Raw | None:
    """The service location: the ``serviceable`` address, else the ``PHYSICAL`` one."""
    for address in addresses:
        if parse_bool(address.get("serviceable")):
            return address
    for address in addresses:
        if str(address.get("type") or "").upper() == "PHYSICAL":
            return address
    return None


def report_row(account_id: int, raw: Raw, address: Raw | None) -> ReportRow:
    status = obj(raw.get("account_status"))
    fields = obj(address)
    zip_code, plus4 = split_zip(parse_text(fields.get("zip")))
    coordinates = parse_coordinates(fields.get("latitude"), fields.get("longitude"))
    latitude, longitude = coordinates if coordinates else (None, None)
    return ReportRow(
        id=account_id,
        name=parse_text(raw.get("name")),
        status=parse_text(status.get("name")),
        address=parse_text(fields.get("line1")),
        street2=parse_text(fields.get("line2")),
        city=parse_text(fields.get("city")),
        state=state_of(parse_text(fields.get("subdivision"))),
        zip=zip_code,
        plus4=plus4,
        country=parse_text(fields.get("country")),
        latitude=latitude,
        longitude=longitude,
    )


def state_of(subdivision: str | None) -> str | None:
    """``US_TX`` -> ``TX`` (``GB_SCT`` -> ``SCT``); a value without ``_`` stays whole."""
    if subdivision is None:
        return None
    _, sep, state = subdivision.partition("_")
    return (state if sep else subdivision) or None


def split_zip(value: str | None) -> tuple[str | None, str | None]:
    """``78155-1234`` -> (``78155``, ``1234``); any other ZIP stays whole, plus4 None."""
    match = _ZIP_PLUS4.fullmatch(value.strip()) if value else None
    return (match[1], match[2]) if match else (value, None)


# --- services -------------------------------------------------------------------------


def _services(rows: Iterable[Raw], table: TechnologyTable) -> list[Service]:
    return [s for s in (parse_service(row, table) for row in rows) if s is not None]


def parse_service(raw: Raw, table: TechnologyTable) -> Service | None:
    """One account service with its service's speeds and technology."""
    service = obj(raw.get("service"))
    service_id = _first_int(service.get("id"), raw.get("service_id"))
    if service_id is None:
        return None
    data = obj(service.get("data_service_detail"))
    kind = parse_text(service.get("type"))
    name = parse_text(data.get("technology_code"))
    return Service(
        service_id=service_id,
        name=parse_text(service.get("name")),
        data_service=True if data else (kind.upper() == "DATA" if kind else None),
        download_kbps=parse_int(data.get("download_speed_kilobits_per_second")),
        upload_kbps=parse_int(data.get("upload_speed_kilobits_per_second")),
        technology_code=table.code(name),
        technology_name=name,
        quantity=parse_int(raw.get("quantity")),
    )


# --- inventory ------------------------------------------------------------------------


def _items(addresses: list[Raw]) -> list[InventoryItem]:
    """The items at every address of the account, each once."""
    found: dict[int, InventoryItem] = {}
    for address in addresses:
        for item in parse_all(entities(address.get("inventory_items")), parse_item, "items"):
            found.setdefault(item.id, item)
    return list(found.values())


def parse_item(raw: Raw) -> InventoryItem | None:
    item_id = parse_int(raw.get("id"))
    if item_id is None:
        return None
    model = obj(raw.get("inventory_model"))
    maker = obj(model.get("manufacturer"))
    status = parse_text(raw.get("status"))
    return InventoryItem(
        id=item_id,
        inventory_model_id=_first_int(raw.get("inventory_model_id"), model.get("id")),
        model_name=parse_text(model.get("name")),
        manufacturer_id=parse_int(maker.get("id")),
        manufacturer_name=parse_text(maker.get("name")),
        status=status.lower() if status else None,
        mac_address=mac_address(entities(raw.get("inventory_model_field_data"))),
    )


def mac_address(field_data: list[Raw]) -> str | None:
    """The value of the field marked ``primary``, else of a MAC-typed or MAC-named field."""
    fields = [(row.get("value"), obj(row.get("inventory_model_field"))) for row in field_data]
    for test in (_is_primary, _is_mac_typed, _is_mac_named):
        for value, field in fields:
            if field and test(field):
                return parse_text(value)
    return None


def _is_primary(field: Raw) -> bool:
    return parse_bool(field.get("primary")) is True


def _is_mac_typed(field: Raw) -> bool:
    return str(field.get("type") or "").upper() == "MAC"


def _is_mac_named(field: Raw) -> bool:
    return bool(_MAC_NAME.search(str(field.get("name") or "")))


# --- catalogs -------------------------------------------------------------------------


def parse_status(raw: Raw) -> AccountStatus | None:
    status_id = parse_int(raw.get("id"))
    if status_id is None:
        return None
    active = parse_bool(raw.get("activates_account"))
    return AccountStatus(status_id, parse_text(raw.get("name")), active)


def parse_type(raw: Raw) -> AccountType | None:
    """``type`` is an enum name (``RESIDENTIAL``): lower-cased as v1 sends it."""
    type_id = parse_int(raw.get("id"))
    if type_id is None:
        return None
    kind = parse_text(raw.get("type"))
    return AccountType(type_id, parse_text(raw.get("name")), kind.lower() if kind else None)
