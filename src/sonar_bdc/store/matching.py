"""The SQL of ``sonar-bdc fabric match``: customers, their Fabric candidates, the result.

Candidates come from the GiST index on ``fabric_locations.geom``: for each customer of
the latest report, its ``k`` nearest Fabric points (KNN ``<->``, one LATERAL query over
all customers), kept when within the radius in metres (geography). Customers without
coordinates get the locations of their ZIP whose address starts with their house number.
``fabric_matches`` is rewritten whole, by COPY, in one transaction. Builders are pure
(``*_sql``); ``MatchDb`` runs them. Fabric rows are never logged (licensed data).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from psycopg import sql

from sonar_bdc.errors import StoreUnavailable
from sonar_bdc.store import queries
from sonar_bdc.store.db import ConnInfo, PrefixDb, connect, scalar, table_exists, translated
from sonar_bdc.store.migrate import schema_version
from sonar_bdc.store.prefix import Prefix

META_MATCHED_AT = "fabric_matched_at"
META_MATCH_RELEASE = "fabric_match_release"
MATCH_COLUMNS = (
    "customer_id", "location_id", "fcc_rel", "method", "distance_m", "candidates", "reason",
    "candidate_ids",
)  # fmt: skip
MATCH_TYPES = ("int8", "int8", "text", "text", "float8", "int4", "text", "int8[]")
STREAM_ROWS = 2000  # rows per chunk received while the query goes on
NO_JIT = sql.SQL("SET LOCAL jit = off")  # JIT costs more than it saves on these queries

# A location's Secondary / Supplemental lines: the full line, else its parts.
_MORE_ADDRESSES = sql.SQL(
    "CASE WHEN f.bsl_flag THEN (SELECT array_agg(coalesce(a.address, concat_ws(' ',"
    " a.address_range, a.pre_direction, a.street_name, a.suffix, a.post_direction)))"
    " FROM {addresses} a WHERE a.location_id = f.location_id) END"
)
_LATEST = sql.SQL(
    "c.last_seen_at = (SELECT max(last_seen_at) FROM {customers}) AND c.deleted_at IS NULL"
)


def customers_sql(prefix: Prefix) -> sql.Composed:
    """The customers of the latest report (not deleted): id, name, address, street2,
    zip (5 digits), has_point, latitude; ordered by id."""
    return sql.SQL(
        "SELECT c.id, c.name, c.address, c.street2, left(c.zip, 5), c.geom IS NOT NULL,"
        " ST_Y(c.geom)"
        " FROM {customers} c WHERE {latest} ORDER BY c.id"
    ).format(customers=prefix.table("customers"), latest=_latest(prefix))


def knn_candidates_sql(prefix: Prefix, batched: bool = False) -> sql.Composed:
    """(customer_id, location_id, bsl_flag, distance_m, addresses) for each customer's
    ``k`` nearest Fabric points within ``radius`` metres, ordered by customer.

    Parameters (by name): k, radius; with ``batched``, ids (the customers to do).
    """
    only = sql.SQL(" AND c.id = ANY(%(ids)s)") if batched else sql.SQL("")
    return sql.SQL(
        "SELECT c.id, f.location_id, f.bsl_flag, f.distance,"
        " array_prepend(f.address_primary, {more})"
        " FROM {customers} c CROSS JOIN LATERAL ("
        "   SELECT f.location_id, f.bsl_flag, f.address_primary,"
        "   ST_Distance(f.geom::geography, c.geom::geography, false) AS distance"
        "   FROM {locations} f ORDER BY f.geom <-> c.geom LIMIT %(k)s) f"
        " WHERE {latest} AND c.geom IS NOT NULL{only} AND f.distance <= %(radius)s"
        " ORDER BY c.id"
    ).format(
        customers=prefix.table("customers"),
        locations=prefix.table("fabric_locations"),
        more=_more(prefix),
        latest=_latest(prefix),
        only=only,
    )


def dwithin_candidates_sql(prefix: Prefix) -> sql.Composed:
    """As ``knn_candidates_sql`` through a box around each point (``&&``) and ST_DWithin,
    then the ``k`` nearest by a window: the strategy the benchmark compares."""
    return sql.SQL(
        "SELECT id, location_id, bsl_flag, distance, addresses FROM ("
        " SELECT c.id, f.location_id, f.bsl_flag,"
        "  ST_Distance(f.geom::geography, c.geom::geography, false) AS distance,"
        "  array_prepend(f.address_primary, {more}) AS addresses,"
        "  row_number() OVER (PARTITION BY c.id ORDER BY"
        "   ST_Distance(f.geom::geography, c.geom::geography, false)) AS rank"
        " FROM {customers} c JOIN {locations} f"
        "  ON f.geom && ST_Expand(c.geom, %(radius)s / 111320.0 / cos(radians(ST_Y(c.geom))),"
        "   %(radius)s / 110540.0)"
        "  AND ST_DWithin(f.geom::geography, c.geom::geography, %(radius)s, false)"
        " WHERE {latest} AND c.geom IS NOT NULL) ranked"
        " WHERE rank <= %(k)s ORDER BY id, distance"
    ).format(
        customers=prefix.table("customers"),
        locations=prefix.table("fabric_locations"),
        more=_more(prefix),
        latest=_latest(prefix),
    )


def zip_candidates_sql(prefix: Prefix) -> sql.Composed:
    """BSLs (only a BSL can match) in a customer's ZIP whose primary or Secondary address
    starts with its house number: (customer_id, location_id, bsl_flag, distance_m or
    NULL, addresses).

    Parameters (by name): ids, zips, numbers (arrays of one length).
    """
    return sql.SQL(
        "WITH wanted AS (SELECT * FROM unnest(%(ids)s::bigint[], %(zips)s::text[],"
        "   %(numbers)s::text[]) AS w(customer_id, zip, number)),"
        # Each Fabric row's first word computed once, then one hash join on (zip, number).
        " numbered AS (SELECT f.location_id, f.zip,"
        "   upper(split_part(f.address_primary, ' ', 1)) AS number FROM {locations} f"
        "   WHERE f.zip IN (SELECT zip FROM wanted)"
        "  UNION ALL SELECT a.location_id, a.zip,"
        "   upper(split_part(coalesce(a.address, a.address_range), ' ', 1)) FROM {addresses} a"
        "   WHERE a.zip IN (SELECT zip FROM wanted)),"
        " hits AS (SELECT DISTINCT w.customer_id, n.location_id FROM wanted w"
        "   JOIN numbered n ON n.zip = w.zip AND n.number = w.number)"
        " SELECT h.customer_id, f.location_id, f.bsl_flag,"
        "  ST_Distance(f.geom::geography, c.geom::geography, false),"
        "  array_prepend(f.address_primary, {more})"
        " FROM hits h JOIN {locations} f ON f.location_id = h.location_id AND f.bsl_flag"
        " JOIN {customers} c ON c.id = h.customer_id"
        " ORDER BY h.customer_id, f.location_id"
    ).format(
        customers=prefix.table("customers"),
        locations=prefix.table("fabric_locations"),
        addresses=prefix.table("fabric_addresses"),
        more=_more(prefix),
    )


def _more(prefix: Prefix) -> sql.Composed:
    return _MORE_ADDRESSES.format(addresses=prefix.table("fabric_addresses"))


def _latest(prefix: Prefix) -> sql.Composed:
    return _LATEST.format(customers=prefix.table("customers"))


def release_sql(prefix: Prefix) -> sql.Composed:
    """The loaded release (one per prefix); no row when no Fabric is loaded."""
    return sql.SQL("SELECT fcc_rel FROM {} LIMIT 1").format(prefix.table("fabric_locations"))


def lock_matches_sql(prefix: Prefix) -> sql.Composed:
    """One writer at a time (a second run waits, then replaces the first's rows); readers
    go on reading the previous matches until the commit."""
    return sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
        prefix.table("fabric_matches")
    )


def delete_matches_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("DELETE FROM {}").format(prefix.table("fabric_matches"))


def copy_matches_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        prefix.table("fabric_matches"), sql.SQL(", ").join(map(sql.Identifier, MATCH_COLUMNS))
    )


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    name: str | None
    address: str | None
    street2: str | None
    zip: str | None
    has_point: bool
    latitude: float | None


# (customer_id, location_id, bsl_flag, distance_m, addresses)
CandidateRow = tuple[int, int, bool, float | None, list[str | None]]


class MatchDb(PrefixDb):
    """A connection for ``fabric match``: read the inputs, write the matches."""

    @classmethod
    def connect(cls, conninfo: ConnInfo, prefix: Prefix) -> MatchDb:
        return cls(connect(conninfo, "sonar-bdc fabric match"), prefix)

    def release(self) -> str:
        """The Fabric release loaded; StoreUnavailable when there is no import or no Fabric."""
        with translated(f"reading the Fabric at {self.prefix}"):
            schema_version(self.conn, self.prefix)  # another application's tables: PrefixTaken
            if not table_exists(self.conn, self.prefix, "customers"):
                raise StoreUnavailable(self._no_import())
            if not table_exists(self.conn, self.prefix, "fabric_locations"):
                raise StoreUnavailable(self._no_fabric())
            release = scalar(self.conn, release_sql(self.prefix))
            if release is None:
                raise StoreUnavailable(self._no_fabric())
            return str(release)

    def customers(self) -> list[CustomerRow]:
        with translated(f"reading the customers at {self.prefix}"):
            rows = self.conn.execute(customers_sql(self.prefix)).fetchall()
        if not rows:
            raise StoreUnavailable(self._no_import())
        return [CustomerRow(*row) for row in rows]

    def knn_candidates(
        self, k: int, radius: float, batch: int = 0, ids: list[int] | None = None
    ) -> Iterator[CandidateRow]:
        """Nearby Fabric points of every customer (or of ``ids``), ordered by customer;
        ``batch`` > 0 asks ``batch`` customers per query instead of one query."""
        with translated(f"finding Fabric locations near the customers at {self.prefix}"):
            self.conn.execute(NO_JIT)
            if ids is None and batch <= 0:
                yield from self._stream(knn_candidates_sql(self.prefix), {"k": k, "radius": radius})
                return
            if ids is None:
                ids = [c.id for c in self.customers() if c.has_point]
            query = knn_candidates_sql(self.prefix, batched=True)
            step = batch if batch > 0 else max(1, len(ids))
            for start in range(0, len(ids), step):
                params = {"k": k, "radius": radius, "ids": ids[start : start + step]}
                yield from self._stream(query, params)

    def dwithin_candidates(self, k: int, radius: float) -> Iterator[CandidateRow]:
        with translated(f"finding Fabric locations near the customers at {self.prefix}"):
            self.conn.execute(NO_JIT)
            yield from self._stream(dwithin_candidates_sql(self.prefix), {"k": k, "radius": radius})

    def zip_candidates(self, wanted: Sequence[tuple[int, str, str]]) -> Iterator[CandidateRow]:
        """Candidates by (customer_id, zip, house number), ordered by customer."""
        if not wanted:
            return
        params: dict[str, object] = {
            "ids": [w[0] for w in wanted],
            "zips": [w[1] for w in wanted],
            "numbers": [w[2] for w in wanted],
        }
        with translated(f"finding Fabric locations by address at {self.prefix}"):
            self.conn.execute(NO_JIT)
            yield from self._stream(zip_candidates_sql(self.prefix), params)

    def _stream(self, query: sql.Composed, params: dict[str, object]) -> Iterator[CandidateRow]:
        """Rows as the server makes them: it goes on while the caller decides (two cores
        busy, not one then the other as with a server-side cursor's FETCH)."""
        with self.conn.cursor() as cur:
            yield from cur.stream(query, params, size=STREAM_ROWS)

    def write(self, rows: Iterable[Sequence[object]], release: str, matched_at: str) -> int:
        """Replace every match with ``rows`` (MATCH_COLUMNS) in one transaction."""
        try:
            with translated(f"writing the matches into {self.prefix}fabric_matches"):
                self.conn.execute(lock_matches_sql(self.prefix))
                self.conn.execute(delete_matches_sql(self.prefix))
                count = 0
                with self.conn.cursor() as cur, cur.copy(copy_matches_sql(self.prefix)) as copy:
                    copy.set_types(list(MATCH_TYPES))
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                set_meta = queries.set_meta_sql(self.prefix)
                self.conn.execute(set_meta, [META_MATCH_RELEASE, release])
                self.conn.execute(set_meta, [META_MATCHED_AT, matched_at])
                self.conn.execute(queries.analyze_sql(self.prefix, "fabric_matches"))
                self.conn.commit()
        except BaseException:
            self.conn.rollback()
            raise
        return count

    def _no_import(self) -> str:
        return (
            f"no imported customers at {self.prefix}: run sonar-bdc import first, or pass "
            "the -p/--prefix you imported with"
        )

    def _no_fabric(self) -> str:
        return (
            f"no Fabric loaded at {self.prefix}: run sonar-bdc fabric load with your "
            "Fabric files first, or pass the -p/--prefix you loaded them with"
        )
