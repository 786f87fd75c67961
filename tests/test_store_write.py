"""The write path against real PostgreSQL + PostGIS: report, catalogs, writer, freshness."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.errors import SonarRetriesExhausted, StoreError
from sonar_bdc.records import (
    AccountStatus,
    AccountType,
    Catalogs,
    CustomerDetail,
    CustomerInventory,
    Group,
    InventoryItem,
    ReportRow,
    Service,
)
from sonar_bdc.store import Store

T1 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
T2 = T1 + timedelta(days=1)
T3 = T1 + timedelta(days=2)
NASTY = [
    'O\'Brien "Bob"',
    "back\\slash \\N \\\\",
    "tab\there",
    "new\nline\r\nwindows",
    "ünïcödé ✓ 北京 🚀",
    "x" * 2048,
    "",
    "  padded  ",
    "comma, semicolon; pipe|",
    "\\x00 literal",
]


@pytest.fixture
def connected(pg_schema: tuple[dict, str]) -> Iterator[tuple[Store, dict]]:
    params, schema = pg_schema
    with Store.connect(params, f"{schema}.", batch_size=3, commit_interval=5) as store:
        store.ensure_schema()
        yield store, params


@pytest.fixture
def store(connected: tuple[Store, dict]) -> Store:
    return connected[0]


def query(store: Store, conn: psycopg.Connection, template: str, *tables: str) -> list[tuple]:
    statement = sql.SQL(template).format(*(store.prefix.table(t) for t in tables))
    return conn.execute(statement).fetchall()


def detail(cid: int, groups=(), services=(), **fields) -> CustomerDetail:
    return CustomerDetail(
        cid,
        groups=tuple(Group(g) for g in groups),
        services=tuple(services),
        **fields,
    )


def test_nasty_strings_round_trip_exactly(store: Store, pg_conn: psycopg.Connection) -> None:
    report = [ReportRow(i + 1, name=text, address=text, city=text) for i, text in enumerate(NASTY)]
    result = store.write_report(report, T1)
    assert result.new_ids == set(range(1, len(NASTY) + 1)) and result.nul_cleaned == 0
    with store.writer() as writer:
        for i, text in enumerate(NASTY):
            service = Service(1, name=text, technology_name=text)
            writer.add_detail(detail(i + 1, services=[service], fips=text), T1)
            item = InventoryItem(100 + i, model_name=text, mac_address=text, status=text)
            writer.add_inventory(CustomerInventory(i + 1, (item,)), T1)
    store.write_catalogs(Catalogs(groups=tuple(Group(i, t) for i, t in enumerate(NASTY))))
    rows = query(
        store,
        pg_conn,
        "SELECT c.name, c.address, c.city, c.fips, s.name, s.technology_name, i.model_name,"
        " i.mac_address, i.status FROM {} c JOIN {} s ON s.customer_id = c.id"
        " JOIN {} ci ON ci.customer_id = c.id JOIN {} i ON i.id = ci.inventory_item_id"
        " ORDER BY c.id",
        "customers",
        "services",
        "customer_inventory",
        "inventory_items",
    )
    assert rows == [(text,) * 9 for text in NASTY]
    names = query(store, pg_conn, "SELECT name FROM {} ORDER BY id", "groups")
    assert names == [(text,) for text in NASTY]


def test_nul_is_cleaned_and_counted(store: Store, pg_conn: psycopg.Connection) -> None:
    result = store.write_report([ReportRow(1, name="a\x00b", city="c\x00"), ReportRow(2)], T1)
    assert result.nul_cleaned == 2
    with store.writer() as writer:
        writer.add_detail(detail(1, services=[Service(5, name="s\x00")]), T1)
        assert writer.nul_cleaned == 1  # counted before the batch is written
        writer.add_inventory(CustomerInventory(1, (InventoryItem(3, status="\x00ok"),)), T1)
    assert writer.nul_cleaned == 2
    rows = query(
        store, pg_conn, "SELECT s.name, i.status FROM {} s, {} i", "services", "inventory_items"
    )
    assert rows == [("s", "ok")]
    assert query(store, pg_conn, "SELECT name, city FROM {} WHERE id = 1", "customers") == [
        ("ab", "c")
    ]


INVALID_POINTS = [
    (None, None), (45.0, None), (None, -120.0), (0.0, 0.0), (-0.0, 0.0), (91.0, 10.0),
    (45.0, -181.0), (float("nan"), 1.0), (1.0, float("nan")), (float("inf"), 1.0),
]  # fmt: skip
VALID_POINTS = [(90.0, 180.0), (-90.0, -180.0), (0.0, 1e-9), (-1e-9, 0.0), (45.523064, -122.6)]


@pytest.mark.parametrize("table", ["empty", "filled"])  # a first load COPYs, else the upsert
@pytest.mark.parametrize(("lat", "lon"), INVALID_POINTS)
def test_invalid_coordinates_give_null(
    store: Store, pg_conn: psycopg.Connection, table: str, lat: float | None, lon: float | None
) -> None:
    if table == "filled":
        store.write_report([ReportRow(2)], T1)
    store.write_report([ReportRow(1, latitude=lat, longitude=lon)], T1)
    rows = query(store, pg_conn, "SELECT latitude, longitude, geom FROM {} WHERE id = 1",
                 "customers")  # fmt: skip
    assert rows == [(None, None, None)]


@pytest.mark.parametrize("table", ["empty", "filled"])
def test_first_load_points_equal_the_upserted_ones(
    store: Store, pg_conn: psycopg.Connection, table: str
) -> None:
    """The first load builds points in Python; they must equal PostGIS's own."""
    if table == "filled":
        store.write_report([ReportRow(99)], T1)
    points = [
        ReportRow(i, latitude=lat, longitude=lon) for i, (lat, lon) in enumerate(VALID_POINTS)
    ]
    store.write_report(points, T1)
    rows = query(
        store,
        pg_conn,
        "SELECT latitude, longitude, ST_Equals(geom, ST_SetSRID(ST_MakePoint(longitude, latitude),"
        " 4326)), ST_AsEWKB(geom) = ST_AsEWKB(ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)),"
        " ST_SRID(geom) FROM {} WHERE id < 99 ORDER BY id",
        "customers",
    )
    assert rows == [(lat, lon, True, True, 4326) for lat, lon in VALID_POINTS]


