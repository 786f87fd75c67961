"""Filters, sorting and paging over rows (plain dicts keyed by GraphQL field names).

* Equality arguments AND together; ``search`` objects OR together, each ANDing its
  criteria (contract §4). Unknown attributes are GraphQL errors.
* ``sorter`` applies left to right (``direction`` is the string ``ASC`` or ``DESC``);
  nulls sort last ascending. Without a sorter rows keep id order.
* Root lists: ``paginator`` pages are 1-based, 100 rows by default, at most 10 000;
  a page past the end has no entities; ``total_pages`` is 0 for an empty list.
* Nested lists come whole (``page_info``: page 1, records_per_page = max(total, 1)),
  unless the query passes a ``paginator`` or the simulator has a ``nested_limit``, which
  cuts them to N entities while ``total_count`` stays the true count.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphql import GraphQLError

from sonar_bdc.simulator.v2.schema import CONTROL_ARGS, attributes

Row = dict[str, Any]
Test = Callable[[Row], bool]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": operator.eq,
    "NEQ": operator.ne,
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}
_COMPARED = ("integer_fields", "float_fields", "date_fields", "datetime_fields")


def nested(type_name: str, rows: list[Row], args: dict[str, Any], limit: int | None) -> Row:
    """A nested connection: filtered and sorted, then whole, paged, or cut to ``limit``."""
    kept = filter_rows(type_name, rows, args)
    paginator = args.get("paginator")
    if paginator is not None:
        return page(kept, *page_args(paginator))
    return page(kept, 1, limit) if limit else whole(kept)


def page_args(paginator: dict[str, int] | None) -> tuple[int, int]:
    """(page, records_per_page) from a ``Paginator`` input (None: page 1 of 100)."""
    if paginator is None:
        return 1, DEFAULT_PAGE_SIZE
    number, size = paginator["page"], paginator["records_per_page"]
    if number < 1 or size < 1:
        raise GraphQLError("paginator page and records_per_page must be 1 or more")
    return number, min(size, MAX_PAGE_SIZE)


def page(rows: Sequence[Row], number: int, size: int) -> Row:
    """One page of a connection: ``{entities, page_info}``."""
    total = len(rows)
    start = (number - 1) * size
    entities = list(rows[start : start + size]) if start < total else []
    info = {
        "page": number,
        "records_per_page": size,
        "total_count": total,
        "total_pages": math.ceil(total / size),
    }
    return {"entities": entities, "page_info": info}


def whole(rows: list[Row]) -> Row:
    """A nested connection returned whole."""
    return page(rows, 1, max(len(rows), 1))


def is_filtered(args: dict[str, Any]) -> bool:
    """True when ``args`` hold an equality filter or a non-empty search."""
    return bool(args.get("search")) or any(k not in CONTROL_ARGS for k in args)


def filter_rows(type_name: str, rows: Iterable[Row], args: dict[str, Any]) -> list[Row]:
    """Rows matching the equality arguments and ``search``, sorted by ``sorter``."""
    tests = tests_for(type_name, args)
    kept = [r for r in rows if all(t(r) for t in tests)] if tests else list(rows)
    return sort_rows(type_name, kept, args.get("sorter"))


def tests_for(type_name: str, args: dict[str, Any]) -> list[Test]:
    """One test per equality argument, plus one for the ORed ``search`` objects."""
    tests: list[Test] = [_equals(k, v) for k, v in args.items() if k not in CONTROL_ARGS]
    groups = [_search(type_name, s) for s in args.get("search") or [] if s]
    if groups:
        tests.append(lambda row: any(all(t(row) for t in group) for group in groups))
    return tests


def _equals(name: str, value: Any) -> Test:
    return lambda row: row[name] == value


def _check(type_name: str, name: str) -> str:
    if name not in attributes(type_name):
        msg = f"Unknown attribute '{name}' on {type_name}; use one of its scalar fields"
        raise GraphQLError(msg)
    return name


def _search(type_name: str, search: dict[str, Any]) -> list[Test]:
    tests: list[Test] = []
    for kind in _COMPARED:
        for c in search.get(kind) or []:
            name = _check(type_name, c["attribute"])
            tests.append(_compare(name, _OPS[c["operator"]], c["search_value"]))
    for c in search.get("string_fields") or []:
        tests.append(_string(_check(type_name, c["attribute"]), c))
    for c in search.get("boolean_fields") or []:
        tests.append(_equals(_check(type_name, c["attribute"]), c["search_value"]))
    for name in search.get("unset_fields") or []:
        tests.append(_is_set(_check(type_name, name), False))
    for name in search.get("exists") or []:
        tests.append(_is_set(_check(type_name, name), True))
    return tests


def _compare(name: str, op: Callable[[Any, Any], bool], value: Any) -> Test:
    def test(row: Row) -> bool:
        have = row[name]
        try:
            return have is not None and op(have, value)
        except TypeError:
            raise GraphQLError(f"Attribute '{name}' cannot be compared with {value!r}") from None

    return test


def _string(name: str, c: dict[str, Any]) -> Test:
    wanted = str(c["search_value"])
    partial, match = bool(c.get("partial_matching")), c.get("match", True) is not False

    def test(row: Row) -> bool:
        have = row[name]
        if have is None:
            return not match
        hit = wanted.lower() in str(have).lower() if partial else str(have) == wanted
        return hit == match

    return test


def _is_set(name: str, present: bool) -> Test:
    return lambda row: (row[name] is not None) == present


def sort_rows(type_name: str, rows: list[Row], sorter: list[dict[str, str]] | None) -> list[Row]:
    """Sort by each ``Sorter`` in turn (the first one decides first)."""
    for s in reversed([s for s in sorter or [] if s]):
        name, direction = _check(type_name, s["attribute"]), s["direction"].upper()
        if direction not in ("ASC", "DESC"):
            raise GraphQLError(f"Sorter direction must be 'ASC' or 'DESC', got {s['direction']!r}")
        present = [r for r in rows if r[name] is not None]
        missing = [r for r in rows if r[name] is None]
        present.sort(key=operator.itemgetter(name), reverse=direction == "DESC")
        rows = present + missing
    return rows
