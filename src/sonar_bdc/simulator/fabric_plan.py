"""Which hard case each account of a dataset gets, before anything is placed.

One pass over the accounts in id order with an rng of the Fabric's own: the case, the
planned distance of the account's BSL from its geocode, and the radius around its
geocode that no other location may enter (so the planted answer stays the only right
one: nothing foreign within the radius a matcher trusts a point in). Accounts that
share a plain address and ZIP, geocoded within 50 m, are one apartment building.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from sonar_bdc.simulator.fabric_geo import Grid, distance_m
from sonar_bdc.simulator.fabric_text import Street, parse_line
from sonar_bdc.simulator.model import Account, Dataset

# Shares of the accounts with coordinates (not tenants); the rest are "near".
SHARES = (
    ("no_bsl", 0.032),
    ("far", 0.065),
    ("shed", 0.06),
    ("twin", 0.01),
    ("secondary", 0.03),
    ("neighbour", 0.10),
)
_NEEDS_ADDRESS = frozenset({"far", "twin", "secondary"})
NO_BSL_WITHOUT_COORDINATES = 0.03
CROWDED_M = 45.0  # another subscriber's geocode nearer than this: plant very close
ISOLATED_M = 200.0  # "nothing within reach" needs nobody else within this
BUILDING_SPREAD_M = 50.0


@dataclass(slots=True)
class AccountPlan:
    """One account's planned case; ``radius`` guards its geocode (0: not guarded)."""

    account: Account
    case: str
    distance: float = 0.0
    radius: float = 0.0
    street: Street | None = None
    building: int | None = None  # index into plan_accounts' buildings
    nothing_near: bool = False  # no_bsl: nothing at all (else a NoBSL structure)


def plan_accounts(
    ds: Dataset, rng: random.Random
) -> tuple[list[AccountPlan], list[list[AccountPlan]]]:
    """Every account's plan (id order) and the apartment buildings (lists of tenants)."""
    geocodes = Grid()
    for a in ds.accounts.values():
        if a.address.lat is not None and a.address.lon is not None:
            geocodes.add(a.address.lat, a.address.lon, a.id)
    plans = [
        AccountPlan(a, "near", street=parse_line(a.address.line1)) for a in ds.accounts.values()
    ]
    buildings = _buildings(plans)
    mates = {p.account.id: {t.account.id for t in b} for b in buildings for p in b}
    for plan in plans:
        if plan.building is not None:
            _tenant(plan)
        elif plan.account.address.lat is None:
            _without_coordinates(rng, plan)
        else:
            sep = _separation(geocodes, plan.account, mates.get(plan.account.id, set()))
            _with_coordinates(rng, plan, sep)
    return plans, buildings


def _buildings(plans: list[AccountPlan]) -> list[list[AccountPlan]]:
    by_address: dict[tuple[str, str], list[AccountPlan]] = defaultdict(list)
    for plan in plans:
        if plan.street is not None:
            by_address[(plan.account.address.line1, plan.account.address.zip)].append(plan)
    buildings: list[list[AccountPlan]] = []
    for group in by_address.values():
        if len(group) > 1 and _close_together(group):
            for plan in group:
                plan.building = len(buildings)
            buildings.append(group)
    return buildings


def _close_together(group: list[AccountPlan]) -> bool:
    points = [(p.account.address.lat, p.account.address.lon) for p in group]
    located = [(lat, lon) for lat, lon in points if lat is not None and lon is not None]
    if not located:
        return False
    lat0, lon0 = located[0]
    return all(distance_m(lat0, lon0, lat, lon) < BUILDING_SPREAD_M for lat, lon in located)


def _separation(geocodes: Grid, account: Account, mates: set[int]) -> float:
    """Metres to the nearest other subscriber's geocode (inf beyond ~200 m)."""
    lat, lon = account.address.lat, account.address.lon
    assert lat is not None and lon is not None
    others = [d for key, d in geocodes.near(lat, lon, ISOLATED_M)
              if key != account.id and key not in mates]  # fmt: skip
    return min(others, default=float("inf"))


def _tenant(plan: AccountPlan) -> None:
    plan.case = "apartment"
    plan.radius = 20.0 if plan.account.address.lat is not None else 0.0


def _without_coordinates(rng: random.Random, plan: AccountPlan) -> None:
    if rng.random() < NO_BSL_WITHOUT_COORDINATES:
        plan.case = "no_bsl"
    else:
        plan.case = "no_coordinates" if plan.street is not None else "unknowable"


def _with_coordinates(rng: random.Random, plan: AccountPlan, sep: float) -> None:
    case = _draw_case(rng)
    if case in _NEEDS_ADDRESS and plan.street is None:
        case = "near"
    if sep < CROWDED_M:
        plan.case, plan.distance = "crowded", min(rng.uniform(1.0, 10.0), sep / 5)
        plan.radius = 0.6 * sep
        return
    plan.case = case
    plan.distance = _distance(rng, case)
    plan.nothing_near = case == "no_bsl" and sep > ISOLATED_M and rng.random() < 0.5
    plan.radius = _radius(plan)


def _draw_case(rng: random.Random) -> str:
    roll = rng.random()
    for case, share in SHARES:
        roll -= share
        if roll < 0:
            return case
    return "near"


def _distance(rng: random.Random, case: str) -> float:
    if case == "far":
        return rng.uniform(22.0, 150.0)
    if case == "shed":
        return rng.uniform(8.0, 12.0)
    if case == "secondary":
        return rng.uniform(5.0, 60.0)
    if case == "twin":
        return rng.uniform(20.0, 60.0)
    if case == "no_bsl":
        return 0.0
    return rng.uniform(0.5, 12.0)


def _radius(plan: AccountPlan) -> float:
    if plan.case == "no_bsl":
        return 160.0 if plan.nothing_near else 25.0
    if plan.case == "twin":
        return 18.0
    if plan.distance > 15.0:  # far, or a far secondary: nothing foreign within 25 m
        return 25.0
    return max(20.0, plan.distance + 8.0)
