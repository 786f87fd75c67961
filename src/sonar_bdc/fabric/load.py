"""``sonar-bdc fabric load``: the user's Fabric files into the prefix's tables, one release.

Before anything changes, every file is opened and recognised by its header, and the
release of the load is settled: every file's ``fcc_rel`` (read from its first row) must
be the same, and files without the column take ``--release``. Then the store builds the
release in staging tables and swaps it in (``store/fabric.py``); the old release stays
as it was until the swap, and whatever stops the load before it (a bad row, a duplicate
id, Ctrl-C or SIGTERM) changes nothing.

A Fabric CSV is read by PostgreSQL itself, its checks in the staging table: a few times
faster than taking millions of rows apart in Python. When PostgreSQL refuses a row, the
file is read once more by our own row checks (``files.Reader``) to name the line and the
reason; if they find nothing wrong (a blank line, a release with spaces around it), the
load starts again reading every file row by row, as a file with a column of its own is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from sonar_bdc import stopping
from sonar_bdc.errors import (
    FabricDuplicateLocation,
    FabricFileError,
    FabricNotRecognised,
    FabricRowsRefused,
)
from sonar_bdc.importer.progress import Progress, make_progress
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.db import ConnInfo
from sonar_bdc.store.fabric import ADDRESSES, LOCATIONS, Batch, FabricDb, Replaced, StagedLoad

from .files import (
    ADDRESS_TABLE_COLUMNS,
    LOCATION_LOAD_COLUMNS,
    Kind,
    Layout,
    Source,
    csv_body,
    csv_columns,
    lines_of,
    reading,
    sources,
)

log = logging.getLogger("sonar_bdc.fabric")
MAX_RELEASE = 64  # characters


@dataclass(frozen=True)
class Plan:
    """What a load will read: its release and the Fabric CSVs with their kinds."""

    release: str
    files: list[tuple[Source, Layout]]

    @property
    def size(self) -> int:
        return sum(source.size for source, _ in self.files)


@dataclass(frozen=True)
class FabricLoaded:
    prefix: str
    release: str
    replaced: Replaced
    files: int
    seconds: float

    @property
    def rows(self) -> int:
        return self.replaced.bsl + self.replaced.nobsl + self.replaced.addresses

    def lines(self) -> list[str]:
        r = self.replaced
        rate = self.rows / max(self.seconds, 1e-9)
        lines = [
            f"Fabric release {self.release} loaded into {self.prefix}: {r.bsl:,} BSL and "
            f"{r.nobsl:,} NoBSL locations, {r.addresses:,} Secondary/Supplemental addresses, "
            f"from {self.files} CSV files in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        ]
        if r.previous is None:
            lines.append("the first Fabric release at this prefix")
        elif r.previous == self.release:
            lines.append(f"release {self.release} was loaded already: replaced whole")
        else:
            lines.append(f"replaced release {r.previous}")
        if r.matches_cleared:
            lines.append(
                f"emptied {self.prefix}fabric_matches ({r.matches_cleared:,} matches named "
                "the old locations): run sonar-bdc fabric match again"
            )
        return lines


def load_fabric(
    settings: Settings, files: Sequence[Path], release: str | None = None, *, progress: bool = True
) -> FabricLoaded:
    """Load one release from ``files`` (ZIPs or CSVs), replacing what the prefix holds."""
    start = time.monotonic()
    plan = make_plan([Path(f) for f in files], release)
    prefix = parse_prefix(settings.prefix)
    conninfo = settings.postgres_conninfo()
    with (
        stopping.stop_signals_as_flag() as stop,
        FabricDb.connect(conninfo, prefix) as db,
    ):

        def proceed() -> None:
            if stop.is_set():
                raise stopping.stopped()

        try:
            try:
                replaced = _load(db, conninfo, plan, proceed, stop, progress, by_postgres=True)
            except _RowByRow as again:
                log.info("%s, though our row checks take it; loading every file row by row",
                         again.why)  # fmt: skip
                replaced = _load(db, conninfo, plan, proceed, stop, progress, by_postgres=False)
        except FabricDuplicateLocation as exc:
            raise duplicate_error(plan, exc) from exc
    log.debug("load steps: %s", ", ".join(f"{k} {v:.2f} s" for k, v in replaced.steps.items()))
    return FabricLoaded(str(prefix), plan.release, replaced, len(plan.files),
                        time.monotonic() - start)  # fmt: skip


class _RowByRow(Exception):
    """PostgreSQL refused a row our checks take: the load is to be read row by row."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why  # where PostgreSQL refused, never a value


def _load(
    db: FabricDb, conninfo: ConnInfo, plan: Plan, proceed: Callable[[], None],
    stop: threading.Event, progress: bool, *, by_postgres: bool,
) -> Replaced:  # fmt: skip
    with db.staged_load(conninfo, plan.release, proceed) as load:
        bar = make_progress(plan.size, "Fabric", unit="B", enabled=progress)
        try:
            for source, layout in plan.files:
                log.debug("%s: %s", source.name, layout.kind.value)
                columns = csv_columns(layout) if by_postgres else None
                if columns is None:
                    _copy_rows(load, source, layout.kind, plan.release, bar, stop)
                    continue
                table = LOCATIONS if layout.kind is Kind.LOCATIONS else ADDRESSES
                try:
                    with csv_body(source, bar.update) as blocks:
                        load.copy_csv(source.name, table, columns, blocks)
                except FabricRowsRefused as exc:
                    check_rows(source, layout.kind, plan.release)  # the line and the reason
                    why = str(exc).removesuffix("; nothing changed")
                    raise _RowByRow(why) from exc
        finally:
            bar.close()
        log.info("Fabric: every row read; building the key and indexes")
        return load.finish()


