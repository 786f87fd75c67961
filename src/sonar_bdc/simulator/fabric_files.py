"""The simulated Fabric as delivered: one ZIP per release, per-county CSVs of three kinds.

``write_fabric(fabric, directory)`` streams the rows county by county into
``FCC_Fabric_<MMDDYYYY>_rel_<n>.zip``, holding ``FCC_Active_BSL_<date>_rel_<n>_<county>.csv``,
``FCC_Active_NoBSL_...`` and ``FCC_Secondary_...`` (``FCC_Supplemental_...`` in that
layout). ``filler=N`` adds N synthetic rows (:func:`synthetic_locations`, ids from
5,000,000,000, kept 150 m away from every subscriber so the truth still holds): a
2-million-row benchmark file needs no 2 million accounts. ``write_truth`` writes the
answers as CSV, for tests and benchmarks only.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator import catalogs as cat
from sonar_bdc.simulator.fabric_geo import Grid
from sonar_bdc.simulator.fabric_model import Fabric, Location, Release, SecondaryAddress

LOCATION_COLUMNS = (
    "location_id", "address_primary", "city", "state", "zip", "zip_suffix", "unit_count",
    "bsl_flag", "building_type_code", "land_use_code", "address_confidence_code",
    "county_geoid", "block_geoid", "h3_9", "latitude", "longitude",
)  # fmt: skip
SECONDARY_COLUMNS = (
    "location_id", "address_id", "parcel_id", "address_confidence_code", "address_range",
    "pre_direction", "street_name", "suffix", "post_direction", "primary_secondary",
    "address", "city", "state", "zip", "zip_suffix", "address_source",
)  # fmt: skip
FILLER_FIRST_ID = 5_000_000_000
FILLER_NOBSL_SHARE = 0.05
_KEEP_AWAY_M = 150.0
_FILLER_STREETS = ("Ranch Rd 2", "Farm Rd 1", "County Rd 9", "Sendero Rd", "Rio Grande St")


@dataclass(frozen=True, slots=True)
class Layout:
    """A generation of the delivered files: with ``fcc_rel`` last or not, and the third
    kind named Secondary (``primary_secondary``) or Supplemental (``primary_supplemental``)."""

    fcc_rel: bool
    supplemental: bool

    def location_header(self) -> list[str]:
        return [*LOCATION_COLUMNS, *(("fcc_rel",) if self.fcc_rel else ())]

    def secondary_header(self) -> list[str]:
        kind = "primary_supplemental" if self.supplemental else "primary_secondary"
        columns = [kind if c == "primary_secondary" else c for c in SECONDARY_COLUMNS]
        return [*columns, *(("fcc_rel",) if self.fcc_rel else ())]

    @property
    def secondary_kind(self) -> str:
        return "Supplemental" if self.supplemental else "Secondary"


LAYOUTS = {
    "secondary": Layout(fcc_rel=True, supplemental=False),  # 2024-2025 releases
    "supplemental": Layout(fcc_rel=True, supplemental=True),  # newer: Supplemental
    "legacy": Layout(fcc_rel=False, supplemental=False),  # older: no fcc_rel column
}
DEFAULT_LAYOUT = "secondary"


def layout(name: str) -> Layout:
    if name not in LAYOUTS:
        raise ConfigError(f"unknown Fabric layout {name!r}: use one of {', '.join(LAYOUTS)}")
    return LAYOUTS[name]


def zip_name(rel: Release) -> str:
    return f"FCC_Fabric_{rel.fcc_rel}_rel_{rel.number}.zip"


def csv_name(kind: str, rel: Release, county: str) -> str:
    """``kind``: Active_BSL, Active_NoBSL, Secondary or Supplemental."""
    return f"FCC_{kind}_{rel.fcc_rel}_rel_{rel.number}_{county}.csv"


def location_row(loc: Location, rel: Release, lay: Layout) -> list[str]:
    row = [
        str(loc.location_id), loc.address_primary, loc.city, loc.state, loc.zip,
        loc.zip_suffix, str(loc.unit_count), "True" if loc.bsl_flag else "False",
        loc.building_type_code, loc.land_use_code, loc.address_confidence_code,
        loc.county_geoid, loc.block_geoid, loc.h3_9, f"{loc.latitude:.6f}",
        f"{loc.longitude:.6f}",
    ]  # fmt: skip
    return [*row, rel.fcc_rel] if lay.fcc_rel else row


def secondary_row(a: SecondaryAddress, rel: Release, lay: Layout) -> list[str]:
    row = [
        str(a.location_id), str(a.address_id), a.parcel_id, a.address_confidence_code,
        a.address_range, a.pre_direction, a.street_name, a.suffix, a.post_direction,
        lay.secondary_kind,
        a.address, a.city, a.state, a.zip, a.zip_suffix, a.address_source,
    ]  # fmt: skip
    return [*row, rel.fcc_rel] if lay.fcc_rel else row


def write_fabric(
    fabric: Fabric,
    directory: Path,
    layout_name: str = DEFAULT_LAYOUT,
    filler: int = 0,
    seed: int = 1,
) -> Path:
    """Write ``fabric`` (plus ``filler`` synthetic rows) as its release's ZIP; its path."""
    lay = layout(layout_name)
    rel = fabric.release
    by_county: dict[str, list[Location]] = defaultdict(list)
    for loc in fabric.locations:
        by_county[loc.county_geoid].append(loc)
    seconds: dict[str, list[SecondaryAddress]] = defaultdict(list)
    for addr in fabric.addresses:
        seconds[addr.county_geoid].append(addr)
    fill = _filler_counts(filler)
    avoid = _keep_away(fabric.geocodes) if filler else None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / zip_name(rel)
    # Level 1: a 2-million-row file is written in seconds; the loader reads any level.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for county in sorted(set(by_county) | set(fill) | set(seconds)):
            extra = synthetic_locations(fill.get(county, 0), county, seed=seed, avoid=avoid)
            _write_locations(zf, rel, lay, county, chain(by_county.get(county, []), extra))
            _write_csv(zf, csv_name(lay.secondary_kind, rel, county), lay.secondary_header(),
                       (secondary_row(a, rel, lay) for a in seconds.get(county, [])))  # fmt: skip
    return path


