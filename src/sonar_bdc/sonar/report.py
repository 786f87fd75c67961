"""The contact-information report: two known row layouts, detection, typed rows.

``/reports/accounts/contact_information/json`` sends rows of 22 bare values. The
design document describes layout A; a live instance's published sample has layout
B (see /work/shared/sonar-v1-api.md). Reading a report with the wrong layout
shifts every address column, so ``auto`` detects the layout from the data and a
report that fits neither stops the run instead of importing shifted columns.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import SonarDataError
from ..records import ReportRow
from .values import is_blank, parse_coordinates, parse_int, parse_text

log = logging.getLogger(__name__)

LAYOUT_SETTING = "--report-layout / SONAR_REPORT_LAYOUT"
_ZIP = re.compile(r"\d{5}(-?\d{4})?")


@dataclass(frozen=True)
class Layout:
    """Which row index holds which ``ReportRow`` field."""

    name: str
    columns: Mapping[str, int]

    def cell(self, row: Sequence[Any], field: str) -> Any:
        index = self.columns.get(field)
        return row[index] if index is not None and index < len(row) else None


LAYOUT_A = Layout(
    "A",
    {"id": 0, "status": 2, "name": 3, "address": 10, "city": 11, "state": 12, "zip": 13,
     "latitude": 14, "longitude": 15, "plus4": 16, "street2": 17, "country": 20, "source": 21},
)  # fmt: skip
LAYOUT_B = Layout(
    "B",
    {"id": 0, "status": 2, "name": 3, "address": 10, "street2": 11, "city": 12, "state": 13,
     "zip": 14, "latitude": 15, "longitude": 16},
)  # fmt: skip
LAYOUTS = {"A": LAYOUT_A, "B": LAYOUT_B}
_TEXT_FIELDS = ("name", "status", "address", "street2", "city", "state", "zip", "plus4",
                "country", "source")  # fmt: skip


@dataclass(frozen=True)
class Report:
    """The report's accounts, one row each, and what was dropped on the way."""

    rows: list[ReportRow]
    layout: str  # "A" or "B"
    raw_rows: int  # rows as sent, before collapsing
    duplicate_rows: int  # further rows of an account already seen (the first one is kept)
    invalid_coordinates: int  # kept rows without a valid (lat, lon): missing or rejected
    rejected_coordinates: int = 0  # of those, rows whose coordinate cells held a bad value
    skipped_rows: int = 0  # rows without a usable account id


@dataclass(frozen=True)
class LayoutFit:
    """How well the rows fit one layout: the evidence behind detection."""

    layout: str
    valid: int  # rows with a valid coordinate pair in this layout's columns
    rejected: int  # rows with a non-blank coordinate cell that is not a valid pair
    zips: int  # rows whose ZIP column holds a ZIP code


def fit(rows: Sequence[Sequence[Any]], layout: Layout) -> LayoutFit:
    valid = rejected = zips = 0
    for row in rows:
        lat, lon = layout.cell(row, "latitude"), layout.cell(row, "longitude")
        if parse_coordinates(lat, lon) is not None:
            valid += 1
        elif not (is_blank(lat) and is_blank(lon)):
            rejected += 1
        zips += bool(_ZIP.fullmatch(str(layout.cell(row, "zip") or "").strip()))
    return LayoutFit(layout.name, valid, rejected, zips)


def detect_layout(rows: Sequence[Sequence[Any]]) -> str:
    """Layout "A" or "B" from the data; SonarDataError when the rows fit neither.

    The coordinates decide: the right layout has valid coordinates for most rows
    that have any, the wrong one reads a ZIP or a longitude as a latitude. When no
    row is geocoded at all, the ZIP column decides.
    """
    if not rows:
        log.info("report layout: the report is empty; using layout A")
        return "A"
    fits = sorted((fit(rows, layout) for layout in LAYOUTS.values()), key=lambda f: -f.valid)
    best, other = fits
    if best.valid > other.valid and best.valid > best.rejected:
        log.info(
            "report layout %s detected: %d of %d rows have valid coordinates in its columns "
            "(layout %s: %d)", best.layout, best.valid, len(rows), other.layout, other.valid,
        )  # fmt: skip
        return best.layout
    if best.valid == 0:
        return _detect_by_zip(rows, fits)
    raise _misfit(rows, fits)


