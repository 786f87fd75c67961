"""The availability location list and its cross-checks file: validate while streaming, then
rename both into place.

Rows arrive sorted from the database and are checked one by one as they are written to a
temporary file; the first failed check stops everything and the temporary files are
removed, so a failed check writes nothing (the previous files stay as they were). Both
files are renamed only once both are complete (``output._replace_both``).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sonar_bdc.errors import FilingValidationError

from .config import BDC_CODES
from .offers import CODES_BRC, speeds_problem
from .output import _replace_both, _temporary, _write, check_target, spreadsheet_safe

HEADER = (
    "provider_id",
    "brand_name",
    "location_id",
    "technology",
    "max_advertised_download_speed",
    "max_advertised_upload_speed",
    "low_latency",
    "business_residential_code",
)
EXCEPTIONS_HEADER = ("check", "customer_id", "name", "location_id", "technology", "detail")
MIN_LOCATION_ID, MAX_LOCATION_ID = 1_000_000_000, 9_999_999_999
MIN_PROVIDER_ID, MAX_PROVIDER_ID = 100_000, 999_999
# (download, upload) floors of the tiers the summary counts by, fastest first.
SPEED_TIERS = ((1000, 100), (250, 25), (100, 20), (25, 3))

Row = tuple[int, int, int, int, bool, str]  # location, technology, down, up, latency, R/B/X


@dataclass(frozen=True, slots=True)
class CrossCheck:
    """One inconsistency between the files, listed in the exceptions file."""

    check: str
    customer_id: int | None
    name: str | None
    location_id: int | None
    technology: int | None
    detail: str


@dataclass
class Written:
    rows: int = 0
    locations: int = 0
    by_tier: Counter[tuple[int, str]] = field(default_factory=Counter)  # (technology, tier)


def speed_tier(down_mbps: int, up_mbps: int) -> str:
    """The summary's bucket: the fastest floor both speeds reach, else below 25/3."""
    for down, up in SPEED_TIERS:
        if down_mbps >= down and up_mbps >= up:
            return f">={down}/{up}"
    return "<25/3"


def row_problems(provider_id: int, brand_name: str, row: Row) -> list[str]:
    location, technology, down, up, latency, brc = row
    problems = []
    if not MIN_PROVIDER_ID <= provider_id <= MAX_PROVIDER_ID:
        problems.append(f"provider_id {provider_id} is not the FCC's 6-digit provider id")
    if not brand_name.strip():
        problems.append("brand_name is empty")
    if not MIN_LOCATION_ID <= location <= MAX_LOCATION_ID:
        problems.append(f"location_id {location} is not a 10-digit Fabric location id")
    if technology not in BDC_CODES:
        problems.append(f"technology {technology} is not a BDC code")
    speeds = speeds_problem(down, up)
    if speeds:
        problems.append(speeds)
    if latency not in (True, False):
        problems.append(f"low_latency {latency!r} is not 1 or 0")
    if brc not in CODES_BRC:
        problems.append(f"business_residential_code {brc!r} is not R, B or X")
    return problems


def cells(provider_id: int, brand_name: str, row: Row) -> tuple[object, ...]:
    location, technology, down, up, latency, brc = row
    return (provider_id, brand_name, location, technology, down, up, int(latency), brc)


def write_checked(
    out: TextIO, provider_id: int, brand_name: str, rows: Iterable[Row], written: Written
) -> None:
    """Write the header and every row, checking each; raise at the first failed check."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    previous: tuple[int, int] | None = None
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        problems = row_problems(provider_id, brand_name, row)
        key = (row[0], row[1])
        if previous is not None and key <= previous:
            problems.append("the (location_id, technology) pair is listed twice")
        if problems:
            line = ",".join(str(c) for c in cells(provider_id, brand_name, row))
            raise FilingValidationError(
                f"the availability file failed validation, no file written: line {number} "
                f"({line}): {'; '.join(problems)}"
            )
        writer.writerow(cells(provider_id, brand_name, row))
        written.rows += 1
        written.locations += previous is None or row[0] != previous[0]
        written.by_tier[(row[1], speed_tier(row[2], row[3]))] += 1
        previous = key


def write_checks_csv(out: TextIO, checks: Iterable[CrossCheck]) -> None:
    writer = csv.writer(out)
    writer.writerow(EXCEPTIONS_HEADER)
    writer.writerows(
        (
            c.check,
            "" if c.customer_id is None else c.customer_id,
            spreadsheet_safe(c.name or ""),
            "" if c.location_id is None else c.location_id,
            "" if c.technology is None else c.technology,
            c.detail,
        )
        for c in checks
    )


def exceptions_path(csv_path: Path) -> Path:
    return csv_path.with_name(f"{csv_path.stem}.exceptions.csv")


def write_files(
    csv_path: Path,
    provider_id: int,
    brand_name: str,
    rows: Iterable[Row],
    checks: Callable[[Written], Sequence[CrossCheck]],
) -> tuple[Written, Path]:
    """Stream and check the location list, then the cross-checks (``checks`` sees what was
    written); rename both into place only when both are complete."""
    extra = exceptions_path(csv_path)
    for target in (csv_path, extra):
        check_target(target)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    written = Written()
    with _temporary(csv_path) as tmp_csv, _temporary(extra) as tmp_extra:
        _write(tmp_csv, lambda out: write_checked(out, provider_id, brand_name, rows, written))
        _write(tmp_extra, lambda out: write_checks_csv(out, checks(written)))
        _replace_both((tmp_csv, csv_path), (tmp_extra, extra))
    return written, extra
