"""Inventory: the model catalog (names, manufacturers, MAC fields) and items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...records import InventoryItem
from ..values import parse_int, parse_text
from .model_fields import ModelFields

MAC_FIELD_TYPE = "mac"


@dataclass(frozen=True)
class InventoryModel:
    id: int
    name: str | None = None
    manufacturer_id: int | None = None


@dataclass(frozen=True)
class InventoryCatalog:
    """What an item's ``inventory_model_id`` and ``fields`` mean.

    Models and manufacturers are fetched once per run; ``mac_fields`` is either fixed or
    a :class:`ModelFields` that fetches a model's fields when ``resolve`` first meets it.
    """

    models: Mapping[int, InventoryModel] = field(default_factory=dict)
    manufacturers: Mapping[int, str | None] = field(default_factory=dict)  # id -> name
    mac_fields: Mapping[int, frozenset[int]] = field(default_factory=dict)  # model -> field ids
    # One str object per distinct status: a listing of every item holds tens of thousands.
    _statuses: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def resolve(self, raws: Iterable[Any]) -> None:
        """Make sure ``mac_fields`` knows the catalog models these raw items use."""
        if not isinstance(self.mac_fields, ModelFields):
            return
        ids = (parse_int(raw.get("inventory_model_id")) for raw in raws if isinstance(raw, dict))
        self.mac_fields.ensure(i for i in ids if i is not None and i in self.models)

    def lacks_fields(self, items: Iterable[InventoryItem]) -> bool:
        """Some of ``items`` are of a model whose field list could not be fetched."""
        failed = self.mac_fields.failed if isinstance(self.mac_fields, ModelFields) else ()
        return bool(failed) and any(item.inventory_model_id in failed for item in items)

    def item(self, raw: dict[str, Any]) -> InventoryItem | None:
        """An item with model, manufacturer and MAC resolved; None without a usable id."""
        item_id = parse_int(raw.get("id"))
        if item_id is None:
            return None
        model_id = parse_int(raw.get("inventory_model_id"))
        model = self.models.get(model_id) if model_id is not None else None
        manufacturer_id = model.manufacturer_id if model else None
        status = parse_text(raw.get("status"))
        return InventoryItem(
            id=item_id,
            inventory_model_id=model.id if model else model_id,  # shared with the catalog
            model_name=model.name if model else None,
            manufacturer_id=manufacturer_id,
            manufacturer_name=(
                self.manufacturers.get(manufacturer_id) if manufacturer_id is not None else None
            ),
            status=None if status is None else self._statuses.setdefault(status, status),
            mac_address=self._mac(model_id, raw.get("fields")),
        )

    def _mac(self, model_id: int | None, fields: Any) -> str | None:
        """The data of the item's first field that its model declares as type "mac"."""
        if model_id is None or model_id not in self.models:  # no model, or an orphan one
            return None
        mac_ids = self.mac_fields.get(model_id, frozenset())
        if not mac_ids or not isinstance(fields, list):
            return None
        for entry in fields:
            if isinstance(entry, dict) and parse_int(entry.get("field_id")) in mac_ids:
                return parse_text(entry.get("data"))
        return None


ACCOUNT_ASSIGNEE_TYPES = frozenset({"accounts", "account"})


def account_assignee(raw: Any) -> int | None:
    """The account an item of ``/inventory/items`` is assigned to; None for sites, stock..."""
    if not isinstance(raw, dict):
        return None
    kind = str(raw.get("assignee_type") or "").strip().lower()
    return parse_int(raw.get("assignee_id")) if kind in ACCOUNT_ASSIGNEE_TYPES else None


def parse_model(raw: dict[str, Any]) -> InventoryModel | None:
    model_id = parse_int(raw.get("id"))
    if model_id is None:
        return None
    return InventoryModel(
        model_id, parse_text(raw.get("name")), parse_int(raw.get("manufacturer_id"))
    )


def parse_manufacturer(raw: dict[str, Any]) -> tuple[int, str | None] | None:
    manufacturer_id = parse_int(raw.get("id"))
    return None if manufacturer_id is None else (manufacturer_id, parse_text(raw.get("name")))


def mac_field_ids(fields: Iterable[Any]) -> frozenset[int]:
    """The ids of a model's fields of type "mac" (usually one)."""
    ids = (
        parse_int(f.get("id"))
        for f in fields
        if isinstance(f, dict) and str(f.get("type", "")).strip().lower() == MAC_FIELD_TYPE
    )
    return frozenset(i for i in ids if i is not None)
