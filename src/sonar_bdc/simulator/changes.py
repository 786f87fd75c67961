"""``change_accounts``: mutate a fraction of the accounts, as a week of ISP work would.

Each chosen account gets one to three of: services added or removed, groups
changed, coordinates moved (and re-geocoded: valid coordinates and a new fips),
an inventory item reassigned (to another account, which then also counts as
changed, or to a network site), removed, or added.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator import catalogs as cat
from sonar_bdc.simulator.data import add_item, new_groups
from sonar_bdc.simulator.model import Account, Dataset

Mutation = Callable[[Dataset, random.Random, Account, list[int]], set[int]]


def change_accounts(ds: Dataset, fraction: float, seed: int) -> list[int]:
    """Mutate ``fraction`` of the live accounts (at least one if > 0); sorted changed ids."""
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError(f"change fraction must be within 0..1, got {fraction}")
    rng = random.Random(seed)
    live = ds.live_ids()
    count = min(len(live), max(1 if fraction > 0 else 0, round(fraction * len(live))))
    before = {i: _signature(ds.accounts[i]) for i in live}
    chosen = sorted(rng.sample(live, count))
    touched: set[int] = set()
    for account_id in chosen:
        touched |= _mutate(ds, rng, ds.accounts[account_id], live)
    for account_id in chosen:  # an item can move in and back out: make sure it shows
        if _signature(ds.accounts[account_id]) == before[account_id]:
            _move(ds, rng, ds.accounts[account_id], live)
    ds.version += 1
    return sorted(i for i in touched | set(chosen) if _signature(ds.accounts[i]) != before[i])


def _signature(account: Account) -> tuple[object, ...]:
    """Everything a mutation can change (items are never edited in place)."""
    addr = account.address
    return (
        tuple(account.services),
        tuple(account.group_ids),
        (addr.lat_raw, addr.lon_raw, addr.fips),
        tuple(sorted(account.item_ids)),
    )


def _mutate(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    touched: set[int] = set()
    for mutation in rng.sample(MUTATIONS, rng.randint(1, 3)):
        touched |= mutation(ds, rng, account, live)
    return touched or _move(ds, rng, account, live)


def _services(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    present = {sid for sid, _ in account.services}
    missing = [sid for sid in ds.services if sid not in present]
    if account.services and (rng.random() < 0.5 or not missing):
        account.services.pop(rng.randrange(len(account.services)))
    else:
        account.services.append((rng.choice(missing), 1))
    return {account.id}


def _groups(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    groups = new_groups(rng)
    if groups == account.group_ids:
        groups = [g for g in ds.groups if g not in account.group_ids][:1]
    account.group_ids = groups
    return {account.id}


def _move(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    addr = account.address
    place = next((p for p in cat.PLACES if p.city == addr.city), cat.PLACES[0])
    lat = round(place.lat + rng.uniform(-0.2, 0.2), 5)
    lon = round(place.lon + rng.uniform(-0.2, 0.2), 5)
    addr.lat, addr.lon, addr.lat_raw, addr.lon_raw = lat, lon, str(lat), str(lon)
    addr.fips = f"{place.county_fips}{rng.randint(100, 990000):06d}{rng.randint(1000, 4999)}"
    return {account.id}


def _reassign_item(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    if not account.item_ids:
        return set()
    item = ds.items[account.item_ids.pop(rng.randrange(len(account.item_ids)))]
    others = [i for i in (rng.choice(live),) if i != account.id]
    if others and rng.random() < 0.7:
        item.assignee_type, item.assignee_id = "accounts", others[0]
        ds.accounts[others[0]].item_ids.append(item.id)
        return {account.id, others[0]}
    item.assignee_type, item.assignee_id = "network_sites", rng.randint(1, 40)
    return {account.id}


def _remove_item(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    if not account.item_ids:
        return set()
    del ds.items[account.item_ids.pop(rng.randrange(len(account.item_ids)))]
    return {account.id}


def _add_item(ds: Dataset, rng: random.Random, account: Account, live: list[int]) -> set[int]:
    add_item(ds, rng, "accounts", account.id)
    return {account.id}


MUTATIONS: tuple[Mutation, ...] = (
    _services,
    _groups,
    _move,
    _reassign_item,
    _remove_item,
    _add_item,
)
