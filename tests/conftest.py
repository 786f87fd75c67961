"""Shared fixtures: a throwaway PostGIS database per test session, and simulators.

Tests talk to the real PostgreSQL on 127.0.0.1 (override with the usual PG*
variables or SONAR_BDC_TEST_PG_*), and to the bundled simulator over loopback HTTP.
Every test runs in a directory of its own, without the user's SONAR_*/POSTGRES_*
variables or .env files: the suite passes after `cp .env.example .env` too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Simulator
from sonar_bdc.simulator.v2 import GraphQLSimulator

ADMIN = {
    "host": os.environ.get("SONAR_BDC_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("SONAR_BDC_TEST_PG_PORT", "5432")),
    "user": os.environ.get("SONAR_BDC_TEST_PG_USER", "postgres"),
    "dbname": os.environ.get("SONAR_BDC_TEST_PG_ADMIN_DB", "postgres"),
}


USER_VARIABLES = ("SONAR_", "POSTGRES_")
TEST_VARIABLES = "SONAR_BDC_TEST_"  # this file's own settings, kept


@pytest.fixture(autouse=True)
def isolated_from_the_user(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's .env (./.env or ~/.config/sonar-bdc/.env), working
    directory or SONAR_*/POSTGRES_* variables: each starts in its own empty directory."""
    for name in list(os.environ):
        if name.startswith(USER_VARIABLES) and not name.startswith(TEST_VARIABLES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[dict]:
    """A fresh database with PostGIS, dropped at the end of the session.

    Yields psycopg connection keyword arguments (host, port, user, dbname).
    """
    name = f"sonar_bdc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = {**ADMIN, "dbname": name}
    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    try:
        yield params
    finally:
        with psycopg.connect(**ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_schema(pg_database: dict) -> Iterator[tuple[dict, str]]:
    """A unique schema name inside the session database, dropped after the test.

    Yields (connection kwargs, schema name); use prefix f"{schema}." for a Store.
    """
    schema = f"t_{uuid.uuid4().hex[:10]}"
    try:
        yield pg_database, schema
    finally:
        with psycopg.connect(**pg_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pg_conn(pg_database: dict) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the session database, for assertions."""
    with psycopg.connect(**pg_database, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def settings(pg_database: dict) -> Callable[..., Settings]:
    """``settings(sim, schema, **overrides)``: Settings for an import from ``sim`` into
    the session database, tables in ``schema`` (``prefix=`` overrides it).

    A v1 ``Simulator`` gets its user and password, a ``GraphQLSimulator`` v2 with its
    token and a rate limit it never refuses, ``None`` no Sonar at all (a filing). Quick
    retries, four workers and no log file; the overrides win.
    """

    def make(sim: Simulator | GraphQLSimulator | None, schema: str | None = None,
             **overrides: Any) -> Settings:  # fmt: skip
        values: dict[str, Any] = {
            "postgres_host": pg_database["host"],
            "postgres_port": pg_database["port"],
            "postgres_user": pg_database["user"],
            "postgres_db": pg_database["dbname"],
            "initial_backoff": 0.01,
            "log_file": None,
            "workers": 4,
        }
        if schema is not None:
            values["prefix"] = f"{schema}."
        if sim is not None:
            values.update(sonar_protocol="http", sonar_host=sim.base_url.removeprefix("http://"))
        if isinstance(sim, GraphQLSimulator):
            values.update(api="v2", sonar_token="sonar-token", rate_limit=1000.0)
        elif sim is not None:
            values.update(sonar_username="admin", sonar_password="sonar")
        return Settings(**{**values, **overrides})

    return make
