"""Apartment buildings: a few accounts made tenants of one multi-unit building.

Real subscriber lists hold buildings whose tenants share one street address and one
geocode, each with its unit in the second line; the Fabric then has one location for
them all (``unit_count`` > 1). ``generate`` calls :func:`place_buildings` after drawing
the accounts, with an rng of its own, so every other value of the dataset stays as it
was. Only accounts with a plain generated address are made tenants (the hostile ones
keep their values), and a tenant keeps its coordinate kind: a tenant with invalid
coordinates keeps them, a valid one moves to within a few metres of the building.
"""

from __future__ import annotations

import random
import re

from sonar_bdc.simulator.model import Account, Address, Dataset

# Streets with directionals: the Fabric spells them as words or as USPS abbreviations.
BUILDING_STREETS = (
    "N Flores St", "W Commerce St", "S Alamo St", "E Houston St", "NW Military Hwy",
    "S Presa St", "N Main Ave", "E Evergreen Blvd",
)  # fmt: skip
_UNITS = ("Apt {n}", "Apt {n}{letter}", "#{n}", "Unit {n}", "APT {n}")
_PLAIN = re.compile(r"\d+ [A-Za-z0-9 ]{1,60}")
_JITTER_DEG = 4e-5  # about 4 m: tenants of one building are geocoded a few metres apart


def place_buildings(ds: Dataset, seed: int, share: float = 0.05) -> None:
    """Make about ``share`` of the accounts tenants of 2-6 unit buildings (in place)."""
    rng = random.Random(f"buildings-{seed}")
    plain = [a for a in ds.accounts.values() if is_plain(a.address.line1)]
    rng.shuffle(plain)
    left = round(share * len(ds.accounts))
    while left >= 2 and len(plain) >= 2:
        size = min(rng.randint(2, 6), left, len(plain))
        group, plain = plain[:size], plain[size:]
        left -= size
        _make_building(rng, group)


def is_plain(line1: str) -> bool:
    """A generated "<number> <street>" line, not one of the hostile values."""
    return _PLAIN.fullmatch(line1) is not None


def _make_building(rng: random.Random, tenants: list[Account]) -> None:
    anchor = next((t for t in tenants if t.address.lat is not None), None)
    if anchor is None:  # nobody to geocode the building from: leave them be
        return
    home = anchor.address
    line1 = f"{rng.randint(100, 9999)} {rng.choice(BUILDING_STREETS)}"
    units = rng.sample(range(1, 40), len(tenants))
    for tenant, unit in zip(tenants, units, strict=True):
        addr = tenant.address
        addr.line1 = line1
        addr.line2 = rng.choice(_UNITS).format(n=unit, letter=rng.choice("ABCD"))
        addr.city, addr.state, addr.zip, addr.county = home.city, home.state, home.zip, home.county
        addr.plus4 = home.plus4
        if addr.fips:  # a missing fips stays missing
            addr.fips = home.fips
        if tenant is not anchor:
            _move_near(rng, addr, home)


def _move_near(rng: random.Random, addr: Address, home: Address) -> None:
    if addr.lat is None or home.lat is None or home.lon is None:
        return  # invalid coordinates stay invalid
    lat = round(home.lat + rng.uniform(-_JITTER_DEG, _JITTER_DEG), 6)
    lon = round(home.lon + rng.uniform(-_JITTER_DEG, _JITTER_DEG), 6)
    as_number = isinstance(addr.lat_raw, float)
    addr.lat, addr.lon = lat, lon
    addr.lat_raw, addr.lon_raw = (lat, lon) if as_number else (str(lat), str(lon))
