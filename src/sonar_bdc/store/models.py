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


def known_mac_fields(session: Session, since: datetime) -> dict[int, frozenset[int]]:
    cur = session.conn.execute(known_sql(session.prefix), {"since": since})
    return {model_id: frozenset(ids) for model_id, ids in cur.fetchall()}


def write_models(session: Session, models: Iterable[ModelRow], fetched_at: datetime) -> None:
    params = [(i, name, maker, sorted(ids), fetched_at) for i, name, maker, ids in models]
    if params:
        with session.conn.cursor() as cur:
            cur.executemany(upsert_sql(session.prefix), params)
    session.commit()
