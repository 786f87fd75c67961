"""``make_fabric(dataset)``: a look-alike of the licensed Fabric, made for the simulator.

The real Fabric may never be in the repository; tests and benchmarks use this one,
placed from the dataset's own accounts with the trouble real data has (see
:mod:`.fabric_plan` for the cases and their shares, :mod:`.fabric_text` for spellings):

>>> from sonar_bdc.simulator import generate
>>> fabric = make_fabric(generate(accounts=100, seed=1))
>>> fabric.truth[1001]  # doctest: +SKIP
1000461512

The same (dataset, seed) always gives the same locations; another ``release`` gives the
same locations with about 3% of the location_ids changed. Files: :mod:`.fabric_files`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator import catalogs as cat
from sonar_bdc.simulator.fabric_geo import Grid, distance_m, offset
from sonar_bdc.simulator.fabric_model import (
    AMBIGUOUS,
    DEFAULT_RELEASE,
    NEAREST_NOT_BSL,
    NO_COORDINATES_NO_ADDRESS,
    NOTHING_WITHIN_REACH,
    Fabric,
    Location,
    Placement,
    Release,
    SecondaryAddress,
    parse_release,
)
from sonar_bdc.simulator.fabric_plan import AccountPlan, plan_accounts
from sonar_bdc.simulator.fabric_text import Street, parse_line, pick_style, spell, unit_text
from sonar_bdc.simulator.model import Account, Dataset
from sonar_bdc.simulator.nasty import choose

EXTRA_STREETS = (
    "Quail Run", "Mesquite Ln", "Hackberry St", "Cypress Dr", "Pinto Trl", "Private Rd 4021",
    "Farm Rd 78", "Sendero Dr", "Agarita Ln", "S Huisache Ave",
)  # fmt: skip
EXTRA_BSL_SHARE = 0.10  # unrelated BSLs, per account
EXTRA_NOBSL_SHARE = 0.04
EXTRA_SPELLING_SHARE = 0.05  # locations with a second spelling of their own address
CHANGED_ID_SHARE = 0.03  # locations whose location_id a release changes
_PLACES = {p.county: p for p in cat.PLACES}
_TRIES = 16


@dataclass(slots=True)
class _Draft:
    """A location before its release gives it an id."""

    lat: float
    lon: float
    bsl: bool
    street: Street | None  # canonical parts of its address (None: none or not parsable)
    address: str
    place: cat.Place
    zip: str
    zip_suffix: str
    block_geoid: str
    unit_count: int = 1


@dataclass(slots=True)
class _Answer:
    index: int | None
    case: str
    why: str | None = None
    candidates: tuple[int, ...] = ()


@dataclass(slots=True)
class _Builder:
    ds: Dataset
    rng: random.Random
    drafts: list[_Draft] = field(default_factory=list)
    seconds: list[tuple[int, Street, str]] = field(default_factory=list)  # index, parts, line
    answers: dict[int, _Answer] = field(default_factory=dict)
    guards: Grid = field(default_factory=Grid)
    radius: dict[int, float] = field(default_factory=dict)
    taken: set[tuple[Street, str]] = field(default_factory=set)  # subscribers' addresses


def make_fabric(dataset: Dataset, seed: int = 1, release: str = DEFAULT_RELEASE) -> Fabric:
    """The Fabric of ``release`` (``MMDDYYYY``) for ``dataset``'s accounts, with the truth."""
    rel = parse_release(release)
    b = _Builder(dataset, random.Random(f"fabric-{dataset.seed}-{seed}"))
    plans, buildings = plan_accounts(dataset, b.rng)
    _guard(b, plans)
    for building in buildings:
        _building(b, building)
    for plan in plans:
        if plan.building is None:
            _account(b, plan)
    _extras(b)
    _settle_address_only(b, plans)
    ids = _ids(len(b.drafts), dataset.seed, seed, rel)
    return _fabric(b, rel, ids, plans)


