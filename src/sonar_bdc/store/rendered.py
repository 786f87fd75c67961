"""Statements built once per argument set and kept as their final text.

The writer runs the same few statements for every batch. Composing them with
``psycopg.sql`` and quoting every identifier again each time cost more CPU than
sending them (about 1 ms a batch), on the thread every fetched customer waits for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import ParamSpec, cast

from psycopg import sql

P = ParamSpec("P")


def once(build: Callable[P, sql.Composable]) -> Callable[P, sql.SQL]:
    """Cache ``build``'s statement, rendered, by its (hashable) arguments.

    Only for statements whose identifiers are validated names (``Prefix``, staging
    tables): their quoting does not depend on the connection.
    """

    # The cache takes P's arguments as hashables and passes them on as they came: the
    # casts say so, as a ParamSpec cannot be made Hashable.
    render = cast("Callable[..., sql.Composable]", build)

    @functools.cache
    def cached(*args: Hashable) -> sql.SQL:
        return sql.SQL(render(*args).as_string())

    return cast("Callable[P, sql.SQL]", functools.wraps(build)(cached))
