"""The deterministic dataset generator: ``generate(accounts, seed)``.

One ``random.Random(seed)`` drives everything, so the same (accounts, seed) always
gives the same dataset. Catalogs are fixed (see :mod:`.catalogs`); accounts get
realistic Texas-area data with the nasty kinds of :mod:`.nasty` mixed in, and about 5%
of them are tenants of apartment buildings (:mod:`.buildings`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator import catalogs as cat
from sonar_bdc.simulator.buildings import place_buildings
from sonar_bdc.simulator.model import Account, Address, Dataset, Item, Raw
from sonar_bdc.simulator.nasty import (
    ADDRESS_KINDS,
    BAD_COORDINATES,
    NAME_KINDS,
    choose,
    nasty_text,
    pick_kind,
)

FIRST_ACCOUNT_ID = 1001
_EPOCH = datetime(2012, 1, 1)
_LINE2 = ("#1", "Apt 4B", "Lot 17", "Suite 200", "Unit 3", "Trlr 9")
_SOURCES: tuple[str | None, ...] = ("google", "manual", "census", "", None)


def generate(accounts: int = 1000, seed: int = 1, models: int = cat.DEFAULT_MODELS) -> Dataset:
    """A dataset of ``accounts`` accounts, the same for the same (accounts, seed, models).

    ``models``: inventory models in the catalog (the fixed ones, then generated ones);
    items are spread over all of them.
    """
    if accounts < 0:
        raise ConfigError(f"simulator accounts must be 0 or more, got {accounts}")
    if models < cat.DEFAULT_MODELS:
        raise ConfigError(f"simulator models must be {cat.DEFAULT_MODELS} or more, got {models}")
    rng = random.Random(seed)
    ds = empty_dataset(seed, models)
    account_id = FIRST_ACCOUNT_ID
    for _ in range(accounts):
        ds.accounts[account_id] = _account(rng, account_id)
        account_id += 1 + (rng.randint(1, 5) if rng.random() < 0.1 else 0)
    _inventory(ds, rng)
    place_buildings(ds, seed)  # its own rng: the values drawn above stay as they are
    return ds


def empty_dataset(seed: int, models: int = cat.DEFAULT_MODELS) -> Dataset:
    """The catalogs (``models`` inventory models) with no accounts and no items."""
    extra, extra_fields = cat.generated_models(models - cat.DEFAULT_MODELS)
    ds = Dataset(
        seed=seed,
        statuses={s.id: s for s in cat.STATUSES},
        types={t.id: t for t in cat.TYPES},
        groups={g.id: g for g in cat.GROUPS},
        services={s.id: s for s in cat.SERVICES},
        manufacturers={m.id: m for m in cat.MANUFACTURERS},
        models={m.id: m for m in (*cat.MODELS, *extra)},
        model_fields={k: list(v) for k, v in (cat.MODEL_FIELDS | extra_fields).items()},
    )
    ds.cpe_model_ids = cat.CPE_MODEL_IDS + tuple(m.id for m in extra if m.category_id != 4)
    ds.accessory_model_ids = cat.ACCESSORY_MODEL_IDS + tuple(
        m.id for m in extra if m.category_id == 4
    )
    return ds


def _account(rng: random.Random, account_id: int) -> Account:
    status_id = choose(rng, (2, 5, 1, 3, 4), (75, 5, 5, 8, 7))
    type_id = choose(rng, (1, 2, 3, 4), (80, 14, 2, 4))
    address = new_address(rng)
    mailing = _mailing(rng) if rng.random() < 0.15 else None
    return Account(
        id=account_id,
        name=nasty_text(rng, NAME_KINDS) or _plain_name(rng, type_id),
        status_id=status_id,
        type_id=type_id,
        group_ids=new_groups(rng),
        address=address,
        services=_services(rng, status_id),
        item_ids=[],
        mailing=mailing,
        deleted=rng.random() < 0.01,
        contacts=choose(rng, (1, 2, 3), (97, 2, 1)),
        usage_months=rng.randint(100, 150) if rng.random() < 0.02 else rng.randint(6, 60),
        created_at=(_EPOCH + timedelta(seconds=rng.randrange(400_000_000))).isoformat(" "),
        balance_due=f"{rng.randint(0, 30000) / 100:.2f}" if rng.random() < 0.2 else "0.00",
        id_as_text=rng.random() < 0.05,
        zip_as_number=rng.random() < 0.03,
        mailing_first=mailing is not None and rng.random() < 0.5,
    )


def _plain_name(rng: random.Random, type_id: int) -> str:
    last = rng.choice(cat.LAST_NAMES)
    if type_id in (2, 3):
        return f"{last} {rng.choice(cat.BUSINESS_SUFFIXES)}"
    return f"{rng.choice(cat.FIRST_NAMES)} {last}"


def new_groups(rng: random.Random) -> list[int]:
    count = choose(rng, (0, 1, 2, 3), (30, 45, 20, 5))
    return sorted(rng.sample([g.id for g in cat.GROUPS], count))


def new_address(rng: random.Random) -> Address:
    """A physical address with fips and coordinates (some of them invalid)."""
    place = choose(rng, cat.PLACES, cat.PLACE_WEIGHTS)
    r = rng.random()
    addr = Address(
        line1=nasty_text(rng, ADDRESS_KINDS)
        or f"{rng.randint(1, 29999)} {rng.choice(cat.STREETS)}",
        line2=rng.choice(_LINE2) if r < 0.2 else ("" if r < 0.9 else None),
        city=place.city,
        state=place.state,
        zip=f"{place.zip_prefix}{rng.randint(0, 99):02d}",
        plus4=_plus4(rng),
        county=place.county,
        source=choose(rng, _SOURCES, (55, 15, 10, 12, 8)),
        fips=_fips(rng, place.county_fips),
    )
    set_coordinates(rng, addr, place.lat, place.lon)
    return addr


def _plus4(rng: random.Random) -> str | None:
    r = rng.random()
    return f"{rng.randint(1, 9999):04d}" if r < 0.4 else ("" if r < 0.9 else None)


def _fips(rng: random.Random, county_fips: str) -> str | None:
    r = rng.random()
    if r < 0.04:
        return None if r < 0.03 else ""
    tract = rng.randint(100, 990000)
    block = rng.randint(1000, 4999)
    return f"{county_fips}{tract:06d}{block}"


def set_coordinates(rng: random.Random, addr: Address, lat0: float, lon0: float) -> None:
    """Give ``addr`` a location near (lat0, lon0); some renderings are invalid."""
    digits = rng.randint(4, 6)
    lat = round(lat0 + rng.uniform(-0.2, 0.2), digits)
    lon = round(lon0 + rng.uniform(-0.2, 0.2), digits)
    kind = pick_kind(rng, BAD_COORDINATES)
    if kind is None:
        as_number = rng.random() < 0.08
        addr.lat, addr.lon = lat, lon
        addr.lat_raw, addr.lon_raw = (lat, lon) if as_number else (str(lat), str(lon))
        return
    _, lat_raw, lon_raw = BAD_COORDINATES[kind]
    addr.lat, addr.lon = None, None
    addr.lat_raw = _fill_valid(lat_raw, lat)
    addr.lon_raw = _fill_valid(lon_raw, lon)


def _fill_valid(raw: Raw, value: float) -> Raw:
    return str(value) if raw == "VALID" else raw


def _mailing(rng: random.Random) -> Address:
    place = choose(rng, cat.PLACES, cat.PLACE_WEIGHTS)
    zip_code = f"{place.zip_prefix}{rng.randint(0, 99):02d}"
    return Address(f"PO Box {rng.randint(1, 9999)}", "", place.city, place.state, zip_code)


def _services(rng: random.Random, status_id: int) -> list[tuple[int, int]]:
    r = rng.random()
    if r < 0.04 or (status_id in cat.INACTIVE_STATUS_IDS and r < 0.5):
        return []
    chosen: list[tuple[int, int]] = []
    if r > 0.07:  # 0.04..0.07: only non-data services
        chosen.append((_data_service(rng), 1))
        if rng.random() < 0.015:
            second = _data_service(rng)
            if second != chosen[0][0]:
                chosen.append((second, 1))
    for sid, rate in ((800, 0.08), (801, 0.15), (802, 0.05), (803, 0.02), (804, 0.03)):
        if rng.random() < rate:
            chosen.append((sid, rng.randint(1, 5) if sid == 800 else 1))
    return chosen


def _data_service(rng: random.Random) -> int:
    weights = (20, 25, 15, 5, 8, 4, 4, 3, 1, 1, 2, 1, 1, 2)
    return choose(rng, cat.DATA_SERVICE_IDS, weights)


def _inventory(ds: Dataset, rng: random.Random) -> None:
    for account in ds.accounts.values():
        if not account.deleted:
            for _ in range(choose(rng, (0, 1, 2, 3), (10, 70, 15, 5))):
                add_item(ds, rng, "accounts", account.id)
    n = len(ds.accounts)
    for _ in range(n // 20):
        add_item(ds, rng, "network_sites", rng.randint(1, 40))
    for _ in range(n // 25):
        add_item(ds, rng, "inventory_locations", rng.randint(1, 6))
    for _ in range(n // 200):
        add_item(ds, rng, rng.choice(("vehicles", "users")), rng.randint(1, 8))


def add_item(ds: Dataset, rng: random.Random, assignee_type: str, assignee_id: int) -> Item:
    """Create a new item (next free id), assign it, and register it in ``ds``."""
    ds.last_item_id += 1
    item_id = ds.last_item_id
    r = rng.random()
    if r < 0.01:
        model_id = rng.choice(cat.ORPHAN_MODEL_IDS)
    else:
        model_id = rng.choice(ds.cpe_model_ids if r < 0.85 else ds.accessory_model_ids)
    item = Item(
        id=item_id,
        model_id=model_id,
        status=choose(rng, ("functional", "failed", "lost"), (90, 7, 3)),
        condition=choose(rng, ("new", "used"), (60, 40)),
        purchase_price=f"{rng.randint(1500, 45000) / 100:.2f}",
        fields=_item_fields(rng, ds, item_id, model_id),
        assignee_type=assignee_type,
        assignee_id=assignee_id,
        model_id_as_text=rng.random() < 0.05,
    )
    ds.items[item_id] = item
    if assignee_type == "accounts":
        ds.accounts[assignee_id].item_ids.append(item_id)
    return item


def _item_fields(
    rng: random.Random, ds: Dataset, item_id: int, model_id: int
) -> list[tuple[int, str]]:
    defs = ds.model_fields.get(model_id)
    if defs is None:  # an orphan model: its field ids mean nothing to the catalog
        return [(901, _mac(item_id)), (902, f"SN{rng.randrange(10**9):09d}")]
    fields: list[tuple[int, str]] = []
    for fd in defs:
        r = rng.random()
        if fd.type == "mac" and r < 0.02:
            if r < 0.01:
                fields.append((fd.id, ""))
            continue  # the MAC field is empty or missing on this item
        fields.append((fd.id, _field_value(rng, fd.type, item_id)))
    return fields


def _field_value(rng: random.Random, field_type: str, item_id: int) -> str:
    if field_type == "mac":
        return _mac(item_id)
    if field_type == "integer":
        return str(rng.choice((50, 100, 150)))
    if field_type == "imsi":
        return f"310410{rng.randrange(10**9):09d}"
    return f"SN{rng.randrange(36**6):06X}{item_id:06d}"


def _mac(item_id: int) -> str:
    """A MAC unique per item id (an odd multiplier is a bijection modulo 2**24)."""
    low = (item_id * 2654435761) & 0xFFFFFF
    octets = (0x24, 0x5A, 0x4C, low >> 16, (low >> 8) & 0xFF, low & 0xFF)
    return ":".join(f"{o:02X}" for o in octets)
