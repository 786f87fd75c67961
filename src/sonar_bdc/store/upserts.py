"""Upserts from staging tables: pure builders returning ``sql.Composed``.

Every statement skips rows that did not change twice over: unchanged staged rows
are filtered out before the INSERT (so they are not even locked), and the
``ON CONFLICT DO UPDATE ... WHERE ... IS DISTINCT FROM`` guard keeps a racing
duplicate from rewriting an identical row. Each returns the ids that changed.

Lookups into the real tables are bounded by an array parameter of the batch's
keys (``= ANY(%(ids)s)``), so they stay index probes however large the table
grows and whatever the planner guesses about the unanalysed staging tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from psycopg import sql

from sonar_bdc.store import staging
from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.rendered import once
from sonar_bdc.store.staging import Stage

REPORT_FIELDS = staging.REPORT.column_names[1:]
DETAIL_FIELDS = ("account_status_id", "account_type_id", "fips", "census_year")
CUSTOMER_STAMPS = staging.CUSTOMERS.column_names[1:]
VALID_POINT = sql.SQL(
    "(s.latitude BETWEEN -90 AND 90 AND s.longitude BETWEEN -180 AND 180"
    " AND (s.latitude <> 0 OR s.longitude <> 0))"
)
GEOM = sql.SQL(
    "CASE WHEN src.latitude IS NOT NULL"
    " THEN ST_SetSRID(ST_MakePoint(src.longitude, src.latitude), 4326) END"
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


def _in_batch(alias: str, column: str, param: str) -> sql.Composed:
    """``alias.column = ANY(%(param)s::int8[])``; pass the value through ``id_array``."""
    return sql.SQL("{} = ANY({}::int8[])").format(
        sql.Identifier(alias, column), sql.Placeholder(param)
    )


def id_array(ids: Iterable[int]) -> str:
    """An int8[] parameter as its text literal: a third of the cost of psycopg's list
    adapter for the thousands of keys a batch sends. ``int()`` keeps it to numbers."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def _unchanged(
    target: sql.Identifier, key: Sequence[str], values: Sequence[str], scope: str
) -> sql.Composed:
    """A predicate on staged row ``s``: the target already holds exactly this row."""
    same = sql.SQL("{} AND {}").format(_in_batch("cur", key[0], scope), _same_key(key, "cur", "s"))
    if values:
        same = sql.SQL("{} AND {} IS NOT DISTINCT FROM {}").format(
            same, _row(values, "cur"), _row(values, "s")
        )
    return sql.SQL("EXISTS (SELECT 1 FROM {} cur WHERE {})").format(target, same)


def upsert_sql(
    target: sql.Identifier,
    stage: Stage,
    key: Sequence[str],
    values: Sequence[str],
    scope: str = "ids",
) -> sql.Composed:
    """Insert new staged rows, update differing ones; RETURNING the first key column.

    Parameter ``scope``: an array of every staged value of ``key[0]``.
    """
    columns = (*key, *values)
    conflict: sql.Composable
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
        unchanged=_unchanged(target, key, values, scope),
        key=_names(key),
        conflict=conflict,
        first=sql.Identifier("t", key[0]),
    )


def replace_children_sql(
    target: sql.Identifier, stage: Stage, key: Sequence[str], values: Sequence[str]
) -> sql.Composed:
    """Make the rows of customers ``%(ids)s`` in ``target`` exactly the staged ones.

    ``key`` starts with ``customer_id``. RETURNING the customers whose rows changed.
    """
    return sql.SQL(
        "WITH gone AS (DELETE FROM {target} c WHERE {in_batch}"
        " AND NOT EXISTS (SELECT 1 FROM {stage} s WHERE {same}) RETURNING c.customer_id),"
        " put AS ({upsert})"
        " SELECT customer_id FROM gone UNION SELECT customer_id FROM put"
    ).format(
        target=target,
        in_batch=_in_batch("c", "customer_id", "ids"),
        stage=stage.table,
        same=_same_key(key, "s", "c"),
        upsert=upsert_sql(target, stage, key, values),
    )


