"""The closing summary of an import run."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK


def plural(count: int, singular: str, many: str | None = None) -> str:
    """``1 account``, ``2 accounts``, ``0 accounts``; ``many`` for irregular words."""
    return f"{count} {singular if count == 1 else many or singular + 's'}"


@dataclass
class Summary:
    listed: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_fresh: int = 0
    left_for_later: int = 0  # to refresh (stale, or all with --force), but beyond --limit
    fetched: int = 0  # customers refreshed: detail, inventory or both
    details: int = 0  # of those, with their detail fetched
    inventories: int = 0  # of those, with their inventory refreshed
    failed: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)  # gone in Sonar, as seen by this run
    already_deleted: list[int] = field(default_factory=list)  # of those, marked before
    invalid_coordinates: int = 0
    duplicate_rows: int = 0
    nul_cleaned: int = 0
    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    wall_seconds: float = 0.0
    db_seconds: float = 0.0  # the store's reads and writes (Store.db_seconds)
    layout: str | None = None
    interrupted: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        """Plain values for machines (benchmarks, monitoring)."""
        values = dict(vars(self))
        values["failed"], values["deleted"] = len(self.failed), len(self.deleted)
        values["newly_deleted"] = len(self.newly_deleted)
        values["already_deleted"] = len(self.already_deleted)
        return values

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED  # commands make it EXIT_TERMINATED after a SIGTERM
        return EXIT_FAILED if self.failed else EXIT_OK

    @property
    def newly_deleted(self) -> list[int]:
        """Customers this run marked deleted (``deleted`` less ``already_deleted``)."""
        before = set(self.already_deleted)
        return [i for i in self.deleted if i not in before]

    def lines(self) -> list[str]:
        rows = [
            ("customers listed", f"{self.listed}"),
            ("new", f"{self.new}"),
            ("updated", f"{self.updated}"),
            ("unchanged", f"{self.unchanged}"),
            ("customers refreshed", f"{self.fetched}"),
            ("  details fetched", f"{self.details}"),
            ("  inventories refreshed", f"{self.inventories}"),
            ("skipped as fresh", f"{self.skipped_fresh}"),
            ("left out by --limit", f"{self.left_for_later}"),
            ("failed", f"{len(self.failed)}"),
            ("newly deleted in Sonar", f"{len(self.newly_deleted)}"),
            ("already marked deleted", f"{len(self.already_deleted)}"),
            ("invalid coordinates", f"{self.invalid_coordinates}"),
            ("duplicate report rows", f"{self.duplicate_rows}"),
            ("NUL characters cleaned", f"{self.nul_cleaned}"),
            ("requests", f"{self.requests}"),
            ("retries", f"{self.retries}"),
            ("time in back-off and rate limit", f"{self.wait_seconds:.1f} s (all workers)"),
            ("time in database", f"{self.db_seconds:.1f} s"),
            ("wall time", f"{self.wall_seconds:.1f} s"),
        ]
        width = max(len(label) for label, _ in rows)
        head = "Import summary" + (" (dry run: nothing was written)" if self.dry_run else "")
        if self.interrupted:
            head += " (interrupted)"
        return [head, *(f"  {label:<{width}}  {value}" for label, value in rows)]
