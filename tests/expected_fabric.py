"""What ``fabric match`` should store for each customer, from the simulated Fabric's truth.

The oracle of the matching tests and benchmarks: ``expected_matches(fabric)`` gives each
account's ``(location_id, reason, candidates)`` as a ``fabric_matches`` row would hold
them, and ``score`` compares a run's matches with the truth in the goal's terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sonar_bdc.simulator.fabric_model import Fabric


@dataclass(frozen=True, slots=True)
class ExpectedMatch:
    """``location_id`` None: unmatched, with the ``reason`` of fabric_matches."""

    location_id: int | None
    reason: str | None
    candidates: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Score:
    matched: int  # customers given a location
    right: int  # ... the right one
    matchable: int  # customers whose truth is a location
    to_nobsl: int  # matches to a NoBSL location (must be 0)

    @property
    def precision(self) -> float:
        return self.right / self.matched if self.matched else 1.0

    @property
    def recall(self) -> float:
        return self.right / self.matchable if self.matchable else 1.0


def expected_matches(fabric: Fabric) -> dict[int, ExpectedMatch]:
    """Every account's expected row, by account id."""
    return {
        account_id: ExpectedMatch(p.location_id, p.why, p.candidates)
        for account_id, p in fabric.placements.items()
    }


def score(fabric: Fabric, got: Mapping[int, int | None]) -> Score:
    """``got``: customer id -> the location_id a match run stored (None: unmatched)."""
    nobsl = {loc.location_id for loc in fabric.locations if not loc.bsl_flag}
    truth = fabric.truth
    matched = {c: loc for c, loc in got.items() if loc is not None}
    return Score(
        matched=len(matched),
        right=sum(1 for c, loc in matched.items() if truth.get(c) == loc),
        matchable=sum(1 for loc in truth.values() if loc is not None),
        to_nobsl=sum(1 for loc in matched.values() if loc in nobsl),
    )
