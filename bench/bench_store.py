"""Benchmark the store's COPY-staged upsert against a plain ``executemany``.

Creates its own database (dropped at the end), generates ``--customers`` accounts
with groups, services and inventory, and writes them three ways per path:
into empty tables, as an unchanged rewrite (same rows, same timestamps), and as a
new run of the same data (new timestamps, so every row's freshness moves).

Then the floor: the rows the store path wrote, read back as binary COPY data and
COPYed into empty tables by a client that does nothing else (the GiST index built
after the customers; the detail columns set by one UPDATE from a COPYed table).
That is the least PostgreSQL must do with this schema (keys, foreign keys, indexes)
whatever the client, so executemany / floor is the most any client path can reach.

    .venv/bin/python bench/bench_store.py --customers 100000

The baseline imports psycopg directly: it is the thing being compared against.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from sonar_bdc.records import (
    CustomerDetail,
    CustomerInventory,
    Group,
    InventoryItem,
    ReportRow,
    Service,
)
from sonar_bdc.store import Store, ddl, parse_prefix

T0 = datetime(2024, 6, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Data:
    report: list[ReportRow]
    details: list[CustomerDetail]
    inventories: list[CustomerInventory]

    @property
    def child_rows(self) -> int:
        groups = sum(len(d.groups) for d in self.details)
        services = sum(len(d.services) for d in self.details)
        items = sum(len(i.items) for i in self.inventories)
        return groups + services + 2 * items  # items and their links

    @property
    def rows(self) -> int:
        return len(self.report) + self.child_rows


def generate(count: int, seed: int = 42) -> Data:
    rnd = random.Random(seed)
    report, details, inventories = [], [], []
    item_id = 1
    for cid in range(1, count + 1):
        report.append(_report_row(rnd, cid))
        details.append(_detail(rnd, cid))
        items = []
        for _ in range(rnd.randint(1, 2)):
            items.append(_item(rnd, item_id))
            item_id += 1
        inventories.append(CustomerInventory(cid, tuple(items)))
    return Data(report, details, inventories)


def _report_row(rnd: random.Random, cid: int) -> ReportRow:
    return ReportRow(
        id=cid,
        name=f"Customer {cid} O'Brien",
        status="Active",
        address=f"{rnd.randint(1, 9999)} Main St",
        street2=None if cid % 3 else f"Apt {cid % 100}",
        city="Springfield",
        state="OR",
        zip=f"{97000 + cid % 1000:05d}",
        plus4=None,
        country="US",
        source="billing",
        latitude=round(rnd.uniform(42.0, 46.0), 6),
        longitude=round(rnd.uniform(-124.0, -117.0), 6),
    )


def _detail(rnd: random.Random, cid: int) -> CustomerDetail:
    groups = tuple(Group(g) for g in rnd.sample(range(1, 21), rnd.randint(1, 3)))
    services = tuple(
        Service(
            service_id=s,
            name=f"Internet {s}",
            data_service=True,
            download_kbps=100_000,
            upload_kbps=20_000,
            technology_code=50,
            technology_name="50",
            quantity=1,
        )
        for s in rnd.sample(range(1, 41), rnd.randint(1, 2))
    )
    fips = f"41{rnd.randint(0, 10**13 - 1):013d}"
    return CustomerDetail(cid, None, 1, 2, fips, groups, services)


def _item(rnd: random.Random, item_id: int) -> InventoryItem:
    mac = ":".join(f"{rnd.randint(0, 255):02x}" for _ in range(6))
    return InventoryItem(item_id, 7, "Router X", 3, "Acme", "In use", mac)


# --- the store path -------------------------------------------------------------


def store_report(store: Store, data: Data, at: datetime) -> None:
    store.write_report(data.report, at)


def store_children(store: Store, data: Data, at: datetime) -> None:
    with store.writer() as writer:
        for detail, inventory in zip(data.details, data.inventories, strict=True):
            writer.add_detail(detail, at)
            writer.add_inventory(inventory, at)


# --- the executemany baseline ------------------------------------------------------

REPORT_COLUMNS = (
    "name, status, address, street2, city, state, zip, plus4, country, source, latitude, longitude"
)
BASELINE_SQL = {
    "customer": (
        "customers",
        f"INSERT INTO {{}} AS t (id, {REPORT_COLUMNS}, geom, last_seen_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)"
        f" ON CONFLICT (id) DO UPDATE SET ({REPORT_COLUMNS}, geom, last_seen_at) ="
        " ROW(EXCLUDED.name, EXCLUDED.status, EXCLUDED.address, EXCLUDED.street2,"
        " EXCLUDED.city, EXCLUDED.state, EXCLUDED.zip, EXCLUDED.plus4, EXCLUDED.country,"
        " EXCLUDED.source, EXCLUDED.latitude, EXCLUDED.longitude, EXCLUDED.geom,"
        " EXCLUDED.last_seen_at)"
        " WHERE (t.name, t.status, t.address, t.street2, t.city, t.state, t.zip, t.plus4,"
        " t.country, t.source, t.latitude, t.longitude, t.last_seen_at) IS DISTINCT FROM"
        " (EXCLUDED.name, EXCLUDED.status, EXCLUDED.address, EXCLUDED.street2, EXCLUDED.city,"
        " EXCLUDED.state, EXCLUDED.zip, EXCLUDED.plus4, EXCLUDED.country, EXCLUDED.source,"
        " EXCLUDED.latitude, EXCLUDED.longitude, EXCLUDED.last_seen_at)",
    ),
    "detail": (
        "customers",
        "UPDATE {} SET account_status_id = %s, account_type_id = %s, fips = %s,"
        " updated_at = %s WHERE id = %s",
    ),
    "del_groups": ("customer_groups", "DELETE FROM {} WHERE customer_id = %s"),
    "del_services": ("services", "DELETE FROM {} WHERE customer_id = %s"),
    "group": ("customer_groups", "INSERT INTO {} (customer_id, group_id) VALUES (%s, %s)"),
    "service": (
        "services",
        "INSERT INTO {} (customer_id, service_id, name, data_service, download_kbps,"
        " upload_kbps, technology_code, technology_name, quantity)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
    ),
    "inv_seen": ("customers", "UPDATE {} SET inventory_updated_at = %s WHERE id = %s"),
    "item": (
        "inventory_items",
        "INSERT INTO {} (id, inventory_model_id, model_name, manufacturer_id,"
        " manufacturer_name, status, mac_address) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET (inventory_model_id, model_name, manufacturer_id,"
        " manufacturer_name, status, mac_address) = ROW(EXCLUDED.inventory_model_id,"
        " EXCLUDED.model_name, EXCLUDED.manufacturer_id, EXCLUDED.manufacturer_name,"
        " EXCLUDED.status, EXCLUDED.mac_address)",
    ),
    "del_links": ("customer_inventory", "DELETE FROM {} WHERE customer_id = %s"),
    "link": (
        "customer_inventory",
        "INSERT INTO {} (customer_id, inventory_item_id) VALUES (%s, %s)",
    ),
}


def baseline_statements(schema: str) -> dict[str, sql.Composed]:
    return {
        key: sql.SQL(text).format(sql.Identifier(schema, table))
        for key, (table, text) in BASELINE_SQL.items()
    }


def many_report(conn: psycopg.Connection, q: dict, data: Data, at: datetime, every: int) -> None:
    """The report upsert, one parameter set per row, via executemany."""
    for start in range(0, len(data.report), every):
        chunk = data.report[start : start + every]
        with conn.cursor() as cur:
            cur.executemany(q["customer"], [_many_customer(r, at) for r in chunk])
        conn.commit()


def many_children(conn: psycopg.Connection, q: dict, data: Data, at: datetime, every: int) -> None:
    """Details and inventory: delete each customer's children, executemany the new ones."""
    for start in range(0, len(data.details), every):
        stop = start + every
        _many_children(conn, q, data.details[start:stop], data.inventories[start:stop], at)
        conn.commit()


