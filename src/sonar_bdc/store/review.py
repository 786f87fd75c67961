"""The SQL of the review page: the filing's snapshot plus what a person looks at on a map.

Everything is read in one read-only REPEATABLE READ transaction, like the filing files,
so the page shows one state of the database. The Fabric and coverage tables may be
missing (an older schema) or empty (not loaded, not matched yet): each read then returns
nothing rather than failing, and the page says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from sonar_bdc.store.availability import AREAS, LOCATIONS, MATCHES, Snapshot
from sonar_bdc.store.db import scalar, table_exists, translated
from sonar_bdc.store.filing import TRACTS, FilingData, FilingDb
from sonar_bdc.store.prefix import Prefix

# Outlines are drawn, not measured: about a metre of precision keeps the page small.
GEOJSON_DIGITS = 5
COVERAGE_TOLERANCE = 0.00005  # degrees (about 5 m) when simplifying coverage outlines
TRACT_TOLERANCE = 0.0002  # about 20 m: tract outlines are context only


@dataclass(frozen=True, slots=True)
class Address:
    address: str | None
    street2: str | None
    city: str | None
    state: str | None
    zip: str | None

    def line(self) -> str:
        street = ", ".join(p for p in (self.address, self.street2) if p)
        place = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (street, self.city, place) if p)


@dataclass(frozen=True, slots=True)
class Match:
    """A customer's row of fabric_matches, with its location's point."""

    location_id: int | None  # None: unmatched (``reason`` says why)
    method: str
    reason: str | None
    bsl: bool | None
    distance_m: float | None  # customer point to location point (geodesic metres)
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Area:
    id: int
    technology: int
    download_mbps: int | None
    upload_mbps: int | None
    source: str
    geojson: str


def addresses_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("SELECT id, address, street2, city, state, zip FROM {}").format(
        prefix.table("customers")
    )


def matches_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT m.customer_id, m.location_id, m.method, m.reason, l.bsl_flag,"
        " ST_Distance(c.geom::geography, l.geom::geography), ST_Y(l.geom), ST_X(l.geom)"
        " FROM {matches} m LEFT JOIN {locations} l ON l.location_id = m.location_id"
        " LEFT JOIN {customers} c ON c.id = m.customer_id"
    ).format(
        matches=prefix.table(MATCHES),
        locations=prefix.table(LOCATIONS),
        customers=prefix.table("customers"),
    )


def areas_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT id, technology, download_mbps, upload_mbps, source,"
        " ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %(tol)s), %(digits)s)"
        " FROM {} ORDER BY technology, id"
    ).format(prefix.table(AREAS))


def point_coverage_sql(prefix: Prefix) -> sql.Composed:
    """Per customer with a point: the technologies whose loaded areas cover it."""
    return sql.SQL(
        "SELECT c.id, array_agg(DISTINCT a.technology ORDER BY a.technology)"
        " FROM {customers} c JOIN {areas} a ON ST_Covers(a.geom, c.geom)"
        " GROUP BY c.id"
    ).format(customers=prefix.table("customers"), areas=prefix.table(AREAS))


def tracts_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT geoid, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %(tol)s), %(digits)s)"
        " FROM {} WHERE geoid = ANY(%(geoids)s) ORDER BY geoid"
    ).format(prefix.table(TRACTS))


def has_rows_sql(prefix: Prefix, table: str) -> sql.Composed:
    return sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(prefix.table(table))


class ReviewSnapshot:
    """The open read-only transaction of one review page."""

    def __init__(self, conn: psycopg.Connection, prefix: Prefix, filing: FilingData) -> None:
        self.conn, self.prefix, self.filing = conn, prefix, filing

    def _has(self, table: str) -> bool:
        return table_exists(self.conn, self.prefix, table)

    def _has_rows(self, table: str) -> bool:
        return self._has(table) and bool(scalar(self.conn, has_rows_sql(self.prefix, table)))

    @property
    def fabric_loaded(self) -> bool:
        return self._has_rows(LOCATIONS)

    @property
    def coverage_loaded(self) -> bool:
        return self._has_rows(AREAS)

    def availability(self) -> Snapshot | None:
        """The availability file's reads in this transaction; None without a Fabric."""
        if not (self.fabric_loaded and self._has(MATCHES) and self._has(AREAS)):
            return None
        return Snapshot(self.conn, self.prefix, self.filing)

    def addresses(self) -> dict[int, Address]:
        rows = self.conn.execute(addresses_sql(self.prefix)).fetchall()
        return {int(r[0]): Address(*r[1:]) for r in rows}

    def matches(self) -> dict[int, Match]:
        if not (self._has(MATCHES) and self._has(LOCATIONS)):
            return {}
        rows = self.conn.execute(matches_sql(self.prefix)).fetchall()
        return {int(r[0]): Match(*r[1:]) for r in rows}

    def areas(self) -> list[Area]:
        if not self._has(AREAS):
            return []
        params = {"tol": COVERAGE_TOLERANCE, "digits": GEOJSON_DIGITS}
        return [Area(*row) for row in self.conn.execute(areas_sql(self.prefix), params)]

    def point_coverage(self) -> dict[int, tuple[int, ...]]:
        if not self._has(AREAS):
            return {}
        rows = self.conn.execute(point_coverage_sql(self.prefix)).fetchall()
        return {int(c): tuple(int(t) for t in techs) for c, techs in rows}

    def tracts(self, geoids: Sequence[str]) -> list[tuple[str, str]]:
        if not geoids or not self._has(TRACTS):
            return []
        params = {"tol": TRACT_TOLERANCE, "digits": GEOJSON_DIGITS, "geoids": list(geoids)}
        return [(g, j) for g, j in self.conn.execute(tracts_sql(self.prefix), params)]


class ReviewDb(FilingDb):
    """The filing's connection, read-only: the review page never writes."""

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[ReviewSnapshot]:
        action = f"reading the tables at {self.prefix} for the review page"
        with self.read_only(action) as filing, translated(action):
            yield ReviewSnapshot(self.conn, self.prefix, filing)
