"""The contact-information report: two known row layouts, detection, typed rows.

``/reports/accounts/contact_information/json`` sends rows of 22 bare values. The
design document describes layout A; a live instance's published sample has layout
B (see /work/shared/sonar-v1-api.md). Reading a report with the wrong layout
shifts every address column, so ``auto`` detects the layout from the data and a
report that fits neither stops the run instead of importing shifted columns.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import ijson

from ...errors import SonarDataError, SonarRetriableError
from ...records import ReportRow
from ..values import is_blank, parse_coordinates, parse_int, parse_text

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


def fit(rows: Iterable[Sequence[Any]], layout: Layout) -> LayoutFit:
    """How well ``rows`` fit ``layout``."""
    return fits_of(rows, (layout,))[0][0]


def fits_of(
    rows: Iterable[Sequence[Any]], layouts: Sequence[Layout] = (LAYOUT_A, LAYOUT_B)
) -> tuple[list[LayoutFit], int]:
    """Each layout's fit and the number of rows, in one pass over ``rows``."""
    counts = {layout.name: [0, 0, 0] for layout in layouts}
    total = 0
    for row in rows:
        total += 1
        for layout in layouts:
            tally = counts[layout.name]
            lat, lon = layout.cell(row, "latitude"), layout.cell(row, "longitude")
            if parse_coordinates(lat, lon) is not None:
                tally[0] += 1
            elif not (is_blank(lat) and is_blank(lon)):
                tally[1] += 1
            tally[2] += bool(_ZIP.fullmatch(str(layout.cell(row, "zip") or "").strip()))
    return [LayoutFit(name, *tally) for name, tally in counts.items()], total


def detect_layout(rows: Iterable[Sequence[Any]]) -> str:
    """Layout "A" or "B" from the data; SonarDataError when the rows fit neither."""
    return decide_layout(*fits_of(rows))


def decide_layout(fits: list[LayoutFit], total: int) -> str:
    """The coordinates decide: the right layout has valid coordinates for most rows
    that have any, the wrong one reads a ZIP or a longitude as a latitude. When no
    row is geocoded at all, the ZIP column decides.
    """
    if not total:
        log.info("report layout: the report is empty; using layout A")
        return "A"
    best, other = sorted(fits, key=lambda f: -f.valid)
    if best.valid > other.valid and best.valid > best.rejected:
        log.info(
            "report layout %s detected: valid coordinates in its columns for %d of %d %s "
            "(layout %s: %d)", best.layout, best.valid, total, _rows(total), other.layout,
            other.valid,
        )  # fmt: skip
        return best.layout
    if best.valid == 0:
        return _detect_by_zip(fits, total)
    raise _misfit(fits, total)


def _detect_by_zip(fits: list[LayoutFit], total: int) -> str:
    best, other = sorted(fits, key=lambda f: -f.zips)
    if best.zips > other.zips and best.zips * 2 > total:
        log.info(
            "report layout %s detected: no row has coordinates; a ZIP code in its ZIP column "
            "for %d of %d %s (layout %s: %d)",
            best.layout, best.zips, total, _rows(total), other.layout, other.zips,
        )  # fmt: skip
        return best.layout
    raise _misfit(fits, total)


def _misfit(fits: list[LayoutFit], total: int) -> SonarDataError:
    evidence = "; ".join(
        f"layout {f.layout}: {f.valid} valid and {f.rejected} invalid coordinate pairs, "
        f"{f.zips} ZIP codes"
        for f in sorted(fits, key=lambda f: f.layout)
    )
    return SonarDataError(
        f"the contact-information report ({total} rows) fits neither known layout "
        f"({evidence}); refusing to import shifted columns. If you know the layout, set "
        f"{LAYOUT_SETTING} to A or B"
    )


def choose_layout(rows: Iterable[Sequence[Any]], setting: str = "auto") -> Layout:
    """The layout to read ``rows`` with: detected for "auto", else the setting."""
    return choose_from_fits(*fits_of(rows), setting)


def choose_from_fits(fits: list[LayoutFit], total: int, setting: str = "auto") -> Layout:
    if setting == "auto":
        return LAYOUTS[decide_layout(fits, total)]
    if setting not in LAYOUTS:
        raise SonarDataError(f"{LAYOUT_SETTING}={setting!r}: must be auto, A or B")
    by_name = {f.layout: f for f in fits}
    chosen, other = by_name[setting], by_name["B" if setting == "A" else "A"]
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


