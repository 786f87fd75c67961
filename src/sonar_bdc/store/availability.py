"""The SQL of the BDC availability file: one snapshot of the import, the Fabric and coverage.

Everything the file needs is read in one read-only REPEATABLE READ transaction (the
subscription file's snapshot plus the Fabric matches and coverage), so an import or a
coverage load running meanwhile cannot mix two states. The file's rows are streamed from
a server-side cursor: 2 million locations never sit in memory at once. Offers and served
locations travel as array parameters (``unnest``), so no temporary table is written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from sonar_bdc.errors import ConfigError
from sonar_bdc.store.db import scalar, table_exists, translated
from sonar_bdc.store.filing import FilingData, FilingDb
from sonar_bdc.store.prefix import Prefix

AREAS = "coverage_areas"
LOCATIONS = "fabric_locations"
MATCHES = "fabric_matches"
FETCH_ROWS = 20_000  # rows per round trip of the server-side cursor

# (technology, download, upload, low latency, R/B/X) per technology, as arrays.
_OFFERS = sql.SQL(
    "SELECT * FROM unnest(%(t)s::smallint[], %(d)s::integer[], %(u)s::integer[],"
    " %(l)s::boolean[], %(b)s::text[]) AS o(technology, down, up, ll, brc)"
)
_SERVED = sql.SQL(
    "SELECT DISTINCT * FROM unnest(%(sl)s::bigint[], %(st)s::smallint[])"
    " AS s(location_id, technology)"
)


@dataclass(frozen=True, slots=True)
class MatchRow:
    location_id: int | None  # None: unmatched
    bsl: bool | None  # the matched location's bsl_flag
    reason: str | None  # why unmatched


@dataclass(frozen=True, slots=True)
class Covering:
    """The fastest coverage area of a technology covering one location."""

    download_mbps: int | None  # None: the area takes its technology's offer
    upload_mbps: int | None


def rows_sql(prefix: Prefix) -> sql.Composed:
    """Every BSL in a coverage area (its fastest covering offer per technology), then every
    served BSL outside its technology's coverage (the technology's offer); sorted."""
    t = prefix.table
    return sql.SQL(
        "WITH offers AS ({offers}), served AS ({served}),"
        " covered AS (SELECT DISTINCT ON (l.location_id, a.technology)"
        "   l.location_id, a.technology, COALESCE(a.download_mbps, o.down) AS down,"
        "   COALESCE(a.upload_mbps, o.up) AS up, COALESCE(a.low_latency, o.ll) AS ll,"
        "   COALESCE(a.business_residential_code, o.brc) AS brc"
        "   FROM {areas} a LEFT JOIN offers o ON o.technology = a.technology"
        "   JOIN {locations} l ON ST_Covers(a.geom, l.geom)"
        "   WHERE l.bsl_flag"
        "   ORDER BY l.location_id, a.technology, down DESC, up DESC, a.id)"
        " SELECT location_id, technology, down, up, ll, brc FROM covered"
        " UNION ALL"
        " SELECT s.location_id, s.technology, o.down, o.up, o.ll, o.brc"
        " FROM served s JOIN {locations} l ON l.location_id = s.location_id AND l.bsl_flag"
        " JOIN offers o ON o.technology = s.technology"
        " WHERE NOT EXISTS (SELECT 1 FROM {areas} a"
        "   WHERE a.technology = s.technology AND ST_Covers(a.geom, l.geom))"
        " ORDER BY location_id, technology"
    ).format(offers=_OFFERS, served=_SERVED, areas=t(AREAS), locations=t(LOCATIONS))


def covering_sql(prefix: Prefix) -> sql.Composed:
    """For each served (location, technology): the fastest area of it covering the location."""
    t = prefix.table
    return sql.SQL(
        "SELECT DISTINCT ON (s.location_id, s.technology) s.location_id, s.technology,"
        " a.download_mbps, a.upload_mbps"
        " FROM ({served}) s JOIN {locations} l ON l.location_id = s.location_id"
        " JOIN {areas} a ON a.technology = s.technology AND ST_Covers(a.geom, l.geom)"
        " ORDER BY s.location_id, s.technology, a.download_mbps DESC NULLS LAST,"
        " a.upload_mbps DESC NULLS LAST, a.id"
    ).format(served=_SERVED, areas=t(AREAS), locations=t(LOCATIONS))


def matches_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT m.customer_id, m.location_id, l.bsl_flag, m.reason FROM {matches} m"
        " LEFT JOIN {locations} l ON l.location_id = m.location_id"
    ).format(matches=prefix.table(MATCHES), locations=prefix.table(LOCATIONS))


def coverage_sql(prefix: Prefix) -> sql.Composed:
    """Per technology: areas, and areas without their own speeds."""
    return sql.SQL(
        "SELECT technology, count(*), count(*) FILTER (WHERE download_mbps IS NULL)"
        " FROM {} GROUP BY technology ORDER BY technology"
    ).format(prefix.table(AREAS))


def releases_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("SELECT array_agg(DISTINCT fcc_rel ORDER BY fcc_rel) FROM {}").format(
        prefix.table(LOCATIONS)
    )


def served_params(served: Sequence[tuple[int, int]]) -> dict[str, list[int]]:
    return {"sl": [s[0] for s in served], "st": [s[1] for s in served]}


class Snapshot:
    """The open read-only transaction of one availability file."""

    def __init__(self, conn: psycopg.Connection, prefix: Prefix, filing: FilingData) -> None:
        self.conn, self.prefix, self.filing = conn, prefix, filing

    def releases(self) -> list[str]:
        return list(scalar(self.conn, releases_sql(self.prefix)) or [])

    def matches(self) -> dict[int, MatchRow]:
        rows = self.conn.execute(matches_sql(self.prefix)).fetchall()
        return {int(c): MatchRow(loc, bsl, reason) for c, loc, bsl, reason in rows}

    def coverage(self) -> dict[int, tuple[int, int]]:
        """technology -> (areas, areas taking the technology's offer)."""
        rows = self.conn.execute(coverage_sql(self.prefix)).fetchall()
        return {int(t): (int(n), int(without)) for t, n, without in rows}

    def covering(self, served: Sequence[tuple[int, int]]) -> dict[tuple[int, int], Covering]:
        rows = self.conn.execute(covering_sql(self.prefix), served_params(served)).fetchall()
        return {(int(loc), int(tech)): Covering(d, u) for loc, tech, d, u in rows}

    def rows(
        self,
        offers: Mapping[int, tuple[int | None, int | None, bool, str]],
        served: Sequence[tuple[int, int]],
    ) -> Iterator[tuple[int, int, int, int, bool, str]]:
        """(location_id, technology, down, up, low latency, R/B/X), sorted, streamed."""
        codes = sorted(offers)
        params: dict[str, object] = {
            "t": codes,
            "d": [offers[c][0] for c in codes],
            "u": [offers[c][1] for c in codes],
            "l": [offers[c][2] for c in codes],
            "b": [offers[c][3] for c in codes],
            **served_params(served),
        }
        with (
            translated("reading the availability rows"),
            self.conn.cursor(name="sonar_bdc_availability") as cur,
        ):
            cur.itersize = FETCH_ROWS
            cur.execute(rows_sql(self.prefix), params)
            yield from cur


class AvailabilityDb(FilingDb):
    """The subscription file's connection, plus the Fabric and coverage reads."""

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        with self.read_only(f"reading the imported tables at {self.prefix}") as filing:
            yield Snapshot(self.conn, self.prefix, filing)

    def _require(self) -> None:
        self._require_import()
        self._require_fabric()

    def _require_fabric(self) -> None:
        has = table_exists(self.conn, self.prefix, LOCATIONS) and scalar(
            self.conn,
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(self.prefix.table(LOCATIONS)),
        )
        if not table_exists(self.conn, self.prefix, AREAS):
            raise ConfigError(
                f"the tables at {self.prefix} predate coverage areas (schema v6): run "
                "sonar-bdc coverage list (or an import) once to upgrade them"
            )
        if not has:
            raise ConfigError(
                f"no Fabric locations at {self.prefix}: run sonar-bdc fabric load with your "
                "licensed Fabric, then sonar-bdc fabric match, before the availability file"
            )
