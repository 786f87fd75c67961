"""The simulated Fabric's types: a release, its rows of three kinds, and the truth.

``Location`` is one row of the Active BSL file (``bsl_flag`` True) or of the NoBSL file
(False); ``SecondaryAddress`` one row of the Secondary / Supplemental file. Each
account's ``Placement`` says what a correct matcher answers for it and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sonar_bdc.errors import ConfigError

# Why an account has no right location: the reasons of the fabric_matches table.
NO_COORDINATES_NO_ADDRESS = "no_coordinates_no_address"
NOTHING_WITHIN_REACH = "nothing_within_reach"
AMBIGUOUS = "ambiguous"
NEAREST_NOT_BSL = "nearest_not_bsl"

# The case planted for an account (one each): see docs/simulator-fabric.md.
CASES = (
    "near",  # its BSL within 12 m, nothing else close
    "neighbour",  # near, and a neighbour's BSL 25-60 m away on the same street
    "crowded",  # another subscriber's geocode within 45 m: its BSL at a fifth of that
    "far",  # its BSL 22-150 m away: the address decides
    "shed",  # its BSL 8-12 m away, a NoBSL outbuilding nearer
    "secondary",  # its BSL 5-60 m away under another street; its address is a secondary one
    "apartment",  # a tenant: the building's one location (unit_count > 1)
    "no_coordinates",  # no usable coordinates: its address and ZIP find its BSL
    "twin",  # two BSLs with its address, equally far: ambiguous
    "no_bsl",  # not at any BSL (nothing near, or only a NoBSL structure)
    "unknowable",  # no coordinates and an address the Fabric does not hold
)

_RELEASE = re.compile(r"(06302|12312)\d{3}")
FIRST_RELEASE_YEAR = 2022  # the June 2022 Fabric was release 1


@dataclass(frozen=True, slots=True)
class Release:
    """One Fabric release, named by its as-of date, ``MMDDYYYY`` (June 30 or December 31).

    ``fcc_rel`` is the value written in the files' ``fcc_rel`` column (assumed to be the
    as-of date; the loader only needs it to be one value per release).
    """

    fcc_rel: str

    @property
    def number(self) -> int:
        """The release number in the file names: June 2022 was 1, each half-year adds 1."""
        year = int(self.fcc_rel[4:])
        return (year - FIRST_RELEASE_YEAR) * 2 + (1 if self.fcc_rel.startswith("06") else 2)

    @property
    def as_of(self) -> date:
        return date(int(self.fcc_rel[4:]), int(self.fcc_rel[:2]), int(self.fcc_rel[2:4]))


DEFAULT_RELEASE = "12312025"


def parse_release(fcc_rel: str) -> Release:
    """The release named ``fcc_rel`` (``MMDDYYYY``, June 30 or December 31, from 2022)."""
    if not _RELEASE.fullmatch(fcc_rel) or int(fcc_rel[4:]) < FIRST_RELEASE_YEAR:
        raise ConfigError(
            f"Fabric release {fcc_rel!r} is not an as-of date: use MMDDYYYY, June 30 or "
            f"December 31 from {FIRST_RELEASE_YEAR}, e.g. {DEFAULT_RELEASE}"
        )
    return Release(fcc_rel)


@dataclass(frozen=True, slots=True)
class Location:
    """One Active BSL (``bsl_flag``) or NoBSL row, without ``fcc_rel`` (the release's)."""

    location_id: int
    address_primary: str
    city: str
    state: str
    zip: str
    zip_suffix: str
    unit_count: int
    bsl_flag: bool
    building_type_code: str
    land_use_code: str
    address_confidence_code: str
    county_geoid: str
    block_geoid: str
    h3_9: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class SecondaryAddress:
    """One Secondary / Supplemental row: a further address of a location (the
    ``primary_secondary`` column is written by the layout: Secondary or Supplemental)."""

    location_id: int
    address_id: int
    parcel_id: str
    address_confidence_code: str
    address_range: str
    pre_direction: str
    street_name: str
    suffix: str
    post_direction: str
    address: str
    city: str
    state: str
    zip: str
    zip_suffix: str
    address_source: str
    county_geoid: str  # not a column: names the county file the row goes in


@dataclass(frozen=True, slots=True)
class Placement:
    """What a correct matcher answers for one account, and why.

    ``location_id``: the right location, or None when a matcher must leave the account
    unmatched, then ``why`` is the reason it should give. ``distance_m``: from the
    account's geocode to its location (None without coordinates or location).
    ``candidates``: the tied locations of an ambiguous account.
    """

    location_id: int | None
    case: str
    why: str | None = None
    distance_m: float | None = None
    candidates: tuple[int, ...] = ()


@dataclass
class Fabric:
    """A simulated Fabric release for a dataset, and each account's right answer."""

    release: Release
    locations: list[Location]
    addresses: list[SecondaryAddress]
    placements: dict[int, Placement] = field(default_factory=dict)
    # The accounts' geocodes: synthetic filler rows keep away from them (fabric_files).
    geocodes: list[tuple[float, float]] = field(default_factory=list)

    @property
    def truth(self) -> dict[int, int | None]:
        """account id -> its right location_id (None: must stay unmatched)."""
        return {account_id: p.location_id for account_id, p in self.placements.items()}

    def location(self, location_id: int) -> Location:
        """The row of ``location_id`` (KeyError if unknown)."""
        found = next((loc for loc in self.locations if loc.location_id == location_id), None)
        if found is None:
            raise KeyError(location_id)
        return found