def _detect_by_zip(rows: Sequence[Sequence[Any]], fits: list[LayoutFit]) -> str:
    best, other = sorted(fits, key=lambda f: -f.zips)
    if best.zips > other.zips and best.zips * 2 > len(rows):
        log.info(
            "report layout %s detected: no row has coordinates; %d of %d rows have a ZIP code "
            "in its ZIP column (layout %s: %d)",
            best.layout, best.zips, len(rows), other.layout, other.zips,
        )  # fmt: skip
        return best.layout
    raise _misfit(rows, fits)


def _misfit(rows: Sequence[Sequence[Any]], fits: list[LayoutFit]) -> SonarDataError:
    evidence = "; ".join(
        f"layout {f.layout}: {f.valid} valid and {f.rejected} invalid coordinate pairs, "
        f"{f.zips} ZIP codes"
        for f in sorted(fits, key=lambda f: f.layout)
    )
    return SonarDataError(
        f"the contact-information report ({len(rows)} rows) fits neither known layout "
        f"({evidence}); refusing to import shifted columns. If you know the layout, set "
        f"{LAYOUT_SETTING} to A or B"
    )


def choose_layout(rows: Sequence[Sequence[Any]], setting: str = "auto") -> Layout:
    """The layout to read ``rows`` with: detected for "auto", else the setting."""
    if setting == "auto":
        return LAYOUTS[detect_layout(rows)]
    if setting not in LAYOUTS:
        raise SonarDataError(f"{LAYOUT_SETTING}={setting!r}: must be auto, A or B")
    chosen, other = fit(rows, LAYOUTS[setting]), fit(rows, LAYOUTS["B" if setting == "A" else "A"])
    log.info("report layout %s (set explicitly)", setting)
    if other.valid > chosen.valid:
        log.warning(
            "report layout %s was set explicitly, but layout %s has valid coordinates for "
            "more rows (%d vs %d): check %s", setting, other.layout, other.valid, chosen.valid,
            LAYOUT_SETTING,
        )  # fmt: skip
    return LAYOUTS[setting]


def parse_row(row: Sequence[Any], layout: Layout) -> ReportRow | None:
    """One typed row, or None when the row has no usable account id."""
    account_id = parse_int(layout.cell(row, "id"))
    if account_id is None:
        return None
    coordinates = parse_coordinates(layout.cell(row, "latitude"), layout.cell(row, "longitude"))
    latitude, longitude = coordinates if coordinates else (None, None)
    text = {field: parse_text(layout.cell(row, field)) for field in _TEXT_FIELDS}
    return ReportRow(id=account_id, latitude=latitude, longitude=longitude, **text)


def parse_report(raw_rows: Any, layout: str = "auto") -> Report:
    """Typed, collapsed rows from the report's ``data`` list.

    Several rows of one account (one per contact) collapse to the first.
    """
    rows = _check_rows(raw_rows)
    chosen = choose_layout(rows, layout)
    kept: dict[int, ReportRow] = {}
    duplicates = skipped = rejected = 0
    for row in rows:
        parsed = parse_row(row, chosen)
        if parsed is None:
            skipped += 1
        elif parsed.id in kept:
            duplicates += 1
        else:
            kept[parsed.id] = parsed
            rejected += parsed.latitude is None and _has_coordinates(row, chosen)
    if skipped:
        log.warning("report: skipped %d rows without a usable account id", skipped)
    missing = sum(1 for row in kept.values() if row.latitude is None)
    return Report(list(kept.values()), chosen.name, len(rows), duplicates, missing, rejected,
                  skipped)  # fmt: skip


def _has_coordinates(row: Sequence[Any], layout: Layout) -> bool:
    return not (is_blank(layout.cell(row, "latitude")) and is_blank(layout.cell(row, "longitude")))


def _check_rows(raw_rows: Any) -> list[Sequence[Any]]:
    if not isinstance(raw_rows, list) or not all(isinstance(r, list) for r in raw_rows):
        raise SonarDataError(
            "the contact-information report is not a list of rows: is this a Sonar instance "
            "(SONAR_HOST) of a version this tool knows?"
        )
    return raw_rows
