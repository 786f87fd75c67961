"""Compare a whole imported database with the simulator's truth, table by table.

Used by the end-to-end, fault and soak scenarios. Reads with plain SQL (tests may;
the package keeps its SQL in ``sonar_bdc.store``) and returns readable mismatches.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg
from psycopg import sql

from sonar_bdc.simulator import Dataset

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
    exp = ds.expected_customer(cid, layout)
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
