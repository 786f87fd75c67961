"""Upserts from staging tables: pure builders returning ``sql.Composed``.

Every statement skips rows that did not change twice over: unchanged staged rows
are filtered out before the INSERT (so they are not even locked), and the
``ON CONFLICT DO UPDATE ... WHERE ... IS DISTINCT FROM`` guard keeps a racing
duplicate from rewriting an identical row. Each returns the ids that changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from sonar_bdc.store import staging
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.staging import Stage

REPORT_FIELDS = staging.REPORT.column_names[1:]
DETAIL_FIELDS = ("account_status_id", "account_type_id", "fips")
GEOM = sql.SQL(
    "CASE WHEN {alias}.latitude IS NOT NULL AND {alias}.longitude IS NOT NULL"
    " THEN ST_SetSRID(ST_MakePoint({alias}.longitude, {alias}.latitude), 4326) END"
)


def _names(columns: Sequence[str], alias: str | None = None) -> sql.Composed:
    if alias is None:
        return sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL(", ").join(sql.Identifier(alias, column) for column in columns)


def _row(columns: Sequence[str], alias: str) -> sql.Composed:
    return sql.SQL("ROW({})").format(_names(columns, alias))


def _same_key(columns: Sequence[str], left: str, right: str) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, c), sql.Identifier(right, c))
        for c in columns
    )


def _assign(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{col} = EXCLUDED.{col}").format(col=sql.Identifier(column)) for column in columns
    )


def _unchanged(target: sql.Identifier, key: Sequence[str], values: Sequence[str]) -> sql.Composed:
    """A predicate on staged row ``s``: the target already holds exactly this row."""
    same = _same_key(key, "cur", "s")
    if values:
        same = sql.SQL("{} AND {} IS NOT DISTINCT FROM {}").format(
            same, _row(values, "cur"), _row(values, "s")
        )
    return sql.SQL("EXISTS (SELECT 1 FROM {} cur WHERE {})").format(target, same)


def upsert_sql(
    target: sql.Identifier, stage: Stage, key: Sequence[str], values: Sequence[str]
) -> sql.Composed:
    """Insert new staged rows, update differing ones; RETURNING the first key column."""
    columns = (*key, *values)
    if values:
        conflict = sql.SQL("DO UPDATE SET {} WHERE {} IS DISTINCT FROM {}").format(
            _assign(values), _row(values, "t"), _row(values, "excluded")
        )
    else:
        conflict = sql.SQL("DO NOTHING")
    return sql.SQL(
        "INSERT INTO {target} AS t ({columns}) SELECT {staged} FROM {stage} s"
        " WHERE NOT {unchanged} ON CONFLICT ({key}) {conflict} RETURNING {first}"
    ).format(
        target=target,
        columns=_names(columns),
        staged=_names(columns, "s"),
        stage=stage.table,
        unchanged=_unchanged(target, key, values),
        key=_names(key),
        conflict=conflict,
        first=sql.Identifier("t", key[0]),
    )


def replace_children_sql(
    target: sql.Identifier, stage: Stage, owners: Stage, key: Sequence[str], values: Sequence[str]
) -> sql.Composed:
    """Make the owners' rows in ``target`` exactly the staged ones; RETURNING changed owners.

    ``key`` starts with ``customer_id``; ``owners`` holds the customers (``id``) refreshed.
    """
    return sql.SQL(
        "WITH gone AS (DELETE FROM {target} c USING {owners} o WHERE c.customer_id = o.id"
        " AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {same}) RETURNING c.customer_id),"
        " put AS ({upsert})"
        " SELECT customer_id FROM gone UNION SELECT customer_id FROM put"
    ).format(
        target=target,
        owners=owners.table,
        stage=stage.table,
        same=_same_key(key, "s", "c"),
        upsert=upsert_sql(target, stage, key, values),
    )


def report_sql(prefix: Prefix) -> sql.Composed:
    """Upsert staged report rows with ``last_seen_at = %(seen)s``.

    Returns (id, is_new) for rows that are new or whose report fields changed; a row
    whose only change is ``last_seen_at`` is written but not returned.
    """
    customers, stage = prefix.table("customers"), staging.REPORT.table
    tracked = (*REPORT_FIELDS, "last_seen_at")
    return sql.SQL(
        "WITH old AS (SELECT cur.id, {cur_fields} IS DISTINCT FROM {s_fields} AS changed,"
        " cur.last_seen_at IS DISTINCT FROM %(seen)s AS seen_changed"
        " FROM {customers} cur JOIN {stage} s ON s.id = cur.id),"
        " up AS (INSERT INTO {customers} AS t (id, {fields}, geom, last_seen_at)"
        " SELECT s.id, {s_names}, {geom}, %(seen)s FROM {stage} s"
        " WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.id = s.id"
        " AND NOT old.changed AND NOT old.seen_changed)"
        " ON CONFLICT (id) DO UPDATE SET {assign}, geom = EXCLUDED.geom"
        " WHERE {t_tracked} IS DISTINCT FROM {ex_tracked})"
        " SELECT s.id, old.id IS NULL FROM {stage} s LEFT JOIN old ON old.id = s.id"
        " WHERE old.id IS NULL OR old.changed"
    ).format(
        cur_fields=_row(REPORT_FIELDS, "cur"),
        s_fields=_row(REPORT_FIELDS, "s"),
        customers=customers,
        stage=stage,
        fields=_names(REPORT_FIELDS),
        s_names=_names(REPORT_FIELDS, "s"),
        geom=GEOM.format(alias=sql.Identifier("s")),
        assign=_assign(tracked),
        t_tracked=_row(tracked, "t"),
        ex_tracked=_row(tracked, "excluded"),
    )


def detail_sql(prefix: Prefix) -> sql.Composed:
    """Upsert staged details (a minimal row for an unknown id); RETURNING changed ids.

    The report's name is kept; the detail's name only fills a missing one. A
    successful detail clears ``deleted_at``.
    """
    customers, stage = prefix.table("customers"), staging.DETAIL.table
    written = (*DETAIL_FIELDS, "updated_at", "deleted_at")
    return sql.SQL(
        "WITH old AS (SELECT cur.id, ROW({cur_fields}, cur.deleted_at IS NULL)"
        " IS DISTINCT FROM ROW({s_fields}, true) AS changed"
        " FROM {customers} cur JOIN {stage} s ON s.id = cur.id),"
        " up AS (INSERT INTO {customers} AS t (id, name, {fields}, updated_at)"
        " SELECT s.id, s.name, {s_fields}, s.fetched_at FROM {stage} s"
        " ON CONFLICT (id) DO UPDATE SET name = COALESCE(t.name, EXCLUDED.name),"
        " {assign}, updated_at = EXCLUDED.updated_at, deleted_at = NULL"
        " WHERE {t_written}"
        " IS DISTINCT FROM ROW({ex_fields}, EXCLUDED.updated_at, NULL::timestamptz)"
        " OR (t.name IS NULL AND EXCLUDED.name IS NOT NULL))"
        " SELECT s.id FROM {stage} s LEFT JOIN old ON old.id = s.id"
        " WHERE old.id IS NULL OR old.changed"
    ).format(
        cur_fields=_names(DETAIL_FIELDS, "cur"),
        s_fields=_names(DETAIL_FIELDS, "s"),
        customers=customers,
        stage=stage,
        fields=_names(DETAIL_FIELDS),
        assign=_assign(DETAIL_FIELDS),
        t_written=_row(written, "t"),
        ex_fields=_names(DETAIL_FIELDS, "excluded"),
    )


def inventory_seen_sql(prefix: Prefix) -> sql.Composed:
    """Set ``inventory_updated_at`` from the staged inventory customers (minimal row if new)."""
    return sql.SQL(
        "INSERT INTO {customers} AS t (id, inventory_updated_at)"
        " SELECT s.id, s.fetched_at FROM {stage} s"
        " ON CONFLICT (id) DO UPDATE SET inventory_updated_at = EXCLUDED.inventory_updated_at"
        " WHERE t.inventory_updated_at IS DISTINCT FROM EXCLUDED.inventory_updated_at"
    ).format(customers=prefix.table("customers"), stage=staging.INVENTORY.table)


def deleted_sql(prefix: Prefix) -> sql.Composed:
    """Mark staged customers deleted at ``at``; RETURNING the ids not already deleted."""
    customers, stage = prefix.table("customers"), staging.DELETED.table
    stamps = ("deleted_at", "updated_at", "inventory_updated_at")
    return sql.SQL(
        "WITH old AS (SELECT cur.id FROM {customers} cur JOIN {stage} s ON s.id = cur.id"
        " WHERE cur.deleted_at IS NOT NULL),"
        " up AS (INSERT INTO {customers} AS t (id, {stamps}) SELECT s.id, s.at, s.at, s.at"
        " FROM {stage} s ON CONFLICT (id) DO UPDATE SET {assign}"
        " WHERE {t_stamps} IS DISTINCT FROM {ex_stamps})"
        " SELECT s.id FROM {stage} s WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.id = s.id)"
    ).format(
        customers=customers,
        stage=stage,
        stamps=_names(stamps),
        assign=_assign(stamps),
        t_stamps=_row(stamps, "t"),
        ex_stamps=_row(stamps, "excluded"),
    )


def delete_children_sql(prefix: Prefix, owners: Stage) -> sql.Composed:
    """Remove every child row of the staged customers; RETURNING the customers touched."""
    children = ("customer_groups", "services", "customer_inventory")
    deletes = sql.SQL(", ").join(
        sql.SQL(
            "{name} AS (DELETE FROM {table} c USING {owners} o WHERE c.customer_id = o.id"
            " RETURNING c.customer_id)"
        ).format(name=sql.Identifier(f"d_{child}"), table=prefix.table(child), owners=owners.table)
        for child in children
    )
    union = sql.SQL(" UNION ").join(
        sql.SQL("SELECT customer_id FROM {}").format(sql.Identifier(f"d_{child}"))
        for child in children
    )
    return sql.SQL("WITH {} {}").format(deletes, union)
