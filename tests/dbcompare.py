"""Compare a whole imported database with the simulator's truth, table by table.

Used by the end-to-end, fault and soak scenarios. Reads with plain SQL (tests may;
the package keeps its SQL in ``sonar_bdc.store``) and returns readable mismatches.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

import expected
from sonar_bdc.simulator import Dataset, Faults, Simulator
from sonar_bdc.simulator.faults import FaultInjector

REPORT_COLUMNS = (
    "name",
    "status",
    "address",
    "street2",
    "city",
    "state",
    "zip",
    "plus4",
    "country",
    "source",
    "latitude",
    "longitude",
)


def _rows(conn: psycopg.Connection, schema: str, query: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql.SQL(query).format(s=sql.Identifier(schema))).fetchall()


def snapshot(conn: psycopg.Connection, schema: str) -> dict[str, Any]:
    """Every table the importer fills, as plain Python values keyed by id."""
    cols = ", ".join(REPORT_COLUMNS)
    customers = {
        r[0]: r[1:]
        for r in _rows(
            conn,
            schema,
            f"SELECT id, {cols}, account_status_id, account_type_id, fips, deleted_at IS NOT NULL,"
            " ST_X(geom), ST_Y(geom), ST_SRID(geom) FROM {s}.customers",
        )
    }
    groups: dict[int, set[int]] = defaultdict(set)
    for cid, gid in _rows(conn, schema, "SELECT customer_id, group_id FROM {s}.customer_groups"):
        groups[cid].add(gid)
    services: dict[int, set[tuple]] = defaultdict(set)
    for r in _rows(
        conn,
        schema,
        "SELECT customer_id, service_id, name, data_service, download_kbps, upload_kbps,"
        " technology_code, technology_name, quantity FROM {s}.services",
    ):
        services[r[0]].add(r[1:])
    links: dict[int, set[int]] = defaultdict(set)
    for cid, iid in _rows(
        conn, schema, "SELECT customer_id, inventory_item_id FROM {s}.customer_inventory"
    ):
        links[cid].add(iid)
    items = {
        r[0]: r[1:]
        for r in _rows(
            conn,
            schema,
            "SELECT id, inventory_model_id, model_name, manufacturer_id, manufacturer_name,"
            " status, mac_address FROM {s}.inventory_items",
        )
    }
    return {
        "customers": customers,
        "groups": groups,
        "services": services,
        "links": links,
        "items": items,
    }


def mismatches(
    conn: psycopg.Connection,
    schema: str,
    ds: Dataset,
    layout: str = "A",
    ids: list[int] | None = None,
    *,
    inventory: bool = True,
    detail: bool = True,
) -> list[str]:
    """Differences between the database and the dataset (empty when exact)."""
    snap = snapshot(conn, schema)
    problems: list[str] = []
    wanted = ids if ids is not None else list(ds.accounts)
    extra = set(snap["customers"]) - set(ds.accounts)
    if ids is None and extra:
        problems.append(f"customers not in Sonar: {sorted(extra)[:10]}")
    for cid in wanted:
        problems += _customer_mismatches(snap, ds, cid, layout, inventory, detail)
    return problems


def _customer_mismatches(
    snap: dict, ds: Dataset, cid: int, layout: str, inventory: bool, detail: bool
) -> list[str]:
    exp = expected.customer(ds, cid, layout)
    row = snap["customers"].get(cid)
    if row is None:
        return [f"{cid}: missing"]
    out = []
    report = exp.report
    got_report = dict(zip(REPORT_COLUMNS, row[: len(REPORT_COLUMNS)], strict=True))
    for col in REPORT_COLUMNS:
        want = getattr(report, col)
        if got_report[col] != want:
            out.append(f"{cid}.{col}: {got_report[col]!r} != {want!r}")
    status_id, type_id, fips, deleted, x, y, srid = row[len(REPORT_COLUMNS) :]
    if report.latitude is None:
        if x is not None:
            out.append(f"{cid}: geom should be NULL")
    elif (x, y, srid) != (report.longitude, report.latitude, 4326):
        out.append(f"{cid}: geom {(x, y, srid)} != {(report.longitude, report.latitude, 4326)}")
    if deleted != exp.deleted:
        out.append(f"{cid}: deleted_at set={deleted}, want {exp.deleted}")
    if detail and exp.detail is not None:
        d = exp.detail
        if (status_id, type_id, fips) != (d.account_status_id, d.account_type_id, d.fips):
            out.append(
                f"{cid}: detail {(status_id, type_id, fips)} != "
                f"{(d.account_status_id, d.account_type_id, d.fips)}"
            )
        if snap["groups"].get(cid, set()) != {g.id for g in d.groups}:
            out.append(f"{cid}: groups {snap['groups'].get(cid)} != {[g.id for g in d.groups]}")
        want_services = {
            (
                s.service_id,
                s.name,
                s.data_service,
                s.download_kbps,
                s.upload_kbps,
                s.technology_code,
                s.technology_name,
                s.quantity,
            )
            for s in d.services
        }
        if snap["services"].get(cid, set()) != want_services:
            out.append(f"{cid}: services differ: {snap['services'].get(cid)} != {want_services}")
    if exp.deleted and (
        snap["groups"].get(cid) or snap["services"].get(cid) or snap["links"].get(cid)
    ):
        out.append(f"{cid}: deleted account still has children")
    if inventory and exp.inventory is not None:
        want_items = {i.id: i for i in exp.inventory.items}
        if snap["links"].get(cid, set()) != set(want_items):
            out.append(
                f"{cid}: inventory {sorted(snap['links'].get(cid, []))} != {sorted(want_items)}"
            )
        for iid, item in want_items.items():
            got = snap["items"].get(iid)
            want = (
                item.inventory_model_id,
                item.model_name,
                item.manufacturer_id,
                item.manufacturer_name,
                item.status,
                item.mac_address,
            )
            if got != want:
                out.append(f"item {iid}: {got} != {want}")
    return out


def integrity_problems(
    conn: psycopg.Connection, schema: str, stale: Iterable[int] = ()
) -> list[str]:
    """What no run, however it ended, may leave: duplicates and half-written customers.

    An item linked to two customers (unless one of them is a ``stale`` customer, a
    failed one that still holds last run's links), a link to a missing item, a
    customer never listed by a report, a point that is not the row's own
    (latitude, longitude), a point at 0,0, a deleted customer with child rows.
    """
    checks = {
        "items linked to more than one customer": "SELECT inventory_item_id FROM"
        " {s}.customer_inventory WHERE customer_id <> ALL(%(stale)s::bigint[])"
        " GROUP BY 1 HAVING count(*) > 1",
        "inventory links to unknown items": "SELECT l.inventory_item_id FROM"
        " {s}.customer_inventory l LEFT JOIN {s}.inventory_items i"
        " ON i.id = l.inventory_item_id WHERE i.id IS NULL",
        "customers never listed by a report": "SELECT id FROM {s}.customers"
        " WHERE last_seen_at IS NULL",
        "points that are not (longitude, latitude)": "SELECT id FROM {s}.customers"
        " WHERE (geom IS NULL) <> (latitude IS NULL OR longitude IS NULL)"
        " OR ST_X(geom) <> longitude OR ST_Y(geom) <> latitude OR ST_SRID(geom) <> 4326",
        "points at 0,0 or off the globe": "SELECT id FROM {s}.customers"
        " WHERE (ST_X(geom) = 0 AND ST_Y(geom) = 0) OR abs(ST_Y(geom)) > 90"
        " OR abs(ST_X(geom)) > 180",
        "deleted customers that still have children": "SELECT c.id FROM {s}.customers c"
        " WHERE c.deleted_at IS NOT NULL AND (EXISTS (SELECT 1 FROM {s}.services x"
        " WHERE x.customer_id = c.id) OR EXISTS (SELECT 1 FROM {s}.customer_groups x"
        " WHERE x.customer_id = c.id) OR EXISTS (SELECT 1 FROM {s}.customer_inventory x"
        " WHERE x.customer_id = c.id))",
    }
    params = {"stale": list(stale)}
    problems = []
    for what, query in checks.items():
        statement = sql.SQL(query).format(s=sql.Identifier(schema))
        ids = [r[0] for r in conn.execute(statement, params).fetchall()]
        if ids:
            problems.append(f"{what}: {sorted(ids)[:10]}")
    return problems


def stale_ids(conn: psycopg.Connection, schema: str, since: Any, part: str = "detail") -> set[int]:
    """Customers whose ``part`` ("detail"/"inventory") was not refreshed since ``since``."""
    column = {"detail": "updated_at", "inventory": "inventory_updated_at"}[part]
    query = sql.SQL("SELECT id FROM {}.customers WHERE {} IS NULL OR {} < %s").format(
        sql.Identifier(schema), sql.Identifier(column), sql.Identifier(column)
    )
    return {r[0] for r in conn.execute(query, [since]).fetchall()}


FAULT_KINDS = ("rate_limited", "error", "drop", "truncate", "session_expired", "account_failed")


class _CountingInjector(FaultInjector):
    """The simulator's injector, tallying every fault it decides to inject."""

    def __init__(self, faults: Faults, tally: Counter[str]) -> None:
        self.tally, self._tally_lock = tally, threading.Lock()
        super().__init__(faults)

    def _count(self, kind: str, hit: object) -> None:
        if hit:
            with self._tally_lock:
                self.tally[kind] += 1

    def rate_limited(self) -> bool:
        hit = super().rate_limited()
        self._count("rate_limited", hit)
        return hit

    def error_status(self) -> int | None:
        status = super().error_status()
        self._count("error", status is not None)
        return status

    def drop(self) -> bool:
        hit = super().drop()
        self._count("drop", hit)
        return hit

    def truncate(self) -> bool:
        hit = super().truncate()
        self._count("truncate", hit)
        return hit

    def session_expires(self) -> bool:
        hit = super().session_expires()
        self._count("session_expired", hit)
        return hit

    def account_fails(self, account_id: int) -> bool:
        hit = super().account_fails(account_id)
        self._count("account_failed", hit)
        return hit


def count_faults(sim: Simulator) -> Counter[str]:
    """Make ``sim`` tally the faults it injects from now on; returns the live tally.

    Keys are FAULT_KINDS. ``sim.faults = ...`` keeps counting into the same tally.
    The simulator has no public fault counter, so this swaps in a counting injector.
    """
    tally: Counter[str] = Counter()
    sim._state.injector = _CountingInjector(sim.faults, tally)
    return tally


def retriable_faults(tally: Counter[str]) -> int:
    """Injected faults the client must retry: 429, 5xx, dropped and truncated answers."""
    return sum(tally[k] for k in ("rate_limited", "error", "drop", "truncate", "account_failed"))
