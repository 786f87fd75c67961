"""The inventory models table: each model's MAC field ids, and when they were fetched."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from psycopg import sql

from sonar_bdc.store.prefix import Prefix
from sonar_bdc.store.session import Session

# (model id, name, manufacturer id, MAC field ids)
ModelRow = tuple[int, str | None, int | None, frozenset[int]]


def known_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: since (the oldest fetch still trusted)."""
    return sql.SQL("SELECT id, mac_field_ids FROM {} WHERE fields_fetched_at >= %(since)s").format(
        prefix.table("inventory_models")
    )


def upsert_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: id, name, manufacturer id, MAC field ids, fetched at."""
    return sql.SQL(
        "INSERT INTO {} (id, name, manufacturer_id, mac_field_ids, fields_fetched_at)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
        " manufacturer_id = EXCLUDED.manufacturer_id, mac_field_ids = EXCLUDED.mac_field_ids,"
        " fields_fetched_at = EXCLUDED.fields_fetched_at"
    ).format(prefix.table("inventory_models"))


def inventory_likely_stale_sql(prefix: Prefix) -> sql.Composed:
    """Parameters: cutoff. No customers yet, or one the last report listed whose
    inventory is older than ``cutoff`` or was never fetched (as ``stale_ids_sql``)."""
    return sql.SQL(
        "WITH last AS (SELECT max(last_seen_at) AS seen FROM {c})"
        " SELECT (SELECT seen FROM last) IS NULL OR EXISTS (SELECT 1 FROM {c} cur, last"
        " WHERE cur.last_seen_at = last.seen"
        " AND (cur.inventory_updated_at IS NULL OR cur.inventory_updated_at < %(cutoff)s)"
        " AND (cur.deleted_at IS NULL OR cur.deleted_at < %(cutoff)s))"
    ).format(c=prefix.table("customers"))


def inventory_likely_stale(session: Session, cutoff: datetime) -> bool:
    row = session.conn.execute(inventory_likely_stale_sql(session.prefix), {"cutoff": cutoff})
    found = row.fetchone()
    return found is not None and bool(found[0])


def known_mac_fields(session: Session, since: datetime) -> dict[int, frozenset[int]]:
    cur = session.conn.execute(known_sql(session.prefix), {"since": since})
    return {model_id: frozenset(ids) for model_id, ids in cur.fetchall()}


def write_models(session: Session, models: Iterable[ModelRow], fetched_at: datetime) -> None:
    params = [(i, name, maker, sorted(ids), fetched_at) for i, name, maker, ids in models]
    if params:
        with session.conn.cursor() as cur:
            cur.executemany(upsert_sql(session.prefix), params)
    session.commit()