class ReportReader:
    """The report's accounts, streamed in two passes over the raw rows.

    ``raw`` returns a fresh iterator of raw rows each time it is called. The first
    pass (here) chooses the layout from counts alone; iterating yields one typed row
    per account (the first of its rows). The counters are complete after iteration.
    Nothing but the ids seen is kept, so memory does not grow with the report.
    ``close`` (also on leaving a ``with`` block) releases what ``raw`` reads from.
    """

    def __init__(
        self,
        raw: Callable[[], Iterable[Any]],
        setting: str = "auto",
        close: Callable[[], object] = lambda: None,
    ) -> None:
        self._raw, self.close = raw, close
        fits, self.raw_rows = fits_of(_checked(raw()))
        self.layout = choose_from_fits(fits, self.raw_rows, setting).name
        self.accounts = self.duplicate_rows = self.skipped_rows = 0
        self.invalid_coordinates = self.rejected_coordinates = 0

    def __iter__(self) -> Iterator[ReportRow]:
        layout, seen = LAYOUTS[self.layout], set[int]()
        for row in _checked(self._raw()):
            parsed = parse_row(row, layout)
            if parsed is None:
                self.skipped_rows += 1
            elif parsed.id in seen:
                self.duplicate_rows += 1
            else:
                seen.add(parsed.id)
                self.accounts += 1
                if parsed.latitude is None:
                    self.invalid_coordinates += 1
                    self.rejected_coordinates += _has_coordinates(row, layout)
                yield parsed
        if self.skipped_rows:
            log.warning("report: skipped %d %s without a usable account id", self.skipped_rows,
                        _rows(self.skipped_rows))  # fmt: skip

    def __enter__(self) -> ReportReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parse_report(raw_rows: Any, layout: str = "auto") -> Report:
    """Typed, collapsed rows from the report's ``data`` list.

    Several rows of one account (one per contact) collapse to the first.
    """
    if not isinstance(raw_rows, list):
        raise _not_rows()
    reader = ReportReader(lambda: raw_rows, layout)
    rows = list(reader)
    return Report(rows, reader.layout, reader.raw_rows, reader.duplicate_rows,
                  reader.invalid_coordinates, reader.rejected_coordinates,
                  reader.skipped_rows)  # fmt: skip


def iter_json_rows(source: bytes | BinaryIO) -> Iterator[Any]:
    """The rows of ``{"data": [[...], ...]}`` one at a time, without decoding the whole body.

    ``source``: the body, or a seekable file holding it (read from its start, so the
    rows can be read more than once). A body that ends early or is not JSON raises
    SonarRetriableError (an overloaded instance sends those); one without a ``data``
    list raises SonarDataError.
    """
    body = io.BytesIO(source) if isinstance(source, bytes) else source
    body.seek(0)
    if body.read(3) != b"\xef\xbb\xbf":  # a UTF-8 BOM, which json.loads accepts too
        body.seek(0)
    start = body.tell()
    try:
        events = ijson.parse(body)
        for prefix, event, _ in events:
            if prefix == "data":
                if event != "start_array":
                    raise _not_rows()
                break
        else:
            raise _not_rows()
        body.seek(start)
        yield from ijson.items(body, "data.item", use_float=True)
    except ijson.JSONError as exc:
        raise SonarRetriableError(
            "the contact-information report is not complete JSON (truncated?)"
        ) from exc


def _rows(count: int) -> str:
    return "row" if count == 1 else "rows"


def _has_coordinates(row: Sequence[Any], layout: Layout) -> bool:
    return not (is_blank(layout.cell(row, "latitude")) and is_blank(layout.cell(row, "longitude")))


def _checked(rows: Iterable[Any]) -> Iterator[Sequence[Any]]:
    for row in rows:
        if not isinstance(row, list):
            raise _not_rows()
        yield row


def _not_rows() -> SonarDataError:
    return SonarDataError(
        "the contact-information report is not a list of rows: is this a Sonar instance "
        "(SONAR_HOST) of a version this tool knows?"
    )
