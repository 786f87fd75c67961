"""Data-quality findings a person should look at before filing (pure functions).

None of these changes the filing: they point at customers whose data may be wrong in a
way the filing's rules cannot see (a geocoder's ZIP centroid, a point in another state,
a match far from the point, a subscriber outside the coverage of its technology).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

STACKED = "stacked_point"
FAR = "far_from_location"
OTHER_STATE = "outside_state"
NOT_COVERED = "outside_coverage"
IMPORT = "import"
KINDS = (IMPORT, STACKED, OTHER_STATE, FAR, NOT_COVERED)

STACK_MIN = 5  # customers on one exact point before it looks like a centroid
FAR_M = 150.0  # a match further than this from the customer's point is worth a look

# USPS state abbreviation -> state FIPS code (the first two digits of a tract GEOID).
STATE_FIPS = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
    "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
    "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
    "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
    "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
    "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
    "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
    "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
}  # fmt: skip
FIPS_STATE = {code: abbreviation for abbreviation, code in STATE_FIPS.items()}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # one of KINDS
    customer_id: int | None  # None: about the whole import
    detail: str


@dataclass(frozen=True, slots=True)
class Point:
    """What the findings need to know of one subscriber."""

    customer_id: int
    lat: float | None
    lon: float | None
    address_state: str | None = None
    point_tracts: tuple[str, ...] = ()  # loaded tracts covering the point
    technology: int | None = None  # counted: its technology; None: excluded
    covering: tuple[int, ...] = ()  # technologies whose coverage covers the point
    match_distance_m: float | None = None
    location_id: int | None = None


def stacked(points: Iterable[Point], minimum: int = STACK_MIN) -> list[Finding]:
    """Customers sharing one exact point with at least ``minimum - 1`` others."""
    groups: dict[tuple[float, float], list[int]] = defaultdict(list)
    for p in points:
        if p.lat is not None and p.lon is not None:
            groups[(p.lat, p.lon)].append(p.customer_id)
    found = []
    for (lat, lon), ids in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        if len(ids) < minimum:
            continue
        detail = (
            f"one of {len(ids)} customers at exactly ({lat:g}, {lon:g}): an apartment "
            "building, or a geocoder's ZIP or city centroid? Check the addresses' points"
        )
        found += [Finding(STACKED, cid, detail) for cid in sorted(ids)]
    return found


def far_from_location(points: Iterable[Point], limit_m: float = FAR_M) -> list[Finding]:
    return [
        Finding(
            FAR,
            p.customer_id,
            f"{p.match_distance_m:.0f} m from its matched Fabric location {p.location_id}: "
            "check the point in Sonar, or the match",
        )
        for p in points
        if p.match_distance_m is not None and p.match_distance_m > limit_m
    ]


def outside_state(points: Iterable[Point]) -> list[Finding]:
    """Points whose loaded tract lies in another state than the address says."""
    found = []
    for p in points:
        want = STATE_FIPS.get((p.address_state or "").strip().upper())
        if want is None or not p.point_tracts:
            continue  # an unknown state, or no tract polygon to place the point
        states = {t[:2] for t in p.point_tracts}
        if want not in states:
            where = ", ".join(FIPS_STATE.get(s, s) for s in sorted(states))
            found.append(
                Finding(
                    OTHER_STATE,
                    p.customer_id,
                    f"the address is in {p.address_state}, the point in {where} (tract "
                    f"{p.point_tracts[0]}): fix the coordinates or the address in Sonar",
                )
            )
    return found


def outside_coverage(points: Iterable[Point], covered: Iterable[int]) -> list[Finding]:
    """Counted subscribers whose point no loaded area of their technology covers."""
    with_coverage = set(covered)
    return [
        Finding(
            NOT_COVERED,
            p.customer_id,
            f"technology {p.technology}: the point is outside every loaded coverage area "
            "of it; extend the coverage, or check the point",
        )
        for p in points
        if p.technology in with_coverage and p.lat is not None and p.technology not in p.covering
    ]


def import_findings(texts: Iterable[str]) -> list[Finding]:
    return [Finding(IMPORT, None, text) for text in texts]


def all_findings(
    points: list[Point], covered: Iterable[int], import_texts: Iterable[str]
) -> list[Finding]:
    return [
        *import_findings(import_texts),
        *stacked(points),
        *outside_state(points),
        *far_from_location(points),
        *outside_coverage(points, covered),
    ]


def counts(findings: Iterable[Finding]) -> Mapping[str, int]:
    totals = dict.fromkeys(KINDS, 0)
    for f in findings:
        totals[f.kind] += 1
    return totals