def _guard(b: _Builder, plans: list[AccountPlan]) -> None:
    for plan in plans:
        addr = plan.account.address
        if plan.street is not None:
            b.taken.add((plan.street, addr.zip))
        if plan.radius > 0 and addr.lat is not None and addr.lon is not None:
            b.guards.add(addr.lat, addr.lon, plan.account.id)
            b.radius[plan.account.id] = plan.radius


def _free(b: _Builder, lat: float, lon: float, owners: frozenset[int]) -> bool:
    """No guarded subscriber but ``owners`` has this point within its radius."""
    return all(key in owners or d >= b.radius[key] for key, d in b.guards.near(lat, lon, 200.0))


def _near(
    b: _Builder, account: Account, metres: float, owners: frozenset[int]
) -> tuple[float, float]:
    """A free point ``metres`` from the account's geocode (nearer if none is free)."""
    lat, lon = account.address.lat, account.address.lon
    assert lat is not None and lon is not None
    point = (lat, lon)
    for attempt in range(_TRIES * 2):
        scale = 1.0 if attempt < _TRIES else 0.5 ** (attempt - _TRIES + 1)
        point = _round(offset(lat, lon, metres * scale, b.rng.uniform(0, 2 * math.pi)))
        if _free(b, *point, owners):
            return point
    return point  # two geocodes all but on top of each other: the nearest we found


def _anywhere(b: _Builder, place: cat.Place, owners: frozenset[int]) -> tuple[float, float] | None:
    """A free point in the place's box (where the simulator geocodes its accounts)."""
    for _ in range(_TRIES):
        point = _round((place.lat + b.rng.uniform(-0.2, 0.2), place.lon + b.rng.uniform(-0.2, 0.2)))
        if _free(b, *point, owners):
            return point
    return None


def _round(point: tuple[float, float]) -> tuple[float, float]:
    return round(point[0], 6), round(point[1], 6)


def _place_of(account: Account) -> cat.Place:
    return _PLACES.get(account.address.county) or next(
        (p for p in cat.PLACES if p.city == account.address.city), cat.PLACES[0]
    )


def _add(b: _Builder, draft: _Draft) -> int:
    b.drafts.append(draft)
    return len(b.drafts) - 1


def _draft(
    b: _Builder, account: Account, point: tuple[float, float], bsl: bool = True, unit: bool = True
) -> _Draft:
    """A location at ``point`` with the account's address as the Fabric spells it."""
    addr = account.address
    typed = addr.line1
    street = parse_line(typed)
    place = _place_of(account)
    if street is None:  # Sonar's line is garbage; the Fabric holds a clean address
        typed = f"{b.rng.randint(1, 29999)} {b.rng.choice(EXTRA_STREETS)}"
        street = parse_line(typed)
    assert street is not None
    style = pick_style(b.rng)
    line = spell(street, style, typed).line
    unit_line = unit_text(addr.line2, style) if addr.line2 and unit else None
    if unit_line is not None and b.rng.random() < 0.4:  # a lot or trailer in the one line
        line = f"{line} {unit_line}"
    suffix = addr.plus4 or (f"{b.rng.randint(1, 9999):04d}" if b.rng.random() < 0.5 else "")
    return _Draft(*point, bsl, street, line, place, addr.zip, suffix, _block(b, addr.fips, place))


def _block(b: _Builder, fips: str | None, place: cat.Place) -> str:
    """A 2020 block: the fips's tract mostly, a split tract sometimes, else a new one."""
    if fips and len(fips) == 15 and fips.startswith(place.county_fips):
        tract = fips[:11]
        if b.rng.random() < 0.05:  # the tract was split in 2020: 123400 -> 123401
            tract = f"{tract[:9]}{b.rng.randint(1, 2):02d}"
    else:
        tract = f"{place.county_fips}{b.rng.randint(100, 990000):06d}"
    return f"{tract}{b.rng.randint(1000, 4999)}"


