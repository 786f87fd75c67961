"""GraphQLClient: the facade the v2 import uses. Each request is retried as one unit.

Layers, each wrapping the one below: transport (one POST) -> retry policy and the
shared rate limiter -> pagination and completion of cut-short nested lists ->
parsing into records. The client opens no threads: account pages are fetched through
the caller's ``Mapper`` (the import run's pool, ``workers`` at a time) and handed out
in page order, each with what it cost (nested lists completed) and what it holds
that the technology table cannot map.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any

from ...concurrency import Mapper, serial
from ...errors import SonarDataError
from ...records import Catalogs
from ..base import ClientBase
from ..paging import Page, RepeatGuard, later_pages
from ..paging import iter_pages as _iter_pages
from ..parse import parse_all, parse_group
from . import queries
from .complete import Completer
from .config import GraphQLConfig
from .paging import PAGINATOR, iter_pages, paginator, total_pages
from .parse import (
    Raw,
    V2Account,
    entities,
    parse_account,
    parse_status,
    parse_type,
    total_count,
)
from .technology_names import TechnologyTable
from .transport import GraphQLErrors, GraphQLTransport

log = logging.getLogger(__name__)
CATALOG_ROOTS = ("account_groups", "account_statuses", "account_types")
SPLIT_BUDGET = 32  # refused id chunks split in two per run (64 requests) before giving up


@dataclass(frozen=True)
class AccountPage:
    """One page of the listing (or one chunk of asked-for ids), parsed.

    ``total_count``: accounts in the whole listing (ids mode: ids asked for in all).
    ids mode only: ``asked`` are this chunk's ids, ``failed`` those whose query Sonar
    refused (with its message); ``missing`` those Sonar does not have. ``completed``:
    nested lists Sonar cut short that were fetched again whole for this page.
    """

    accounts: list[V2Account]
    number: int
    total_count: int
    asked: tuple[int, ...] = ()
    failed: dict[int, str] = field(default_factory=dict)
    completed: int = 0

    @property
    def missing(self) -> list[int]:
        got = {a.report.id for a in self.accounts}
        return [i for i in self.asked if i not in got and i not in self.failed]

    @property
    def unknown_technology_names(self) -> set[str]:
        """Technology names on this page's services that the name table could not map."""
        services = (s for a in self.accounts if a.detail is not None for s in a.detail.services)
        return {
            s.technology_name
            for s in services
            if s.technology_name is not None and s.technology_code is None
        }


class GraphQLClient(ClientBase[GraphQLTransport, GraphQLConfig]):
    def __init__(self, config: GraphQLConfig) -> None:
        self.config = config
        self.technology = TechnologyTable(config.technology_names)
        super().__init__(config, GraphQLTransport)
        self._count: int | None = None
        self._lock = threading.Lock()
        self._splits_left = SPLIT_BUDGET

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

        def read(page: int) -> Page[tuple[str, Raw]]:
            variables = {"p": paginator(page, self.config.page_size)}
            data = self.query(queries.CATALOGS, variables, f"catalogs page {page}")
            got = [(root, row) for root in CATALOG_ROOTS for row in entities(data.get(root))]
            counts = [n for root in CATALOG_ROOTS if (n := total_pages(data.get(root))) is not None]
            return Page(page, got, max(counts, default=None))

        rows: dict[str, list[Raw]] = {root: [] for root in CATALOG_ROOTS}
        for page in _iter_pages(read, RepeatGuard("catalogs", PAGINATOR)):
            for root, row in page:
                rows[root].append(row)
        return Catalogs(
            groups=tuple(parse_all(rows["account_groups"], parse_group, "groups")),
            statuses=tuple(parse_all(rows["account_statuses"], parse_status, "statuses")),
            types=tuple(parse_all(rows["account_types"], parse_type, "types")),
        )

    def iter_account_pages(
        self, full: bool, ids: Sequence[int] | None = None, mapper: Mapper = serial
    ) -> Iterator[AccountPage]:
        """Every account (or only ``ids``), a page at a time, in page order.

        ``full``: everything the import stores; else only the report fields. ``mapper``
        runs the page requests (the caller's threads; by default one at a time here).
        """
        if ids is not None:
            chunks = _chunks(list(dict.fromkeys(ids)), self.config.page_size)
            total = sum(len(chunk) for chunk in chunks)
            pages = mapper(
                lambda job: self._chunk(full, job[1], job[0], total), enumerate(chunks, 1)
            )
            with closing(pages):
                yield from pages
            return
        yield from self._listing(full, mapper)

    def query(self, document: str, variables: dict[str, Any] | None, what: str) -> dict[str, Any]:
        """One GraphQL request under the retry policy: its ``data``."""
        return self._retry(lambda: self._transport.post(document, variables, what), what)

    # --- the listing ------------------------------------------------------------------

    def _listing(self, full: bool, mapper: Mapper) -> Iterator[AccountPage]:
        first, last = self._page(full, 1)
        seen = {a.report.id for a in first.accounts}
        yield first
        if not first.accounts:
            return
        self._count = first.total_count
        guard = RepeatGuard("accounts", PAGINATOR)
        pages = mapper(lambda n: self._page(full, n)[0], later_pages(last))
        with closing(pages):  # an early end cancels the pages not yet started
            for page in pages:
                if not page.accounts:
                    return  # past the end: no page count, or the listing shrank meanwhile
                fresh = [a for a in page.accounts if a.report.id not in seen]
                if not fresh:
                    raise guard.refused(page.number, "earlier accounts")
                seen.update(a.report.id for a in fresh)
                yield replace(page, accounts=fresh)

    def _page(self, full: bool, number: int) -> tuple[AccountPage, int | None]:
        """Page ``number`` of all accounts, and the number of pages (None: not said)."""
        variables = {"p": paginator(number, self.config.page_size)}
        what = f"accounts page {number}"
        connection = self.query(queries.accounts(full), variables, what).get("accounts")
        accounts, completed = self._parse(entities(connection), full)
        count = total_count(connection) or 0
        return AccountPage(accounts, number, count, completed=completed), total_pages(connection)

    # --- asked-for ids ----------------------------------------------------------------

    def _chunk(self, full: bool, ids: list[int], number: int, total: int) -> AccountPage:
        """The accounts among ``ids``; a refused query is split until the culprit is alone.

        Splitting stops after ``SPLIT_BUDGET`` splits a run: an error that every query
        meets is then raised instead of being chased account by account.
        """
        asked = tuple(ids)
        try:
            accounts, completed = self._parse(self._by_ids(full, ids), full)
        except GraphQLErrors as exc:
            if len(ids) == 1:
                return AccountPage([], number, total, asked, {ids[0]: str(exc)})
            if not self._take_split():
                raise
            half = len(ids) // 2
            parts = [self._chunk(full, part, number, total) for part in (ids[:half], ids[half:])]
            return AccountPage(
                [a for p in parts for a in p.accounts],
                number,
                total,
                asked,
                {k: v for part in parts for k, v in part.failed.items()},
                sum(p.completed for p in parts),
            )
        return AccountPage(accounts, number, total, asked, completed=completed)

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

    def _parse(self, rows: list[Raw], full: bool) -> tuple[list[V2Account], int]:
        """The accounts of ``rows``, and how many of their nested lists were completed."""
        completer = Completer(self.query, self.config.page_size, full)
        for row in rows:
            completer.account(row)
        accounts = parse_all(
            rows, lambda raw: parse_account(raw, self.technology, full), "accounts"
        )
        return accounts, completer.completed

    def _take_split(self) -> bool:
        with self._lock:
            self._splits_left -= 1
            return self._splits_left >= 0


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
