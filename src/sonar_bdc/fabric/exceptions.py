"""The match's exceptions file: every customer left unmatched, with what a person needs
to fix it in Sonar (never a Fabric address: the Fabric is licensed data)."""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from sonar_bdc.bdc.output import check_target, spreadsheet_safe
from sonar_bdc.errors import ConfigError
from sonar_bdc.store.matching import CustomerRow

from .decide import Decision

HEADER = (
    "customer_id", "name", "address", "street2", "zip", "reason", "candidate_ids",
    "nearest_distance_m",
)  # fmt: skip


def exception_rows(
    customers: Iterable[CustomerRow], decisions: dict[int, Decision]
) -> list[tuple[object, ...]]:
    """One row per unmatched customer, by customer id."""
    rows: list[tuple[object, ...]] = []
    for customer in customers:
        decision = decisions[customer.id]
        if decision.location_id is not None:
            continue
        distance = "" if decision.distance_m is None else f"{decision.distance_m:.1f}"
        rows.append(
            (
                customer.id,
                spreadsheet_safe(customer.name or ""),
                spreadsheet_safe(customer.address or ""),
                spreadsheet_safe(customer.street2 or ""),
                customer.zip or "",
                decision.reason,
                " ".join(str(i) for i in decision.candidate_ids),
                distance,
            )
        )
    return rows


@contextlib.contextmanager
def staged_exceptions(path: Path, rows: Iterable[tuple[object, ...]]) -> Iterator[None]:
    """Write the rows next to ``path`` now, and over ``path`` when the block succeeds
    (after the matches are committed): the file is whole or unchanged."""
    check_target(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(HEADER)
                writer.writerows(rows)
        yield
        with _writing(path):
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise ConfigError(f"-o {path}: cannot write the file: {exc.strerror or exc}") from exc