def _answer(b: _Builder, plan: AccountPlan, index: int | None, why: str | None = None) -> None:
    b.answers[plan.account.id] = _Answer(index, plan.case, why)


def _building(b: _Builder, tenants: list[AccountPlan]) -> None:
    anchor = next(p for p in tenants if p.account.address.lat is not None)
    owners = frozenset(p.account.id for p in tenants)
    point = _near(b, anchor.account, b.rng.uniform(1, 4), owners)
    draft = _draft(b, anchor.account, point, unit=False)  # the building, not a unit
    draft.unit_count = len(tenants) + b.rng.randint(0, 24)
    index = _add(b, draft)
    for plan in tenants:
        _answer(b, plan, index)


def _account(b: _Builder, plan: AccountPlan) -> None:
    account = plan.account
    if plan.case in ("no_coordinates", "unknowable"):
        _without_coordinates(b, plan)
    elif plan.case == "no_bsl":
        _no_bsl(b, plan)
    elif plan.case == "twin":
        _twins(b, plan)
    else:
        owners = frozenset({account.id})
        draft = _draft(b, account, _near(b, account, plan.distance, owners))
        if plan.case == "secondary":
            _under_another_street(b, draft)
        index = _add(b, draft)
        _answer(b, plan, index)
        if plan.case == "shed":
            _shed(b, account, draft, plan.distance)
        elif plan.case == "neighbour":
            _neighbour(b, account, draft, plan.distance)


def _without_coordinates(b: _Builder, plan: AccountPlan) -> None:
    place = _place_of(plan.account)
    point = _anywhere(b, place, frozenset({plan.account.id}))
    if point is None:  # the box is full of guards: very unlikely; it has no BSL then
        _answer(b, plan, None, NO_COORDINATES_NO_ADDRESS)
        return
    index = _add(b, _draft(b, plan.account, point))
    known = plan.case == "no_coordinates"
    _answer(b, plan, index if known else None, None if known else NO_COORDINATES_NO_ADDRESS)


def _no_bsl(b: _Builder, plan: AccountPlan) -> None:
    account = plan.account
    if account.address.lat is None:
        _answer(b, plan, None, NO_COORDINATES_NO_ADDRESS)
        return
    if plan.nothing_near:
        _answer(b, plan, None, NOTHING_WITHIN_REACH)
        return
    point = _near(b, account, b.rng.uniform(1, 10), frozenset({account.id}))
    structure = _draft(b, account, point, bsl=False)
    if b.rng.random() < 0.5:
        structure.address, structure.street = "", None
    structure.unit_count = 0
    _add(b, structure)
    _answer(b, plan, None, NEAREST_NOT_BSL)


def _twins(b: _Builder, plan: AccountPlan) -> None:
    """Two BSLs with the account's address, equally far on opposite sides."""
    account = plan.account
    lat, lon = account.address.lat, account.address.lon
    assert lat is not None and lon is not None
    bearing = b.rng.uniform(0, math.pi)
    indices = []
    for turn in (0.0, math.pi):
        point = _round(offset(lat, lon, plan.distance, bearing + turn))
        indices.append(_add(b, _draft(b, account, point)))
    b.answers[account.id] = _Answer(None, plan.case, AMBIGUOUS, tuple(indices))


def _under_another_street(b: _Builder, draft: _Draft) -> None:
    """A corner lot: the primary address is on the cross street, the account's is second."""
    assert draft.street is not None
    b.seconds.append((len(b.drafts), draft.street, draft.address))
    cross = parse_line(f"{b.rng.randint(1, 29999)} {b.rng.choice(EXTRA_STREETS)}")
    assert cross is not None
    draft.street, draft.address = cross, spell(cross, "usps", "").line


