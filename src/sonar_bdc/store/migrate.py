"""Bring a database to the latest schema version: PostGIS, schema, tables, migrations."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import psycopg
from psycopg import sql

from sonar_bdc.errors import PrefixTaken, RunLocked, StoreError, StoreUnavailable
from sonar_bdc.store import ddl, queries
from sonar_bdc.store.db import describe, scalar
from sonar_bdc.store.prefix import Prefix

log = logging.getLogger(__name__)
META_COLUMNS = frozenset({"key", "value", "updated_at"})  # what queries.set_meta_sql writes


def ensure_schema(conn: psycopg.Connection, prefix: Prefix) -> int:
    """Create or upgrade everything in the current transaction; return the version reached."""
    ensure_postgis(conn)
    # Serialise concurrent first runs before anything is created: two sessions must
    # not both decide the schema is missing.
    conn.execute(queries.XACT_LOCK, [migration_lock_key(prefix)])
    # CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema
    # exists, so only a missing schema is created.
    if not scalar(conn, queries.SCHEMA_EXISTS, [prefix.schema_name]):
        _run_ddl(conn, prefix, [queries.create_schema_sql(prefix)])
    current = schema_version(conn, prefix)
    if current > ddl.LATEST_VERSION:
        raise StoreError(
            f"the tables at {prefix} are at schema version {current}, newer than this "
            f"sonar-bdc understands ({ddl.LATEST_VERSION}): upgrade sonar-bdc"
        )
    plan = ddl.migration_plan(current)
    if plan:
        conn.execute(queries.MIGRATION_LOCK_TIMEOUT)
    try:
        for version in plan:
            apply_version(conn, prefix, version)
    except psycopg.errors.LockNotAvailable as exc:
        raise RunLocked(
            f"cannot upgrade the tables at {prefix} to schema version {ddl.LATEST_VERSION}: "
            "another session is using them (a running import?); try again when it has finished"
        ) from exc
    restore_geom_index(conn, prefix)
    return ddl.LATEST_VERSION


def restore_geom_index(conn: psycopg.Connection, prefix: Prefix) -> None:
    """Recreate the GiST index a first load dropped, if that load was cut short.

    Checked in the catalog first: CREATE INDEX IF NOT EXISTS would wait for a
    running import's lock on the table even when the index is there. A first load
    still running holds the table: it builds the index itself, so do not wait for it.
    """
    name = ddl.geom_index_name(prefix)
    if scalar(conn, queries.INDEX_EXISTS, [prefix.schema_name, name]):
        return
    try:
        with conn.transaction():  # a savepoint
            conn.execute(queries.SHORT_LOCK_TIMEOUT)
            conn.execute(ddl.geom_index_sql(prefix))
    except (psycopg.errors.LockNotAvailable, psycopg.errors.InsufficientPrivilege) as exc:
        log.warning("the location index of %s is missing and was not rebuilt now (%s)",
                    prefix, describe(exc))  # fmt: skip


def apply_version(conn: psycopg.Connection, prefix: Prefix, version: int) -> None:
    """Run one version's DDL and record it in metadata."""
    _run_ddl(conn, prefix, ddl.MIGRATIONS[version](prefix))
    conn.execute(queries.set_meta_sql(prefix), [ddl.SCHEMA_VERSION_KEY, str(version)])


def schema_version(conn: psycopg.Connection, prefix: Prefix) -> int:
    """The recorded version; 0 when there is no metadata table or no version row.

    Raises PrefixTaken when another application's tables are at ``prefix``: a
    ``metadata`` table without our columns, or, with no version recorded, any table
    of ours (sonar-bdc records the version in the transaction that creates them).
    Call it before reading any table at a prefix.
    """
    name = prefix.name("metadata")
    columns = {row[0] for row in conn.execute(queries.TABLE_COLUMNS, [prefix.schema_name, name])}
    if not columns:
        return _unversioned(conn, prefix)
    if not META_COLUMNS.issubset(columns):
        raise PrefixTaken(_taken_message(prefix, [name], "its columns are not sonar-bdc's"))
    value = scalar(conn, queries.get_meta_sql(prefix), [ddl.SCHEMA_VERSION_KEY])
    if value is None:
        return _unversioned(conn, prefix)
    try:
        return int(str(value))  # text; str() also for another tool's table of that name
    except ValueError:
        raise PrefixTaken(
            _taken_message(prefix, [name], f"its schema_version {value!r} is not a number")
        ) from None


def _unversioned(conn: psycopg.Connection, prefix: Prefix) -> int:
    """0 for a prefix holding none of our tables; PrefixTaken naming those it holds."""
    names = [prefix.name(table) for table in ddl.TABLES]
    taken = [row[0] for row in conn.execute(queries.TABLES_PRESENT, [prefix.schema_name, names])]
    if taken:
        raise PrefixTaken(_taken_message(prefix, taken, "no sonar-bdc schema version is recorded"))
    return 0


def _taken_message(prefix: Prefix, tables: list[str], why: str) -> str:
    """Names the clashing tables (already prefixed) and a prefix that avoids them."""
    names = ", ".join(f"{prefix.schema_name}.{name}" for name in tables)
    return (
        f"{'table' if len(tables) == 1 else 'tables'} {names} "
        f"{'was' if len(tables) == 1 else 'were'} not created by sonar-bdc ({why}): "
        f"another application uses {'this name' if len(tables) == 1 else 'these names'}; "
        f"choose another -p/--prefix, e.g. -p {prefix.schema_name}.sonar_bdc_"
    )


def ensure_postgis(conn: psycopg.Connection) -> None:
    """Create the extension unless it is there; explain how to get it when we cannot."""
    if scalar(conn, queries.POSTGIS_INSTALLED):
        return
    if not scalar(conn, queries.POSTGIS_AVAILABLE):
        raise StoreUnavailable(postgis_missing_message(conn.info.server_version))
    try:
        conn.execute(queries.CREATE_POSTGIS)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StoreUnavailable(postgis_privilege_message(conn.info.dbname)) from exc


def postgis_missing_message(server_version: int) -> str:
    major = server_version // 10000
    return (
        "the PostGIS extension is not installed on the PostgreSQL server: install the package "
        f"postgresql-{major}-postgis-3 (Debian/Ubuntu; generally postgresql-<major>-postgis-3) "
        "on the database host, then run again; enabling it (CREATE EXTENSION postgis) needs "
        "a superuser or the database owner"
    )


def postgis_privilege_message(dbname: str) -> str:
    return (
        f"PostGIS is not enabled in database {dbname!r} and this user may not enable it: "
        f"ask a superuser to run CREATE EXTENSION postgis in {dbname!r} (or connect as one)"
    )


def migration_lock_key(prefix: Prefix) -> int:
    """Serialises concurrent ensure_schema calls; distinct from the run lock."""
    digest = hashlib.blake2b(f"sonar-bdc-migrate:{prefix}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _run_ddl(
    conn: psycopg.Connection, prefix: Prefix, statements: Sequence[sql.SQL | sql.Composed]
) -> None:
    for statement in statements:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"creating the tables at {prefix} was refused: {describe(exc)}; the PostgreSQL "
                f"user needs CREATE on the database (for a new schema) or on schema "
                f"{prefix.schema_name}; or choose another -p/--prefix"
            ) from exc