def test_geometry_is_lon_lat_in_4326(store: Store, pg_conn: psycopg.Connection) -> None:
    store.write_report([ReportRow(7, latitude=45.523064, longitude=-122.676483)], T1)
    rows = query(
        store,
        pg_conn,
        "SELECT ST_X(geom), ST_Y(geom), ST_SRID(geom), latitude, longitude FROM {}",
        "customers",
    )
    assert rows == [(-122.676483, 45.523064, 4326, 45.523064, -122.676483)]
    store.write_report([ReportRow(7, latitude=None, longitude=None)], T2)
    rows = query(store, pg_conn, "SELECT geom, latitude FROM {}", "customers")
    assert rows == [(None, None)]


def _xmins(store: Store, conn: psycopg.Connection) -> dict[str, list[tuple]]:
    tables = ["customers", "customer_groups", "services", "inventory_items", "customer_inventory"]
    return {t: query(store, conn, "SELECT xmin::text, * FROM {} ORDER BY 2, 3", t) for t in tables}


def _write_everything(store: Store) -> tuple[set[int], set[int]]:
    report = [ReportRow(i, name=f"n{i}", latitude=45.0, longitude=-120.0 + i) for i in range(10)]
    first = store.write_report(report, T1)
    with store.writer() as writer:
        for i in range(10):
            writer.add_detail(detail(i, groups=[1, 2], services=[Service(i, name="s")]), T1)
            writer.add_inventory(CustomerInventory(i, (InventoryItem(100 + i, status="ok"),)), T1)
    return first.new_ids, writer.changed_ids


