"""The clean values an importer should store, computed from the simulator's truth.

The tests' oracle: it lives with the tests, not in the package it judges.

Cleaning rules (the contract every importer test can rely on):

* text: NUL characters are removed (PostgreSQL text cannot hold them); an empty
  string or null becomes ``None``; everything else is kept verbatim (quotes,
  backslashes, tabs, newlines, unicode). Generated values never have leading or
  trailing whitespace, so stripping or not makes no difference.
* numbers that arrive as text (ids, ZIP codes, model ids) become their clean type.
* coordinates: both floats, or both ``None`` when either rendered value is empty,
  null, zero, not a finite number, or out of range.
* the report's first row per account is authoritative; layout B has no plus4,
  country or source columns, so those are ``None`` for it.
* items whose model is not in the catalog have no model, manufacturer or MAC.
"""

from __future__ import annotations

from dataclasses import dataclass

from sonar_bdc.records import (
    AccountStatus,
    AccountType,
    Catalogs,
    CustomerDetail,
    CustomerInventory,
    Group,
    InventoryItem,
    ReportRow,
    Service,
)
from sonar_bdc.simulator.model import Account, Dataset, Item


@dataclass(frozen=True, slots=True)
class Expected:
    """Everything the importer should store for one account."""

    report: ReportRow
    detail: CustomerDetail | None  # None: deleted, the detail answers 404
    inventory: CustomerInventory | None  # None: deleted, the inventory answers 404
    deleted: bool


def text(value: object) -> str | None:
    """Clean one text value: None/"" -> None, NUL removed, otherwise verbatim."""
    if value is None:
        return None
    cleaned = str(value).replace("\x00", "")
    return cleaned or None


def _report_row(ds: Dataset, account: Account, layout: str) -> ReportRow:
    addr = account.address
    in_a = layout == "A"
    return ReportRow(
        id=account.id,
        name=text(account.name),
        status=ds.statuses[account.status_id].name,
        address=text(addr.line1),
        street2=text(addr.line2),
        city=text(addr.city),
        state=text(addr.state),
        zip=text(addr.zip),
        plus4=text(addr.plus4) if in_a else None,
        country=text(addr.country) if in_a else None,
        source=text(addr.source) if in_a else None,
        latitude=addr.lat,
        longitude=addr.lon,
    )


def _detail(ds: Dataset, account: Account) -> CustomerDetail | None:
    if account.deleted:
        return None
    return CustomerDetail(
        id=account.id,
        name=text(account.name),
        account_status_id=account.status_id,
        account_type_id=account.type_id,
        fips=text(account.address.fips),
        groups=tuple(Group(g, text(ds.groups[g].name)) for g in account.group_ids),
        services=tuple(_service(ds, sid, qty) for sid, qty in account.services),
    )


def _service(ds: Dataset, service_id: int, quantity: int) -> Service:
    s = ds.services[service_id]
    code = s.technology_code
    return Service(
        service_id=s.id,
        name=text(s.name),
        data_service=s.data_service,
        download_kbps=s.download_kbps,
        upload_kbps=s.upload_kbps,
        technology_code=code,
        technology_name=None if code is None else str(code),
        quantity=quantity,
    )


def _inventory(ds: Dataset, account: Account) -> CustomerInventory | None:
    if account.deleted:
        return None
    items = tuple(inventory_item(ds, item) for item in ds.items_of(account.id))
    return CustomerInventory(customer_id=account.id, items=items)


def inventory_item(ds: Dataset, item: Item) -> InventoryItem:
    """One item as the importer should store it (model and manufacturer resolved)."""
    model = ds.models.get(item.model_id)
    maker = ds.manufacturers.get(model.manufacturer_id) if model else None
    return InventoryItem(
        id=item.id,
        inventory_model_id=item.model_id,
        model_name=model.name if model else None,
        manufacturer_id=model.manufacturer_id if model else None,
        manufacturer_name=maker.name if maker else None,
        status=item.status,
        mac_address=mac_address(ds, item),
    )


def mac_address(ds: Dataset, item: Item) -> str | None:
    """The data of the item's field whose model field has type ``mac``, if any."""
    if item.model_id not in ds.models:
        return None
    mac_ids = {f.id for f in ds.model_fields.get(item.model_id, []) if f.type == "mac"}
    for field_id, data in item.fields:
        if field_id in mac_ids:
            return text(data)
    return None


def report_row(ds: Dataset, account_id: int, layout: str = "A") -> ReportRow:
    """What the importer should make of this account's first report row."""
    return _report_row(ds, ds.accounts[account_id], layout)


def detail(ds: Dataset, account_id: int) -> CustomerDetail | None:
    """The clean account detail, or None for a deleted account (404)."""
    return _detail(ds, ds.accounts[account_id])


def inventory(ds: Dataset, account_id: int) -> CustomerInventory | None:
    """The account's clean inventory, or None for a deleted account (404)."""
    return _inventory(ds, ds.accounts[account_id])


def customer(ds: Dataset, account_id: int, layout: str = "A") -> Expected:
    """Report row, detail and inventory the importer should store for one account."""
    account = ds.accounts[account_id]
    return Expected(
        report=_report_row(ds, account, layout),
        detail=_detail(ds, account),
        inventory=_inventory(ds, account),
        deleted=account.deleted,
    )


def catalogs(ds: Dataset) -> Catalogs:
    """Groups, statuses and types as the importer should store them."""
    return Catalogs(
        groups=tuple(Group(g.id, text(g.name)) for g in ds.groups.values()),
        statuses=tuple(AccountStatus(s.id, s.name, s.active) for s in ds.statuses.values()),
        types=tuple(AccountType(t.id, t.name, t.type) for t in ds.types.values()),
    )
