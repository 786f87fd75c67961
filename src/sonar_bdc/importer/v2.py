"""The v2 (GraphQL) import run: the same tables, with the same meaning, as the v1 run.

One query carries accounts with their addresses, services, groups and inventory, so
the run is planned around requests (one per 100 accounts), not customers:

* **full pass** (``--force``, an empty database, or more than ``FULL_PASS_SHARE`` of
  the customers to refresh): every account in full, once. Each page writes the report
  fields of all its accounts, and details and inventory of the stale ones.
* **light pass** otherwise: every account with the report fields only, then the stale
  ones (the store's freshness, ``--limit`` order) in full, 100 ids a request.

Either way every account is listed each run (``last_seen_at``, what the filing reads),
and customers the previous run listed that Sonar no longer lists are asked for by id;
those still missing are marked deleted, as a v1 404 does. A page whose answer carried
GraphQL ``errors`` is raised before anything of it is written.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..concurrency import Mapper, PoolMapper
from ..errors import ConfigError
from ..settings import Settings
from ..sonar.v2 import (
    TOKEN_SETTING,
    AccountPage,
    GraphQLClient,
    GraphQLConfig,
    GraphQLErrors,
    V2Account,
    parse_name_table,
)
from ..store import Store
from .fetching import already_deleted, id_list
from .idset import IdSet
from .progress import Progress, make_progress
from .run import META_CATALOGS, META_DETAIL, META_INVENTORY, META_REPORT, left_by_limit
from .summary import Summary, plural

log = logging.getLogger("sonar_bdc.importer")

# The one place to map a technology name: the filing's configuration, in BDC codes.
MAP_NAMES = (
    "map each to its BDC code in the --config file of sonar-bdc bdc subscription: "
    "[technology.names] NAME = <BDC code> (docs/bdc.md)"
)
FULL_PASS_SHARE = 0.3  # above this share of customers to refresh, one full pass is cheaper


def v2_config(settings: Settings) -> GraphQLConfig:
    if not settings.sonar_token:
        raise ConfigError(f"{TOKEN_SETTING} is not set: put a Sonar personal access token in .env")
    if settings.technology_names:
        warn_technology_names_deprecated()
    return GraphQLConfig(
        base_url=settings.sonar_base_url,
        token=settings.sonar_token,
        timeout=settings.sonar_timeout,
        verify=settings.sonar_ca_bundle or True,
        max_retries=settings.max_retries,
        initial_backoff=settings.initial_backoff,
        rate_limit=settings.effective_rate_limit,
        workers=settings.workers,
        technology_names=parse_name_table(settings.technology_names),
    )


@functools.cache  # once a process
def warn_technology_names_deprecated() -> None:
    """SONAR_TECHNOLOGY_NAMES still works, but a name mapped there and in the filing's
    configuration (two code systems) is mapped in two places."""
    log.warning("SONAR_TECHNOLOGY_NAMES is deprecated (still read for now): %s; then remove it",
                MAP_NAMES)  # fmt: skip


@dataclass(frozen=True)
class V2Source:
    """Sonar's v2 GraphQL API, as a ``run.Source``."""

    settings: Settings
    client: GraphQLClient
    layout: str | None = "v2"

    @classmethod
    def from_settings(cls, settings: Settings) -> V2Source:
        return cls(settings, GraphQLClient(v2_config(settings)))

    def run(self, store: Store, summary: Summary, show: bool) -> None:
        """One v2 import into ``store`` (schema ensured, run lock held), filling ``summary``.

        The run owns the worker threads: the client fetches its pages on them, ``workers``
        at a time, at most twice that many requested ahead of the page being written.
        """
        workers = self.settings.workers
        with ThreadPoolExecutor(workers, thread_name_prefix="sonar-v2") as pool:
            mapper = PoolMapper(pool, workers * 2)
            _Run(self.settings, store, self.client, summary, show, mapper).run()


