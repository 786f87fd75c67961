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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sonar_bdc.errors import ConfigError
from sonar_bdc.fabric.files import ADDRESS_COLUMNS, LOCATION_COLUMNS  # the FCC's headers
from sonar_bdc.simulator import catalogs as cat
from sonar_bdc.simulator.fabric_geo import Grid
from sonar_bdc.simulator.fabric_model import Fabric, Location, Release, SecondaryAddress

FILLER_FIRST_ID = 5_000_000_000
FILLER_NOBSL_SHARE = 0.05
_KEEP_AWAY_M = 150.0
_FILLER_STREETS = ("RANCH RD 2", "FARM RD 1", "COUNTY RD 9", "SENDERO RD", "RIO GRANDE ST")


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
        columns = [kind if c == "primary_secondary" else c for c in ADDRESS_COLUMNS]
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
    avoid = _keep_away(fabric.geocodes) if filler and fabric.geocodes else None
    path = directory / zip_name(rel)
    with _writing(path):
        directory.mkdir(parents=True, exist_ok=True)
        _write_zip(path, lay, rel, by_county, seconds, fill, avoid, seed)
    return path


def _write_zip(
    path: Path,
    lay: Layout,
    rel: Release,
    by_county: dict[str, list[Location]],
    seconds: dict[str, list[SecondaryAddress]],
    fill: dict[str, int],
    avoid: Grid | None,
    seed: int,
) -> None:
    # Level 1: a 2-million-row file is written in seconds; the loader reads any level.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for county in sorted(set(by_county) | set(fill) | set(seconds)):
            rows = by_county.get(county, [])
            for bsl, kind in ((True, "Active_BSL"), (False, "Active_NoBSL")):
                n = fill.get(county, 0)
                n = n - round(n * FILLER_NOBSL_SHARE) if bsl else round(n * FILLER_NOBSL_SHARE)
                _write_csv(
                    zf, csv_name(kind, rel, county), lay.location_header(),
                    (location_row(loc, rel, lay) for loc in rows if loc.bsl_flag == bsl),
                    synthetic_lines(n, county, rel, lay, bsl, seed, avoid),
                )  # fmt: skip
            _write_csv(zf, csv_name(lay.secondary_kind, rel, county), lay.secondary_header(),
                       (secondary_row(a, rel, lay) for a in seconds.get(county, [])))  # fmt: skip


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """An OSError while writing ``path`` becomes one line naming it (exit 2)."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}; choose a writable directory"
        ) from exc


def _write_csv(
    zf: zipfile.ZipFile,
    name: str,
    header: list[str],
    rows: Iterable[list[str]],
    lines: Iterable[str] = (),
) -> None:
    """One CSV member: the header, ``rows`` through ``csv``, then ready-made ``lines``."""
    with (
        zf.open(name, "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
    ):
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        batch: list[str] = []
        for line in lines:  # joined in batches: one write per few thousand lines
            batch.append(line)
            if len(batch) == 4096:
                text.write("".join(batch))
                batch.clear()
        text.write("".join(batch))


def write_truth(fabric: Fabric, path: Path) -> Path:
    """The right answer of every account as CSV (for tests and benchmarks only)."""
    with _writing(path), path.open("w", encoding="utf-8", newline="") as f:
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


def synthetic_lines(
    count: int,
    county: str,
    rel: Release,
    lay: Layout,
    bsl: bool = True,
    seed: int = 1,
    avoid: Grid | None = None,
) -> Iterator[str]:
    """``count`` CSV lines (newline-terminated, the location header's columns) of
    unrelated BSLs (or NoBSL structures) in ``county``, one of the simulator's, none
    within 150 m of a point of ``avoid``. Ids count up from a block of their own (from
    5,000,000,000, 100 million per county and kind), never one of ``make_fabric``'s.
    Written as plain text, not through ``csv``: no value holds a comma or a quote, and a
    2-million-row file takes seconds instead of minutes."""
    place = next((p for p in cat.PLACES if p.county_fips == county), None)
    if place is None:
        raise ConfigError(f"no simulated county {county!r}")
    if count >= 50_000_000:
        raise ConfigError(f"at most 49,999,999 filler rows per county and kind, not {count}")
    r = random.Random(f"filler-{seed}-{county}-{bsl}").random
    first = FILLER_FIRST_ID + (cat.PLACES.index(place) * 2 + (0 if bsl else 1)) * 50_000_000
    tail = f",{rel.fcc_rel}\n" if lay.fcc_rel else "\n"
    fixed = f"{place.city.upper()},{place.state}"
    codes = "1,True,R,1,1" if bsl else "0,False,,,1"
    for location_id in range(first, first + count):
        lat, lon = place.lat + 0.4 * r() - 0.2, place.lon + 0.4 * r() - 0.2
        while avoid is not None and avoid.any_within(lat, lon, _KEEP_AWAY_M):
            lat, lon = place.lat + 0.4 * r() - 0.2, place.lon + 0.4 * r() - 0.2
        street = _FILLER_STREETS[int(r() * len(_FILLER_STREETS))]
        yield (
            f"{location_id},{int(r() * 29999) + 1} {street},{fixed},"
            f"{place.zip_prefix}{int(r() * 100):02d},,{codes},{county},"
            f"{county}{int(r() * 989_900) + 100:06d}{int(r() * 4000) + 1000},"
            f"89{location_id % 16**9:09x}ffff,{lat:.6f},{lon:.6f}{tail}"
        )
