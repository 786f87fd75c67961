"""Small SQL builders for metadata, locks, schema checks and freshness.

Each returns ``sql.Composed`` (or ``sql.SQL``) for parameters passed separately.
"""

from __future__ import annotations

from psycopg import sql

from sonar_bdc.store.prefix import Prefix

FRESHNESS_COLUMNS = {"detail": "updated_at", "inventory": "inventory_updated_at"}

TRY_LOCK = sql.SQL("SELECT pg_try_advisory_lock(%s)")
UNLOCK = sql.SQL("SELECT pg_advisory_unlock(%s)")
XACT_LOCK = sql.SQL("SELECT pg_advisory_xact_lock(%s)")
TABLE_EXISTS = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = %s)"
)
TABLE_COLUMNS = sql.SQL(
    "SELECT attname FROM pg_catalog.pg_attribute"
    " WHERE attrelid = (SELECT c.oid FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))"
    " AND attnum > 0 AND NOT attisdropped"
)
TABLES_PRESENT = sql.SQL(
    "SELECT c.relname FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    " ORDER BY c.relname"
)
POSTGIS_INSTALLED = sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis')")
POSTGIS_AVAILABLE = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')"
)
CREATE_POSTGIS = sql.SQL("CREATE EXTENSION IF NOT EXISTS postgis")
# Migrations wait this long for tables another session is using, then give up.
MIGRATION_LOCK_TIMEOUT = sql.SQL("SET LOCAL lock_timeout = '10s'")
SHORT_LOCK_TIMEOUT = sql.SQL("SET LOCAL lock_timeout = '2s'")
SCHEMA_EXISTS = sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)")


def create_schema_sql(prefix: Prefix) -> sql.Composed:
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(prefix.schema_name))


def get_meta_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: key."""
    return sql.SQL("SELECT value FROM {} WHERE key = %s").format(prefix.table("metadata"))


def set_meta_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: key, value."""
    return sql.SQL(
        "INSERT INTO {} (key, value, updated_at) VALUES (%s, %s, now())"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at"
    ).format(prefix.table("metadata"))


def stale_ids_sql(prefix: Prefix, part: str) -> sql.Composed:
    """Customers listed by run ``seen`` whose ``part`` is older than ``cutoff`` (or never fetched).

    Parameters (by name): seen, cutoff (NULL: every listed customer), limit (NULL: no limit).
    Never-fetched first, then oldest, then by id.
    """
    column = sql.Identifier(FRESHNESS_COLUMNS[part])
    return sql.SQL(
        "SELECT id FROM {table} WHERE last_seen_at = %(seen)s"
        " AND (%(cutoff)s::timestamptz IS NULL OR (({column} IS NULL OR {column} < %(cutoff)s)"
        " AND (deleted_at IS NULL OR deleted_at < %(cutoff)s)))"
        " ORDER BY {column} ASC NULLS FIRST, id LIMIT %(limit)s"
    ).format(table=prefix.table("customers"), column=column)


def count_sql(prefix: Prefix, table: str) -> sql.Composed:
    return sql.SQL("SELECT count(*) FROM {}").format(prefix.table(table))


def analyze_sql(prefix: Prefix, table: str) -> sql.Composed:
    """Fresh planner statistics after a bulk write: without them the first queries after
    an import or a load plan for empty tables (seconds instead of a fraction)."""
    return sql.SQL("ANALYZE {}").format(prefix.table(table))


def is_empty_sql(prefix: Prefix, table: str) -> sql.Composed:
    return sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(prefix.table(table))


def lock_nowait_sql(prefix: Prefix, table: str) -> sql.Composed:
    """Fails at once (LockNotAvailable) if any other session is using the table."""
    return sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(prefix.table(table))


INDEX_EXISTS = sql.SQL(
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_indexes WHERE schemaname = %s AND indexname = %s)"
)