@dataclass(frozen=True)
class Previous:
    """What the database holds from the previous run's listing."""

    listed: IdSet = field(default_factory=IdSet)
    fresh_detail: IdSet = field(default_factory=IdSet)
    fresh_inventory: IdSet = field(default_factory=IdSet)


@dataclass
class _Tally:
    """What the writes of this run did. Id sets are compact (``IdSet``): counted at
    the end of the run, not after every page."""

    listed: IdSet = field(default_factory=IdSet)
    new: IdSet = field(default_factory=IdSet)
    updated: IdSet = field(default_factory=IdSet)
    planned: int = 0  # customers chosen for details/inventory
    left: int = 0  # customers to refresh that --limit left out
    unknown_technology: int = 0  # services stored without a technology code
    unknown_names: set[str] = field(default_factory=set)  # on the services of every page
    completed_lists: int = 0  # nested lists Sonar cut short, fetched again whole
    rejected_fips: list[str] = field(default_factory=list)


class _Run:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: GraphQLClient,
        summary: Summary,
        show: bool,
        mapper: Mapper,
    ) -> None:
        self.settings, self.store, self.client, self.summary = settings, store, client, summary
        self.show, self.mapper = show, mapper
        self.seen_at = datetime.now(timezone.utc)
        self.cutoff = None if settings.force else self.seen_at - timedelta(days=settings.days)
        self.want_detail = not settings.inventory_only
        self.want_inventory = not settings.customers_only
        self.budget = settings.limit  # customers still to refresh (None: no limit)
        self.tally = _Tally()
        self.previous = Previous()

    def run(self) -> None:
        self.previous = self._previous()
        total = self.client.account_count()
        self._catalogs()
        self._check_technology_names()
        full = self._full_pass_pays(total)
        log.info("%s in Sonar; %s pass", plural(total, "account"),
                 "one full" if full else "a light listing")  # fmt: skip
        try:
            self._list(full, total)
            if not full:
                self._refresh_stale()
        finally:
            self._count()  # an interrupted run reports its counts too
        self._finish()

    # --- planning ---------------------------------------------------------------------

    def _previous(self) -> Previous:
        raw = self.store.get_meta(META_REPORT)
        try:
            seen = datetime.fromisoformat(raw) if raw else None
        except ValueError:
            seen = None
        if seen is None:
            return Previous()
        stale = self.store.stale_customer_ids
        listed = IdSet(stale("detail", seen, None, None))
        if self.cutoff is None:
            return Previous(listed)
        fresh_detail = listed - IdSet(stale("detail", seen, self.cutoff, None))
        return Previous(
            listed, fresh_detail, listed - IdSet(stale("inventory", seen, self.cutoff, None))
        )

    def _full_pass_pays(self, total: int) -> bool:
        """True when more than FULL_PASS_SHARE of the accounts need refreshing."""
        fresh = sum(not any(self._is_stale(i)) for i in self.previous.listed)
        wanted = max(total - fresh, 0)
        if self.budget is not None:
            wanted = min(wanted, self.budget)
        return wanted > FULL_PASS_SHARE * total

    def _is_stale(self, account_id: int) -> tuple[bool, bool]:
        """(detail stale?, inventory stale?) by the previous run's freshness."""
        detail = self.want_detail and account_id not in self.previous.fresh_detail
        inventory = self.want_inventory and account_id not in self.previous.fresh_inventory
        return detail, inventory

    # --- catalogs and technology ------------------------------------------------------

    def _catalogs(self) -> None:
        catalogs = self.client.catalogs()
        self.store.write_catalogs(catalogs)
        self.store.set_meta(META_CATALOGS, self.seen_at.isoformat())

    def _check_technology_names(self) -> None:
        try:
            names = self.client.technology_names()
        except GraphQLErrors as exc:
            log.warning("cannot read the TechnologyCode names by introspection (%s)", exc)
            return
        missing = self.client.technology.missing(names)
        if missing:
            log.warning(
                "Sonar's TechnologyCode has %s the technology table does not know: %s. "
                "Services with them are stored with technology_code NULL (technology_name "
                "keeps the name); %s",
                plural(len(missing), "name"), ", ".join(missing), MAP_NAMES,
            )  # fmt: skip

    # --- the listing ------------------------------------------------------------------

    def _list(self, full: bool, total: int) -> None:
        bar = make_progress(total, "accounts", "account", enabled=self.show)
        try:
            for page in self._pages(full):
                self._write_listed(page.accounts, full, bar)
            self._confirm_absent(full, bar)
        finally:
            bar.close()
        self.store.set_meta(META_REPORT, self.seen_at.isoformat())

    def _write_listed(self, accounts: list[V2Account], full: bool, bar: Progress) -> None:
        """Report fields of all ``accounts``; in a full pass, details of the stale ones."""
        self.tally.listed.update(a.report.id for a in accounts)
        rows = [a.report for a in accounts]
        self.summary.invalid_coordinates += sum(r.latitude is None for r in rows)
        written = self.store.write_report(rows, self.seen_at)
        self.tally.new.update(written.new_ids)
        self.tally.updated.update(written.updated_ids)
        self.summary.nul_cleaned += written.nul_cleaned
        if full:
            self._write_details(self._choose(accounts))
        bar.update(len(accounts))

    def _choose(self, accounts: Iterable[V2Account]) -> list[tuple[V2Account, bool, bool]]:
        """(account, write detail?, write inventory?) for the stale ones, within --limit."""
        chosen = []
        for account in accounts:
            detail, inventory = self._is_stale(account.report.id)
            if not (detail or inventory):
                continue
            if self.budget == 0:
                self.tally.left += 1
                continue
            if self.budget is not None:
                self.budget -= 1
            chosen.append((account, detail, inventory))
        self.tally.planned += len(chosen)
        return chosen

    def _confirm_absent(self, full: bool, bar: Progress) -> None:
        """Customers the previous run listed and this listing lacks: ask by id, else deleted."""
        absent = list(self.previous.listed - self.tally.listed)
        if not absent:
            return
        for page in self._pages(full, absent):
            self._fail(page.failed)
            self._write_listed(page.accounts, full, bar)
            self._mark_deleted(page.missing)

    # --- light pass: the stale ones by id ---------------------------------------------

    def _refresh_stale(self) -> None:
        limit = self.settings.limit
        # All of them (ints: small), so the count --limit leaves out is true.
        detail = self._stale("detail", self.want_detail)
        inventory = self._stale("inventory", self.want_inventory)
        wanted_detail, wanted_inventory = IdSet(detail), IdSet(inventory)
        stale = list(dict.fromkeys([*detail, *inventory]))
        order = stale[:limit]
        self.tally.planned, self.tally.left = len(order), len(stale) - len(order)
        log.info("%s to refresh%s", plural(len(order), "customer"),
                 left_by_limit(self.tally.left, self.settings.force))  # fmt: skip
        if not order:
            return
        bar = make_progress(len(order), "customers", enabled=self.show)
        try:
            for page in self._pages(True, order):
                self._write_asked(page, wanted_detail, wanted_inventory)
                bar.update(len(page.asked))
        finally:
            bar.close()

    def _stale(self, part: str, wanted: bool) -> list[int]:
        if not wanted:
            return []
        return self.store.stale_customer_ids(part, self.seen_at, self.cutoff, None)

    def _write_asked(self, page: AccountPage, detail: IdSet, inventory: IdSet) -> None:
        self._fail(page.failed)
        chosen = [(a, a.report.id in detail, a.report.id in inventory) for a in page.accounts]
        self._write_details(chosen)
        self._mark_deleted(page.missing)

    def _pages(self, full: bool, ids: list[int] | None = None) -> Iterator[AccountPage]:
        """The client's pages (on the run's threads), noting what each one reports."""
        for page in self.client.iter_account_pages(full, ids, self.mapper):
            self.tally.completed_lists += page.completed
            self.tally.unknown_names |= page.unknown_technology_names
            yield page

    # --- writes -----------------------------------------------------------------------

    def _write_details(self, chosen: list[tuple[V2Account, bool, bool]]) -> None:
        if not chosen:
            return
        now = datetime.now(timezone.utc)
        with self.store.writer() as writer:
            for account, detail, inventory in chosen:
                if detail and account.detail is not None:
                    writer.add_detail(account.detail, now)
                    self._note(account)
                    self.summary.details += 1
                if inventory and account.inventory is not None:
                    writer.add_inventory(account.inventory, now)
                    self.summary.inventories += 1
        self.summary.fetched += len(chosen)
        self.summary.nul_cleaned += writer.nul_cleaned
        self.tally.updated.update(writer.changed_ids)

    def _note(self, account: V2Account) -> None:
        services = account.detail.services if account.detail else ()
        self.tally.unknown_technology += sum(
            s.technology_name is not None and s.technology_code is None for s in services
        )
        if account.rejected_fips is not None:
            self.tally.rejected_fips.append(account.rejected_fips)

    def _mark_deleted(self, ids: Iterable[int]) -> None:
        gone = list(ids)
        if not gone:
            return
        now = datetime.now(timezone.utc)
        with self.store.writer() as writer:
            for customer_id in gone:
                writer.mark_deleted(customer_id, now)
        self.summary.deleted += gone
        self.summary.already_deleted += already_deleted(gone, writer.changed_ids)

    def _fail(self, failed: dict[int, str]) -> None:
        for customer_id, message in failed.items():
            self.summary.failed.append(customer_id)
            log.warning("customer %d failed: %s", customer_id, message)

    # --- the end ----------------------------------------------------------------------

    def _count(self) -> None:
        """The summary's counts from the tally."""
        s, t = self.summary, self.tally
        s.listed = len(t.listed)
        s.new = len(t.new)
        s.updated = len(t.updated - t.new)
        s.unchanged = s.listed - s.new - s.updated
        s.left_for_later = t.left
        s.skipped_fresh = max(s.listed - t.planned - t.left, 0)

    def _finish(self) -> None:
        self._report_oddities()
        done_at = datetime.now(timezone.utc).isoformat()
        if self.want_detail:
            self.store.set_meta(META_DETAIL, done_at)
        if self.want_inventory:
            self.store.set_meta(META_INVENTORY, done_at)

    def _report_oddities(self) -> None:
        t, s = self.tally, self.summary
        unknown = sorted(t.unknown_names)
        if unknown:
            log.warning(
                "%s technology names the table does not know: %s; stored with "
                "technology_code NULL; %s",
                plural(t.unknown_technology, "service has", "services have"), ", ".join(unknown),
                MAP_NAMES,
            )  # fmt: skip
        if t.rejected_fips:
            log.warning(
                "%s a fips that is not a 15-digit census block (stored as NULL), e.g. %r",
                plural(len(t.rejected_fips), "service address has", "service addresses have"),
                t.rejected_fips[0],
            )  # fmt: skip
        if t.completed_lists:
            log.info("%s cut short by Sonar %s completed", plural(t.completed_lists, "nested list"),
                     "was" if t.completed_lists == 1 else "were")  # fmt: skip
        if s.failed:
            log.error("%s failed and stay stale (the next run retries them): %s",
                      plural(len(s.failed), "customer"), id_list(s.failed))  # fmt: skip
        if s.newly_deleted:
            log.warning("%s no longer in Sonar, now marked deleted: %s",
                        plural(len(s.newly_deleted), "customer is", "customers are"),
                        id_list(s.newly_deleted))  # fmt: skip
        if s.already_deleted:
            log.info("%s marked deleted by an earlier run still missing in Sonar",
                     plural(len(s.already_deleted), "customer is", "customers are"))  # fmt: skip