def _shed(b: _Builder, account: Account, house: _Draft, distance: float) -> None:
    """A NoBSL outbuilding nearer the geocode than the house, often with its address."""
    point = _near(b, account, b.rng.uniform(0.5, min(5.0, distance - 3.0)), frozenset({account.id}))
    shed = _Draft(*point, False, house.street, house.address, house.place, house.zip,
                  house.zip_suffix, house.block_geoid, 0)  # fmt: skip
    if b.rng.random() < 0.5:
        shed.address, shed.street = "", None
    _add(b, shed)


def _neighbour(b: _Builder, account: Account, house: _Draft, distance: float) -> None:
    """The house next door: same street, another number, a few tens of metres away."""
    street = house.street
    if street is None or not street.number.isdigit():
        return
    for _ in range(_TRIES):
        number = int(street.number) + 2 * b.rng.choice((-1, 1)) * b.rng.randint(1, 10)
        other = street._replace(number=str(number))
        if number > 0 and (other, house.zip) not in b.taken:
            break
    else:
        return
    metres = b.rng.uniform(max(25.0, 2 * distance + 10), 60.0)
    point = _near(b, account, metres, frozenset())
    if _free(b, *point, frozenset()):
        line = spell(other, pick_style(b.rng), "").line
        _add(b, _Draft(*point, True, other, line, house.place, house.zip, "",
                       house.block_geoid))  # fmt: skip


def _extras(b: _Builder) -> None:
    """Unrelated BSLs and NoBSL structures spread where the accounts live."""
    n = len(b.ds.accounts)
    weights = cat.PLACE_WEIGHTS
    for bsl, count in ((True, round(n * EXTRA_BSL_SHARE)), (False, round(n * EXTRA_NOBSL_SHARE))):
        for _ in range(count):
            place = choose(b.rng, cat.PLACES, weights)
            point = _anywhere(b, place, frozenset())
            if point is not None:
                _add(b, _extra(b, place, point, bsl))
    for index, draft in enumerate(list(b.drafts)):
        if draft.bsl and draft.street is not None and b.rng.random() < EXTRA_SPELLING_SHARE:
            line = spell(draft.street, pick_style(b.rng), "").line
            b.seconds.append((index, draft.street, line))


def _extra(b: _Builder, place: cat.Place, point: tuple[float, float], bsl: bool) -> _Draft:
    zip_code = f"{place.zip_prefix}{b.rng.randint(0, 99):02d}"
    for _ in range(_TRIES):
        street = parse_line(f"{b.rng.randint(1, 29999)} {b.rng.choice(EXTRA_STREETS)}")
        if street is not None and (street, zip_code) not in b.taken:
            break
    assert street is not None
    line = spell(street, pick_style(b.rng), "").line if bsl or b.rng.random() < 0.5 else ""
    return _Draft(*point, bsl, street if line else None, line, place, zip_code, "",
                  _block(b, None, place), 1 if bsl else 0)  # fmt: skip


def _settle_address_only(b: _Builder, plans: list[AccountPlan]) -> None:
    """An account without coordinates is found by address and ZIP alone: when its address
    names no BSL or several, no matcher can find it, and the truth says so."""
    homes: dict[tuple[Street, str], set[int]] = {}
    for index, draft in enumerate(b.drafts):
        if draft.bsl and draft.street is not None:
            homes.setdefault((draft.street, draft.zip), set()).add(index)
    for index, street, _ in b.seconds:
        homes.setdefault((street, b.drafts[index].zip), set()).add(index)
    for plan in plans:
        answer = b.answers[plan.account.id]
        if plan.account.address.lat is not None or answer.index is None:
            continue
        found = homes.get((plan.street, plan.account.address.zip), set()) if plan.street else set()
        if len(found) > 1:
            b.answers[plan.account.id] = _Answer(None, answer.case, AMBIGUOUS, tuple(sorted(found)))
        elif found != {answer.index}:
            b.answers[plan.account.id] = _Answer(None, answer.case, NO_COORDINATES_NO_ADDRESS)


