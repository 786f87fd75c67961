"""Temporary staging tables and the binary COPY that fills them.

A staging table lives in ``pg_temp`` for the session; each batch empties it,
copies the batch in, and an upsert (``upserts.py``) moves it to the real table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from sonar_bdc.errors import StoreError
from sonar_bdc.store.rendered import once
from sonar_bdc.store.rows import Row


@dataclass(frozen=True, slots=True)
class Stage:
    """A staging table: its name and (column, PostgreSQL type) pairs in tuple order.

    Integers stage as int8 whatever the target type: binary COPY does not range-check
    int4 (psycopg wraps 2**40 to 0), while the INSERT's cast from int8 does.
    """

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier("pg_temp", self.name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.columns)

    @property
    def types(self) -> list[str]:
        return [pg_type for _, pg_type in self.columns]


REPORT = Stage(
    "sonar_bdc_stage_report",
    (
        ("id", "int8"),
        *((column, "text") for column in ("name", "status", "address", "street2", "city")),
        *((column, "text") for column in ("state", "zip", "plus4", "country", "source")),
        ("latitude", "float8"),
        ("longitude", "float8"),
    ),
)
CUSTOMERS = Stage(
    "sonar_bdc_stage_customers",
    (
        ("id", "int8"),
        ("name", "text"),
        ("account_status_id", "int8"),
        ("account_type_id", "int8"),
        ("fips", "text"),
        ("census_year", "int2"),
        ("updated_at", "timestamptz"),
        ("inventory_updated_at", "timestamptz"),
        ("deleted_at", "timestamptz"),
    ),
)
GROUP_LINKS = Stage("sonar_bdc_stage_group_links", (("customer_id", "int8"), ("group_id", "int8")))
SERVICES = Stage(
    "sonar_bdc_stage_services",
    (
        ("customer_id", "int8"),
        ("service_id", "int8"),
        ("name", "text"),
        ("data_service", "bool"),
        ("download_kbps", "int8"),
        ("upload_kbps", "int8"),
        ("technology_code", "int8"),
        ("technology_name", "text"),
        ("quantity", "int8"),
    ),
)
ITEMS = Stage(
    "sonar_bdc_stage_items",
    (
        ("id", "int8"),
        ("inventory_model_id", "int8"),
        ("model_name", "text"),
        ("manufacturer_id", "int8"),
        ("manufacturer_name", "text"),
        ("status", "text"),
        ("mac_address", "text"),
    ),
)
ITEM_LINKS = Stage(
    "sonar_bdc_stage_item_links", (("customer_id", "int8"), ("inventory_item_id", "int8"))
)
# Inventory listed in bulk for the whole run (not emptied per batch): see listing.py.
LISTING = Stage("sonar_bdc_stage_listing", (("customer_id", "int8"), *ITEMS.columns))
GROUPS = Stage("sonar_bdc_stage_groups", (("id", "int8"), ("name", "text")))
STATUSES = Stage("sonar_bdc_stage_statuses", (("id", "int8"), ("name", "text"), ("active", "bool")))
TYPES = Stage("sonar_bdc_stage_types", (("id", "int8"), ("name", "text"), ("type", "text")))

ALL_STAGES = (
    REPORT,
    CUSTOMERS,
    GROUP_LINKS,
    SERVICES,
    ITEMS,
    ITEM_LINKS,
    LISTING,
    GROUPS,
    STATUSES,
    TYPES,
)


@once
def create_sql(stage: Stage) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(pg_type))
        for column, pg_type in stage.columns
    )
    return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({})").format(
        sql.Identifier(stage.name), columns
    )


@once
def truncate_sql(stages: tuple[Stage, ...]) -> sql.Composed:
    return sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(stage.table for stage in stages))


@once
def copy_sql(stage: Stage) -> sql.Composed:
    columns = sql.SQL(", ").join(map(sql.Identifier, stage.column_names))
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage.table, columns)


class Staging:
    """Creates the staging tables once per transaction history, empties and fills them."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.ready = False

    def reset(self) -> None:
        """After a rollback the tables may be gone: recreate them on next use."""
        self.ready = False

    def clear(self, stages: tuple[Stage, ...] = ALL_STAGES) -> None:
        if not self.ready:
            for stage in ALL_STAGES:
                self.conn.execute(create_sql(stage))
            self.ready = True
        self.conn.execute(truncate_sql(stages))

    def copy(self, stage: Stage, rows: Iterable[Row]) -> None:
        """COPY ``rows`` in; an iterator is written as it yields, in one COPY."""
        if isinstance(rows, Sequence) and not rows:
            return
        try:
            with self.conn.cursor() as cur, cur.copy(copy_sql(stage)) as copy:
                copy.set_types(stage.types)
                for row in rows:
                    copy.write_row(row)
        except (OverflowError, TypeError, ValueError) as exc:
            raise StoreError(f"a value does not fit {stage.name}: {exc}") from exc
