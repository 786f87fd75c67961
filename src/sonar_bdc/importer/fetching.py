"""Fetch stale customers with worker threads and write them as they arrive.

Workers only talk to Sonar; the calling thread is the only one that writes, so the
store needs one connection and commits in a well-defined order. Work goes through a
bounded window, so memory does not grow with the number of customers.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import overload

from ..concurrency import bounded_map
from ..errors import SonarAuthError, SonarBdcError, SonarNotFound
from ..records import CustomerDetail, CustomerInventory
from ..sonar.v1 import InventoryCatalog, SonarClient
from ..stopping import stop_signals_as_flag
from ..store import Store, Writer
from .bulk_inventory import Listing, list_inventory
from .idset import IdSet
from .progress import make_progress
from .summary import Summary, plural

log = logging.getLogger("sonar_bdc.importer")


@dataclass(frozen=True, slots=True)  # slots: a full run plans one per account
class Job:
    """One customer to refresh, and which of its parts."""

    customer_id: int
    detail: bool
    inventory: bool


class FetchPlan(Sequence[Job]):
    """Jobs in fetch order, held as two flat arrays: a full run plans one per account."""

    def __init__(self, jobs: Iterable[tuple[int, bool, bool]] = ()) -> None:
        self._ids, self._parts = array("q"), bytearray()
        for customer_id, detail, inventory in jobs:
            self._ids.append(customer_id)
            self._parts.append(detail | inventory << 1)

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Job: ...
    @overload
    def __getitem__(self, index: slice) -> FetchPlan: ...
    def __getitem__(self, index: int | slice) -> Job | FetchPlan:
        if isinstance(index, slice):
            part = FetchPlan()
            part._ids, part._parts = self._ids[index], self._parts[index]
            return part
        parts = self._parts[index]
        return Job(self._ids[index], bool(parts & 1), bool(parts & 2))


@dataclass(frozen=True)
class Fetched:
    """What the workers brought back for one customer."""

    customer_id: int
    detail: CustomerDetail | None = None
    inventory: CustomerInventory | None = None
    deleted: bool = False
    listed: bool = False  # the inventory is in the store's listing
    complete: bool = True  # False: an item lacks its MAC (its model's fields did not come)


@dataclass(frozen=True)
class Fetcher:
    """Fetches one job's parts (called by worker threads); ``listing``: the store holds
    every customer's inventory, except for the customers in its ``ask``."""

    client: SonarClient
    inv_catalog: InventoryCatalog | None
    listing: Listing | None = None

    def __call__(self, job: Job) -> Fetched:
        try:
            detail = self.client.account_detail(job.customer_id) if job.detail else None
            listed = job.inventory and self._listed(job.customer_id)
            inventory = self._inventory(job) if job.inventory and not listed else None
        except SonarNotFound:
            return Fetched(job.customer_id, deleted=True)
        return Fetched(job.customer_id, detail, inventory, listed=listed,
                       complete=self._complete(job.customer_id, inventory))  # fmt: skip

    def _listed(self, customer_id: int) -> bool:
        return self.listing is not None and customer_id not in self.listing.ask

    def _complete(self, customer_id: int, inventory: CustomerInventory | None) -> bool:
        if inventory is not None and self.inv_catalog is not None:
            return not self.inv_catalog.lacks_fields(inventory.items)
        return self.listing is None or customer_id not in self.listing.incomplete

    def _inventory(self, job: Job) -> CustomerInventory | None:
        if self.inv_catalog is None:
            return None
        return self.client.account_inventory(job.customer_id, self.inv_catalog)


