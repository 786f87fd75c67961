"""Records to staging tuples: text PostgreSQL cannot store is cleaned and counted.

Pure functions; the tuple orders match the staging tables in ``staging.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import chain
from operator import attrgetter, itemgetter
from struct import Struct

from sonar_bdc.records import (
    AccountStatus,
    AccountType,
    CustomerDetail,
    CustomerInventory,
    Group,
    ReportRow,
)

# A staged row in its table's column order. Its positions are plain objects, so where
# code reads one as an int or a str (the id at 0, the texts) a `type: ignore` marks it
# until rows are named tuples (issue 16).
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

    def rows(self, rows: list[Row], positions: tuple[int, ...]) -> list[Row]:
        """Clean the text at ``positions`` of every row; one C-speed scan when all is well."""
        if not rows or storable(texts(rows, positions)):
            return rows
        return [self._row(row, positions) for row in rows]

    def _row(self, row: Row, positions: tuple[int, ...]) -> Row:
        if storable(texts([row], positions)):
            return row
        fields = list(row)
        for position in positions:
            fields[position] = self(fields[position])  # type: ignore[arg-type]  # untyped Row: see Row
        return tuple(fields)


def texts(rows: Sequence[Sequence[object]], positions: tuple[int, ...]) -> str:
    if len(positions) == 1:
        values: Iterable[object] = (row[positions[0]] for row in rows)
    else:
        values = chain.from_iterable(map(itemgetter(*positions), rows))
    return "".join(filter(None, values))  # type: ignore[arg-type]  # untyped Row: see Row


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


REPORT_TEXT_POSITIONS = tuple(range(1, 11))


def report_rows(batch: Iterable[ReportRow], clean: TextCleaner) -> list[Row]:
    """Staging tuples for report rows, duplicate ids removed (the last one wins).

    Coordinates go as they came: the upsert turns invalid ones into NULL in SQL.
    """
    staged = clean.rows(list(batch), REPORT_TEXT_POSITIONS)
    return list(dict(zip(map(itemgetter(0), staged), staged, strict=True)).values())


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


def new_customer_row(row: Row, seen_at: datetime) -> Row:
    """A staged report row as ``upserts.NEW_CUSTOMER_COLUMNS``: what the upsert would
    insert, with invalid coordinates made NULL and the point built here."""
    latitude, longitude = row[-2], row[-1]
    if valid_point(latitude, longitude):  # type: ignore[arg-type]  # untyped Row: see Row
        return (*row, ewkb_point(latitude, longitude), seen_at)  # type: ignore[arg-type]  # untyped Row: see Row
    return (*row[:-2], None, None, None, seen_at)


def require_aware(moment: datetime, name: str) -> datetime:
    """Timestamps are stored as timestamptz: a naive one would be ambiguous."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment


DETAIL_TEXT_POSITIONS = (1, 4)  # in staging.CUSTOMERS: name, fips


def detail_fields(detail: CustomerDetail, fetched_at: datetime) -> list[object]:
    """staging.CUSTOMERS columns 1-5 from a detail (text not yet cleaned)."""
    return [detail.name, detail.account_status_id, detail.account_type_id, detail.fips, fetched_at]


def group_links(detail: CustomerDetail) -> list[Row]:
    unique = dict.fromkeys(group.id for group in detail.groups)
    return [(detail.id, group_id) for group_id in unique]


_service_fields = attrgetter(
    "service_id", "name", "data_service", "download_kbps", "upload_kbps",
    "technology_code", "technology_name", "quantity",
)  # fmt: skip
SERVICE_TEXT_POSITIONS = (2, 7)


def service_rows(detail: CustomerDetail) -> list[Row]:
    """(customer_id, service fields...) per service id; a repeated id keeps its last one.

    Text is not cleaned here: the writer cleans a whole batch at once.
    """
    last = {service.service_id: service for service in detail.services}
    return [(detail.id, *_service_fields(service)) for service in last.values()]


item_fields = attrgetter(
    "id", "inventory_model_id", "model_name", "manufacturer_id", "manufacturer_name",
    "status", "mac_address",
)  # fmt: skip
ITEM_TEXT_POSITIONS = (2, 4, 5, 6)


def item_rows(inventory: CustomerInventory) -> list[Row]:
    """One row per item id (the last one wins); text not yet cleaned, as for services."""
    return last_by_key(map(item_fields, inventory.items))


def group_row(group: Group, clean: TextCleaner) -> Row:
    return (group.id, clean(group.name))


def status_row(status: AccountStatus, clean: TextCleaner) -> Row:
    return (status.id, clean(status.name), status.active)


def type_row(account_type: AccountType, clean: TextCleaner) -> Row:
    return (account_type.id, clean(account_type.name), clean(account_type.type))


def last_by_key(rows: Iterable[Row], width: int = 1) -> list[Row]:
    """Drop duplicate keys (the first ``width`` fields); the last occurrence wins."""
    return list({row[:width]: row for row in rows}.values())