def _copy_rows(
    load: StagedLoad, source: Source, kind: Kind, release: str, bar: Progress,
    stop: threading.Event,
) -> None:  # fmt: skip
    """One file read and checked row by row in Python."""
    with reading(source, bar.update) as reader:
        if kind is Kind.LOCATIONS:
            text = stopping.until_stopped(reader.copy_text(release), stop)
            load.copy_rows(Batch(source.name, LOCATIONS, LOCATION_LOAD_COLUMNS, text=text))
        else:
            rows = stopping.until_stopped(reader.rows(release), stop)
            load.copy_rows(Batch(source.name, ADDRESSES, ADDRESS_TABLE_COLUMNS, rows, reader.where))


def check_rows(source: Source, kind: Kind, release: str) -> None:
    """Every row of a file through our checks: FabricFileError at the first bad one
    (only after PostgreSQL refused one: a second read is cheap then)."""
    with reading(source) as reader:
        rows = reader.copy_text(release) if kind is Kind.LOCATIONS else reader.rows(release)
        for _ in rows:
            pass


def make_plan(paths: list[Path], release: str | None) -> Plan:
    """Recognise every file and settle the release; FabricFileError before any change."""
    found: list[Found] = []
    zips_with_fabric: dict[Path, int] = {}
    seen: set[str] = set()
    for source in sources(paths):
        if source.name in seen:
            raise FabricFileError(f"{source.name} is given twice; nothing changed")
        seen.add(source.name)
        if source.member is not None:
            zips_with_fabric.setdefault(source.path, 0)
        try:
            with reading(source) as reader:
                layout = reader.layout
                found.append(Found(source, layout, layout.has_release, reader.first_release()))
        except FabricNotRecognised:
            if source.member is None:
                raise
            log.warning("%s: not a Fabric file, skipped", source.name)
            continue
        if source.member is not None:
            zips_with_fabric[source.path] += 1
    for path, count in zips_with_fabric.items():
        if count == 0:
            raise FabricFileError(
                f"{path}: no Fabric CSV in the ZIP (no Active BSL/NoBSL or "
                "Secondary/Supplemental header); nothing changed"
            )
    if not any(f.layout.kind is Kind.LOCATIONS for f in found):
        raise FabricFileError(
            "no Active BSL/NoBSL file among the files: a load replaces the whole release, "
            "so give all of its files at once; nothing changed"
        )
    return Plan(settle_release(found, release), [(f.source, f.layout) for f in found])


class Found(NamedTuple):
    """One CSV of a load: its layout, and the fcc_rel of its first row (None: no column, or
    a file with the column but no rows, which holds no release to disagree with)."""

    source: Source
    layout: Layout
    has_column: bool
    release: str | None


def settle_release(found: list[Found], option: str | None) -> str:
    """The one release of the load: --release, else the files' common fcc_rel."""
    if option is not None:
        option = check_release(option)
        for f in found:
            if f.release is not None and f.release != option:
                raise FabricFileError(
                    f"{f.source.name} holds release {f.release}, not --release {option}: "
                    "load one release at a time; nothing changed"
                )
        return option
    lacking = [f.source.name for f in found if not f.has_column]
    if lacking:
        raise FabricFileError(
            f"{lacking[0]} has no fcc_rel column: pass --release NAME, the "
            "release the files belong to (e.g. the Fabric's as-of date); nothing changed"
        )
    releases = {f.release: f.source.name for f in reversed(found) if f.release}
    if not releases:
        raise FabricFileError(
            "the files hold no rows, only headers: a load replaces the whole release, so "
            "give the release's files with their rows; nothing changed"
        )
    if len(releases) > 1:
        listed = ", ".join(f"{rel} in {name}" for rel, name in sorted(releases.items()))
        raise FabricFileError(
            f"the files hold more than one release ({listed}): load one release at a time; "
            "nothing changed"
        )
    return check_release(next(iter(releases)))


def check_release(release: str) -> str:
    text = release.strip()
    if not text or len(text) > MAX_RELEASE or not text.isprintable():
        raise FabricFileError(
            f"release {release!r} is not a release name (printable, 1 to {MAX_RELEASE} characters)"
        )
    return text


def duplicate_error(plan: Plan, exc: FabricDuplicateLocation) -> FabricFileError:
    """The duplicate the database found, with the two lines that carry it."""
    files = [source for source, _ in plan.files]
    where = lines_of(files, str(exc.location_id), Kind.LOCATIONS)
    if len(where) < 2:
        return exc
    return FabricFileError(
        f"location_id {exc.location_id} is on two rows, {where[0]} and {where[1]}: a "
        "location is one row of the Fabric (a file given twice?); nothing changed"
    )
