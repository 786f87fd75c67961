"""The subscription CSV and its exceptions file: aggregate, validate, then write.

Validation runs on the complete file before anything touches the disk. Both files
are written in full to temporary names before either is renamed into place, and a
target that cannot take a file (a directory) is refused first, so a failed check, a
failed write or a crash leaves both old files as they were: never one new, one old.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sonar_bdc.errors import ConfigError, FilingValidationError

from .config import BDC_CODES
from .model import REASONS, WARNINGS, Connection, Exclusion
from .rules import TRACT_LENGTH

HEADER = (
    "tract",
    "technology_code",
    "advertised_download_speed",
    "advertised_upload_speed",
    "total_connections",
    "consumer_connections",
)
EXCEPTIONS_HEADER = ("customer_id", "name", "reason", "detail")
MAX_PROBLEMS_SHOWN = 5


@dataclass(frozen=True, slots=True, order=True)
class SubscriptionRow:
    tract: str
    technology_code: int
    download_kbps: int
    upload_kbps: int
    total_connections: int
    consumer_connections: int

    def cells(self) -> tuple[str, ...]:
        return (
            self.tract,
            str(self.technology_code),
            format_mbps(self.download_kbps),
            format_mbps(self.upload_kbps),
            str(self.total_connections),
            str(self.consumer_connections),
        )


def format_mbps(kbps: int) -> str:
    """Sonar's kilobits per second as Mbps, exact, at most 3 decimals: 2048 -> 2.048.

    A negative speed is formatted too (-1500 -> -1.5): validation names it in its
    message and refuses the file, so it never reaches one.
    """
    whole, rest = divmod(abs(kbps), 1000)
    sign = "-" if kbps < 0 else ""
    return sign + f"{whole}.{rest:03d}".rstrip("0").rstrip(".")


def aggregate(connections: Iterable[Connection]) -> list[SubscriptionRow]:
    """One row per (tract, technology, download, upload), sorted."""
    total: Counter[tuple[str, int, int, int]] = Counter()
    consumer: Counter[tuple[str, int, int, int]] = Counter()
    for c in connections:
        key = (c.tract, c.technology_code, c.download_kbps, c.upload_kbps)
        total[key] += 1
        consumer[key] += c.consumer
    return sorted(SubscriptionRow(*key, total[key], consumer[key]) for key in total)


def row_problems(row: SubscriptionRow) -> list[str]:
    problems = []
    if not (len(row.tract) == TRACT_LENGTH and row.tract.isascii() and row.tract.isdigit()):
        problems.append(f"tract {row.tract!r} is not 11 digits")
    if row.technology_code not in BDC_CODES:
        problems.append(f"technology_code {row.technology_code} is not a BDC code")
    if row.download_kbps < 0 or row.upload_kbps < 0:
        problems.append("a speed is negative")
    if row.total_connections < 1:
        problems.append(f"total_connections {row.total_connections} is below 1")
    if not 0 <= row.consumer_connections <= row.total_connections:
        problems.append(
            f"consumer_connections {row.consumer_connections} is not between 0 and "
            f"total_connections {row.total_connections}"
        )
    return problems


def validate(rows: Sequence[SubscriptionRow]) -> None:
    """Raise FilingValidationError listing the first problems; return when all pass."""
    found: list[str] = []
    seen: set[tuple[str, int, int, int]] = set()
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        key = (row.tract, row.technology_code, row.download_kbps, row.upload_kbps)
        problems = row_problems(row) + (["duplicate row"] if key in seen else [])
        seen.add(key)
        found += [f"line {number} ({','.join(row.cells())}): {p}" for p in problems]
    if found:
        hidden = len(found) - MAX_PROBLEMS_SHOWN
        more = f" (and {hidden} more)" if hidden > 0 else ""
        shown = "; ".join(found[:MAX_PROBLEMS_SHOWN])
        raise FilingValidationError(
            f"the subscription file failed validation, no file written: {shown}{more}"
        )


def exceptions_path(csv_path: Path) -> Path:
    """``subscription.csv`` -> ``subscription.exceptions.csv`` in the same folder."""
    return csv_path.with_name(f"{csv_path.stem}.exceptions.csv")


def sorted_exclusions(exclusions: Iterable[Exclusion]) -> list[Exclusion]:
    """Exclusions by reason, then the warnings of counted customers; by id within each."""
    order = (*REASONS, *WARNINGS)
    return sorted(exclusions, key=lambda e: (order.index(e.reason), e.customer_id))


def write_files(
    csv_path: Path, rows: Sequence[SubscriptionRow], exclusions: Sequence[Exclusion]
) -> Path:
    """Validate, then write the CSV and its exceptions file; return the exceptions path.

    Both are written to temporary files first and renamed only when both are complete;
    on any failure neither final file changes.
    """
    validate(rows)
    extra = exceptions_path(csv_path)
    for target in (csv_path, extra):
        check_target(target)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary(csv_path) as tmp_csv, _temporary(extra) as tmp_extra:
        _write(tmp_csv, lambda out: write_subscription_csv(out, rows))
        _write(tmp_extra, lambda out: write_exceptions_csv(out, sorted_exclusions(exclusions)))
        _replace_both((tmp_csv, csv_path), (tmp_extra, extra))
    return extra


def check_target(path: Path) -> None:
    """Refuse a target a rename would fail on, before anything is written."""
    if path.is_dir():
        raise ConfigError(f"-o: {path} is a directory, not a file; give -o a file name")


def write_subscription_csv(out: TextIO, rows: Iterable[SubscriptionRow]) -> None:
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(row.cells() for row in rows)


def write_exceptions_csv(out: TextIO, exclusions: Iterable[Exclusion]) -> None:
    writer = csv.writer(out)
    writer.writerow(EXCEPTIONS_HEADER)
    writer.writerows(
        (e.customer_id, spreadsheet_safe(e.name or ""), e.reason, e.detail) for e in exclusions
    )


def spreadsheet_safe(text: str) -> str:
    """Defuse a customer name a spreadsheet would run as a formula (OWASP CSV injection).

    The exceptions file is read by people in Excel or LibreOffice; a name from Sonar
    such as ``=HYPERLINK(...)`` gets a leading apostrophe, which those programs hide.
    """
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@contextlib.contextmanager
def _temporary(path: Path) -> Iterator[Path]:
    """A temporary name next to ``path`` (same filesystem), removed unless renamed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _write(tmp: Path, fill: Callable[[TextIO], None]) -> None:
    with tmp.open("w", encoding="utf-8", newline="") as out:
        fill(out)


def _replace_both(first: tuple[Path, Path], second: tuple[Path, Path]) -> None:
    """Rename two complete temporary files into place; if the second rename fails,
    the first target gets its old file back (kept meanwhile under a second name)."""
    (tmp1, target1), (tmp2, target2) = first, second
    had_old = target1.exists()
    backup = target1.with_name(f"{tmp1.name}.old")
    kept = had_old and _link(target1, backup)
    try:
        os.replace(tmp1, target1)
        try:
            os.replace(tmp2, target2)
        except BaseException:
            with contextlib.suppress(OSError):
                if kept:
                    os.replace(backup, target1)
                elif not had_old:
                    target1.unlink()
            raise
    finally:
        backup.unlink(missing_ok=True)


def _link(path: Path, backup: Path) -> bool:
    """A second name for the old file (a hard link: no moment without ``path``)."""
    try:
        os.link(path, backup)
    except OSError:  # a filesystem without hard links: no way back, but no harm
        return False
    return True
