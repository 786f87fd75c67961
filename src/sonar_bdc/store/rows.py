"""Records to staging tuples: text PostgreSQL cannot store is cleaned and counted.

Pure functions; the tuple orders match the staging tables in ``staging.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from sonar_bdc.records import (
    AccountStatus,
    AccountType,
    CustomerDetail,
    CustomerInventory,
    Group,
    InventoryItem,
    ReportRow,
    Service,
)

Row = tuple[object, ...]


class TextCleaner:
    """Removes NUL characters and unencodable surrogates, counting each value changed."""

    def __init__(self) -> None:
        self.cleaned = 0

    def __call__(self, value: str | None) -> str | None:
        if value is None or (value.isascii() and "\x00" not in value):
            return value
        fixed = value.replace("\x00", "")
        try:
            fixed.encode("utf-8")
        except UnicodeEncodeError:
            fixed = fixed.encode("utf-8", "replace").decode("utf-8")
        if fixed != value:
            self.cleaned += 1
        return fixed


def valid_coordinates(latitude: float | None, longitude: float | None) -> bool:
    """Both present, finite, in range, and not the (0, 0) placeholder."""
    if latitude is None or longitude is None:
        return False
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return False
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return False
    return not (latitude == 0.0 and longitude == 0.0)


def report_row(row: ReportRow, clean: TextCleaner) -> Row:
    """Invalid or missing coordinates become NULL latitude and longitude, never (0, 0)."""
    point = (row.latitude, row.longitude)
    if not valid_coordinates(*point):
        point = (None, None)
    texts = (row.name, row.status, row.address, row.street2, row.city, row.state, row.zip)
    more = (row.plus4, row.country, row.source)
    return (row.id, *(clean(value) for value in texts + more), *point)


def detail_row(detail: CustomerDetail, fetched_at: datetime, clean: TextCleaner) -> Row:
    return (
        detail.id,
        clean(detail.name),
        detail.account_status_id,
        detail.account_type_id,
        clean(detail.fips),
        fetched_at,
    )


def group_links(detail: CustomerDetail) -> list[Row]:
    unique = dict.fromkeys(group.id for group in detail.groups)
    return [(detail.id, group_id) for group_id in unique]


def service_rows(detail: CustomerDetail, clean: TextCleaner) -> list[Row]:
    """One row per service id; a repeated id keeps its last occurrence."""
    last = {service.service_id: service for service in detail.services}
    return [_service_row(detail.id, service, clean) for service in last.values()]


def _service_row(customer_id: int, service: Service, clean: TextCleaner) -> Row:
    return (
        customer_id,
        service.service_id,
        clean(service.name),
        service.data_service,
        service.download_kbps,
        service.upload_kbps,
        service.technology_code,
        clean(service.technology_name),
        service.quantity,
    )


def item_row(item: InventoryItem, clean: TextCleaner) -> Row:
    return (
        item.id,
        item.inventory_model_id,
        clean(item.model_name),
        item.manufacturer_id,
        clean(item.manufacturer_name),
        clean(item.status),
        clean(item.mac_address),
    )


def inventory_links(inventory: CustomerInventory) -> list[Row]:
    unique = dict.fromkeys(item.id for item in inventory.items)
    return [(inventory.customer_id, item_id) for item_id in unique]


def group_row(group: Group, clean: TextCleaner) -> Row:
    return (group.id, clean(group.name))


def status_row(status: AccountStatus, clean: TextCleaner) -> Row:
    return (status.id, clean(status.name), status.active)


def type_row(account_type: AccountType, clean: TextCleaner) -> Row:
    return (account_type.id, clean(account_type.name), clean(account_type.type))


def last_by_key(rows: Iterable[Row], width: int = 1) -> list[Row]:
    """Drop duplicate keys (the first ``width`` fields); the last occurrence wins."""
    return list({row[:width]: row for row in rows}.values())