def _write_locations(
    zf: zipfile.ZipFile, rel: Release, lay: Layout, county: str, rows: Iterable[Location]
) -> None:
    nobsl: list[Location] = []

    def bsl_rows() -> Iterator[list[str]]:
        for loc in rows:
            if loc.bsl_flag:
                yield location_row(loc, rel, lay)
            else:
                nobsl.append(loc)  # a few percent: kept for their own file

    _write_csv(zf, csv_name("Active_BSL", rel, county), lay.location_header(), bsl_rows())
    _write_csv(zf, csv_name("Active_NoBSL", rel, county), lay.location_header(),
               (location_row(loc, rel, lay) for loc in nobsl))  # fmt: skip


def _write_csv(
    zf: zipfile.ZipFile, name: str, header: list[str], rows: Iterable[list[str]]
) -> None:
    with (
        zf.open(name, "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
    ):
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(rows)


def write_truth(fabric: Fabric, path: Path) -> Path:
    """The right answer of every account as CSV (for tests and benchmarks only)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "location_id", "case", "why", "distance_m", "candidates"])
        for account_id, p in sorted(fabric.placements.items()):
            writer.writerow([
                account_id, p.location_id or "", p.case, p.why or "",
                "" if p.distance_m is None else f"{p.distance_m:.2f}",
                " ".join(str(c) for c in p.candidates),
            ])  # fmt: skip
    return path


def _filler_counts(total: int) -> dict[str, int]:
    """``total`` rows shared among the simulator's counties by their weights."""
    if total < 0:
        raise ConfigError(f"filler rows must be 0 or more, got {total}")
    weights, whole = cat.PLACE_WEIGHTS, sum(cat.PLACE_WEIGHTS)
    counts = {p.county_fips: total * w // whole for p, w in zip(cat.PLACES, weights, strict=True)}
    counts[cat.PLACES[0].county_fips] += total - sum(counts.values())
    return {county: n for county, n in counts.items() if n}


def _keep_away(geocodes: list[tuple[float, float]]) -> Grid:
    grid = Grid()
    for lat, lon in geocodes:
        grid.add(lat, lon, 0)
    return grid


def synthetic_locations(
    count: int, county: str, seed: int = 1, avoid: Grid | None = None, first_id: int | None = None
) -> Iterator[Location]:
    """``count`` unrelated locations in ``county`` (a county of the simulator's places),
    none within 150 m of a point of ``avoid``. Ids count up from ``first_id`` (by default
    a block of 5,000,000,000 + 10,000,000 per county index), so they never meet
    ``make_fabric``'s."""
    place = next((p for p in cat.PLACES if p.county_fips == county), None)
    if place is None:
        raise ConfigError(f"no simulated county {county!r}")
    rng = random.Random(f"filler-{seed}-{county}")
    start = first_id or FILLER_FIRST_ID + cat.PLACES.index(place) * 100_000_000
    for n in range(count):
        lat, lon = place.lat + rng.uniform(-0.2, 0.2), place.lon + rng.uniform(-0.2, 0.2)
        while avoid is not None and next(avoid.near(lat, lon, _KEEP_AWAY_M), None):
            lat, lon = place.lat + rng.uniform(-0.2, 0.2), place.lon + rng.uniform(-0.2, 0.2)
        yield _filler(rng, place, start + n, round(lat, 6), round(lon, 6))


def _filler(
    rng: random.Random, place: cat.Place, location_id: int, lat: float, lon: float
) -> Location:
    bsl = rng.random() >= FILLER_NOBSL_SHARE
    tract = rng.randint(100, 990000)
    return Location(
        location_id=location_id,
        address_primary=f"{rng.randint(1, 29999)} {rng.choice(_FILLER_STREETS).upper()}",
        city=place.city.upper(),
        state=place.state,
        zip=f"{place.zip_prefix}{rng.randint(0, 99):02d}",
        zip_suffix="",
        unit_count=1 if bsl else 0,
        bsl_flag=bsl,
        building_type_code="R" if bsl else "",
        land_use_code="1" if bsl else "",
        address_confidence_code="1",
        county_geoid=place.county_fips,
        block_geoid=f"{place.county_fips}{tract:06d}{rng.randint(1000, 4999)}",
        h3_9=f"89{location_id % 16**9:09x}ffff",
        latitude=lat,
        longitude=lon,
    )
