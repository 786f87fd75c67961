"""Sonar v1 JSON -> typed records: account detail and the lookup catalogs.

Pure functions, no HTTP; the helpers shared with v2 (``parse_all``, ``parse_group``,
``parse_fips``) are in ``sonar.parse``.
"""

from __future__ import annotations

from typing import Any

from ...errors import SonarDataError
from ...records import AccountStatus, AccountType, CustomerDetail, Service
from ..parse import objects, parse_all, parse_fips, parse_group
from ..values import parse_bool, parse_int, parse_text

PHYSICAL_ADDRESS_TYPE_ID = 1  # Sonar's built-in "physical" address type


def parse_status(raw: dict[str, Any]) -> AccountStatus | None:
    status_id = parse_int(raw.get("id"))
    if status_id is None:
        return None
    return AccountStatus(status_id, parse_text(raw.get("name")), parse_bool(raw.get("active")))


def parse_type(raw: dict[str, Any]) -> AccountType | None:
    type_id = parse_int(raw.get("id"))
    if type_id is None:
        return None
    return AccountType(type_id, parse_text(raw.get("name")), parse_text(raw.get("type")))


def parse_service(raw: dict[str, Any]) -> Service | None:
    """One service of an account detail, with its quantity from the pivot."""
    service_id = parse_int(raw.get("id"))
    if service_id is None:
        return None
    pivot = raw.get("pivot")
    if not isinstance(pivot, dict):
        pivot = {}
    code = parse_int(raw.get("technology_code"))
    return Service(
        service_id=service_id,
        name=parse_text(raw.get("name")),
        data_service=parse_bool(raw.get("data_service")),
        download_kbps=parse_int(raw.get("download_in_kilobits")),
        upload_kbps=parse_int(raw.get("upload_in_kilobits")),
        technology_code=code,
        technology_name=None if code is None else str(code),  # v1 sends only the number
        quantity=parse_int(pivot.get("quantity")),
    )


def physical_address(addresses: Any) -> dict[str, Any] | None:
    """The physical address: by type name "physical", else by type id 1."""
    candidates = objects(addresses)
    for address in candidates:
        kind = address.get("address_type")
        if isinstance(kind, dict) and str(kind.get("name", "")).strip().lower() == "physical":
            return address
    for address in candidates:
        if parse_int(address.get("address_type_id")) == PHYSICAL_ADDRESS_TYPE_ID:
            return address
    return None


def parse_account_detail(body: Any, account_id: int) -> CustomerDetail:
    """A CustomerDetail from ``/accounts/{id}/json`` (``{"account": {...}}``)."""
    account = body.get("account") if isinstance(body, dict) else None
    if not isinstance(account, dict):
        raise SonarDataError(f"/accounts/{account_id}/json: no 'account' object in the answer")
    sent_id = parse_int(account.get("id"))
    if sent_id is not None and sent_id != account_id:
        raise SonarDataError(f"/accounts/{account_id}/json: answered with account {sent_id}")
    address = physical_address(account.get("addresses"))
    return CustomerDetail(
        id=account_id,
        name=parse_text(account.get("name")),
        account_status_id=parse_int(account.get("account_status_id")),
        account_type_id=parse_int(account.get("account_type_id")),
        fips=parse_fips(address.get("fips")) if address else None,
        groups=tuple(parse_all(objects(account.get("groups")), parse_group, "groups")),
        services=tuple(parse_all(objects(account.get("services")), parse_service, "services")),
    )
