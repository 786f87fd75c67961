"""The shared v1 :class:`Dataset` seen as v2 rows: dicts keyed by GraphQL field names.

Rendering rules (what the v2 importer tests can rely on):

* ids: JSON numbers. Address ids are v1's (``account.id * 2`` physical, ``+ 1``
  mailing); account services are ``account.id * 10 + index``; field data rows are
  ``item.id * 10 + index``. Text is the v1 text, nasty characters and all.
* addresses: the physical one is ``type: PHYSICAL, serviceable: true``, the mailing one
  (if any) ``MAILING, serviceable: false``, listed first when v1 lists it first.
  ``subdivision`` is ``US_<state>``; ``zip`` is kept whole, ``78155-1234`` when v1 has a
  plus4; ``county`` is a ``UsCounty`` like ``TX_BEXAR``; ``census_year`` (only with a
  fips) is 2010 for one account in 16, as an older geocode left it, else 2020. ``fips``
  is v1's raw value (``None``/``""`` included).
* coordinates (:func:`coordinate`): the v1 raw value as a decimal string when it is a
  finite number, else null. So clean coordinates render as strings (``"29.5688"``),
  ``empty``/``null``/``garbage``/``nan`` render null, while zeros (``"0"``, ``"0.0"``),
  out-of-range values (``"91.5"``, ``"-200"``) and one-sided pairs stay visible: the
  importer must apply v1's cleaning, and then gets exactly ``Address.lat``/``lon``.
* inventory: an account's items hang off its physical address
  (``inventoryitemable_type: "Address"``); others keep their v1 assignee
  (``NetworkSite``, ``InventoryLocation``, ``Vehicle``, ``User``). ``status`` is upper
  case. Items of a model missing from the catalog have ``inventory_model: null`` and no
  field data. A field is ``primary`` exactly when its v1 type is ``mac``, so the primary
  field's value is v1's ``mac_address`` truth (``""`` where v1 has an empty MAC).
* services: ``type`` is ``DATA`` for data services, else ``RECURRING``/``ONE_TIME``;
  ``amount`` in cents; ``data_service_detail`` null for non-data services;
  ``technology_code`` per :data:`enums.TECHNOLOGY_NAMES`, or the unknown name on
  :data:`enums.UNKNOWN_TECHNOLOGY_SERVICE_IDS` when that knob is on.
* ``updated_at``: see :class:`Stamps`. Deleted v1 accounts (404) are simply absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sonar_bdc.simulator.model import Account, Address, Dataset, Item, ServiceDef
from sonar_bdc.simulator.v2 import enums
from sonar_bdc.simulator.v2.select import Row

ZONE = timezone(timedelta(hours=-5))  # timestamps render with this offset
_BASE = datetime(2025, 1, 1, tzinfo=ZONE)
_SPREAD = 300 * 86_400


def coordinate(raw: Any) -> str | None:
    """A v1 raw coordinate as the v2 ``Decimal`` string, or None (see module doc)."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    return str(raw) if math.isfinite(number) else None


def census_year(account_id: int) -> int:
    """The census of an account's block: 2010 for one in 16 (an old geocode), else 2020."""
    return 2010 if account_id % 16 == 5 else 2020


def zip_code(addr: Address) -> str:
    """The ZIP kept whole: ``78155-1234`` when there is a four-digit plus4."""
    plus4 = addr.plus4 or ""
    return f"{addr.zip}-{plus4}" if len(plus4) == 4 and plus4.isdigit() else addr.zip


def technology_name(service: ServiceDef, unknown_technology: bool = False) -> str:
    """The ``TechnologyCode`` name a data service reports."""
    if unknown_technology and service.id in enums.UNKNOWN_TECHNOLOGY_SERVICE_IDS:
        return enums.UNKNOWN_TECHNOLOGY
    return enums.TECHNOLOGY_NAMES[service.technology_code or 0][0]


def parent_id(assignee_type: str, assignee_id: int) -> int:
    """An item's ``inventoryitemable_id``: an account's items sit on its physical address."""
    return assignee_id * 2 if assignee_type == "accounts" else assignee_id


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def base_stamp(key: int) -> datetime:
    """A deterministic time in 2025 (whole seconds, offset -05:00)."""
    return _BASE + timedelta(seconds=(key * 2_654_435_761) % _SPREAD)


