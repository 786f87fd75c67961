"""The SQL of coverage areas: load (reproject, check, repair), list, remove.

``coverage_areas`` (schema v6) holds one row per polygon loaded, in SRID 4326 with a GiST
index, with its technology and its offer (NULL: the technology's offer). Polygons arrive
as WKB in the file's own CRS and are reprojected by PostGIS (``ST_Transform`` from the
CRS text the reader found). Builders are pure (``*_sql``); ``CoverageDb`` runs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from sonar_bdc.errors import ConfigError
from sonar_bdc.store import queries
from sonar_bdc.store.db import ConnInfo, PrefixDb, connect_warned, scalar, translated
from sonar_bdc.store.migrate import ensure_schema
from sonar_bdc.store.prefix import Prefix

AREAS = "coverage_areas"
STAGE = sql.Identifier("sonar_bdc_coverage_stage")
STAGE_SQL = sql.SQL(
    "CREATE TEMP TABLE {} (source text, feature integer, crs text, crs_name text, wkb bytea)"
    " ON COMMIT DROP"
).format(STAGE)
COPY_STAGE_SQL = sql.SQL("COPY {} (source, feature, crs, crs_name, wkb) FROM STDIN").format(STAGE)

# Each staged polygon in 4326, 2D, before any repair; one query names the first bad one.
_TRANSFORMED = sql.SQL(
    "SELECT source, feature, crs_name,"
    " ST_Transform(ST_Force2D(ST_GeomFromWKB(wkb)), crs, 4326) AS g"
    " FROM {}"
).format(STAGE)
PROBLEMS_SQL = sql.SQL(
    "SELECT source, feature, CASE"
    " WHEN GeometryType(g) NOT IN ('POLYGON', 'MULTIPOLYGON')"
    "   THEN 'is a ' || initcap(GeometryType(g)) || ', not a polygon'"
    " WHEN ST_IsEmpty(g) THEN 'is an empty polygon'"
    " WHEN ST_XMin(g) < -180 OR ST_XMax(g) > 180 OR ST_YMin(g) < -90 OR ST_YMax(g) > 90"
    "   THEN 'lies outside longitude/latitude once reprojected: is the declared CRS right?'"
    " WHEN NOT ST_IsValid(g) AND ST_IsEmpty(ST_CollectionExtract(ST_MakeValid(g), 3))"
    "   THEN 'is an invalid polygon with no area left once repaired'"
    " END AS problem FROM ({}) t ORDER BY source, feature"
).format(_TRANSFORMED)
REPAIRED_SQL = sql.SQL("SELECT count(*) FROM ({}) t WHERE NOT ST_IsValid(g)").format(_TRANSFORMED)


@dataclass(frozen=True, slots=True)
class AreaOffer:
    """The offer stored with the areas of one load; None: the technology's offer."""

    technology: int
    download_mbps: int | None = None
    upload_mbps: int | None = None
    low_latency: bool | None = None
    business_residential_code: str | None = None


@dataclass(frozen=True, slots=True)
class StagedPolygon:
    source: str  # the file's name
    feature: int  # its number in the file, from 1
    crs: str  # what ST_Transform reads: "EPSG:32614" or WKT
    crs_name: str  # for people, stored with the area
    wkb: bytes


@dataclass(frozen=True, slots=True)
class CoverageLoaded:
    polygons: int
    repaired: int  # invalid polygons repaired with ST_MakeValid
    replaced: int  # areas of the technology removed first (--replace)
    total: int  # areas of the technology afterwards


@dataclass(frozen=True, slots=True)
class AreaRow:
    id: int
    technology: int
    download_mbps: int | None
    upload_mbps: int | None
    low_latency: bool | None
    business_residential_code: str | None
    source: str
    feature: int
    source_crs: str
    loaded_at: datetime
    square_km: float


def insert_sql(prefix: Prefix) -> sql.Composed:
    """Staged polygons -> areas: reprojected, repaired when invalid, as MultiPolygons."""
    return sql.SQL(
        "INSERT INTO {areas} (technology, download_mbps, upload_mbps, low_latency,"
        " business_residential_code, source, feature, source_crs, geom)"
        " SELECT %s, %s, %s, %s, %s, source, feature, crs_name,"
        " ST_Multi(CASE WHEN ST_IsValid(g) THEN g"
        "   ELSE ST_CollectionExtract(ST_MakeValid(g), 3) END)"
        " FROM ({transformed}) t ORDER BY source, feature"
    ).format(areas=prefix.table(AREAS), transformed=_TRANSFORMED)


