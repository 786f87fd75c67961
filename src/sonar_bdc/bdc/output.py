"""The subscription CSV and its exceptions file: aggregate, validate, then write.

Validation runs on the complete file before anything touches the disk, and both
files are written to temporary names and renamed into place, so a failed check or
a crash never leaves a partial or stale-looking file behind.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sonar_bdc.errors import FilingValidationError

from .config import BDC_CODES
from .model import REASONS, Connection, Exclusion
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
    """Sonar's kilobits per second as Mbps, exact, at most 3 decimals: 2048 -> 2.048."""
    if kbps < 0:
        raise ValueError(f"negative speed {kbps} kbps")
    whole, rest = divmod(kbps, 1000)
    return f"{whole}.{rest:03d}".rstrip("0").rstrip(".")


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
    return sorted(exclusions, key=lambda e: (REASONS.index(e.reason), e.customer_id))


def write_files(
    csv_path: Path, rows: Sequence[SubscriptionRow], exclusions: Sequence[Exclusion]
) -> Path:
    """Validate, then write the CSV and its exceptions file; return the exceptions path."""
    validate(rows)
    extra = exceptions_path(csv_path)
    with _atomic(csv_path) as out, _atomic(extra) as exc_out:
        write_subscription_csv(out, rows)
        write_exceptions_csv(exc_out, sorted_exclusions(exclusions))
    return extra


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


@contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    """A text file that appears at ``path`` only if the block completes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
