"""Records to staging rows: text PostgreSQL cannot store is cleaned and counted.

Pure functions. Each staged row is a named tuple whose fields are its staging
table's columns in order (``staging.py``; a test holds them equal): a tuple still,
so COPY writes it as it is, and read by name everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import partial
from itertools import chain
from operator import attrgetter, itemgetter
from struct import Struct
from typing import NamedTuple, TypeVar

from sonar_bdc.records import (
    AccountStatus,
    AccountType,
    CustomerDetail,
    CustomerInventory,
    Group,
    ReportRow,
)

# Any row a staging table takes, in its column order.
Row = tuple[object, ...]
R = TypeVar("R", bound=NamedTuple)
T = TypeVar("T", bound=Row)


class CustomerRow(NamedTuple):
    """staging.CUSTOMERS: a detail, an inventory stamp, both, or a deletion."""

    id: int
    name: str | None = None
    account_status_id: int | None = None
    account_type_id: int | None = None
    fips: str | None = None
    census_year: int | None = None
    updated_at: datetime | None = None
    inventory_updated_at: datetime | None = None
    deleted_at: datetime | None = None


class GroupLink(NamedTuple):
    customer_id: int
    group_id: int


class ServiceRow(NamedTuple):
    customer_id: int
    service_id: int
    name: str | None
    data_service: bool | None
    download_kbps: int | None
    upload_kbps: int | None
    technology_code: int | None
    technology_name: str | None
    quantity: int | None


class ItemRow(NamedTuple):
    id: int
    inventory_model_id: int | None
    model_name: str | None
    manufacturer_id: int | None
    manufacturer_name: str | None
    status: str | None
    mac_address: str | None


class ItemLink(NamedTuple):
    customer_id: int
    inventory_item_id: int


class ListedItem(NamedTuple):
    """staging.LISTING: an item of the bulk listing, with the account holding it."""

    customer_id: int
    id: int
    inventory_model_id: int | None
    model_name: str | None
    manufacturer_id: int | None
    manufacturer_name: str | None
    status: str | None
    mac_address: str | None


class GroupRow(NamedTuple):
    id: int
    name: str | None


class StatusRow(NamedTuple):
    id: int
    name: str | None
    active: bool | None


class TypeRow(NamedTuple):
    id: int
    name: str | None
    type: str | None


CatalogRow = GroupRow | StatusRow | TypeRow


def maker(row_type: type[R]) -> Callable[[Iterable[object]], R]:
    """``row_type._make`` without its Python-level call, for the rows a run stages by
    the hundred thousand: a named tuple's own constructor costs four plain tuples,
    this three. Unchecked: pass every field, in order."""
    return partial(tuple.__new__, row_type)


new_customer = maker(CustomerRow)
new_group_link = maker(GroupLink)
new_service = maker(ServiceRow)
new_item = maker(ItemRow)
new_item_link = maker(ItemLink)


class TextFields:
    """The text fields of one row type: read by position for one C-speed scan of a
    whole batch, and cleaned by name in the rare row that needs it."""

    def __init__(self, row_type: type[NamedTuple], *names: str) -> None:
        self.names = names
        self.positions = tuple(row_type._fields.index(name) for name in names)
        self._get = itemgetter(*self.positions)

    def of(self, rows: Iterable[Row]) -> Iterator[str | None]:
        if len(self.positions) == 1:
            return map(self._get, rows)
        return chain.from_iterable(map(self._get, rows))

    def text(self, rows: Iterable[Row]) -> str:
        """Every non-empty text of ``rows`` in one string (for ``storable``)."""
        return "".join(filter(None, self.of(rows)))


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

    def rows(self, rows: list[R], fields: TextFields) -> list[R]:
        """Clean the text ``fields`` of every row; one C-speed scan when all is well."""
        if not rows or storable(fields.text(rows)):
            return rows
        return [self._row(row, fields) for row in rows]

    def _row(self, row: R, fields: TextFields) -> R:
        if storable(fields.text([row])):
            return row
        return row._replace(**{name: self(getattr(row, name)) for name in fields.names})


def storable(text: str) -> bool:
    """True when PostgreSQL can store ``text`` as it is (no NUL, valid UTF-8)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


