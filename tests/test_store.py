"""Store against real PostgreSQL + PostGIS: schema, prefixes, migrations, locks, connect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.errors import ConfigError, StoreError, StoreUnavailable
from sonar_bdc.records import ReportRow
from sonar_bdc.store import Store, ddl, migrate, parse_prefix

T1 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
TABLES = {
    "metadata",
    "customers",
    "groups",
    "customer_groups",
    "services",
    "inventory_items",
    "customer_inventory",
    "account_statuses",
    "account_types",
    "import_runs",
    "filing_runs",
    "inventory_models",
    "fabric_locations",
    "fabric_addresses",
    "fabric_matches",
    "coverage_areas",
}


@pytest.fixture
def store(pg_schema: tuple[dict, str]) -> Iterator[Store]:
    params, schema = pg_schema
    with Store.connect(params, f"{schema}.") as opened:
        opened.ensure_schema()
        yield opened


def tables_in(conn: psycopg.Connection, schema: str, like: str = "%") -> set[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
        [schema, like],
    ).fetchall()
    return {row[0] for row in rows}


def columns_of(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, udt_name FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s",
        [schema, table],
    ).fetchall()
    return dict(rows)


def test_ensure_schema_creates_every_table_and_is_idempotent(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    schema = store.prefix.schema
    assert schema is not None
    store.ensure_schema()
    store.ensure_schema()
    assert tables_in(pg_conn, schema) == TABLES
    assert store.schema_version() == ddl.LATEST_VERSION
    assert store.get_meta("schema_version") == str(ddl.LATEST_VERSION)
    customers = columns_of(pg_conn, schema, "customers")
    for column in ("id", "geom", "fips", "updated_at", "last_seen_at", "account_status_id"):
        assert column in customers
    assert customers["geom"] == "geometry"
    assert customers["latitude"] == "float8"
    assert "technology_name" in columns_of(pg_conn, schema, "services")
    index = pg_conn.execute(
        "SELECT indexdef FROM pg_indexes"
        " WHERE schemaname = %s AND indexname = 'customers_geom_idx'",
        [schema],
    ).fetchone()
    assert index is not None and "gist" in index[0]
    geom_type = pg_conn.execute(
        "SELECT type, srid FROM geometry_columns WHERE f_table_schema = %s"
        " AND f_table_name = 'customers'",
        [schema],
    ).fetchone()
    assert geom_type == ("POINT", 4326)
    options = pg_conn.execute(
        "SELECT reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = 'customers'",
        [schema],
    ).fetchone()
    assert options == (["fillfactor=60"],)


@pytest.mark.parametrize("form", ["{schema}.", "{schema}.bdc_", "{table}"])
def test_every_prefix_form_works(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection, form: str
) -> None:
    params, schema = pg_schema
    table_prefix = f"p{uuid.uuid4().hex[:8]}_"
    text = form.format(schema=schema, table=table_prefix)
    prefix = parse_prefix(text)
    try:
        with Store.connect(params, prefix) as opened:
            opened.ensure_schema()
            opened.write_report([ReportRow(1, name="x")], T1)
        where = prefix.schema_name
        assert tables_in(pg_conn, where, f"{prefix.table_prefix}%") >= {
            prefix.name(table) for table in TABLES
        }
        count = pg_conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(prefix.table("customers"))
        ).fetchone()
        assert count == (1,)
    finally:
        if prefix.schema is None:
            _drop_public_tables(pg_conn, prefix.table_prefix)


def _drop_public_tables(conn: psycopg.Connection, table_prefix: str) -> None:
    for table in tables_in(conn, "public", f"{table_prefix}%"):
        conn.execute(sql.SQL("DROP TABLE {} CASCADE").format(sql.Identifier("public", table)))


@pytest.mark.parametrize("bad", ["sonar;drop.", "a.b.c", ".x", "x y.", "it's."])
def test_bad_prefix_is_refused_before_any_sql(
    pg_database: dict, pg_conn: psycopg.Connection, bad: str
) -> None:
    before = _all_tables(pg_conn)
    with pytest.raises(ConfigError, match="-p/--prefix"):
        Store.connect(pg_database, bad)
    assert _all_tables(pg_conn) == before


def _all_tables(conn: psycopg.Connection) -> set[tuple[str, str]]:
    rows = conn.execute("SELECT schemaname, tablename FROM pg_tables").fetchall()
    return {(row[0], row[1]) for row in rows}


def test_migration_from_v1_keeps_every_row(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection
) -> None:
    params, schema = pg_schema
    prefix = parse_prefix(f"{schema}.")
    with psycopg.connect(**params) as conn:
        migrate.ensure_postgis(conn)
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        migrate.apply_version(conn, prefix, 1)
    assert "technology_name" not in columns_of(pg_conn, schema, "services")
    _fill_v1(pg_conn, prefix)

    with Store.connect(params, prefix) as opened:
        opened.ensure_schema()
        assert opened.schema_version() == ddl.LATEST_VERSION

    t = prefix.table
    customers = pg_conn.execute(
        sql.SQL(
            "SELECT id, name, ST_X(geom), ST_Y(geom), fips, created_at, deleted_at FROM {}"
            " ORDER BY id"
        ).format(t("customers"))
    ).fetchall()
    assert customers == [
        (1, "Ann", -122.5, 45.25, "410510001001000", None, None),
        (2, "Bob", None, None, None, None, None),
    ]
    services = pg_conn.execute(
        sql.SQL(
            "SELECT customer_id, service_id, technology_code, technology_name FROM {} ORDER BY 2"
        ).format(t("services"))
    ).fetchall()
    assert services == [(1, 10, 50, "50"), (1, 11, None, None)]
    for table, count in (("customer_groups", 2), ("customer_inventory", 1), ("groups", 1)):
        counted = pg_conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t(table))).fetchone()
        assert counted == (count,), table
    assert "account_statuses" in tables_in(pg_conn, schema)


def _fill_v1(conn: psycopg.Connection, prefix) -> None:
    t = prefix.table
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (id, name, latitude, longitude, geom, fips) VALUES"
            " (1, 'Ann', 45.25, -122.5, ST_SetSRID(ST_MakePoint(-122.5, 45.25), 4326),"
            " '410510001001000'), (2, 'Bob', NULL, NULL, NULL, NULL)"
        ).format(t("customers"))
    )
    conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 7), (2, 7)").format(t("customer_groups")))
    conn.execute(sql.SQL("INSERT INTO {} VALUES (7, 'Fiber')").format(t("groups")))
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (customer_id, service_id, technology_code)"
            " VALUES (1, 10, 50), (1, 11, NULL)"
        ).format(t("services"))
    )
    conn.execute(sql.SQL("INSERT INTO {} VALUES (99, 1, 'R')").format(t("inventory_items")))
    conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 99)").format(t("customer_inventory")))


def test_newer_schema_version_is_refused(store: Store) -> None:
    store.set_meta("schema_version", str(ddl.LATEST_VERSION + 1))
    with pytest.raises(StoreError, match="upgrade sonar-bdc"):
        store.ensure_schema()


def test_run_lock_refuses_a_second_import(store: Store, pg_schema: tuple[dict, str]) -> None:
    params, _ = pg_schema
    with Store.connect(params, store.prefix) as other:
        running = pytest.raises(StoreError, match="another sonar-bdc import is running against")
        with store.run_lock(), running, other.run_lock():
            pass  # pragma: no cover
        with other.run_lock():
            pass


def test_unreachable_database_names_host_and_port() -> None:
    conninfo = {"host": "127.0.0.1", "port": 1, "dbname": "x", "user": "u", "password": "pw123"}
    with pytest.raises(StoreUnavailable, match="POSTGRES_HOST and POSTGRES_PORT") as info:
        Store.connect(conninfo, "sonar.")
    assert "pw123" not in str(info.value)


def test_missing_database_names_postgres_db(pg_database: dict) -> None:
    conninfo = {**pg_database, "dbname": "no_such_db_sonar_bdc"}
    with pytest.raises(StoreUnavailable, match="POSTGRES_DB"):
        Store.connect(conninfo, "sonar.")


def test_unknown_role_names_user_and_password(pg_database: dict) -> None:
    conninfo = {**pg_database, "user": "no_such_role_sonar_bdc", "password": "pw123"}
    with pytest.raises(StoreUnavailable, match="POSTGRES_USER and POSTGRES_PASSWORD") as info:
        Store.connect(conninfo, "sonar.")
    assert "pw123" not in str(info.value)


def test_postgis_missing_message_names_the_package() -> None:
    message = migrate.postgis_missing_message(150004)
    assert "postgresql-15-postgis-3" in message
    assert "superuser" in message


def test_batch_options_are_checked(pg_database: dict) -> None:
    with pytest.raises(ConfigError, match="--batch-size"):
        Store.connect(pg_database, "sonar.", batch_size=0)
    with pytest.raises(ConfigError, match="--commit-interval"):
        Store.connect(pg_database, "sonar.", commit_interval=-1)


def test_metadata_round_trip(store: Store) -> None:
    assert store.get_meta("report_imported_at") is None
    store.set_meta("report_imported_at", "2024-05-01T12:00:00+00:00")
    store.set_meta("report_imported_at", "later")
    assert store.get_meta("report_imported_at") == "later"


def test_the_store_adds_up_its_time_in_the_database(store: Store) -> None:
    before = store.db_seconds
    store.set_meta("report_imported_at", "now")
    after_meta = store.db_seconds
    with store.writer() as writer:
        writer.mark_deleted(1, datetime.now(timezone.utc))
    assert before < after_meta < store.db_seconds


def test_migration_waits_for_a_busy_table_then_says_why(
    pg_schema: tuple[dict, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    params, schema = pg_schema
    prefix = parse_prefix(f"{schema}.")
    with psycopg.connect(**params) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        migrate.apply_version(conn, prefix, 1)
    monkeypatch.setattr(
        migrate.queries, "MIGRATION_LOCK_TIMEOUT", sql.SQL("SET LOCAL lock_timeout = '100ms'")
    )
    with psycopg.connect(**params) as busy, Store.connect(params, prefix) as store:
        busy.execute(
            sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(prefix.table("customers"))
        )
        with pytest.raises(StoreError, match="another session is using them"):
            store.ensure_schema()
        busy.rollback()
        store.ensure_schema()
        assert store.schema_version() == ddl.LATEST_VERSION