def _many_children(
    conn: psycopg.Connection, q: dict, details: list, inventories: list, at: datetime
) -> None:
    ids = [(d.id,) for d in details]
    items = [(i.customer_id, it) for i in inventories for it in i.items]
    with conn.cursor() as cur:
        cur.executemany(
            q["detail"],
            [(d.account_status_id, d.account_type_id, d.fips, at, d.id) for d in details],
        )
        cur.executemany(q["del_groups"], ids)
        cur.executemany(q["del_services"], ids)
        cur.executemany(q["group"], [(d.id, g.id) for d in details for g in d.groups])
        cur.executemany(q["service"], [_many_service(d.id, s) for d in details for s in d.services])
        cur.executemany(q["inv_seen"], [(at, i.customer_id) for i in inventories])
        cur.executemany(q["item"], [_many_item(it) for _, it in items])
        cur.executemany(q["del_links"], ids)
        cur.executemany(q["link"], [(cid, it.id) for cid, it in items])


def _many_customer(r: ReportRow, at: datetime) -> tuple:
    lat, lon = (r.latitude, r.longitude) if _valid(r.latitude, r.longitude) else (None, None)
    fields = (r.name, r.status, r.address, r.street2, r.city, r.state, r.zip, r.plus4)
    return (r.id, *fields, r.country, r.source, lat, lon, lon, lat, at)


