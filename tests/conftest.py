"""Shared fixtures: a throwaway PostGIS database per test session, and simulators.

Tests talk to the real PostgreSQL on 127.0.0.1 (override with the usual PG*
variables or SONAR_BDC_TEST_PG_*), and to the bundled simulator over loopback HTTP.
Every test runs in a directory of its own, without the user's SONAR_*/POSTGRES_*
variables or .env files: the suite passes after `cp .env.example .env` too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

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
