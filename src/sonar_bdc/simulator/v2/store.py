"""Root lists over the live dataset: fast paths, caches, and the ``change`` hook.

Rows are rebuilt lazily whenever ``Dataset.version`` moves. Unfiltered lists (sorted by
id, or unsorted) page straight off the id list and build only the rows of the page.
``id`` and parent-id equality (``addressable_id``, ``account_id``,
``inventoryitemable_id``) go through an index built from the dataset once per version;
any other filter runs once over all rows and the ids it keeps are remembered for the
following pages (the last 32 filters).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from graphql import GraphQLError, GraphQLResolveInfo

from sonar_bdc.simulator.changes import change_accounts
from sonar_bdc.simulator.model import Account, Dataset
from sonar_bdc.simulator.v2.entities import Context, Rows, Stamps, parent_id
from sonar_bdc.simulator.v2.schema import ROOTS
from sonar_bdc.simulator.v2.select import Row, filter_rows, is_filtered, page, page_args

_FILTER_CACHE = 32
Index = dict[int, list[int]]


class LazyRows(Sequence[Row]):
    """Rows by id, built only when sliced (a page of a large list)."""

    def __init__(self, ids: list[int], get: Callable[[int], Row]) -> None:
        self._ids, self._get = ids, get

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self._get(i) for i in self._ids[index]]
        return self._get(self._ids[index])

    def __iter__(self) -> Iterator[Row]:
        return (self._get(i) for i in self._ids)


class EntityStore:
    """The dataset behind a lock, its v2 rows, and the root resolvers (``root_value``)."""

    def __init__(self, dataset: Dataset, unknown_technology: bool = False) -> None:
        self.dataset = dataset
        self.lock = threading.RLock()
        self.stamps = Stamps()
        self._unknown = unknown_technology
        self._version = dataset.version
        self.rows = Rows(dataset, self.stamps, unknown_technology)
        self._ids: dict[str, list[int]] = {}
        self._indexes: dict[tuple[str, str], Index] = {}
        self._filtered: OrderedDict[str, list[int]] = OrderedDict()
        self.root_value = {name: self._resolver(t) for name, t in ROOTS.items()}

    def refresh(self) -> Rows:
        """The rows of the current dataset version (cached ones dropped if it moved)."""
        if self.dataset.version != self._version:
            self._version = self.dataset.version
            self.rows = Rows(self.dataset, self.stamps, self._unknown)
            self._ids.clear()
            self._indexes.clear()
            self._filtered.clear()
        return self.rows

    def change(self, fraction: float, seed: int) -> list[int]:
        """v1's ``change_accounts``, then bump ``updated_at`` of what it touched."""
        with self.lock:
            ds = self.dataset
            held = {a.id: list(a.item_ids) for a in ds.accounts.values()}
            changed = change_accounts(ds, fraction, seed)
            items = {i for a in changed for i in held.get(a, []) + ds.accounts[a].item_ids}
            self.stamps.bump(changed, items)
            return changed

    def _resolver(self, type_name: str) -> Callable[..., Row]:
        def resolve(info: GraphQLResolveInfo[Context], **args: Any) -> Row:
            number, size = page_args(args.get("paginator"))
            result = page(self.select(type_name, args), number, size)
            if type_name == "Account":
                _fail_accounts(result["entities"], info.context.fail_accounts)
            return result

        return resolve

    def select(self, type_name: str, args: dict[str, Any]) -> Sequence[Row]:
        """All rows of a type matching ``args``, in order (``paginator`` ignored)."""
        ascending = _by_id(args.get("sorter"))
        if not is_filtered(args) and ascending is not None:
            ids = self.ids(type_name)
            return LazyRows(ids if ascending else ids[::-1], self.get(type_name))
        narrowed = self._narrow(type_name, args)
        if narrowed is not None:
            return filter_rows(type_name, LazyRows(narrowed, self.get(type_name)), args)
        return LazyRows(self._filtered_ids(type_name, args), self.get(type_name))

    def _narrow(self, type_name: str, args: dict[str, Any]) -> list[int] | None:
        """The few ids an ``id`` or parent-id equality allows, or None (scan them all)."""
        for name in ("id", *(n for t, n in _INDEXES if t == type_name)):
            if args.get(name) is not None:
                return self._index(type_name, name).get(args[name], [])
        return None

    def _index(self, type_name: str, name: str) -> Index:
        key = (type_name, name)
        if key not in self._indexes:
            if name == "id":
                self._indexes[key] = {i: [i] for i in self.ids(type_name)}
            else:
                self._indexes[key] = _INDEXES[key](self.dataset)
        return self._indexes[key]

    def _filtered_ids(self, type_name: str, args: dict[str, Any]) -> list[int]:
        """Ids a filter keeps, in order; the last few filters are remembered."""
        criteria = {k: v for k, v in args.items() if k != "paginator"}
        key = type_name + json.dumps(criteria, sort_keys=True, default=str)
        if key not in self._filtered:
            everything = LazyRows(self.ids(type_name), self.get(type_name))
            self._filtered[key] = [r["id"] for r in filter_rows(type_name, everything, criteria)]
            while len(self._filtered) > _FILTER_CACHE:
                self._filtered.popitem(last=False)
        return self._filtered[key]

    def ids(self, type_name: str) -> list[int]:
        """Ids of all live rows of a type, ascending."""
        if type_name not in self._ids:
            self._ids[type_name] = _IDS[type_name](self.dataset)
        return self._ids[type_name]

    def get(self, type_name: str) -> Callable[[int], Row]:
        """The row getter of a type (by id)."""
        rows = self.rows
        getters: dict[str, Callable[[int], Row]] = {
            "Account": rows.account,
            "AccountStatus": rows.statuses.__getitem__,
            "AccountType": rows.types.__getitem__,
            "AccountGroup": rows.groups.__getitem__,
            "Service": rows.services.__getitem__,
            "Address": lambda i: _by_row_id(rows.children(i // 2).addresses, i),
            "AccountService": lambda i: _by_row_id(rows.children(i // 10).services, i),
            "InventoryItem": rows.item,
        }
        return getters[type_name]


def _by_id(sorter: list[dict[str, str]] | None) -> bool | None:
    """True: id ascending (or no sorter); False: id descending; None: anything else."""
    if not sorter:
        return True
    if len(sorter) == 1 and sorter[0] and sorter[0]["attribute"] == "id":
        direction = sorter[0]["direction"].upper()
        return True if direction == "ASC" else (False if direction == "DESC" else None)
    return None


def _by_row_id(rows: list[Row], row_id: int) -> Row:
    return next(r for r in rows if r["id"] == row_id)


def _fail_accounts(entities: list[Row], failing: frozenset[int]) -> None:
    if failing and any(e["id"] in failing for e in entities):
        raise GraphQLError("Internal server error")


def _live(ds: Dataset) -> Iterator[Account]:
    return (a for a in ds.accounts.values() if not a.deleted)


def _address_ids(a: Account) -> list[int]:
    return [a.id * 2, a.id * 2 + 1] if a.mailing else [a.id * 2]


def _service_ids(a: Account) -> list[int]:
    return [a.id * 10 + i for i in range(len(a.services))]


def _items_by_parent(ds: Dataset) -> Index:
    index: defaultdict[int, list[int]] = defaultdict(list)
    for item in ds.items.values():
        index[parent_id(item.assignee_type, item.assignee_id)].append(item.id)
    return dict(index)


_IDS: dict[str, Callable[[Dataset], list[int]]] = {
    "Account": lambda ds: [a.id for a in _live(ds)],
    "AccountStatus": lambda ds: sorted(ds.statuses),
    "AccountType": lambda ds: sorted(ds.types),
    "AccountGroup": lambda ds: sorted(ds.groups),
    "Service": lambda ds: sorted(ds.services),
    "Address": lambda ds: [i for a in _live(ds) for i in _address_ids(a)],
    "AccountService": lambda ds: [i for a in _live(ds) for i in _service_ids(a)],
    "InventoryItem": lambda ds: sorted(ds.items),
}
# (type, parent-id attribute) -> parent id -> child ids, ascending
_INDEXES: dict[tuple[str, str], Callable[[Dataset], Index]] = {
    ("Address", "addressable_id"): lambda ds: {a.id: _address_ids(a) for a in _live(ds)},
    ("AccountService", "account_id"): lambda ds: {a.id: _service_ids(a) for a in _live(ds)},
    ("InventoryItem", "inventoryitemable_id"): _items_by_parent,
}