def test_writing_the_same_batch_twice_changes_nothing(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    new_ids, changed = _write_everything(store)
    assert new_ids == changed == set(range(10))
    before = _xmins(store, pg_conn)
    report = [ReportRow(i, name=f"n{i}", latitude=45.0, longitude=-120.0 + i) for i in range(10)]
    again = store.write_report(report, T1)
    assert (again.new_ids, again.updated_ids, again.unchanged) == (set(), set(), 10)
    with store.writer() as writer:
        for i in range(10):
            writer.add_detail(detail(i, groups=[1, 2], services=[Service(i, name="s")]), T1)
            writer.add_inventory(CustomerInventory(i, (InventoryItem(100 + i, status="ok"),)), T1)
    assert writer.changed_ids == set() and writer.written == 10
    assert _xmins(store, pg_conn) == before  # not a single row rewritten


def test_new_run_moves_last_seen_without_reporting_a_change(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    _write_everything(store)
    report = [ReportRow(i, name=f"n{i}", latitude=45.0, longitude=-120.0 + i) for i in range(10)]
    report[3] = ReportRow(3, name="renamed", latitude=45.0, longitude=-117.0)
    result = store.write_report(report, T2)
    assert (result.new_ids, result.updated_ids, result.unchanged) == (set(), {3}, 9)
    seen = query(store, pg_conn, "SELECT DISTINCT last_seen_at FROM {}", "customers")
    assert seen == [(T2,)]
    # the report leaves the detail fields alone
    stamps = query(store, pg_conn, "SELECT DISTINCT updated_at FROM {}", "customers")
    assert stamps == [(T1,)]


def test_duplicate_ids_in_one_batch_last_wins(store: Store, pg_conn: psycopg.Connection) -> None:
    result = store.write_report([ReportRow(1, name="first"), ReportRow(1, name="last")], T1)
    assert result.new_ids == {1} and result.unchanged == 0
    assert query(store, pg_conn, "SELECT name FROM {}", "customers") == [("last",)]
    with store.writer() as writer:
        dup = detail(1, groups=[5, 5], services=[Service(9, name="a"), Service(9, name="b")])
        writer.add_detail(dup, T1)
    assert query(store, pg_conn, "SELECT group_id FROM {}", "customer_groups") == [(5,)]
    assert query(store, pg_conn, "SELECT name FROM {}", "services") == [("b",)]


def test_child_rows_are_replaced_exactly(store: Store, pg_conn: psycopg.Connection) -> None:
    store.write_report([ReportRow(1), ReportRow(2)], T1)
    services = [Service(10, name="a", download_kbps=1), Service(11, name="b")]
    with store.writer() as writer:
        writer.add_detail(detail(1, groups=[1, 2], services=services), T1)
        writer.add_detail(detail(2, groups=[1], services=[Service(10, name="other")]), T1)
        writer.add_inventory(CustomerInventory(1, (InventoryItem(7), InventoryItem(8))), T1)
    changed = [Service(11, name="b2"), Service(12, name="c", technology_code=50)]
    with store.writer() as writer:
        writer.add_detail(detail(1, groups=[2, 3], services=changed, fips="1" * 15), T2)
        writer.add_inventory(CustomerInventory(1, (InventoryItem(8), InventoryItem(9))), T2)
    assert writer.changed_ids == {1}
    groups = query(store, pg_conn, "SELECT * FROM {} ORDER BY 1, 2", "customer_groups")
    assert groups == [(1, 2), (1, 3), (2, 1)]
    rows = query(
        store, pg_conn, "SELECT customer_id, service_id, name FROM {} ORDER BY 1, 2", "services"
    )
    assert rows == [(1, 11, "b2"), (1, 12, "c"), (2, 10, "other")]
    links = query(store, pg_conn, "SELECT * FROM {} ORDER BY 1, 2", "customer_inventory")
    assert links == [(1, 8), (1, 9)]
    with store.writer() as writer:
        writer.add_detail(detail(1), T3)  # Sonar now lists nothing
    assert query(store, pg_conn, "SELECT count(*) FROM {} WHERE customer_id = 1", "services") == [
        (0,)
    ]
    assert query(store, pg_conn, "SELECT * FROM {}", "customer_groups") == [(2, 1)]


def test_item_moving_between_customers(store: Store, pg_conn: psycopg.Connection) -> None:
    with store.writer() as writer:
        writer.add_inventory(CustomerInventory(1, (InventoryItem(50, status="a"),)), T1)
    with store.writer() as writer:  # B refreshed first: both link until A is refreshed
        writer.add_inventory(CustomerInventory(2, (InventoryItem(50, status="b"),)), T2)
    assert query(store, pg_conn, "SELECT * FROM {} ORDER BY 1", "customer_inventory") == [
        (1, 50),
        (2, 50),
    ]
    with store.writer() as writer:
        writer.add_inventory(CustomerInventory(1, ()), T2)
    assert query(store, pg_conn, "SELECT * FROM {}", "customer_inventory") == [(2, 50)]
    assert query(store, pg_conn, "SELECT status FROM {}", "inventory_items") == [("b",)]


def test_detail_for_unknown_customer_inserts_a_minimal_row(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    with store.writer() as writer:
        writer.add_detail(detail(42, name="From detail", account_status_id=3, groups=[1]), T1)
    assert writer.changed_ids == {42}
    rows = query(
        store,
        pg_conn,
        "SELECT name, account_status_id, updated_at, last_seen_at, created_at IS NOT NULL FROM {}",
        "customers",
    )
    assert rows == [("From detail", 3, T1, None, True)]
    store.write_report([ReportRow(42, name="From report")], T2)
    with store.writer() as writer:
        writer.add_detail(detail(42, name="From detail", account_status_id=3, groups=[1]), T2)
    assert query(store, pg_conn, "SELECT name FROM {}", "customers") == [("From report",)]


def test_mark_deleted_removes_children_and_counts_as_fresh(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    _write_everything(store)
    store.write_report([ReportRow(i, name=f"n{i}") for i in range(10)], T2)
    with store.writer() as writer:
        writer.mark_deleted(4, T2)
        writer.mark_deleted(99, T2)  # never listed: still recorded
    assert writer.changed_ids == {4, 99}
    rows = query(
        store,
        pg_conn,
        "SELECT id, deleted_at, updated_at, inventory_updated_at FROM {} WHERE id IN (4, 99)",
        "customers",
    )
    assert sorted(rows) == [(4, T2, T2, T2), (99, T2, T2, T2)]
    for table in ("customer_groups", "services", "customer_inventory"):
        count = query(store, pg_conn, "SELECT count(*) FROM {} WHERE customer_id = 4", table)
        assert count == [(0,)], table
    cutoff = T2 - timedelta(hours=1)
    assert 4 not in store.stale_customer_ids("detail", T2, cutoff, None)
    assert 4 in store.stale_customer_ids("detail", T2, T2 + timedelta(hours=1), None)
    with store.writer() as writer:  # it came back
        writer.add_detail(detail(4, groups=[1]), T3)
    assert query(store, pg_conn, "SELECT deleted_at FROM {} WHERE id = 4", "customers") == [(None,)]


def test_delete_and_detail_for_one_customer_in_one_batch(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    with store.writer() as writer:
        writer.add_detail(detail(1, groups=[1]), T1)
        writer.mark_deleted(1, T2)
    assert query(store, pg_conn, "SELECT count(*) FROM {}", "customer_groups") == [(0,)]
    assert query(store, pg_conn, "SELECT deleted_at FROM {}", "customers") == [(T2,)]


def test_stale_customer_ids_order_cutoff_limit(store: Store) -> None:
    store.write_report([ReportRow(i) for i in range(1, 7)], T1)
    store.write_report([ReportRow(i) for i in range(1, 6)], T2)  # 6 not listed by run T2
    with store.writer() as writer:
        writer.add_detail(detail(1), T1 - timedelta(days=30))
        writer.add_detail(detail(2), T1 - timedelta(days=60))
        writer.add_detail(detail(3), T2)  # fresh
        writer.add_inventory(CustomerInventory(3, ()), T1 - timedelta(days=90))
    cutoff = T2 - timedelta(days=7)
    assert store.stale_customer_ids("detail", T2, cutoff, None) == [4, 5, 2, 1]
    assert store.stale_customer_ids("detail", T2, cutoff, 3) == [4, 5, 2]
    assert store.stale_customer_ids("detail", T2, None, None) == [4, 5, 2, 1, 3]
    assert store.stale_customer_ids("inventory", T2, cutoff, None) == [1, 2, 4, 5, 3]
    assert store.stale_customer_ids("detail", T1, cutoff, None) == [6]  # listed by T1 only
    with pytest.raises(ValueError, match="part"):
        store.stale_customer_ids("bogus", T2, cutoff, None)


def test_catalogs_upsert(store: Store, pg_conn: psycopg.Connection) -> None:
    catalogs = Catalogs(
        groups=(Group(1, "Fiber"), Group(2, "Wireless")),
        statuses=(AccountStatus(1, "Active", True), AccountStatus(2, "Inactive", False)),
        types=(AccountType(1, "Residential", "residential"),),
    )
    store.write_catalogs(catalogs)
    store.write_catalogs(Catalogs(groups=(Group(2, "Fixed wireless"),)))
    assert query(store, pg_conn, "SELECT * FROM {} ORDER BY 1", "groups") == [
        (1, "Fiber"),
        (2, "Fixed wireless"),
    ]
    assert query(store, pg_conn, "SELECT * FROM {} ORDER BY 1", "account_statuses") == [
        (1, "Active", True),
        (2, "Inactive", False),
    ]
    assert query(store, pg_conn, "SELECT * FROM {}", "account_types") == [
        (1, "Residential", "residential")
    ]


def test_writer_error_rolls_back_only_the_uncommitted_part(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    store.write_report([ReportRow(i) for i in range(1, 9)], T1)
    with pytest.raises(RuntimeError, match="boom"), store.writer() as writer:
        for cid in range(1, 9):  # batch 3, commit every 5: 1-6 flushed and committed
            writer.add_detail(detail(cid, groups=[1]), T2)
        raise RuntimeError("boom")
    assert writer.written == 6
    rows = pg_conn.execute(
        sql.SQL("SELECT id FROM {} WHERE updated_at IS NOT NULL ORDER BY id").format(
            store.prefix.table("customers")
        )
    ).fetchall()
    assert rows == [(i,) for i in range(1, 7)]
    assert store.stale_customer_ids("detail", T1, T2, None) == [7, 8]  # stale: fetched again


def test_database_error_becomes_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="writing customer details"), store.writer() as writer:
        writer.add_detail(detail(2**63 - 1, services=[Service(1, quantity=2**40)]), T1)
    assert store.get_meta("schema_version") is not None  # the session is usable again


def test_dry_run_leaves_the_database_untouched(
    pg_schema: tuple[dict, str], pg_conn: psycopg.Connection
) -> None:
    params, schema = pg_schema
    with Store.connect(params, f"{schema}.", batch_size=2, commit_interval=2, dry_run=True) as dry:
        dry.ensure_schema()
        with dry.run_lock():
            result = dry.write_report([ReportRow(i) for i in range(5)], T1)
            assert result.new_ids == set(range(5))
            dry.write_catalogs(Catalogs(groups=(Group(1, "g"),)))
            assert dry.stale_customer_ids("detail", T1, T1, None) == [0, 1, 2, 3, 4]
            with dry.writer() as writer:
                for i in range(5):
                    writer.add_detail(detail(i, groups=[1]), T1)
            assert writer.changed_ids == set(range(5))
            dry.set_meta("report_imported_at", "x")
            assert dry.get_meta("report_imported_at") == "x"
            assert dry.stale_customer_ids("detail", T1, T1 - timedelta(days=1), None) == []
    schemas = pg_conn.execute(
        "SELECT count(*) FROM pg_namespace WHERE nspname = %s", [schema]
    ).fetchone()
    assert schemas == (0,)


def test_dry_run_on_an_existing_schema_commits_nothing(
    connected: tuple[Store, dict], pg_conn: psycopg.Connection
) -> None:
    store, params = connected
    store.write_report([ReportRow(1, name="real")], T1)
    with Store.connect(params, store.prefix, dry_run=True) as dry:
        dry.ensure_schema()
        dry.write_report([ReportRow(1, name="dry"), ReportRow(2)], T2)
        with dry.writer() as writer:
            writer.mark_deleted(1, T2)
    assert query(store, pg_conn, "SELECT id, name, deleted_at FROM {}", "customers") == [
        (1, "real", None)
    ]


def test_naive_timestamps_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.write_report([ReportRow(1)], datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"), store.writer() as writer:
        writer.add_detail(detail(1), datetime(2024, 1, 1))


def _geom_index(store: Store, conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s",
        [store.prefix.schema_name, store.prefix.name("customers_geom_idx")],
    ).fetchall()


def test_first_load_across_batches_matches_the_upsert_and_rebuilds_the_index(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    """Batches of 3, commits every 5: id 2 comes again in batch 3 (the general upsert)."""
    ids = [1, 2, 3, 4, 5, 6, 2, 7, 8]
    report = [
        ReportRow(i, name=f"n{i}.{n}", latitude=45.0, longitude=-120.0 - n)
        for n, i in enumerate(ids)
    ]
    result = store.write_report(report, T1)
    assert result.new_ids == set(range(1, 9)) and result.updated_ids == set()
    assert result.unchanged == 0
    names = query(store, pg_conn, "SELECT id, name, ST_X(geom) FROM {} ORDER BY id", "customers")
    assert names[1] == (2, "n2.6", -126.0)  # the later row won
    assert [row[0] for row in names] == list(range(1, 9))
    assert "gist (geom)" in _geom_index(store, pg_conn)[0][0]
    near = query(
        store,
        pg_conn,
        "SELECT id FROM {} WHERE geom && ST_MakeEnvelope(-123.5, 44, -122.5, 46, 4326)",
        "customers",
    )
    assert near == [(4,)]
    # the next run is an ordinary upsert into a filled table: nothing is new
    again = store.write_report(report, T2)
    assert again.new_ids == set() and again.total == 8


def test_first_load_meets_a_row_another_session_added_between_commits(
    store: Store, pg_database: dict, pg_conn: psycopg.Connection
) -> None:
    """Batches of 3, commits every 5: id 8 appears from elsewhere after the first commit;
    its batch is upserted instead (nothing lost, nothing doubled), and so is the rest."""
    customers = store.prefix.table("customers")

    def report() -> Iterator[ReportRow]:
        yield from (ReportRow(i, name=f"n{i}") for i in range(1, 7))  # commits after 6
        with psycopg.connect(**pg_database, autocommit=True) as other:
            other.execute(
                sql.SQL("INSERT INTO {} (id, name) VALUES (8, 'other')").format(customers)
            )
        yield from (ReportRow(i, name=f"n{i}") for i in range(7, 12))

    result = store.write_report(report(), T1)
    assert result.new_ids == set(range(1, 12)) - {8} and result.updated_ids == {8}
    names = query(store, pg_conn, "SELECT id, name, last_seen_at FROM {} ORDER BY id", "customers")
    assert names == [(i, f"n{i}", T1) for i in range(1, 12)]
    assert "gist (geom)" in _geom_index(store, pg_conn)[0][0]


def test_first_load_takes_the_last_of_many_rows_of_one_id(
    connected: tuple[Store, dict], pg_conn: psycopg.Connection
) -> None:
    """One COPY (commit interval 100) meets id 1 three times: the last row wins."""
    store, params = connected
    ids = [1, 2, 3, 1, 4, 5, 1, 6, 7]
    report = [ReportRow(i, name=f"n{i}.{n}") for n, i in enumerate(ids)]
    with Store.connect(params, store.prefix, batch_size=3, commit_interval=100) as wide:
        result = wide.write_report(report, T1)
    assert result.new_ids == set(range(1, 8)) and result.updated_ids == set()
    names = query(store, pg_conn, "SELECT id, name FROM {} ORDER BY id", "customers")
    assert names[0] == (1, "n1.6") and len(names) == 7


def test_first_load_conflict_replays_repeated_ids_once(
    connected: tuple[Store, dict], pg_database: dict, pg_conn: psycopg.Connection
) -> None:
    """Batches of 4, commits every 8. After the first commit another session adds id
    100; the COPY that meets it also met 12 and 20 twice or more, and 1-3 again: its
    replay through the upsert writes each id once, with its last row."""
    store, params = connected
    customers = store.prefix.table("customers")

    def report() -> Iterator[ReportRow]:
        yield from (ReportRow(i, name=f"n{i}") for i in range(1, 9))  # commits after 8
        with psycopg.connect(**pg_database, autocommit=True) as other:
            other.execute(sql.SQL("INSERT INTO {} (id, name) VALUES (100, 'x')").format(customers))
        later = [(100, "n100"), (9, "n9"), (10, "n10"), (11, "n11"), (12, "a"), (12, "n12"),
                 (20, "a"), (20, "b"), (20, "n20"), (1, "n1"), (2, "n2"), (3, "n3")]  # fmt: skip
        yield from (ReportRow(i, name=name) for i, name in later)

    with Store.connect(params, store.prefix, batch_size=4, commit_interval=8) as fours:
        result = fours.write_report(report(), T1)
    assert result.new_ids == {*range(1, 13), 20} and result.updated_ids == {100}
    names = query(store, pg_conn, "SELECT id, name FROM {} ORDER BY id", "customers")
    assert names == [(i, f"n{i}") for i in (*range(1, 13), 20, 100)]


@pytest.mark.parametrize("clobbering", [False, True], ids=["psycopg", "psycopg<3.3.9"])
def test_first_load_source_failing_in_a_conflicting_copy_is_the_error(
    store: Store,
    pg_database: dict,
    pg_conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    clobbering: bool,
) -> None:
    """The COPY after the first commit meets a row another session added, and then
    Sonar's stream breaks: the break is what the caller sees, and only the committed
    rows stay (never a report taken for complete). psycopg before 3.3.9 reported the
    server's pending error from the COPY instead of the break: emulated here."""
    if clobbering:
        finish = psycopg.Copy.finish

        def finish_reporting_the_server(self: psycopg.Copy, exc: BaseException | None) -> None:
            finish(self, exc)
            if exc is not None:
                raise psycopg.errors.UniqueViolation("duplicate key value (emulated)")

        monkeypatch.setattr(psycopg.Copy, "finish", finish_reporting_the_server)
    customers = store.prefix.table("customers")

    def report() -> Iterator[ReportRow]:
        yield from (ReportRow(i) for i in range(1, 7))  # commits after 6
        with psycopg.connect(**pg_database, autocommit=True) as other:
            other.execute(sql.SQL("INSERT INTO {} (id, name) VALUES (7, 'x')").format(customers))
        yield from (ReportRow(i) for i in range(7, 9))
        raise RuntimeError("stream broken")

    with pytest.raises(RuntimeError, match="stream broken"):
        store.write_report(report(), T1)
    ids = query(store, pg_conn, "SELECT id FROM {} ORDER BY id", "customers")
    assert ids == [(i,) for i in range(1, 8)]  # 1-6 committed, 7 the other session's


def test_first_load_commits_every_interval_not_every_copy(
    connected: tuple[Store, dict], pg_conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COPYs of 2 rows, a commit every 4: a stream breaking after row 7 keeps 1-4."""
    from sonar_bdc.store import report as report_module

    monkeypatch.setattr(report_module, "COPY_ROWS", 2)
    store, params = connected

    def report() -> Iterator[ReportRow]:
        yield from (ReportRow(i) for i in range(1, 8))
        raise RuntimeError("stream broken")

    with (
        Store.connect(params, store.prefix, batch_size=1, commit_interval=4) as fours,
        pytest.raises(RuntimeError, match="stream broken"),
    ):
        fours.write_report(report(), T1)
    ids = query(store, pg_conn, "SELECT id FROM {} ORDER BY id", "customers")
    assert ids == [(i,) for i in range(1, 5)]


def test_first_load_conflict_keeps_the_commit_interval(
    connected: tuple[Store, dict],
    pg_database: dict,
    pg_conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """COPYs of 3 rows, a commit every 6. After the commit at 6 another session adds
    10; 7, 7, 8 are COPYed, then 9-11 meet 10 and are upserted instead: six rows since
    the commit, so one is due before row 12 is read, and a break after it costs none."""
    from sonar_bdc.store import report as report_module

    monkeypatch.setattr(report_module, "COPY_ROWS", 3)
    store, params = connected
    customers = store.prefix.table("customers")

    def report() -> Iterator[ReportRow]:
        yield from (ReportRow(i) for i in range(1, 7))
        with psycopg.connect(**pg_database, autocommit=True) as other:
            other.execute(sql.SQL("INSERT INTO {} (id) VALUES (10)").format(customers))
        yield from (ReportRow(i) for i in (7, 7, 8, 9, 10, 11, 12))
        raise RuntimeError("stream broken")

    with (
        Store.connect(params, store.prefix, batch_size=1, commit_interval=6) as sixes,
        pytest.raises(RuntimeError, match="stream broken"),
    ):
        sixes.write_report(report(), T1)
    ids = query(store, pg_conn, "SELECT id FROM {} ORDER BY id", "customers")
    assert ids == [(i,) for i in range(1, 12)]


def test_first_load_cut_short_leaves_the_index_to_ensure_schema(
    connected: tuple[Store, dict], pg_conn: psycopg.Connection
) -> None:
    store, params = connected

    def report_then_fail() -> Iterator[ReportRow]:
        yield from (ReportRow(i) for i in range(1, 7))  # commits at 6 (interval 5)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        store.write_report(report_then_fail(), T1)
    assert query(store, pg_conn, "SELECT count(*) FROM {}", "customers") == [(6,)]
    assert _geom_index(store, pg_conn) == []  # dropped with the first commit
    with Store.connect(params, store.prefix) as next_run:
        next_run.ensure_schema()
    assert len(_geom_index(store, pg_conn)) == 1


def test_first_load_keeps_the_index_while_another_session_reads_the_table(
    store: Store, pg_database: dict, pg_conn: psycopg.Connection
) -> None:
    with psycopg.connect(**pg_database) as reader:
        query(store, reader, "SELECT count(*) FROM {}", "customers")  # holds its lock
        result = store.write_report([ReportRow(i) for i in range(1, 5)], T1)
        assert len(_geom_index(store, pg_conn)) == 1
    assert result.new_ids == {1, 2, 3, 4}
    assert query(store, pg_conn, "SELECT count(*) FROM {}", "customers") == [(4,)]


def test_dry_run_first_load_leaves_the_index(
    connected: tuple[Store, dict], pg_conn: psycopg.Connection
) -> None:
    store, params = connected
    with Store.connect(params, store.prefix, batch_size=2, commit_interval=2, dry_run=True) as dry:
        dry.ensure_schema()
        assert dry.write_report([ReportRow(i) for i in range(5)], T1).new_ids == set(range(5))
        # Its one transaction must not hold the table locked for the whole run.
        pg_conn.execute("SET lock_timeout = '500ms'")
        assert query(store, pg_conn, "SELECT count(*) FROM {}", "customers") == [(0,)]
        pg_conn.execute("RESET lock_timeout")
    assert len(_geom_index(store, pg_conn)) == 1
    assert query(store, pg_conn, "SELECT count(*) FROM {}", "customers") == [(0,)]


def test_listed_inventory_is_taken_from_the_staged_listing(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    """Batches of 3: customer 4's items come from the listing in a later batch."""
    store.write_report([ReportRow(i) for i in range(1, 5)], T1)
    with store.writer() as writer:  # an earlier run: customer 2 holds item 9
        writer.add_inventory(CustomerInventory(2, (InventoryItem(9, status="old"),)), T1)
    pages = [
        [(1, InventoryItem(10, status="in\x00use")), (4, InventoryItem(11))],
        [(1, InventoryItem(12, mac_address="aa:bb")), (4, InventoryItem(11))],  # listed twice
    ]
    assert store.stage_listing(pages) == (4, 1)
    with store.writer() as writer:
        for cid in range(1, 5):
            writer.add_listed_inventory(cid, T2)
    assert writer.changed_ids == {1, 2, 4}  # 3 had nothing and still has nothing
    links = query(store, pg_conn, "SELECT customer_id, inventory_item_id FROM {} ORDER BY 1, 2",
                  "customer_inventory")  # fmt: skip
    assert links == [(1, 10), (1, 12), (4, 11)]
    items = query(store, pg_conn, "SELECT id, status, mac_address FROM {} ORDER BY 1",
                  "inventory_items")  # fmt: skip
    assert items == [(9, "old", None), (10, "inuse", None), (11, None, None), (12, None, "aa:bb")]
    stamps = query(store, pg_conn, "SELECT DISTINCT inventory_updated_at FROM {}", "customers")
    assert stamps == [(T2,)]


def test_known_ids_are_left_out_of_changed_ids(store: Store) -> None:
    store.write_report([ReportRow(i) for i in range(1, 5)], T1)
    with store.writer(known={1, 3}) as writer:
        for cid in range(1, 5):
            writer.add_detail(detail(cid, groups=[cid]), T1)
    assert writer.changed_ids == {2, 4} and writer.written == 4


def test_missing_index_is_not_rebuilt_while_another_import_holds_the_table(
    connected: tuple[Store, dict], pg_database: dict, pg_conn: psycopg.Connection
) -> None:
    store, params = connected
    index = sql.Identifier(store.prefix.schema_name, store.prefix.name("customers_geom_idx"))
    pg_conn.execute(sql.SQL("DROP INDEX {}").format(index))
    with psycopg.connect(**pg_database) as importing:  # a first load between its commits
        insert = sql.SQL("INSERT INTO {} (id) VALUES (1)")
        importing.execute(insert.format(store.prefix.table("customers")))
        with Store.connect(params, store.prefix) as second:
            second.ensure_schema()  # waits about 2 s, not for the whole import
        assert _geom_index(store, pg_conn) == []
    with Store.connect(params, store.prefix) as later:
        later.ensure_schema()
    assert len(_geom_index(store, pg_conn)) == 1


def test_a_listing_cut_short_by_sonar_leaves_the_store_usable(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    """The listing is one COPY across pages: a page Sonar cannot give ends it cleanly,
    and the importer's fallback (one request per customer) writes as usual."""
    store.write_report([ReportRow(1), ReportRow(2)], T1)

    def pages() -> Iterator[list[tuple[int, InventoryItem]]]:
        yield [(1, InventoryItem(10)), (2, InventoryItem(12))]
        raise SonarRetriesExhausted("GET /api/v1/inventory/items: HTTP 503")

    with pytest.raises(SonarRetriesExhausted, match="HTTP 503"):
        store.stage_listing(pages())
    with store.writer() as writer:
        writer.add_inventory(CustomerInventory(1, (InventoryItem(11),)), T2)
    links = query(store, pg_conn, "SELECT customer_id, inventory_item_id FROM {}",
                  "customer_inventory")  # fmt: skip
    assert links == [(1, 11)]
    assert store.stage_listing([[(2, InventoryItem(12))]]) == (1, 0)  # a later listing works


RUN_COUNTS = {"listed": 1, "new": 0, "updated": 0, "failed": 0, "deleted": 0,
              "failed_ids": [], "message": None}  # fmt: skip


def leave_mid_command(store: Store, tag: str = "") -> None:
    """The state an interrupt landing inside psycopg can leave: a command still running."""
    store._session.conn.pgconn.send_query(f"SELECT pg_sleep(60) -- {tag}".encode())


def test_the_end_is_recorded_when_an_interrupt_left_a_command_running(
    store: Store, pg_conn: psycopg.Connection
) -> None:
    run_id = store.start_run("v1", ["report"], {})
    leave_mid_command(store, "finish-run-test")
    store.finish_run(run_id, "interrupted", RUN_COUNTS)
    runs = query(store, pg_conn, "SELECT outcome, finished_at IS NOT NULL FROM {}", "import_runs")
    assert runs == [("interrupted", True)]
    sleeping = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%-- finish-run-test'"
    assert pg_conn.execute(sleeping).fetchone() == (0,)  # the stuck command was stopped


def test_a_connection_busy_with_a_cut_command_is_not_called_lost(store: Store) -> None:
    leave_mid_command(store)
    with pytest.raises(StoreError) as info:
        store.get_meta("anything")
    assert "lost the connection" not in str(info.value)
    assert "still busy with a command an interrupt cut short" in str(info.value)
