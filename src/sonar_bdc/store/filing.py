"""The SQL of the BDC filing: the census tracts table and what the filing reads.

``tracts`` (``geoid`` 11-digit 2020 tract, ``geom`` MultiPolygon SRID 4326 with a
GiST index) is filled by ``sonar-bdc tracts load``; the subscription file reads the
imported tables in one read-only snapshot, so an import running meanwhile cannot
mix two states of the data. Builders are pure (``*_sql``); ``FilingDb`` runs them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from sonar_bdc.errors import StoreUnavailable
from sonar_bdc.store import queries, runs
from sonar_bdc.store.db import ConnInfo, PrefixDb, connect_warned, scalar, table_exists, translated
from sonar_bdc.store.migrate import ensure_postgis, schema_version
from sonar_bdc.store.prefix import Prefix

TRACTS = "tracts"
STAGE = sql.Identifier("sonar_bdc_tract_stage")
# What the filing needs from the import (all created by `sonar-bdc import`).
IMPORTED_TABLES = (
    "customers",
    "services",
    "groups",
    "customer_groups",
    "account_statuses",
    "account_types",
)


def create_tracts_sql(prefix: Prefix) -> list[sql.Composed]:
    tracts = prefix.table(TRACTS)
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " geoid text PRIMARY KEY CHECK (geoid ~ '^[0-9]{{11}}$'),"
            " geom geometry(MultiPolygon, 4326) NOT NULL,"
            " source text, loaded_at timestamptz NOT NULL DEFAULT now())"
        ).format(tracts),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geom)").format(
            sql.Identifier(prefix.name(f"{TRACTS}_geom_idx")), tracts
        ),
    ]


STAGE_SQL = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS {} (geoid text, geojson text, source text) ON COMMIT DROP"
).format(STAGE)
COPY_STAGE_SQL = sql.SQL("COPY {} (geoid, geojson, source) FROM STDIN").format(STAGE)


# JIT compiling the one big read costs more than it saves (about 40% at 100k customers).
NO_JIT = sql.SQL("SET LOCAL jit = off")


def delete_tracts_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("DELETE FROM {}").format(prefix.table(TRACTS))


def upsert_tracts_sql(prefix: Prefix) -> sql.Composed:
    """Staged GeoJSON -> one valid MultiPolygon per GEOID (parts of one tract are merged)."""
    return sql.SQL(
        "INSERT INTO {tracts} (geoid, geom, source, loaded_at)"
        " SELECT geoid, CASE WHEN ST_IsValid(g) THEN g"
        "   ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(g), 3)) END, source, now()"
        " FROM (SELECT geoid, min(source) AS source, ST_Multi(ST_CollectionExtract("
        "   ST_Collect(ST_SetSRID(ST_GeomFromGeoJSON(geojson), 4326)), 3)) AS g"
        "   FROM {stage} GROUP BY geoid) AS staged"
        " ON CONFLICT (geoid) DO UPDATE SET geom = EXCLUDED.geom, source = EXCLUDED.source,"
        " loaded_at = EXCLUDED.loaded_at"
    ).format(tracts=prefix.table(TRACTS), stage=STAGE)


def statuses_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("SELECT id, name, active FROM {} ORDER BY id").format(
        prefix.table("account_statuses")
    )


_SERVICE_JSON = sql.SQL(
    "json_build_object('service_id', sv.service_id, 'name', sv.name,"
    " 'data_service', sv.data_service, 'download_kbps', sv.download_kbps,"
    " 'upload_kbps', sv.upload_kbps, 'technology_code', sv.technology_code,"
    " 'technology_name', sv.technology_name)"
)


def customers_sql(prefix: Prefix, with_tracts: bool, with_fabric: bool = True) -> sql.Composed:
    """Every customer with what the rules need; one row each, ordered by id.

    ``polygon_tracts`` lists every loaded tract covering the point (a point on a shared
    boundary is covered by both), or NULL when no tracts table exists. ``fabric_block``
    is the 2020 block of the customer's matched Fabric location; ``with_fabric`` False
    (tables of schema v4 or older) reads it and ``census_year`` as NULL.
    """
    t = prefix.table
    if with_fabric:  # fabric_matches holds at most one row per customer
        fabric_columns = sql.SQL("fl.block_geoid AS fabric_block, c.census_year")
        fabric_joins = sql.SQL(
            " LEFT JOIN {matches} m ON m.customer_id = c.id"
            " LEFT JOIN {locations} fl ON fl.location_id = m.location_id"
        ).format(matches=t("fabric_matches"), locations=t("fabric_locations"))
    else:
        fabric_columns = sql.SQL("NULL::text AS fabric_block, NULL::smallint AS census_year")
        fabric_joins = sql.Composed([])
    polygons = (
        sql.SQL(
            "SELECT array_agg(tr.geoid ORDER BY tr.geoid) AS polygon_tracts"
            " FROM {} tr WHERE ST_Covers(tr.geom, c.geom)"
        ).format(t(TRACTS))
        if with_tracts
        else sql.SQL("SELECT NULL::text[] AS polygon_tracts")
    )
    return sql.SQL(
        "SELECT c.id, c.name, c.status, c.account_status_id, ty.type AS account_type,"
        " c.fips, c.latitude, c.longitude, c.geom IS NOT NULL AS has_point,"
        " c.deleted_at IS NOT NULL AS deleted,"
        " c.last_seen_at IS NOT DISTINCT FROM latest.seen AS in_latest_report,"
        " c.updated_at IS NOT NULL AS detail_imported,"
        " g.group_ids, g.group_names, s.services, p.polygon_tracts,"
        " {fabric_columns}"
        " FROM {customers} c"
        " CROSS JOIN (SELECT max(last_seen_at) AS seen FROM {customers}) latest"
        " LEFT JOIN {account_types} ty ON ty.id = c.account_type_id"
        " LEFT JOIN LATERAL (SELECT array_agg(cg.group_id ORDER BY cg.group_id) AS group_ids,"
        "   array_agg(gr.name ORDER BY cg.group_id) AS group_names"
        "   FROM {customer_groups} cg LEFT JOIN {groups} gr ON gr.id = cg.group_id"
        "   WHERE cg.customer_id = c.id) g ON true"
        " LEFT JOIN LATERAL (SELECT json_agg({service} ORDER BY sv.service_id) AS services"
        "   FROM {services} sv WHERE sv.customer_id = c.id) s ON true"
        " LEFT JOIN LATERAL ({polygons}) p ON true"
        "{fabric_joins}"
        " ORDER BY c.id"
    ).format(
        customers=t("customers"),
        account_types=t("account_types"),
        customer_groups=t("customer_groups"),
        groups=t("groups"),
        services=t("services"),
        service=_SERVICE_JSON,
        polygons=polygons,
        fabric_columns=fabric_columns,
        fabric_joins=fabric_joins,
    )


@dataclass(frozen=True)
class TractsLoaded:
    shapes: int  # polygons read from the files
    tracts: int  # tracts inserted or replaced (parts of one GEOID merged)
    total: int  # tracts in the table afterwards


@dataclass(frozen=True)
class FilingData:
    """One consistent snapshot of what the subscription file is built from."""

    statuses: list[dict[str, Any]]  # id, name, active
    customers: list[dict[str, Any]]  # see customers_sql
    tracts_loaded: int
    state: runs.ImportState  # the import's runs and freshness, read in the same snapshot

    @property
    def latest_report(self) -> datetime | None:
        return self.state.latest_report


F = TypeVar("F", bound="FilingDb")


class FilingDb(PrefixDb):
    """A connection for the BDC commands: load tracts, read the filing snapshot."""

    @classmethod
    def connect(cls: type[F], conninfo: ConnInfo, prefix: Prefix) -> F:
        return cls(connect_warned(conninfo, prefix, "sonar-bdc bdc"), prefix)

    def load_tracts(
        self, rows: Iterable[tuple[str, str, str]], replace: bool = False
    ) -> TractsLoaded:
        """Upsert (geoid, GeoJSON, source) rows in one transaction.

        ``replace`` empties the table first. Any error (ours from ``rows`` included)
        rolls everything back: the table is as it was.
        """
        try:
            with translated(f"loading census tracts into {self.prefix}{TRACTS}"):
                self._prepare_tracts_table()
                if replace:
                    self.conn.execute(delete_tracts_sql(self.prefix))
                staged = self._stage(rows)
                upserted = self.conn.execute(upsert_tracts_sql(self.prefix)).rowcount
                total = scalar(self.conn, queries.count_sql(self.prefix, TRACTS))
                self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return TractsLoaded(staged, upserted, int(total or 0))

    def _prepare_tracts_table(self) -> None:
        ensure_postgis(self.conn)
        self.conn.execute(queries.create_schema_sql(self.prefix))
        for statement in create_tracts_sql(self.prefix):
            self.conn.execute(statement)
        self.conn.execute(STAGE_SQL)

    def _stage(self, rows: Iterable[tuple[str, str, str]]) -> int:
        count = 0
        with self.conn.cursor() as cur, cur.copy(COPY_STAGE_SQL) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def read_filing(self) -> FilingData:
        """Everything the subscription file needs, in one read-only snapshot."""
        with self.read_only(f"reading the imported tables at {self.prefix}") as data:
            return data

    @contextlib.contextmanager
    def read_only(self, action: str) -> Iterator[FilingData]:
        """One read-only REPEATABLE READ transaction, rolled back at the end, so an import
        running meanwhile cannot mix two states: ``_require`` checks the tables, then the
        filing's data is read (database errors as StoreError saying ``action``)."""
        self.conn.read_only = True
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with translated(action):
                self.conn.execute(NO_JIT)
                self._require()
                data = self._read()
            yield data
        finally:
            self.conn.rollback()

    def _require(self) -> None:
        """Refuse a snapshot without what it is read for (here, the import's tables)."""
        self._require_import()

    def _read(self) -> FilingData:
        with_tracts = table_exists(self.conn, self.prefix, TRACTS)
        tracts = scalar(self.conn, queries.count_sql(self.prefix, TRACTS)) if with_tracts else 0
        with self.conn.cursor(row_factory=dict_row) as cur:
            statuses = cur.execute(statuses_sql(self.prefix)).fetchall()
            with_fabric = table_exists(self.conn, self.prefix, "fabric_matches")
            customers = cur.execute(customers_sql(self.prefix, with_tracts, with_fabric)).fetchall()
        stale = datetime.now(timezone.utc) - timedelta(days=7)  # unused by the filing's checks
        state = runs.read_state(self.conn, self.prefix, stale)
        return FilingData(statuses, customers, int(tracts or 0), state)

    def record_filing(
        self,
        kind: str,
        as_of: date,
        csv_path: str,
        rows: int,
        counted: int,
        checks: Mapping[str, int],
    ) -> bool:
        """Remember a file written, ``kind`` ``subscription`` or ``availability`` (for
        ``sonar-bdc status``); False before v3."""
        self.conn.read_only = False
        self.conn.isolation_level = None
        try:
            with translated(f"recording the filing at {self.prefix}"):
                return runs.record_filing(
                    self.conn, self.prefix, kind, as_of, csv_path, rows, counted, checks
                )
        except BaseException:
            self.conn.rollback()
            raise

    def _require_import(self) -> None:
        schema_version(self.conn, self.prefix)  # another application's tables: PrefixTaken
        missing = [t for t in IMPORTED_TABLES if not table_exists(self.conn, self.prefix, t)]
        if missing:
            raise StoreUnavailable(
                f"no imported data at {self.prefix} (missing: "
                f"{', '.join(self.prefix.name(t) for t in missing)}): run sonar-bdc import "
                "first, or pass the -p/--prefix you imported with"
            )
