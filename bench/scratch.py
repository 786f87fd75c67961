"""What the benchmarks share: a scratch PostGIS database, and a simulator import into it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import psycopg
from psycopg import sql

from sonar_bdc.importer import run_import
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Dataset, Simulator

ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


@contextmanager
def scratch_database(reuse: str | None = None, keep: bool = False) -> Iterator[dict]:
    """Connection keywords of a new database with PostGIS, dropped at the end unless
    ``keep``; ``reuse``: the name of one a ``keep`` run left (neither created nor dropped
    unless ``keep`` is off)."""
    name = reuse or f"sonar_bdc_bench_{uuid.uuid4().hex[:8]}"
    conninfo = {**ADMIN, "dbname": name}
    if reuse is None:
        with psycopg.connect(**ADMIN, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
    try:
        yield conninfo
    finally:
        if keep:
            print(f"database kept: {name} (--database {name} to reuse it)")
        else:
            with psycopg.connect(**ADMIN, autocommit=True) as admin:
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                admin.execute(drop.format(sql.Identifier(name)))


def database_settings(conninfo: dict, prefix: str) -> Settings:
    """Settings for the commands that read the database only."""
    return Settings(
        postgres_host=conninfo["host"], postgres_port=conninfo["port"],
        postgres_user=conninfo["user"], postgres_db=conninfo["dbname"],
        prefix=prefix, log_file=None,
    )  # fmt: skip


def import_simulated(conninfo: dict, dataset: Dataset, prefix: str, workers: int = 10) -> Settings:
    """Import ``dataset`` through the simulator at ``prefix`` (its time printed); the
    database settings of the import."""
    settings = database_settings(conninfo, prefix)
    started = time.perf_counter()
    with Simulator(dataset) as sim:
        sonar = replace(
            settings, workers=workers, sonar_protocol="http",
            sonar_host=sim.base_url.removeprefix("http://"),
            sonar_username="admin", sonar_password="sonar",
        )  # fmt: skip
        run_import(sonar, show_progress=False)
    print(f"import of {len(dataset.accounts)} accounts: {time.perf_counter() - started:.1f} s")
    return settings