REPORT_TEXTS = TextFields(ReportRow, *ReportRow._fields[1:11])


def report_rows(batch: Iterable[ReportRow], clean: TextCleaner) -> list[ReportRow]:
    """Staging rows for report rows, duplicate ids removed (the last one wins).

    Coordinates go as they came: the upsert turns invalid ones into NULL in SQL.
    """
    staged = clean.rows(list(batch), REPORT_TEXTS)
    return list(dict(zip(map(attrgetter("id"), staged), staged, strict=True)).values())


# EWKB of a point with an SRID: little-endian, type 1 with the SRID flag, SRID, x, y.
_EWKB_POINT = Struct("<BIIdd")
_POINT_WITH_SRID = 0x20000001
SRID = 4326


def valid_point(latitude: float | None, longitude: float | None) -> bool:
    """Python's twin of ``upserts.VALID_POINT``: in range and not (0, 0); NaN fails."""
    if latitude is None or longitude is None:
        return False
    in_range = -90 <= latitude <= 90 and -180 <= longitude <= 180
    return in_range and (latitude != 0 or longitude != 0)


def ewkb_point(latitude: float, longitude: float) -> bytes:
    """The geometry ``ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)`` as EWKB."""
    return _EWKB_POINT.pack(1, _POINT_WITH_SRID, SRID, longitude, latitude)


def new_customer_row(row: ReportRow, seen_at: datetime) -> Row:
    """A staged report row as ``upserts.NEW_CUSTOMER_COLUMNS``: what the upsert would
    insert, with invalid coordinates made NULL and the point built here. A plain
    tuple: only COPY reads it, once per row of a first load."""
    latitude, longitude = row.latitude, row.longitude
    if latitude is None or longitude is None or not valid_point(latitude, longitude):
        return (*row[:-2], None, None, None, seen_at)
    return (*row, ewkb_point(latitude, longitude), seen_at)


def require_aware(moment: datetime, name: str) -> datetime:
    """Timestamps are stored as timestamptz: a naive one would be ambiguous."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment


def group_links(detail: CustomerDetail) -> list[GroupLink]:
    unique = dict.fromkeys(group.id for group in detail.groups)
    return [new_group_link((detail.id, group_id)) for group_id in unique]


_service_fields = attrgetter(
    "service_id", "name", "data_service", "download_kbps", "upload_kbps",
    "technology_code", "technology_name", "quantity",
)  # fmt: skip
SERVICE_TEXTS = TextFields(ServiceRow, "name", "technology_name")


def service_rows(detail: CustomerDetail) -> list[ServiceRow]:
    """One row per service id; a repeated id keeps its last one.

    Text is not cleaned here: the writer cleans a whole batch at once.
    """
    last = {service.service_id: service for service in detail.services}
    return [new_service((detail.id, *_service_fields(service))) for service in last.values()]


item_fields = attrgetter(*ItemRow._fields)
ITEM_TEXTS = TextFields(ItemRow, "model_name", "manufacturer_name", "status", "mac_address")
LISTING_TEXTS = TextFields(ListedItem, *ITEM_TEXTS.names)


def item_rows(inventory: CustomerInventory) -> list[ItemRow]:
    """One row per item id (the last one wins); text not yet cleaned, as for services."""
    return last_by_key(map(new_item, map(item_fields, inventory.items)))


def group_row(group: Group, clean: TextCleaner) -> GroupRow:
    return GroupRow(group.id, clean(group.name))


def status_row(status: AccountStatus, clean: TextCleaner) -> StatusRow:
    return StatusRow(status.id, clean(status.name), status.active)


def type_row(account_type: AccountType, clean: TextCleaner) -> TypeRow:
    return TypeRow(account_type.id, clean(account_type.name), clean(account_type.type))


def last_by_key(rows: Iterable[T]) -> list[T]:
    """Drop rows whose key (the first field) repeats; the last occurrence wins."""
    return list({row[0]: row for row in rows}.values())
