"""Cross-checks between the subscription and availability files (pure).

The FCC compares a filer's two files: every subscriber's location should be available
over its technology, at an offer at least as fast as the plan the subscriber has. Each
inconsistency becomes one row of the availability exceptions file, in the order of
``CHECKS``, then by customer id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sonar_bdc.store.availability import Covering, MatchRow

from .availability_output import CrossCheck, Written
from .model import Connection
from .offers import Offer, tier_of_kbps

SERVED_UNMATCHED = "served_unmatched"
SERVED_NOBSL = "served_nobsl"
NOT_COVERED = "not_covered"
PLAN_FASTER = "plan_faster_than_offer"
TECHNOLOGY_ABSENT = "technology_not_in_availability"
CHECKS = (SERVED_UNMATCHED, SERVED_NOBSL, NOT_COVERED, PLAN_FASTER, TECHNOLOGY_ABSENT)


@dataclass(frozen=True, slots=True)
class Served:
    """A counted subscriber at its matched BSL, with the technology the subscription
    file gives it and its plan (kbps)."""

    customer_id: int
    name: str | None
    location_id: int
    technology: int
    download_kbps: int
    upload_kbps: int

    @property
    def key(self) -> tuple[int, int]:
        return self.location_id, self.technology


def served_locations(
    connections: Iterable[Connection],
    names: Mapping[int, str | None],
    matches: Mapping[int, MatchRow],
) -> tuple[list[Served], list[CrossCheck]]:
    """Subscribers at a BSL, and those the availability file cannot list (unmatched, NoBSL):
    counted in the subscription file, absent here."""
    served, checks = [], []
    for c in connections:
        name = names.get(c.customer_id)
        match = matches.get(c.customer_id)
        if match is None or match.location_id is None:
            why = match.reason if match else "never matched (run sonar-bdc fabric match)"
            checks.append(CrossCheck(SERVED_UNMATCHED, c.customer_id, name, None,
                                     c.technology_code, f"no Fabric location: {why}"))  # fmt: skip
        elif not match.bsl:
            checks.append(CrossCheck(
                SERVED_NOBSL, c.customer_id, name, match.location_id, c.technology_code,
                "matched to a Fabric structure that is not a BSL (NoBSL): check the match, "
                "or the Fabric (a challenge) if the subscriber's building is served",
            ))  # fmt: skip
        else:
            served.append(Served(c.customer_id, name, match.location_id, c.technology_code,
                                 c.download_kbps, c.upload_kbps))  # fmt: skip
    return served, checks


def coverage_checks(
    served: Sequence[Served],
    covering: Mapping[tuple[int, int], Covering],
    covered_technologies: Iterable[int],
    offers: Mapping[int, Offer],
) -> list[CrossCheck]:
    """Subscribers outside their technology's loaded coverage, and plans faster than the
    offer the file declares at their location."""
    with_coverage = set(covered_technologies)
    checks = []
    for s in served:
        area = covering.get(s.key)
        if s.technology in with_coverage and area is None:
            checks.append(CrossCheck(
                NOT_COVERED, s.customer_id, s.name, s.location_id, s.technology,
                f"outside every technology {s.technology} coverage area: listed as a served "
                "location; extend the coverage if the area is served",
            ))  # fmt: skip
        offer = offers[s.technology]
        declared = (offer.download_mbps, offer.upload_mbps)
        if area is not None and area.download_mbps is not None and area.upload_mbps is not None:
            declared = (area.download_mbps, area.upload_mbps)
        plan = tier_of_kbps(s.download_kbps, s.upload_kbps)
        if plan[0] > declared[0] or plan[1] > declared[1]:
            checks.append(CrossCheck(
                PLAN_FASTER, s.customer_id, s.name, s.location_id, s.technology,
                f"plan {s.download_kbps / 1000:g}/{s.upload_kbps / 1000:g} Mbps (filed as "
                f"{plan[0]}/{plan[1]}) is faster than the {declared[0]}/{declared[1]} Mbps "
                "declared there: raise the offer (--config [offers] or the area's)",
            ))  # fmt: skip
    return checks


def absent_technologies(connections: Iterable[Connection], written: Written) -> list[CrossCheck]:
    """Technologies with subscribers and no location in the availability file."""
    listed = {technology for technology, _ in written.by_tier}
    counts: dict[int, int] = {}
    for c in connections:
        counts[c.technology_code] = counts.get(c.technology_code, 0) + 1
    return [
        CrossCheck(
            TECHNOLOGY_ABSENT,
            None,
            None,
            None,
            code,
            f"{n} connections in the subscription file, no location here: load its "
            "coverage or match its subscribers to the Fabric",
        )
        for code, n in sorted(counts.items())
        if code not in listed
    ]


def sorted_checks(checks: Iterable[CrossCheck]) -> list[CrossCheck]:
    return sorted(
        checks, key=lambda c: (CHECKS.index(c.check), c.customer_id or 0, c.technology or 0)
    )
