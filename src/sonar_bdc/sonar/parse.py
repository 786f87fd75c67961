"""Sonar JSON -> records: the helpers both API versions parse with.

Pure functions, no HTTP. An object without a usable id is skipped (and logged):
a record needs its key, and one odd object must not stop the run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ..records import Group
from .values import parse_int, parse_text

log = logging.getLogger(__name__)
R = TypeVar("R")
_FIPS = re.compile(r"\d{15}")


def objects(value: Any) -> list[dict[str, Any]]:
    """The dicts of a JSON list; anything else is no objects."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse_all(
    items: Iterable[Any], build: Callable[[dict[str, Any]], R | None], what: str
) -> list[R]:
    """``build`` applied to every object; objects it refuses (None) are counted and logged."""
    records, skipped = [], 0
    for item in items:
        record = build(item) if isinstance(item, dict) else None
        if record is None:
            skipped += 1
        else:
            records.append(record)
    if skipped:
        log.warning("skipped %d %s without a usable id", skipped, what)
    return records


def parse_group(raw: dict[str, Any]) -> Group | None:
    group_id = parse_int(raw.get("id"))
    return None if group_id is None else Group(group_id, parse_text(raw.get("name")))


def parse_fips(value: Any) -> str | None:
    """A 15-digit census block code, or None (a shorter number lost its leading zero)."""
    text = parse_text(value)
    return text if text is not None and _FIPS.fullmatch(text) else None
