"""Typed records that flow one way: Sonar -> importer -> store.

Clean values only: parsing and validation happen in ``sonar_bdc.sonar`` before a
record is built, so the store can trust every field. ``None`` means "Sonar did
not give a usable value" and becomes SQL NULL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class ReportRow(NamedTuple):
    """One account from the contact-information report (several rows collapsed to one).

    A named tuple, not a dataclass like the others: it is already the row the store
    COPYs (``store.rows.report_rows``), with no per-row copy for tens of thousands.
    """

    id: int
    name: str | None = None
    status: str | None = None
    address: str | None = None
    street2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    plus4: str | None = None
    country: str | None = None
    source: str | None = None
    latitude: float | None = None  # both set and valid, or both None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AccountStatus:
    id: int
    name: str | None = None
    active: bool | None = None  # the status activates services


@dataclass(frozen=True, slots=True)
class AccountType:
    id: int
    name: str | None = None
    type: str | None = None  # residential / commercial (as Sonar sends it)


@dataclass(frozen=True, slots=True)
class Service:
    """One service on one account (v1: the account detail's services with their pivot)."""

    service_id: int
    name: str | None = None
    data_service: bool | None = None
    download_kbps: int | None = None
    upload_kbps: int | None = None
    technology_code: int | None = None  # Sonar's Form 477 code, as it came
    technology_name: str | None = None  # what the source sent, as text (v1: the number)
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class InventoryItem:
    id: int
    inventory_model_id: int | None = None
    model_name: str | None = None
    manufacturer_id: int | None = None
    manufacturer_name: str | None = None
    status: str | None = None
    mac_address: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerDetail:
    """What the account detail (``/accounts/{id}/json``) adds to a report row."""

    id: int
    name: str | None = None
    account_status_id: int | None = None
    account_type_id: int | None = None
    fips: str | None = None  # 15-digit census block of the physical address
    groups: tuple[Group, ...] = field(default_factory=tuple)
    services: tuple[Service, ...] = field(default_factory=tuple)
    census_year: int | None = None  # of ``fips`` (Sonar v2); None: not sent (v1)


@dataclass(frozen=True, slots=True)
class CustomerInventory:
    """All inventory items currently assigned to one account."""

    customer_id: int
    items: tuple[InventoryItem, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Catalogs:
    """Lookup tables fetched once per run."""

    groups: tuple[Group, ...] = ()
    statuses: tuple[AccountStatus, ...] = ()
    types: tuple[AccountType, ...] = ()
