"""Completing nested lists the server cut short (contract §3).

Each nested connection carries ``page_info { total_count }``. When it holds fewer
entities than that, the whole list is fetched again, page by page: from the root
field by the parent's id where one exists (addresses, account services, items),
else through the parent with a paginator on the nested list (groups, field data).
Completed entities are checked in turn, so a completed address's items are too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..values import parse_bool
from . import queries
from .paging import iter_pages, paginator, walk
from .parse import Raw, entities, is_cut

Fetch = Callable[[str, dict[str, Any], str], dict[str, Any]]  # (document, variables, what)
Keep = Callable[[Raw], bool]


def _typed(field: str, value: str) -> Keep:
    """Rows whose polymorphic owner type (String or enum, any case) is ``value``."""
    return lambda row: str(row.get(field) or value).casefold() == value.casefold()


def _serviceable_account(row: Raw) -> bool:
    return _typed("addressable_type", "Account")(row) and parse_bool(row.get("serviceable")) is True


@dataclass(frozen=True)
class Source:
    """Where the whole of one kind of nested list comes from."""

    what: str
    document: str
    path: tuple[str, ...]
    keep: Keep = lambda row: True


GROUPS = Source("groups", queries.GROUPS_OF_ACCOUNT, ("accounts", "account_groups"))
SERVICES = Source("account services", queries.SERVICES_OF_ACCOUNT, ("account_services",))
ADDRESSES = {
    True: Source("addresses", queries.ADDRESSES_OF_ACCOUNT[True], ("addresses",),
                 _typed("addressable_type", "Account")),
    False: Source("addresses", queries.ADDRESSES_OF_ACCOUNT[False], ("addresses",),
                  _serviceable_account),
}  # fmt: skip
ITEMS = Source("inventory items", queries.ITEMS_AT_ADDRESS, ("inventory_items",),
               _typed("inventoryitemable_type", "Address"))  # fmt: skip
FIELD_DATA = Source(
    "item fields", queries.FIELD_DATA_OF_ITEM, ("inventory_items", "inventory_model_field_data")
)


class Completer:
    """Fills cut-short lists of raw accounts in place; counts the lists it completed."""

    def __init__(self, fetch: Fetch, page_size: int, full: bool) -> None:
        self._fetch, self._size, self._full = fetch, page_size, full
        self.completed = 0

    def account(self, raw: Raw) -> None:
        account_id = raw.get("id")
        self._fill(raw, "addresses", ADDRESSES[self._full], account_id)
        if not self._full:
            return
        self._fill(raw, "account_groups", GROUPS, account_id)
        self._fill(raw, "account_services", SERVICES, account_id)
        for address in entities(raw.get("addresses")):
            self._fill(address, "inventory_items", ITEMS, address.get("id"))
            for item in entities(address.get("inventory_items")):
                self._fill(item, "inventory_model_field_data", FIELD_DATA, item.get("id"))

    def _fill(self, parent: Raw, key: str, source: Source, parent_id: Any) -> None:
        if parent_id is None or not is_cut(parent.get(key)):
            return
        rows = [row for page in self._pages(source, parent_id) for row in page]
        kept = [row for row in rows if source.keep(row)]
        parent[key] = {"entities": kept, "page_info": {"total_count": len(kept)}}
        self.completed += 1

    def _pages(self, source: Source, parent_id: Any) -> Any:
        what = f"{source.what} of {parent_id}"

        def fetch_page(page: int) -> Any:
            variables = {"id": parent_id, "p": paginator(page, self._size)}
            return walk(self._fetch(source.document, variables, f"{what}, page {page}"),
                        source.path)  # fmt: skip

        return iter_pages(fetch_page, what)