def list_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL(
        "SELECT id, technology, download_mbps, upload_mbps, low_latency,"
        " business_residential_code, source, feature, source_crs, loaded_at,"
        " ST_Area(geom::geography) / 1e6 FROM {} ORDER BY technology, id"
    ).format(prefix.table(AREAS))


def remove_sql(prefix: Prefix, by_ids: bool) -> sql.Composed:
    where = sql.SQL("id = ANY(%s)") if by_ids else sql.SQL("technology = %s")
    return sql.SQL("DELETE FROM {} WHERE {}").format(prefix.table(AREAS), where)


def count_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("SELECT count(*) FROM {} WHERE technology = %s").format(prefix.table(AREAS))


class CoverageDb(PrefixDb):
    """A connection for ``sonar-bdc coverage``: every change in one transaction."""

    @classmethod
    def connect(cls, conninfo: ConnInfo, prefix: Prefix) -> CoverageDb:
        return cls(connect_warned(conninfo, prefix, "sonar-bdc coverage"), prefix)

    def load(
        self, polygons: Iterable[StagedPolygon], offer: AreaOffer, replace: bool = False
    ) -> CoverageLoaded:
        """Check every polygon, then store them all with ``offer``; on any problem nothing
        changes (ConfigError naming the file and feature)."""
        try:
            with translated(f"loading coverage into {self.prefix}{AREAS}"):
                ensure_schema(self.conn, self.prefix)
                self.conn.execute(STAGE_SQL)
                self._stage(polygons)
                self._refuse_problems()
                repaired = int(scalar(self.conn, REPAIRED_SQL) or 0)
                replaced = self._remove_technology(offer.technology) if replace else 0
                inserted = self.conn.execute(
                    insert_sql(self.prefix),
                    [
                        offer.technology,
                        offer.download_mbps,
                        offer.upload_mbps,
                        offer.low_latency,
                        offer.business_residential_code,
                    ],
                ).rowcount
                total = int(scalar(self.conn, count_sql(self.prefix), [offer.technology]) or 0)
                self.conn.execute(queries.analyze_sql(self.prefix, AREAS))
                self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return CoverageLoaded(inserted, repaired, replaced, total)

    def _stage(self, polygons: Iterable[StagedPolygon]) -> None:
        with self.conn.cursor() as cur, cur.copy(COPY_STAGE_SQL) as copy:
            for p in polygons:
                copy.write_row((p.source, p.feature, p.crs, p.crs_name, p.wkb))

    def _refuse_problems(self) -> None:
        try:
            with self.conn.transaction():  # a savepoint: PROJ may refuse a transformation
                rows = self.conn.execute(PROBLEMS_SQL).fetchall()
        except psycopg.errors.InternalError as exc:  # PostGIS reports PROJ failures so
            raise ConfigError(
                f"cannot reproject the coverage to longitude/latitude ({exc.diag.message_primary})"
                "; check the file's declared CRS; nothing loaded"
            ) from exc
        bad = [(source, feature, problem) for source, feature, problem in rows if problem]
        if bad:
            source, feature, problem = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise ConfigError(f"{source}: feature {feature} {problem}{more}; nothing loaded")

    def _remove_technology(self, technology: int) -> int:
        return self.conn.execute(remove_sql(self.prefix, False), [technology]).rowcount

    def areas(self) -> list[AreaRow]:
        try:
            with translated(f"listing {self.prefix}{AREAS}"):
                ensure_schema(self.conn, self.prefix)
                rows = self.conn.execute(list_sql(self.prefix)).fetchall()
                self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return [AreaRow(*row) for row in rows]

    def remove(self, ids: Sequence[int] = (), technology: int | None = None) -> int:
        """Remove areas by id or every area of a technology; the count removed."""
        try:
            with translated(f"removing coverage from {self.prefix}{AREAS}"):
                ensure_schema(self.conn, self.prefix)
                if technology is not None:
                    removed = self._remove_technology(technology)
                else:
                    removed = self.conn.execute(remove_sql(self.prefix, True), [list(ids)]).rowcount
                self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return removed
