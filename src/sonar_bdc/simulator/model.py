"""The simulator's dataset: catalogs plus accounts, with their true and rendered values.

Text fields hold exactly what the simulator renders (NUL characters, tabs, quotes and
all). Coordinates are kept twice: ``lat_raw``/``lon_raw`` are what the JSON carries
(strings, numbers, ``""``, ``None``, garbage), ``lat``/``lon`` are the clean truth
(both floats, or both ``None`` when either rendered value is unusable).

What an importer should *store* is the tests' business (``tests/expected.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

Raw = str | int | float | None  # a value as rendered in JSON


@dataclass(frozen=True, slots=True)
class StatusDef:
    id: int
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class TypeDef:
    id: int
    name: str
    type: str  # residential / commercial


@dataclass(frozen=True, slots=True)
class GroupDef:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class ServiceDef:
    id: int
    name: str
    type: str  # recurring / one time
    active: bool
    data_service: bool
    download_kbps: int | None
    upload_kbps: int | None
    technology_code: int | None  # Form 477 code as Sonar stores it
    amount: str  # money as a string, "39.95"


@dataclass(frozen=True, slots=True)
class Manufacturer:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class ModelDef:
    id: int
    name: str
    manufacturer_id: int
    category_id: int


@dataclass(frozen=True, slots=True)
class FieldDef:
    id: int
    name: str
    type: str  # string / integer / mac / imsi ...
    is_required: bool = False
    unique: bool = False


@dataclass(slots=True)
class Address:
    """A postal address as rendered; ``lat``/``lon`` are the clean truth (see module doc)."""

    line1: str
    line2: str | None
    city: str
    state: str
    zip: str
    plus4: str | None = None
    country: str = "US"
    county: str = ""
    source: str | None = None
    fips: str | None = None
    lat: float | None = None
    lon: float | None = None
    lat_raw: Raw = None
    lon_raw: Raw = None


@dataclass(slots=True)
class Account:
    """One Sonar account.

    ``deleted``: listed by the report and ``/api/v1/accounts`` (it was deleted after
    those were taken) but its detail and inventory answer 404; it owns no items.
    ``contacts``: how many report rows it has; only the first row is authoritative.
    ``services``: ``(service_id, quantity)`` pairs in rendering order.
    The ``*_as_text``/``*_as_number`` flags only change how values are rendered.
    """

    id: int
    name: str
    status_id: int
    type_id: int
    group_ids: list[int]
    address: Address
    services: list[tuple[int, int]]
    item_ids: list[int]
    mailing: Address | None = None
    deleted: bool = False
    contacts: int = 1
    usage_months: int = 12
    created_at: str = "2020-01-01 00:00:00"
    balance_due: str = "0.00"
    id_as_text: bool = False
    zip_as_number: bool = False
    mailing_first: bool = False


@dataclass(slots=True)
class Item:
    """One inventory item. ``model_id`` may be missing from the models catalog."""

    id: int
    model_id: int
    status: str  # functional / failed / lost
    condition: str  # new / used
    purchase_price: str
    fields: list[tuple[int, str]]  # (field_id, data)
    assignee_type: str  # accounts / network_sites / inventory_locations / ...
    assignee_id: int
    model_id_as_text: bool = False


@dataclass
class Dataset:
    """Catalogs and accounts; the simulator's ground truth.

    ``accounts`` and ``items`` are dicts ordered by id. ``version`` increases with
    every ``change_accounts`` so the server can cache the report: bump it yourself
    after editing a dataset by hand while a simulator serves it.
    """

    seed: int
    statuses: dict[int, StatusDef]
    types: dict[int, TypeDef]
    groups: dict[int, GroupDef]
    services: dict[int, ServiceDef]
    manufacturers: dict[int, Manufacturer]
    models: dict[int, ModelDef]
    model_fields: dict[int, list[FieldDef]]
    accounts: dict[int, Account] = field(default_factory=dict)
    items: dict[int, Item] = field(default_factory=dict)
    version: int = 0
    last_item_id: int = 0  # item ids are never reused, even after a removal
    # The models new items are drawn from: customer equipment, and accessories.
    cpe_model_ids: tuple[int, ...] = ()
    accessory_model_ids: tuple[int, ...] = ()

    def account(self, account_id: int) -> Account:
        """The account with this id (KeyError if unknown)."""
        return self.accounts[account_id]

    def live_ids(self) -> list[int]:
        """Ids of the accounts whose detail answers 200 (not deleted), ascending."""
        return [a.id for a in self.accounts.values() if not a.deleted]

    def deleted_ids(self) -> list[int]:
        """Ids of the accounts listed by the report whose detail answers 404."""
        return [a.id for a in self.accounts.values() if a.deleted]

    def items_of(self, account_id: int) -> list[Item]:
        """The items currently assigned to this account, by id."""
        return [self.items[i] for i in sorted(self.accounts[account_id].item_ids)]

    def report_row_count(self) -> int:
        """Rows in the contact-information report (duplicates included)."""
        return sum(a.contacts for a in self.accounts.values())
