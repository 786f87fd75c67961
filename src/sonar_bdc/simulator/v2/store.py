"""Root lists over the live dataset: cached rows, fast paths, and the ``change`` hook.

Rows are rebuilt lazily whenever ``Dataset.version`` moves. Unfiltered lists (sorted by
id, or unsorted) page straight off the id list and build only the rows of the page;
``id``/parent-id equality reads one account's rows; any other filter runs once over
all rows and its result is kept for the following pages (the last 32 filters).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from graphql import GraphQLError, GraphQLResolveInfo

from sonar_bdc.simulator.changes import change_accounts
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.simulator.v2.entities import Rows, Stamps
from sonar_bdc.simulator.v2.schema import ROOTS
from sonar_bdc.simulator.v2.select import Row, filter_rows, is_filtered, page, page_args

_FILTER_CACHE = 32
# type -> (parent argument, account id of a parent value); None: not an account's child
_PARENTS: dict[str, tuple[str, Callable[[int], int]]] = {
    "Address": ("addressable_id", lambda v: v),
    "AccountService": ("account_id", lambda v: v),
}


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


class Store:
    """The dataset behind a lock, its v2 rows, and the root resolvers (``root_value``)."""

    def __init__(self, dataset: Dataset, unknown_technology: bool = False) -> None:
        self.dataset = dataset
        self.lock = threading.RLock()
        self.stamps = Stamps()
        self._unknown = unknown_technology
        self._version = -1
        self._rows = Rows(dataset, self.stamps, unknown_technology)
        self._ids: dict[str, list[int]] = {}
        self._id_sets: dict[str, set[int]] = {}
        self._filtered: OrderedDict[str, list[Row]] = OrderedDict()
        self.root_value = {name: self._resolver(t) for name, t in ROOTS.items()}

    def refresh(self) -> None:
        """Drop every cached row if the dataset changed since the last call."""
        if self.dataset.version != self._version:
            self._version = self.dataset.version
            self._rows = Rows(self.dataset, self.stamps, self._unknown)
            self._ids.clear()
            self._id_sets.clear()
            self._filtered.clear()

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
        def resolve(info: GraphQLResolveInfo, **args: Any) -> Row:
            number, size = page_args(args.get("paginator"))
            result = page(self.select(type_name, args), number, size)
            if type_name == "Account":
                _fail_accounts(result["entities"], info.context.fail_accounts)
            return result

        return resolve

    def select(self, type_name: str, args: dict[str, Any]) -> Sequence[Row]:
        """All rows of a type matching ``args``, in order (paginator ignored)."""
        ascending = _by_id(args.get("sorter"))
        if not is_filtered(args) and ascending is not None:
            ids = self.ids(type_name)
            return LazyRows(ids if ascending else ids[::-1], self.get(type_name))
        narrowed = self._narrow(type_name, args)
        if narrowed is not None:
            return filter_rows(type_name, narrowed, args)
        key = type_name + json.dumps(args, sort_keys=True, default=str)
        if key not in self._filtered:
            everything = LazyRows(self.ids(type_name), self.get(type_name))
            self._filtered[key] = filter_rows(type_name, everything, args)
            while len(self._filtered) > _FILTER_CACHE:
                self._filtered.popitem(last=False)
        return self._filtered[key]

    def _narrow(self, type_name: str, args: dict[str, Any]) -> list[Row] | None:
        """The few rows an ``id`` or parent-id equality allows, or None (scan them all)."""
        if args.get("id") is not None:
            wanted = args["id"]
            return [self.get(type_name)(wanted)] if wanted in self._id_set(type_name) else []
        parent = _PARENTS.get(type_name)
        if parent is None or args.get(parent[0]) is None:
            return None
        account = self.dataset.accounts.get(parent[1](args[parent[0]]))
        if account is None or account.deleted:
            return []
        children = self._rows.children(account.id)
        return children.addresses if type_name == "Address" else children.services

    def _id_set(self, type_name: str) -> set[int]:
        if type_name not in self._id_sets:
            self._id_sets[type_name] = set(self.ids(type_name))
        return self._id_sets[type_name]

    def ids(self, type_name: str) -> list[int]:
        """Ids of all live rows of a type, ascending."""
        if type_name not in self._ids:
            self._ids[type_name] = _IDS[type_name](self.dataset)
        return self._ids[type_name]

    def get(self, type_name: str) -> Callable[[int], Row]:
        """The row getter of a type (by id)."""
        rows = self._rows
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


def _live(ds: Dataset) -> Iterator[Any]:
    return (a for a in ds.accounts.values() if not a.deleted)


_IDS: dict[str, Callable[[Dataset], list[int]]] = {
    "Account": lambda ds: [a.id for a in _live(ds)],
    "AccountStatus": lambda ds: sorted(ds.statuses),
    "AccountType": lambda ds: sorted(ds.types),
    "AccountGroup": lambda ds: sorted(ds.groups),
    "Service": lambda ds: sorted(ds.services),
    "Address": lambda ds: [
        i for a in _live(ds) for i in (a.id * 2, a.id * 2 + 1) if i % 2 == 0 or a.mailing
    ],
    "AccountService": lambda ds: [a.id * 10 + i for a in _live(ds) for i in range(len(a.services))],
    "InventoryItem": lambda ds: sorted(ds.items),
}
