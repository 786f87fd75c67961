"""The terminal summary of a subscription file: what was counted and what was left out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .model import (
    FROM_FABRIC,
    FROM_FIPS,
    FROM_POLYGON,
    FROM_UNKNOWN_VINTAGE,
    REASONS,
    WARNINGS,
    Connection,
    Exclusion,
    Outcome,
    Skipped,
)

STALE_DAYS = 7  # warn when the data was imported this far from the as-of date


@dataclass
class FilingSummary:
    as_of: date
    data_imported_at: datetime | None = None  # the latest report import
    oldest_detail: datetime | None = None  # the oldest account detail in that report
    import_warnings: list[str] = field(default_factory=list)  # see bdc.gate
    csv_path: Path | None = None
    exceptions_path: Path | None = None
    rows: int = 0
    by_technology: Counter[int] = field(default_factory=Counter)
    consumer_by_technology: Counter[int] = field(default_factory=Counter)
    tract_sources: Counter[str] = field(default_factory=Counter)
    excluded: Counter[str] = field(default_factory=Counter)
    listed_warnings: Counter[str] = field(default_factory=Counter)  # counted, and listed
    skipped: Counter[str] = field(default_factory=Counter)
    tracts_loaded: int = 0
    config_warnings: list[str] = field(default_factory=list)  # --config entries matching nothing

    @classmethod
    def from_outcomes(cls, as_of: date, outcomes: Sequence[Outcome]) -> FilingSummary:
        summary = cls(as_of=as_of)
        for outcome in outcomes:
            summary.add(outcome)
        return summary

    def add(self, outcome: Outcome) -> None:
        if isinstance(outcome, Connection):
            self.by_technology[outcome.technology_code] += 1
            self.consumer_by_technology[outcome.technology_code] += outcome.consumer
            self.tract_sources[outcome.tract_source] += 1
            if outcome.warning is not None:
                self.listed_warnings[outcome.warning.reason] += 1
        elif isinstance(outcome, Exclusion):
            self.excluded[outcome.reason] += 1
        elif isinstance(outcome, Skipped):
            self.skipped[outcome.why] += 1

    @property
    def connections(self) -> int:
        return sum(self.by_technology.values())

    @property
    def consumer(self) -> int:
        return sum(self.consumer_by_technology.values())

    def warnings(self) -> list[str]:
        found = list(self.import_warnings)
        if self.data_imported_at is None:
            found.append("no import found: run sonar-bdc import first")
        else:
            days = (self.data_imported_at.date() - self.as_of).days
            if abs(days) > STALE_DAYS:
                found.append(
                    f"the data was imported on {self.data_imported_at.date()}, {abs(days)} days "
                    f"{'after' if days > 0 else 'before'} the as-of date {self.as_of}: the file "
                    "shows the subscriptions of the import day; import closer to the as-of date"
                )
        if self.tract_sources[FROM_UNKNOWN_VINTAGE]:
            found.append(
                f"{self.tract_sources[FROM_UNKNOWN_VINTAGE]} connections take their tract from "
                "a census block whose census year Sonar does not send (v1): a block of the "
                "2010 census may name a tract that changed in 2020; match customers to the "
                "Fabric (sonar-bdc fabric match) to take the tract from their location"
            )
        return found + self.config_warnings

    def lines(self) -> list[str]:
        imported = self.data_imported_at.date() if self.data_imported_at else "never"
        oldest = self.oldest_detail.date() if self.oldest_detail else "none"
        lines = [
            f"subscription as of {self.as_of} (report imported {imported}, "
            f"oldest account detail {oldest})",
            f"file: {self.csv_path} ({self.rows} rows)",
            f"connections counted: {self.connections}, consumer {self.consumer} "
            f"({_share(self.consumer, self.connections)})",
        ]
        for code in sorted(self.by_technology):
            total, consumer = self.by_technology[code], self.consumer_by_technology[code]
            lines.append(f"  technology {code:>2}: {total} (consumer {consumer})")
        src = self.tract_sources
        lines.append(
            f"2020 tract from the matched Fabric location: {src[FROM_FABRIC]}, "
            f"from a 2020 census block: {src[FROM_FIPS]}, "
            f"from a census block of unknown census year: {src[FROM_UNKNOWN_VINTAGE]}, "
            f"from tract polygons: {src[FROM_POLYGON]} ({self.tracts_loaded} tracts loaded)"
        )
        return lines + self._excluded_lines()

    def _excluded_lines(self) -> list[str]:
        total = sum(self.excluded.values())
        lines = [f"excluded: {total} (listed in {self.exceptions_path})"]
        lines += [
            f"  {reason}: {self.excluded[reason]}" for reason in REASONS if self.excluded[reason]
        ]
        if self.listed_warnings:
            total = sum(self.listed_warnings.values())
            lines.append(f"counted with a warning: {total} (also listed in {self.exceptions_path})")
            lines += [
                f"  {w}: {self.listed_warnings[w]}" for w in WARNINGS if self.listed_warnings[w]
            ]
        if self.skipped:
            parts = ", ".join(f"{why} {n}" for why, n in sorted(self.skipped.items()))
            lines.append(f"not subscribers (not listed): {parts}")
        return lines


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"