class Stamps:
    """``updated_at`` of accounts and items: a deterministic 2025 time until bumped.

    An account's addresses and services carry the account's stamp. ``bump`` (called by
    ``change_accounts``) sets a time after every earlier reading of the clock.
    """

    def __init__(self) -> None:
        self._accounts: dict[int, datetime] = {}
        self._items: dict[int, datetime] = {}

    def account(self, account_id: int) -> datetime:
        return self._accounts.get(account_id) or base_stamp(account_id)

    def item(self, item_id: int) -> datetime:
        return self._items.get(item_id) or base_stamp(item_id + 7)

    def bump(self, account_ids: Iterable[int], item_ids: Iterable[int]) -> datetime:
        """Stamp these with the next whole second after now; returns that time."""
        when = datetime.now(ZONE).replace(microsecond=0) + timedelta(seconds=1)
        self._accounts.update(dict.fromkeys(account_ids, when))
        self._items.update(dict.fromkeys(item_ids, when))
        return when


@dataclass(slots=True)
class Children:
    """An account's addresses, account services and items, as rows."""

    addresses: list[Row]
    services: list[Row]
    items: list[Row]


class Rows:
    """Rows of one dataset version: plain dicts of scalars and to-one objects.

    To-many relations are not in the rows: the field resolvers of :mod:`.relations`
    ask ``children``/``groups_of``/``field_data``. Accounts, children and items are
    kept in caches of at most ``KEEP`` entries each (a row costs microseconds to build;
    keeping every row of a large walk alive would slow every full garbage collection).
    The caller holds the store lock.
    """

    KEEP = 4096

    def __init__(self, ds: Dataset, stamps: Stamps, unknown_technology: bool) -> None:
        self.ds, self.stamps, self.unknown = ds, stamps, unknown_technology
        self.statuses = {s.id: _status(s.id, s.name, s.active) for s in ds.statuses.values()}
        self.types = {t.id: _type(t.id, t.name, t.type) for t in ds.types.values()}
        self.groups = {g.id: {"id": g.id, "name": g.name} for g in ds.groups.values()}
        self.services = {s.id: self._service(s) for s in ds.services.values()}
        self.models = self._models()
        self.fields = {
            f.id: _field(f.id, f.name, f.type) for fs in ds.model_fields.values() for f in fs
        }
        self._accounts: dict[int, Row] = {}
        self._children: dict[int, Children] = {}
        self._items: dict[int, Row] = {}

    def account(self, account_id: int) -> Row:
        row = self._accounts.get(account_id)
        if row is None:
            row = self._account(self.ds.accounts[account_id])
            _keep(self._accounts, account_id, row, self.KEEP)
        return row

    def children(self, account_id: int) -> Children:
        found = self._children.get(account_id)
        if found is None:
            found = self._build_children(account_id)
            _keep(self._children, account_id, found, self.KEEP)
        return found

    def item(self, item_id: int) -> Row:
        row = self._items.get(item_id)
        if row is None:
            row = self._item(self.ds.items[item_id])
            _keep(self._items, item_id, row, self.KEEP)
        return row

    def groups_of(self, account_id: int) -> list[Row]:
        return [self.groups[g] for g in self.ds.accounts[account_id].group_ids]

    def field_data(self, item_id: int) -> list[Row]:
        """An item's field data (none when its model is missing from the catalog)."""
        item = self.ds.items[item_id]
        if item.model_id not in self.models:
            return []
        return [
            {
                "id": item_id * 10 + index,
                "value": value,
                "inventory_model_field_id": field_id,
                "inventory_model_field": self.fields.get(field_id),
            }
            for index, (field_id, value) in enumerate(item.fields)
        ]

    def _account(self, a: Account) -> Row:
        created = datetime.fromisoformat(a.created_at).replace(tzinfo=ZONE)
        return {
            "id": a.id,
            "name": a.name,
            "account_status_id": a.status_id,
            "account_type_id": a.type_id,
            "parent_account_id": None,
            "activation_date": created.date(),
            "archived_at": None,
            "created_at": created,
            "updated_at": self.stamps.account(a.id),
            "account_status": self.statuses[a.status_id],
            "account_type": self.types[a.type_id],
        }

    def _build_children(self, account_id: int) -> Children:
        a = self.ds.accounts[account_id]
        items = [self.item(i.id) for i in self.ds.items_of(account_id)]
        addresses = [self._address(a, a.address, True)]
        if a.mailing is not None:
            addresses.insert(0 if a.mailing_first else 1, self._address(a, a.mailing, False))
        services = [self._account_service(a, i, sid, q) for i, (sid, q) in enumerate(a.services)]
        return Children(addresses, services, items)

    def _address(self, a: Account, addr: Address, physical: bool) -> Row:
        return {
            "id": a.id * 2 + (0 if physical else 1),
            "type": "PHYSICAL" if physical else "MAILING",
            "line1": addr.line1,
            "line2": addr.line2,
            "city": addr.city,
            "subdivision": enums.subdivision(addr.country, addr.state),
            "zip": zip_code(addr),
            "country": addr.country,
            "county": enums.county(addr.state, addr.county),
            "latitude": coordinate(addr.lat_raw),
            "longitude": coordinate(addr.lon_raw),
            "fips": addr.fips,
            "census_year": census_year(a.id) if addr.fips else None,
            "serviceable": physical,
            "addressable_type": "Account",
            "addressable_id": a.id,
            "updated_at": self.stamps.account(a.id),
        }

    def _account_service(self, a: Account, index: int, service_id: int, quantity: int) -> Row:
        return {
            "id": a.id * 10 + index,
            "account_id": a.id,
            "service_id": service_id,
            "quantity": quantity,
            "updated_at": self.stamps.account(a.id),
            "service": self.services[service_id],
        }

    def _item(self, item: Item) -> Row:
        return {
            "id": item.id,
            "status": item.status.upper(),
            "inventoryitemable_type": enums.ASSIGNEE_TYPES[item.assignee_type],
            "inventoryitemable_id": parent_id(item.assignee_type, item.assignee_id),
            "account_service_id": None,
            "inventory_model_id": item.model_id,
            "updated_at": self.stamps.item(item.id),
            "inventory_model": self.models.get(item.model_id),
        }

    def _service(self, s: ServiceDef) -> Row:
        detail = None
        if s.data_service:
            detail = {
                "id": s.id,
                "download_speed_kilobits_per_second": s.download_kbps,
                "upload_speed_kilobits_per_second": s.upload_kbps,
                "technology_code": technology_name(s, self.unknown),
            }
        return {
            "id": s.id,
            "name": s.name,
            "type": enums.service_type(s.data_service, s.type),
            "enabled": s.active,
            "amount": cents(s.amount),
            "data_service_detail": detail,
        }

    def _models(self) -> dict[int, Row]:
        makers = {m.id: {"id": m.id, "name": m.name} for m in self.ds.manufacturers.values()}
        return {
            m.id: {
                "id": m.id,
                "name": m.name,
                "model_name": m.name,
                "manufacturer_id": m.manufacturer_id,
                "manufacturer": makers.get(m.manufacturer_id),
            }
            for m in self.ds.models.values()
        }


@dataclass(frozen=True)
class Context:
    """Per-request state the resolvers read (``info.context``): the rows and the knobs."""

    rows: Rows  # of the current dataset version
    nested_limit: int | None = None
    fail_accounts: frozenset[int] = frozenset()


def _keep(cache: dict[int, Any], key: int, value: Any, limit: int) -> None:
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


def _status(status_id: int, name: str, active: bool) -> Row:
    return {"id": status_id, "name": name, "activates_account": active}


def _type(type_id: int, name: str, kind: str) -> Row:
    return {"id": type_id, "name": name, "type": kind.upper()}


def _field(field_id: int, name: str, kind: str) -> Row:
    return {"id": field_id, "name": name, "primary": kind == "mac", "type": kind.upper()}
