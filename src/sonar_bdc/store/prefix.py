"""The table prefix ``P``: an optional ``schema.`` then an optional table-name prefix.

``sonar.`` puts ``customers`` in schema ``sonar``; ``bdc_`` gives
``public.bdc_customers``; ``sonar.bdc_`` gives ``sonar.bdc_customers``. Anything
else is refused here, before any SQL runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from psycopg import sql

from sonar_bdc.errors import ConfigError

DEFAULT_SCHEMA = "public"
MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1
# The longest name derived from a table prefix (index names included), see ddl.py.
LONGEST_DERIVED_NAME = len("customer_inventory_item_idx")
MAX_TABLE_PREFIX = MAX_IDENTIFIER - LONGEST_DERIVED_NAME

_WORD = r"[a-z_][a-z0-9_]*"
_PREFIX_RE = re.compile(rf"(?:(?P<schema>{_WORD})\.)?(?P<table>{_WORD})?")
_EXAMPLES = "'sonar.' (schema sonar), 'bdc_' (public.bdc_*), 'sonar.bdc_' (sonar.bdc_*)"


@dataclass(frozen=True, slots=True)
class Prefix:
    """Where the tables live: ``schema`` (None means public) and a table-name prefix."""

    schema: str | None
    table_prefix: str = ""

    @property
    def schema_name(self) -> str:
        return self.schema or DEFAULT_SCHEMA

    def name(self, table: str) -> str:
        """The unqualified name of ``table``, e.g. ``bdc_customers``."""
        return f"{self.table_prefix}{table}"

    def table(self, table: str) -> sql.Identifier:
        """The schema-qualified identifier of ``table``."""
        return sql.Identifier(self.schema_name, self.name(table))

    def lock_key(self, purpose: str = "") -> int:
        """A stable signed 64-bit key for advisory locks on this prefix (one per
        ``purpose``: the import's is the empty one)."""
        name = f"sonar-bdc:{self}:{purpose}" if purpose else f"sonar-bdc:{self}"
        digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    def __str__(self) -> str:
        return f"{self.schema_name}.{self.table_prefix}"


def parse_prefix(text: str) -> Prefix:
    """Parse ``-p/--prefix``; raise ConfigError naming the problem and valid forms."""
    match = _PREFIX_RE.fullmatch(text)
    if match is None:
        raise ConfigError(_invalid(text, _reason(text)))
    schema, table = match.group("schema"), match.group("table") or ""
    if schema is not None:
        _check_schema(text, schema)
    if len(table) > MAX_TABLE_PREFIX:
        raise ConfigError(_invalid(text, f"the table prefix is over {MAX_TABLE_PREFIX} characters"))
    return Prefix(schema=schema, table_prefix=table)


def _check_schema(text: str, schema: str) -> None:
    if len(schema) > MAX_IDENTIFIER:
        raise ConfigError(_invalid(text, f"the schema name is over {MAX_IDENTIFIER} characters"))
    if schema.startswith("pg_") or schema == "information_schema":
        raise ConfigError(_invalid(text, f"schema {schema!r} is reserved by PostgreSQL"))


def _reason(text: str) -> str:
    if text != text.lower():
        return f"use lowercase ({text.lower()!r}) so the names need no quoting"
    if text.count(".") > 1:
        return "only one dot is allowed, right after the schema name"
    if text.startswith("."):
        return "a schema name must come before the dot"
    if text[:1].isdigit() or ("." in text and text.split(".", 1)[1][:1].isdigit()):
        return "a name cannot start with a digit"
    return "only lowercase letters, digits and '_' are allowed, with one optional '.'"


def _invalid(text: str, reason: str) -> str:
    return f"invalid prefix {text!r} (-p/--prefix): {reason}; examples: {_EXAMPLES}"


def lookalike_warning(prefix: Prefix, schema_exists: bool) -> str | None:
    """A warning when ``-p sonar`` (no dot) probably meant schema ``sonar.``.

    Without its dot the word is a table-name prefix in public (``public.sonarcustomers``):
    suspicious when a schema of that name exists, or when the word has no trailing ``_``.
    """
    word = prefix.table_prefix
    if prefix.schema is not None or not word or not (schema_exists or not word.endswith("_")):
        return None
    return (
        f"-p {word} has no dot, so the tables are {prefix}customers and the like"
        f"{f', not those in the existing schema {word}' if schema_exists else ''}; "
        f"did you mean -p {word}.?"
    )