def _valid(lat: float | None, lon: float | None) -> bool:
    if lat is None or lon is None:
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0, 0)


def _many_service(cid: int, s: Service) -> tuple:
    return (cid, s.service_id, s.name, s.data_service, s.download_kbps, s.upload_kbps,
            s.technology_code, s.technology_name, s.quantity)  # fmt: skip


def _many_item(it: InventoryItem) -> tuple:
    return (it.id, it.inventory_model_id, it.model_name, it.manufacturer_id,
            it.manufacturer_name, it.status, it.mac_address)  # fmt: skip


# --- running and reporting ---------------------------------------------------------


def admin_params(args: argparse.Namespace) -> dict:
    return {"host": args.host, "port": args.port, "user": args.user, "dbname": "postgres"}


@contextmanager
def bench_database(admin: dict) -> Iterator[dict]:
    name = f"sonar_bdc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield {**admin, "dbname": name}
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


SCENARIOS = (
    ("empty", T0),
    ("unchanged rewrite", T0),
    ("new run, same data", T0 + timedelta(days=1)),
)
PHASES = ("report", "details+inventory")
Times = list[tuple[float, float]]  # per scenario: (report seconds, children seconds)


def run_store(conninfo: dict, data: Data, args: argparse.Namespace) -> Times:
    options = {"batch_size": args.batch_size, "commit_interval": args.commit_interval}
    with Store.connect(conninfo, parse_prefix("copy."), **options) as store:
        store.ensure_schema()
        return [
            (
                timed(lambda at=at: store_report(store, data, at)),
                timed(lambda at=at: store_children(store, data, at)),
            )
            for _, at in SCENARIOS
        ]


def run_baseline(conninfo: dict, data: Data, args: argparse.Namespace) -> Times:
    with Store.connect(conninfo, parse_prefix("many.")) as store:
        store.ensure_schema()
    q, every = baseline_statements("many"), args.commit_interval
    with psycopg.connect(**conninfo) as conn:
        return [
            (
                timed(lambda at=at: many_report(conn, q, data, at, every)),
                timed(lambda at=at: many_children(conn, q, data, at, every)),
            )
            for _, at in SCENARIOS
        ]


CHUNK = 1 << 20
FLOOR_CHILDREN = ("customer_groups", "services", "inventory_items", "customer_inventory")
REPORT_PART = ("id", *REPORT_COLUMNS.split(", "), "geom", "last_seen_at")
DETAIL_PART = ("id", "account_status_id", "account_type_id", "fips", "updated_at",
               "inventory_updated_at")  # fmt: skip


def run_floor(conninfo: dict) -> tuple[float, float]:
    """(report, children) seconds for the server alone to write what the store path
    wrote: its tables, read back in COPY's binary form, COPYed into a fresh schema."""
    with Store.connect(conninfo, parse_prefix("floor.")) as store:
        store.ensure_schema()
    with psycopg.connect(**conninfo) as conn:
        dump = {
            "report": _copy_out(conn, "customers", REPORT_PART),
            "detail": _copy_out(conn, "customers", DETAIL_PART),
            **{table: _copy_out(conn, table, None) for table in FLOOR_CHILDREN},
        }
        conn.execute("CREATE TEMP TABLE floor_detail AS SELECT * FROM copy.customers LIMIT 0")
        conn.commit()
        return timed(lambda: _floor_report(conn, dump)), timed(lambda: _floor_children(conn, dump))