def _report_source() -> sql.Composed:
    """The staged report rows with invalid or missing coordinates made NULL."""
    points = sql.SQL(
        "CASE WHEN {valid} THEN s.latitude END AS latitude,"
        " CASE WHEN {valid} THEN s.longitude END AS longitude"
    ).format(valid=VALID_POINT)
    return sql.SQL("SELECT {texts}, {points} FROM {stage} s").format(
        texts=_names(staging.REPORT.column_names[:-2], "s"),
        points=points,
        stage=staging.REPORT.table,
    )


def _report_upsert(prefix: Prefix, source: sql.Composable) -> sql.Composed:
    """INSERT the rows of ``source`` (alias src) ON CONFLICT update those whose
    report fields or last_seen_at differ."""
    tracked = (*REPORT_FIELDS, "last_seen_at")
    return sql.SQL(
        "INSERT INTO {customers} AS t (id, {fields}, geom, last_seen_at)"
        " SELECT src.id, {src_names}, {geom}, %(seen)s FROM {source}"
        " ON CONFLICT (id) DO UPDATE SET {assign}, geom = EXCLUDED.geom"
        " WHERE {tracked_t} IS DISTINCT FROM {tracked_excluded}"
    ).format(
        customers=prefix.table("customers"),
        fields=_names(REPORT_FIELDS),
        src_names=_names(REPORT_FIELDS, "src"),
        geom=GEOM,
        source=source,
        assign=_assign(tracked),
        tracked_t=_row(tracked, "t"),
        tracked_excluded=_row(tracked, "excluded"),
    )


@once
def report_sql(prefix: Prefix) -> sql.Composed:
    """Upsert staged report rows (ids ``%(ids)s``) with ``last_seen_at = %(seen)s``.

    Invalid or missing coordinates become NULL latitude, longitude and geom. Returns
    (id, is_new) for rows that are new or whose report fields changed; a row whose
    only change is ``last_seen_at`` is written but not returned.
    """
    skip_unchanged = sql.SQL(
        "src WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.id = src.id"
        " AND NOT old.changed AND NOT old.seen_changed)"
    )
    return sql.SQL(
        "WITH src AS ({source}),"
        " old AS (SELECT cur.id, {cur_fields} IS DISTINCT FROM {src_fields} AS changed,"
        " cur.last_seen_at IS DISTINCT FROM %(seen)s AS seen_changed"
        " FROM {customers} cur JOIN src ON src.id = cur.id WHERE {in_batch}),"
        " up AS ({upsert})"
        " SELECT src.id, old.id IS NULL FROM src LEFT JOIN old ON old.id = src.id"
        " WHERE old.id IS NULL OR old.changed"
    ).format(
        source=_report_source(),
        cur_fields=_row(REPORT_FIELDS, "cur"),
        src_fields=_row(REPORT_FIELDS, "src"),
        customers=prefix.table("customers"),
        in_batch=_in_batch("cur", "id", "ids"),
        upsert=_report_upsert(prefix, skip_unchanged),
    )


# A first load COPYs report rows straight into customers (``rows.new_customer_row``):
# the staged columns, the point as EWKB (binary COPY hands the bytes to PostGIS's
# geometry input as they are) and last_seen_at.
NEW_CUSTOMER_COLUMNS = (*staging.REPORT.column_names, "geom", "last_seen_at")
NEW_CUSTOMER_TYPES = (*staging.REPORT.types, "bytea", "timestamptz")


@once
def copy_new_customers_sql(prefix: Prefix) -> sql.Composed:
    """Binary COPY of ``NEW_CUSTOMER_COLUMNS`` into customers, for ids it cannot hold."""
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        prefix.table("customers"), _names(NEW_CUSTOMER_COLUMNS)
    )


