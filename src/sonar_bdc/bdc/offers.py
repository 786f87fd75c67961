"""What the filer offers per technology: the ``[offers."CODE"]`` section and its defaults.

The availability file lists, per location and technology, the fastest advertised speeds
*offered* there (not a subscriber's plan), whether the service is low latency, and whether
it is sold to residential (R), business (B) or both (X) customers.

FCC rules followed here (help.bdc.fcc.gov, "How to Format Fixed Broadband Availability
Location Lists" and "... Polygons"): speeds are whole Mbps (the system rejects decimals,
it does not round); a service below 25/3 Mbps that is faster than 200 kbps in either
direction is reported as one of the FCC's fixed tiers. The tiers (10/1, 4/1, 0.2/0.2) and
0.2 written as 0 in the integer columns are the assumption documented in docs/bdc.md.
Pure: no SQL; ``bdc.config`` calls :func:`parse_offers` for the TOML section.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sonar_bdc.errors import ConfigError

FLOOR = (25, 3)  # Mbps: at and above it any whole speeds; below it, a tier
# (download, upload) as written in the file, fastest first; (0, 0) is the 0.2/0.2 tier.
TIERS = ((10, 1), (4, 1), (0, 0))
CODES_BRC = ("R", "B", "X")
GSO_SATELLITE = 60  # the one technology whose service is not low latency by default
_KEYS = ("download_mbps", "upload_mbps", "low_latency", "business_residential_code")
KBPS = 1000


@dataclass(frozen=True, slots=True)
class Offer:
    """One offer as filed: whole Mbps, low latency, R/B/X."""

    download_mbps: int
    upload_mbps: int
    low_latency: bool
    business_residential_code: str


@dataclass(frozen=True, slots=True)
class OfferEntry:
    """``[offers."CODE"]``: every key optional; speeds come as a pair."""

    speeds: tuple[int, int] | None = None
    low_latency: bool | None = None
    business_residential_code: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedOffer:
    offer: Offer
    assumed: str | None = None  # what was not configured and was taken from Sonar/defaults


def speeds_problem(download: object, upload: object) -> str | None:
    """Why (download, upload) in Mbps cannot be filed; None when it can."""
    for value in (download, upload):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{value!r} is not a whole number of Mbps (the FCC does not round)"
        if value < 0:
            return f"{value} Mbps is negative"
    assert isinstance(download, int) and isinstance(upload, int)
    if download >= FLOOR[0] and upload >= FLOOR[1]:
        return None
    if (download, upload) in TIERS:
        return None
    tiers = ", ".join(f"{d}/{u}" for d, u in TIERS)
    return (
        f"{download}/{upload} Mbps is below 25/3 and not one of the FCC's tiers ({tiers}; "
        "0/0 stands for 0.2/0.2)"
    )


def tier_of_kbps(download_kbps: int, upload_kbps: int) -> tuple[int, int]:
    """A plan's speeds as filed: whole Mbps (rounded down: never more than sold) at or
    above 25/3, else the fastest tier the plan fully reaches."""
    down, up = download_kbps // KBPS, upload_kbps // KBPS
    if down >= FLOOR[0] and up >= FLOOR[1]:
        return down, up
    return next(t for t in TIERS if down >= t[0] and up >= t[1])


def parse_offers(
    table: Mapping[str, object], source: str, codes: Collection[int]
) -> dict[int, OfferEntry]:
    """``[offers."70"] download_mbps = 100 ...`` -> {70: OfferEntry}; ConfigError on a typo."""
    entries = {}
    for key, value in table.items():
        where = f'[offers."{key}"]'
        code = int(key) if key.strip().isdigit() else None
        if code is None or code not in codes:
            allowed = ", ".join(str(c) for c in sorted(codes))
            raise ConfigError(f"{source}: {where}: {key!r} is not a BDC code ({allowed})")
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {where} must be a table")
        entries[code] = _entry(value, f"{source}: {where}")
    return entries


def _entry(value: Mapping[str, object], where: str) -> OfferEntry:
    unknown = [k for k in value if k not in _KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(_KEYS)}")
    if ("download_mbps" in value) != ("upload_mbps" in value):
        raise ConfigError(f"{where}: give download_mbps and upload_mbps together")
    speeds = None
    if "download_mbps" in value:
        down, up = value["download_mbps"], value["upload_mbps"]
        problem = speeds_problem(down, up)
        if problem:
            raise ConfigError(f"{where}: {problem}")
        assert isinstance(down, int) and isinstance(up, int)
        speeds = (down, up)
    latency = value.get("low_latency")
    if latency is not None and not isinstance(latency, bool):
        raise ConfigError(f"{where}: low_latency must be true or false")
    brc = value.get("business_residential_code")
    if brc is not None and brc not in CODES_BRC:
        raise ConfigError(f"{where}: business_residential_code must be one of R, B, X")
    return OfferEntry(speeds, latency, brc if isinstance(brc, str) else None)


def resolve(
    code: int, entry: OfferEntry | None, fastest_plan_kbps: tuple[int, int] | None
) -> ResolvedOffer | None:
    """The technology's offer: the configured entry, its gaps filled by the fastest active
    plan sold on it in Sonar and the defaults (low latency except GSO satellite, X).
    None when neither the entry nor Sonar gives speeds."""
    entry = entry or OfferEntry()
    assumed = []
    speeds = entry.speeds
    if speeds is None:
        if fastest_plan_kbps is None:
            return None
        speeds = tier_of_kbps(*fastest_plan_kbps)
        down, up = fastest_plan_kbps
        assumed.append(
            f"{speeds[0]}/{speeds[1]} Mbps from the fastest active plan sold on it in Sonar "
            f"({down / KBPS:g}/{up / KBPS:g} Mbps)"
        )
    latency = entry.low_latency
    if latency is None:
        latency = code != GSO_SATELLITE
        assumed.append(f"low_latency {int(latency)}")
    brc = entry.business_residential_code
    if brc is None:
        brc = "X"
        assumed.append("business_residential_code X")
    offer = Offer(speeds[0], speeds[1], latency, brc)
    return ResolvedOffer(offer, "; ".join(assumed) or None)
