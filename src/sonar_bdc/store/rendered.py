"""Statements built once per argument set and kept as their final text.

The writer runs the same few statements for every batch. Composing them with
``psycopg.sql`` and quoting every identifier again each time cost more CPU than
sending them (about 1 ms a batch), on the thread every fetched customer waits for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import ParamSpec

from psycopg import sql

P = ParamSpec("P")


def once(build: Callable[P, sql.Composable]) -> Callable[P, sql.SQL]:
    """Cache ``build``'s statement, rendered, by its (hashable) arguments.

    Only for statements whose identifiers are validated names (``Prefix``, staging
    tables): their quoting does not depend on the connection.
    """

    @functools.cache
    def cached(*args: Hashable) -> sql.SQL:
        return sql.SQL(build(*args).as_string())  # type: ignore[arg-type]

    return functools.wraps(build)(cached)  # type: ignore[return-value]