def _ids(count: int, dataset_seed: int, seed: int, rel: Release) -> list[int]:
    """Each location's id in ``rel``: stable, except ~3% that this release renumbered."""
    if count >= 10_000_000:
        raise ConfigError(f"a simulated Fabric holds at most 9,999,999 locations, not {count}")
    ids = random.Random(f"fabric-ids-{dataset_seed}-{seed}").sample(
        range(1_000_000_000, 2_000_000_000), count
    )
    renumber = random.Random(f"fabric-release-{dataset_seed}-{seed}-{rel.number}")
    for index in renumber.sample(range(count), round(count * CHANGED_ID_SHARE)):
        ids[index] = 2_000_000_000 + rel.number * 10_000_000 + index
    return ids


def _fabric(b: _Builder, rel: Release, ids: list[int], plans: list[AccountPlan]) -> Fabric:
    locations = [_location(b, d, ids[i]) for i, d in enumerate(b.drafts)]
    seconds = [
        _secondary(b.drafts[i], ids[i], n, street, line)
        for n, (i, street, line) in enumerate(b.seconds, start=1)
    ]
    placements = {}
    for plan in plans:
        answer = b.answers[plan.account.id]
        placements[plan.account.id] = Placement(
            location_id=None if answer.index is None else ids[answer.index],
            case=answer.case,
            why=answer.why,
            distance_m=_distance(plan.account, b.drafts, answer.index),
            candidates=tuple(ids[i] for i in answer.candidates),
        )
    geocodes = [
        (a.address.lat, a.address.lon)
        for a in b.ds.accounts.values()
        if a.address.lat is not None and a.address.lon is not None
    ]
    return Fabric(rel, locations, seconds, placements, geocodes)


def _distance(account: Account, drafts: list[_Draft], index: int | None) -> float | None:
    lat, lon = account.address.lat, account.address.lon
    if index is None or lat is None or lon is None:
        return None
    return distance_m(lat, lon, drafts[index].lat, drafts[index].lon)


def _location(b: _Builder, d: _Draft, location_id: int) -> Location:
    return Location(
        location_id=location_id,
        address_primary=d.address,
        city=d.place.city.upper(),
        state=d.place.state,
        zip=d.zip,
        zip_suffix=d.zip_suffix,
        unit_count=d.unit_count,
        bsl_flag=d.bsl,
        building_type_code=(choose(b.rng, "RBX", (85, 10, 5)) if d.bsl else ""),
        land_use_code=(choose(b.rng, "123", (80, 15, 5)) if d.bsl else ""),
        address_confidence_code=choose(b.rng, "123", (80, 15, 5)) if d.address else "",
        county_geoid=d.place.county_fips,
        block_geoid=d.block_geoid,
        h3_9=_h3_like(d.lat, d.lon),
        latitude=d.lat,
        longitude=d.lon,
    )


def _h3_like(lat: float, lon: float) -> str:
    """A 15-hex-digit resolution-9 look-alike (not a real H3 cell: nothing reads it)."""
    cell = (round((lat + 90) * 3000) * 1_080_000 + round((lon + 180) * 3000)) % 16**9
    return f"89{cell:09x}ffff"


def _secondary(
    d: _Draft, location_id: int, address_id: int, street: Street, line: str
) -> SecondaryAddress:
    return SecondaryAddress(
        location_id=location_id,
        address_id=address_id,
        parcel_id=f"{d.place.county_fips}-{location_id % 10**8:08d}",
        address_confidence_code="1",
        address_range=street.number,
        pre_direction=street.pre,
        street_name=street.name,
        suffix=street.suffix,
        post_direction=street.post,
        address=line,
        city=d.place.city.upper(),
        state=d.place.state,
        zip=d.zip,
        zip_suffix=d.zip_suffix,
        address_source="E911" if address_id % 3 else "PARCEL",
        county_geoid=d.place.county_fips,
    )
