"""What the filing reads from the store and what it decides about each customer.

``CustomerRow.from_row`` turns one row of ``store.filing.customer_rows`` (a mapping)
into typed values, so the rules in ``rules.py`` are pure and testable without SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Why an active data customer is left out, in the order they are checked (one reason
# per customer, the first that applies) and the order of the exceptions file.
UNKNOWN_STATUS = "unknown_status"
NO_DATA_SERVICE = "no_data_service"
UNMAPPED_TECHNOLOGY = "unmapped_technology"
NO_COORDINATES = "no_coordinates"
NO_TRACT = "no_tract"
CONFLICTING_TRACT = "conflicting_tract"
REASONS = (
    UNKNOWN_STATUS,
    NO_DATA_SERVICE,
    UNMAPPED_TECHNOLOGY,
    NO_COORDINATES,
    NO_TRACT,
    CONFLICTING_TRACT,
)
# Counted, but listed after the exclusions for a person to look at.
OLD_CENSUS_BLOCK = "old_census_block"  # a pre-2020 block whose tract the 2020 polygon overrides
WARNINGS = (OLD_CENSUS_BLOCK,)

# Where a counted connection's 2020 tract came from, in the order they are tried.
FROM_FABRIC = "fabric"  # the matched Fabric location's 2020 block
FROM_FIPS = "fips"  # Sonar's census block, from the 2020 census
FROM_UNKNOWN_VINTAGE = "fips_unknown_vintage"  # Sonar's census block, census year not sent (v1)
FROM_POLYGON = "polygon"  # the loaded 2020 tract polygon covering the point
TRACT_SOURCES = (FROM_FABRIC, FROM_FIPS, FROM_UNKNOWN_VINTAGE, FROM_POLYGON)
CURRENT_CENSUS = 2020

# Customers that are not subscribers at all: counted in the summary, never listed.
DELETED = "deleted in Sonar"
NOT_IN_REPORT = "not in the latest report"
INACTIVE = "inactive status"


@dataclass(frozen=True, slots=True)
class ServiceRow:
    service_id: int
    name: str | None = None
    data_service: bool | None = None
    download_kbps: int | None = None
    upload_kbps: int | None = None
    technology_code: int | None = None
    technology_name: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ServiceRow:
        return cls(
            service_id=int(row["service_id"]),
            name=row.get("name"),
            data_service=row.get("data_service"),
            download_kbps=_int(row.get("download_kbps")),
            upload_kbps=_int(row.get("upload_kbps")),
            technology_code=_int(row.get("technology_code")),
            technology_name=row.get("technology_name"),
        )

    def label(self) -> str:
        return f"{self.name or 'unnamed'} (service {self.service_id})"


@dataclass(frozen=True, slots=True)
class Status:
    """One entry of the account status catalog."""

    id: int
    name: str | None
    active: bool | None


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    name: str | None = None
    status_name: str | None = None  # from the report (refreshed every run)
    account_status_id: int | None = None  # from the detail (refreshed every --days)
    account_type: str | None = None  # account_types.type: residential, commercial, ...
    group_ids: tuple[int, ...] = ()
    group_names: tuple[str, ...] = ()
    fips: str | None = None
    census_year: int | None = None  # of the fips (Sonar v2); None: not sent (v1)
    fabric_block: str | None = None  # the 2020 block of the matched Fabric location
    latitude: float | None = None
    longitude: float | None = None
    has_point: bool = False
    polygon_tracts: tuple[str, ...] = ()  # loaded tracts whose polygon covers the point
    services: tuple[ServiceRow, ...] = ()
    deleted: bool = False
    in_latest_report: bool = True
    detail_imported: bool = True

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CustomerRow:
        return cls(
            id=int(row["id"]),
            name=row.get("name"),
            status_name=row.get("status"),
            account_status_id=_int(row.get("account_status_id")),
            account_type=row.get("account_type"),
            group_ids=tuple(int(g) for g in row.get("group_ids") or ()),
            group_names=tuple(g for g in row.get("group_names") or () if g),
            fips=row.get("fips"),
            census_year=_int(row.get("census_year")),
            fabric_block=row.get("fabric_block"),
            latitude=row.get("latitude"),
            longitude=row.get("longitude"),
            has_point=bool(row.get("has_point")),
            polygon_tracts=tuple(row.get("polygon_tracts") or ()),
            services=_services(row.get("services") or ()),
            deleted=bool(row.get("deleted")),
            in_latest_report=bool(row.get("in_latest_report", True)),
            detail_imported=bool(row.get("detail_imported", True)),
        )


def _services(rows: Sequence[Mapping[str, Any]]) -> tuple[ServiceRow, ...]:
    return tuple(ServiceRow.from_row(r) for r in rows)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class Connection:
    """One counted connection: a customer at its fastest qualifying plan."""

    customer_id: int
    tract: str
    technology_code: int
    download_kbps: int
    upload_kbps: int
    consumer: bool
    tract_source: str  # one of TRACT_SOURCES
    warning: Exclusion | None = None  # counted, and listed with a reason of WARNINGS


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An active (or possibly active) data customer left out of the file, and why."""

    customer_id: int
    name: str | None
    reason: str  # one of REASONS (or WARNINGS, for a counted customer listed)
    detail: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A customer that is not a subscriber (deleted, gone from the report, inactive)."""

    customer_id: int
    why: str  # DELETED, NOT_IN_REPORT or INACTIVE


Outcome = Connection | Exclusion | Skipped