def fetch_and_write(
    client: SonarClient,
    inv_catalog: InventoryCatalog | None,
    store: Store,
    pool: ThreadPoolExecutor,
    plan: Sequence[Job],
    summary: Summary,
    *,
    window: int,
    show: bool,
    known: Collection[int] = frozenset(),
) -> set[int]:
    """Refresh every job of ``plan`` (inventory read with ``inv_catalog``, listed in bulk
    when that takes fewer requests); return the ids whose stored data changed (``known``
    ones left out: the caller counts those already).

    Ctrl-C stops after the customer being written, commits the complete ones, and
    marks the summary interrupted.
    """
    if not plan:
        return set()
    inventory_jobs = IdSet(job.customer_id for job in plan if job.inventory)
    listing = None
    if inv_catalog is not None and len(inventory_jobs):  # len() sorts it, once
        listing = list_inventory(client, store, inv_catalog, inventory_jobs, pool, window, show)
        summary.nul_cleaned += listing.cleaned if listing else 0
    fetcher = Fetcher(client, inv_catalog, listing)
    bar = make_progress(len(plan), "customers", enabled=show)
    try:
        with store.writer(known) as writer, stop_signals_as_flag() as stop:
            for job, future in bounded_map(pool, fetcher, plan, window):
                _write_one(writer, job.customer_id, future, summary)
                bar.update()
                if stop.is_set():  # checked between customers, never inside a write
                    summary.interrupted = True
                    break
            summary.nul_cleaned += writer.nul_cleaned
        summary.already_deleted = already_deleted(summary.deleted, writer.changed_ids, known)
        return writer.changed_ids
    finally:
        bar.close()
        _report_outcomes(summary)


def _write_one(writer: Writer, customer_id: int, future: Future[Fetched], summary: Summary) -> None:
    try:
        fetched = future.result()
    except SonarAuthError:
        raise
    except SonarBdcError as exc:
        summary.failed.append(customer_id)
        log.warning("customer %d failed: %s", customer_id, exc)
        return
    except Exception as exc:  # a record we could not parse must not stop the other customers
        summary.failed.append(customer_id)
        log.warning("customer %d failed: unexpected %s: %s", customer_id, type(exc).__name__, exc)
        log.debug("traceback for customer %d", customer_id, exc_info=exc)
        return
    now = datetime.now(timezone.utc)
    if fetched.deleted:
        summary.deleted.append(customer_id)
        writer.mark_deleted(customer_id, now)
        return
    summary.fetched += 1
    summary.details += fetched.detail is not None
    summary.inventories += fetched.inventory is not None or fetched.listed
    if fetched.detail is not None:
        writer.add_detail(fetched.detail, now)
    # An incomplete inventory is written but stays stale: the next run asks again.
    stamp = now if fetched.complete else None
    if fetched.inventory is not None:
        writer.add_inventory(fetched.inventory, stamp)
    elif fetched.listed:
        writer.add_listed_inventory(customer_id, stamp)


def already_deleted(
    deleted: Iterable[int], changed: Collection[int], known: Collection[int] = ()
) -> list[int]:
    """Of the customers ``deleted`` this run, those stored as deleted before it: marking
    them changed nothing (not in ``changed``), and they are not new (not in ``known``)."""
    return [i for i in deleted if i not in changed and i not in known]


def _report_outcomes(summary: Summary) -> None:
    if summary.failed:
        log.error(
            "%s failed and stay stale (the next run retries them): %s",
            plural(len(summary.failed), "customer"), id_list(summary.failed),
        )  # fmt: skip
    newly, before = summary.newly_deleted, summary.already_deleted
    if newly:
        log.warning(
            "%s listed by the report %s gone in Sonar (404), now marked deleted: %s",
            plural(len(newly), "account"), "is" if len(newly) == 1 else "are", id_list(newly),
        )  # fmt: skip
    if before:
        log.info(
            "%s marked deleted by an earlier run %s still gone in Sonar (404)",
            plural(len(before), "account"), "is" if len(before) == 1 else "are",
        )  # fmt: skip


def id_list(ids: list[int], most: int = 50) -> str:
    """``1, 2, 3 and 7 more``: ids for one log line."""
    shown = ", ".join(str(i) for i in sorted(ids)[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")