# What the writer's staged customer row does to the stored one. A staged row is a
# detail (updated_at set, deleted_at NULL), an inventory stamp (inventory_updated_at
# set), both, or a deletion (all three timestamps set to the same moment).
# {cur}: the stored row, {new}: the staged one. Rendered twice: against (t, EXCLUDED)
# for the update itself, and against (cur, s) to leave out rows it would not change.
_NEW_VALUE_TEMPLATES = {
    "name": "COALESCE({cur}.name, {new}.name)",  # the report's name wins
    **{
        column: "CASE WHEN {new}.updated_at IS NOT NULL AND {new}.deleted_at IS NULL"
        " THEN {new}.{col} ELSE {cur}.{col} END"
        for column in DETAIL_FIELDS
    },
    "updated_at": "COALESCE({new}.updated_at, {cur}.updated_at)",
    "inventory_updated_at": "COALESCE({new}.inventory_updated_at, {cur}.inventory_updated_at)",
    "deleted_at": "CASE WHEN {new}.updated_at IS NULL THEN {cur}.deleted_at"
    " ELSE {new}.deleted_at END",
}
_CHANGED = sql.SQL(
    "CASE WHEN s.deleted_at IS NOT NULL THEN cur.deleted_at IS NULL"
    " WHEN s.updated_at IS NOT NULL THEN ROW({cur_fields}, cur.deleted_at IS NULL)"
    " IS DISTINCT FROM ROW({s_fields}, true) ELSE false END"
).format(cur_fields=_names(DETAIL_FIELDS, "cur"), s_fields=_names(DETAIL_FIELDS, "s"))


def _new_values(cur: str, new: str) -> dict[str, sql.Composed]:
    aliases = {"cur": sql.Identifier(cur), "new": sql.Identifier(new)}
    return {
        column: sql.SQL(text).format(**aliases, col=sql.Identifier(column))
        for column, text in _NEW_VALUE_TEMPLATES.items()
    }


def _would_change(cur: str, new: str) -> sql.Composed:
    """Applying staged row ``new`` to stored row ``cur`` changes at least one column."""
    values = _new_values(cur, new)
    return sql.SQL("ROW({}) IS DISTINCT FROM ROW({})").format(
        _names(tuple(values), cur), sql.SQL(", ").join(values.values())
    )


@once
def customers_sql(prefix: Prefix) -> sql.Composed:
    """Apply staged details, inventory stamps and deletions to customers ``%(ids)s``.

    A staged row is a detail (updated_at set, deleted_at NULL), an inventory stamp
    (inventory_updated_at set), both, or a deletion (all three timestamps set). An
    unknown id gets a minimal row. RETURNING the ids whose detail fields or deleted
    state changed (new rows included).
    """
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), value)
        for column, value in _new_values("t", "excluded").items()
    )
    return sql.SQL(
        "WITH old AS (SELECT cur.id, {changed} AS changed, {dirty} AS dirty"
        " FROM {customers} cur JOIN {stage} s ON s.id = cur.id WHERE {in_batch}),"
        " up AS (INSERT INTO {customers} AS t (id, {columns}) SELECT s.id, {staged} FROM {stage} s"
        " WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.id = s.id AND NOT old.dirty)"
        " ON CONFLICT (id) DO UPDATE SET {assignments} WHERE {guard})"
        " SELECT s.id FROM {stage} s LEFT JOIN old ON old.id = s.id"
        " WHERE old.id IS NULL OR old.changed"
    ).format(
        changed=_CHANGED,
        dirty=_would_change("cur", "s"),
        customers=prefix.table("customers"),
        stage=staging.CUSTOMERS.table,
        in_batch=_in_batch("cur", "id", "ids"),
        columns=_names(CUSTOMER_STAMPS),
        staged=_names(CUSTOMER_STAMPS, "s"),
        assignments=assignments,
        guard=_would_change("t", "excluded"),
    )


@once
def delete_children_sql(prefix: Prefix) -> sql.Composed:
    """Remove every child row of customers ``%(ids)s``; RETURNING the customers touched."""
    children = ("customer_groups", "services", "customer_inventory")
    deletes = sql.SQL(", ").join(
        sql.SQL(
            "{name} AS (DELETE FROM {table} c WHERE {in_batch} RETURNING c.customer_id)"
        ).format(
            name=sql.Identifier(f"d_{child}"),
            table=prefix.table(child),
            in_batch=_in_batch("c", "customer_id", "ids"),
        )
        for child in children
    )
    union = sql.SQL(" UNION ").join(
        sql.SQL("SELECT customer_id FROM {}").format(sql.Identifier(f"d_{child}"))
        for child in children
    )
    return sql.SQL("WITH {} {}").format(deletes, union)