def _copy_out(conn: psycopg.Connection, table: str, columns: tuple[str, ...] | None) -> bytes:
    chosen = sql.SQL("*") if columns is None else sql.SQL(", ").join(map(sql.Identifier, columns))
    query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT BINARY)").format(
        chosen, sql.Identifier("copy", table)
    )
    with conn.cursor() as cur, cur.copy(query) as copy:
        data = b"".join(bytes(chunk) for chunk in copy)
    conn.commit()
    return data


def _copy_in(conn: psycopg.Connection, target: sql.Composable, data: bytes) -> None:
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
        target
    )) as copy:  # fmt: skip
        for start in range(0, len(data), CHUNK):
            copy.write(data[start : start + CHUNK])


def _columns(table: sql.Identifier, columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("{} ({})").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))


def _floor_report(conn: psycopg.Connection, dump: dict[str, bytes]) -> None:
    prefix = parse_prefix("floor.")
    conn.execute(ddl.drop_geom_index_sql(prefix))
    _copy_in(conn, _columns(sql.Identifier("floor", "customers"), REPORT_PART), dump["report"])
    conn.execute(ddl.geom_index_sql(prefix))
    conn.commit()


def _floor_children(conn: psycopg.Connection, dump: dict[str, bytes]) -> None:
    _copy_in(conn, _columns(sql.Identifier("floor_detail"), DETAIL_PART), dump["detail"])
    assign = sql.SQL(", ").join(
        sql.SQL("{c} = s.{c}").format(c=sql.Identifier(column)) for column in DETAIL_PART[1:]
    )
    conn.execute(
        sql.SQL("UPDATE floor.customers t SET {} FROM floor_detail s WHERE s.id = t.id").format(
            assign
        )
    )
    for table in FLOOR_CHILDREN:
        _copy_in(conn, sql.Identifier("floor", table), dump[table])
    conn.commit()


def print_table(data: Data, store_times: Times, many_times: Times) -> None:
    customers = len(data.report)
    print(f"{customers} customers; details+inventory also write {data.child_rows} child rows")
    columns = ("scenario", "phase", "path", "seconds", "customers/s", "rows/s", "vs many")
    line = "{:<19} {:<18} {:<12} {:>8} {:>12} {:>10} {:>8}"
    print(line.format(*columns))
    print("-" * len(line.format(*columns)))
    for (scenario, _), copy_t, many_t in zip(SCENARIOS, store_times, many_times, strict=True):
        for phase, copy_s, many_s in zip(PHASES, copy_t, many_t, strict=True):
            rows = customers if phase == "report" else customers + data.child_rows
            for path, seconds in (("copy+upsert", copy_s), ("executemany", many_s)):
                ratio = f"{many_s / copy_s:.1f}x" if path == "copy+upsert" else ""
                rate, row_rate = f"{customers / seconds:,.0f}", f"{rows / seconds:,.0f}"
                print(line.format(scenario, phase, path, f"{seconds:.2f}", rate, row_rate, ratio))


def print_floor(store_times: Times, many_times: Times, floor: tuple[float, float]) -> None:
    print("\ninto empty tables, the server alone (the same rows as ready-made binary COPY data):")
    for phase, copy_s, many_s, floor_s in zip(
        PHASES, store_times[0], many_times[0], floor, strict=True
    ):
        print(
            f"  {phase:<18} floor {floor_s:.2f} s: at most {many_s / floor_s:.1f}x executemany"
            f" for any client; copy+upsert is {copy_s / floor_s:.2f}x the floor"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("-b", "--batch-size", type=int, default=5000)
    parser.add_argument("-c", "--commit-interval", type=int, default=50_000)
    parser.add_argument("--host", default=os.environ.get("PGHOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    parser.add_argument("--user", default=os.environ.get("PGUSER", "postgres"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = generate(args.customers)
    gc.freeze()  # the generated records are not garbage: keep collections from rescanning them
    print(f"batch size {args.batch_size}, commit interval {args.commit_interval}")
    with bench_database(admin_params(args)) as conninfo:
        store_times = run_store(conninfo, data, args)
        floor = run_floor(conninfo)  # before executemany's WAL brings a checkpoint
        many_times = run_baseline(conninfo, data, args)
    print_table(data, store_times, many_times)
    print_floor(store_times, many_times, floor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
