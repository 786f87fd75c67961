"""The demo's claim on a prefix: simulated customers go only where no real data is.

``sonar-bdc demo`` imports a simulated Sonar. It marks the prefix it fills with the
metadata key ``demo_dataset`` and refuses a prefix holding customers or an import
record without that mark, so a real import's tables are never written by the demo.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from sonar_bdc.errors import ConfigError
from sonar_bdc.settings import DEMO_PREFIX
from sonar_bdc.store import migrate, queries
from sonar_bdc.store.db import ConnInfo, connect, scalar, table_exists, translated
from sonar_bdc.store.prefix import Prefix

DEMO_MARK = "demo_dataset"
# An import records each part it finished as "<part>_imported_at" (importer.run.META_*).
_IMPORT_RECORD = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE key LIKE %s)")
_IMPORT_KEYS = "%\\_imported\\_at"
_ANY_ROW = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})")


def claim_for_demo(conninfo: ConnInfo, prefix: Prefix, dataset: str, dry_run: bool = False) -> None:
    """Refuse ``prefix`` if it holds data the demo did not create; else mark it the demo's.

    ``dataset`` describes what the demo imports (accounts, seed); a dry run only checks.
    """
    conn = connect(conninfo, "sonar-bdc demo")
    try:
        with translated(f"checking {prefix} for the demo"):
            what = foreign_data(conn, prefix)
            if what is not None:
                raise ConfigError(
                    f"prefix {prefix} holds {what} the demo did not create; the demo never "
                    f"writes over it: choose another -p (the demo's own default is {DEMO_PREFIX})"
                )
            if not dry_run:
                migrate.ensure_schema(conn, prefix)
                conn.execute(queries.set_meta_sql(prefix), [DEMO_MARK, dataset])
                conn.commit()
    finally:
        conn.close()


def foreign_data(conn: psycopg.Connection, prefix: Prefix) -> str | None:
    """What at ``prefix`` is not the demo's ("customers", "an import record"), or None."""
    if table_exists(conn, prefix, "metadata"):
        if scalar(conn, queries.get_meta_sql(prefix), [DEMO_MARK]) is not None:
            return None
        if scalar(conn, _IMPORT_RECORD.format(prefix.table("metadata")), [_IMPORT_KEYS]):
            return "an import record"
    if table_exists(conn, prefix, "customers") and scalar(
        conn, _ANY_ROW.format(prefix.table("customers"))
    ):
        return "customers"
    return None
