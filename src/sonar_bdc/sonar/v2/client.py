"""GraphQLClient: the facade the v2 import uses. Each request is retried as one unit.

Layers, each wrapping the one below: transport (one POST) -> retry policy and the
shared rate limiter -> pagination and completion of cut-short nested lists ->
parsing into records. Account pages are fetched ``workers`` at a time and handed
out in page order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...concurrency import in_order
from ...errors import SonarDataError
from ...records import Catalogs
from ..base import ClientBase
from ..parse import parse_all, parse_group
from . import queries
from .complete import Completer
from .config import GraphQLConfig
from .paging import iter_pages, paginator, total_pages
from .parse import (
    Raw,
    V2Account,
    entities,
    parse_account,
    parse_status,
    parse_type,
    total_count,
)
from .technology import TechnologyTable
from .transport import GraphQLErrors, GraphQLTransport

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
CATALOG_ROOTS = ("account_groups", "account_statuses", "account_types")
SPLIT_BUDGET = 32  # refused id chunks split in two per run (64 requests) before giving up


@dataclass(frozen=True)
class AccountPage:
    """One page of the listing (or one chunk of asked-for ids), parsed.

    ``total_count``: accounts in the whole listing (ids mode: ids asked for in all).
    ids mode only: ``asked`` are this chunk's ids, ``failed`` those whose query Sonar
    refused (with its message); ``missing`` those Sonar does not have.
    """

    accounts: list[V2Account]
    number: int
    total_count: int
    asked: tuple[int, ...] = ()
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def missing(self) -> list[int]:
        got = {a.report.id for a in self.accounts}
        return [i for i in self.asked if i not in got and i not in self.failed]


class GraphQLClient(ClientBase[GraphQLTransport, GraphQLConfig]):
    def __init__(self, config: GraphQLConfig) -> None:
        self.config = config
        self.technology = TechnologyTable(config.technology_names)
        super().__init__(config, GraphQLTransport)
        self._count: int | None = None
        self._lock = threading.Lock()
        self._completed = 0
        self._splits_left = SPLIT_BUDGET

    @property
    def unknown_technology_names(self) -> list[str]:
        """Technology names seen on services that the name table could not map."""
        return sorted(self.technology.unknown)

    @property
    def completed_lists(self) -> int:
        """Nested lists the server cut short that were fetched again whole."""
        return self._completed

    def login(self) -> None:
        """Check the token now with one cheap query (it also counts the accounts)."""
        data = self.query(queries.COUNT, None, "counting accounts")
        self._count = total_count(data.get("accounts")) or 0

    def account_count(self) -> int:
        """Accounts Sonar lists (as counted by ``login``, else counted now)."""
        if self._count is None:
            self.login()
        return self._count or 0

    def technology_names(self) -> list[str]:
        """The ``TechnologyCode`` enum's names, by introspection ([] if there is no such enum)."""
        data = self.query(queries.TECHNOLOGY_NAMES, None, "reading the TechnologyCode names")
        kind = data.get("__type")
        values = kind.get("enumValues") if isinstance(kind, dict) else None
        return [str(v["name"]) for v in values or [] if isinstance(v, dict) and v.get("name")]

    def catalogs(self) -> Catalogs:
        """Groups, account statuses and account types: one request per 100 of the longest."""
        rows: dict[str, list[Raw]] = {root: [] for root in CATALOG_ROOTS}
        page = 1
        while True:
            variables = {"p": paginator(page, self.config.page_size)}
            data = self.query(queries.CATALOGS, variables, f"catalogs page {page}")
            got = {root: entities(data.get(root)) for root in CATALOG_ROOTS}
            for root in CATALOG_ROOTS:
                rows[root] += got[root]
            last = max(total_pages(data.get(root)) or 0 for root in CATALOG_ROOTS)
            if page >= last or not any(got.values()):
                break
            page += 1
        return Catalogs(
            groups=tuple(parse_all(rows["account_groups"], parse_group, "groups")),
            statuses=tuple(parse_all(rows["account_statuses"], parse_status, "statuses")),
            types=tuple(parse_all(rows["account_types"], parse_type, "types")),
        )

    def iter_account_pages(
        self, full: bool, ids: Sequence[int] | None = None
    ) -> Iterator[AccountPage]:
        """Every account (or only ``ids``), a page at a time, in page order.

        ``full``: everything the import stores; else only the report fields.
        """
        if ids is not None:
            chunks = _chunks(list(dict.fromkeys(ids)), self.config.page_size)
            total = sum(map(len, chunks))
            fetch = lambda job: self._chunk(full, job[1], job[0], total)  # noqa: E731
            yield from self._ordered(fetch, list(enumerate(chunks, 1)))
            return
        yield from self._listing(full)

    def query(self, document: str, variables: dict[str, Any] | None, what: str) -> dict[str, Any]:
        """One GraphQL request under the retry policy: its ``data``."""
        return self._retry(lambda: self._transport.post(document, variables, what), what)

    # --- the listing ------------------------------------------------------------------

    def _listing(self, full: bool) -> Iterator[AccountPage]:
        first, last = self._page(full, 1)
        seen = {a.report.id for a in first.accounts}
        yield first
        if not first.accounts:
            return
        self._count = first.total_count
        for page in self._ordered(lambda n: self._page(full, n)[0], range(2, last + 1)):
            if not page.accounts:
                return  # a page past the end: the listing shrank while it was read
            fresh = [a for a in page.accounts if a.report.id not in seen]
            if not fresh:
                raise SonarDataError(
                    f"accounts page {page.number} repeats earlier accounts; the API seems to "
                    "ignore the paginator, so the accounts cannot be read completely"
                )
            seen.update(a.report.id for a in fresh)
            yield AccountPage(fresh, page.number, page.total_count)

    def _page(self, full: bool, number: int) -> tuple[AccountPage, int]:
        """Page ``number`` of all accounts, and the number of pages."""
        variables = {"p": paginator(number, self.config.page_size)}
        what = f"accounts page {number}"
        connection = self.query(queries.accounts(full), variables, what).get("accounts")
        accounts = self._parse(entities(connection), full)
        count = total_count(connection) or 0
        return AccountPage(accounts, number, count), total_pages(connection) or 0

    # --- asked-for ids ----------------------------------------------------------------

    def _chunk(self, full: bool, ids: list[int], number: int, total: int) -> AccountPage:
        """The accounts among ``ids``; a refused query is split until the culprit is alone.

        Splitting stops after ``SPLIT_BUDGET`` splits a run: an error that every query
        meets is then raised instead of being chased account by account.
        """
        asked = tuple(ids)
        try:
            accounts = self._parse(self._by_ids(full, ids), full)
        except GraphQLErrors as exc:
            if len(ids) == 1:
                return AccountPage([], number, total, asked, {ids[0]: str(exc)})
            if not self._take_split():
                raise
            half = len(ids) // 2
            parts = [self._chunk(full, part, number, total) for part in (ids[:half], ids[half:])]
            failed = {k: v for part in parts for k, v in part.failed.items()}
            return AccountPage([a for p in parts for a in p.accounts], number, total, asked, failed)
        return AccountPage(accounts, number, total, asked)

    def _by_ids(self, full: bool, ids: list[int]) -> list[Raw]:
        document, search = queries.accounts(full), queries.id_search(ids)
        what = f"accounts {ids[0]}..{ids[-1]} ({len(ids)} ids)"

        def fetch_page(page: int) -> Any:
            variables = {"p": paginator(page, self.config.page_size), "q": search}
            connection = self.query(document, variables, f"{what}, page {page}").get("accounts")
            if (total_count(connection) or 0) > len(ids):
                raise SonarDataError(
                    f"{what}: Sonar answered {total_count(connection)} accounts for "
                    f"{len(ids)} ids; it seems to ignore the id search, so it cannot be used"
                )
            return connection

        return [row for rows in iter_pages(fetch_page, what) for row in rows]

    # --- shared -----------------------------------------------------------------------

    def _parse(self, rows: list[Raw], full: bool) -> list[V2Account]:
        completer = Completer(self.query, self.config.page_size, full)
        for row in rows:
            completer.account(row)
        with self._lock:
            self._completed += completer.completed
        return parse_all(rows, lambda raw: parse_account(raw, self.technology, full), "accounts")

    def _take_split(self) -> bool:
        with self._lock:
            self._splits_left -= 1
            return self._splits_left >= 0

    def _ordered(self, fn: Callable[[T], R], jobs: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``jobs`` on ``workers`` threads, results in job order."""
        workers = self.config.workers
        with ThreadPoolExecutor(workers, thread_name_prefix="sonar-v2") as pool:
            yield from in_order(pool, fn, jobs, workers * 2)

    def _retry(self, attempt: Callable[[], T], what: str) -> T:
        return self._retrier.call(attempt, what)


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
