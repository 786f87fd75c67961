"""What the review page shows, gathered from one snapshot with the filing's own decisions.

Each customer is decided by ``bdc.rules.Rules`` (the subscription file's rules), the
availability cross-checks come from ``bdc.crosscheck`` with the offers of
``bdc.availability``: the page shows what the files would say, never a second opinion.
The result is plain JSON-ready data (columns of equal length for the customers, so a
50,000-customer page stays a few megabytes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sonar_bdc import readiness
from sonar_bdc.bdc.availability import offer_tuples, technology_offers
from sonar_bdc.bdc.availability_output import CrossCheck, Written, speed_tier
from sonar_bdc.bdc.config import BdcConfig
from sonar_bdc.bdc.crosscheck import (
    CHECKS,
    absent_technologies,
    coverage_checks,
    served_locations,
    sorted_checks,
)
from sonar_bdc.bdc.model import REASONS, WARNINGS, Connection, CustomerRow, Exclusion, Status
from sonar_bdc.bdc.offers import KBPS
from sonar_bdc.bdc.output import sorted_exclusions
from sonar_bdc.bdc.rules import Rules, StatusResolver, fastest_plan
from sonar_bdc.bdc.summary import FilingSummary
from sonar_bdc.errors import ConfigError
from sonar_bdc.store.review import Address, Match, ReviewSnapshot

from .findings import Finding, Point, all_findings

Json = dict[str, object]

COUNTED = "counted"
COUNTED_NOBSL = "counted_nobsl"
COUNTED_UNMATCHED = "counted_unmatched"
NOT_MATCHED_YET = "counted_not_matched_yet"
CATEGORIES = {
    COUNTED: "counted, matched to a Fabric BSL",
    COUNTED_NOBSL: "counted, matched to a NoBSL structure",
    COUNTED_UNMATCHED: "counted, no Fabric location found",
    NOT_MATCHED_YET: "counted, not matched yet (sonar-bdc fabric match)",
    **{f"excluded:{r}": f"excluded: {r}" for r in REASONS},
}
CATEGORY_KEYS = tuple(CATEGORIES)


@dataclass
class ReviewCounts:
    """The page's headline, also printed by the command."""

    customers: int = 0
    subscribers: int = 0  # counted or excluded: every point drawn comes from these
    drawn: int = 0  # subscribers with coordinates
    summary: FilingSummary | None = None
    checks: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    availability_note: str | None = None  # why there is no availability part
    matched: int = 0  # customers with a Fabric location


@dataclass
class _Decided:
    customers: list[CustomerRow]
    outcomes: list[Connection | Exclusion]
    summary: FilingSummary


def decide(snap: ReviewSnapshot, config: BdcConfig, as_of: date) -> _Decided:
    data = snap.filing
    statuses = StatusResolver(Status(s["id"], s["name"], s["active"]) for s in data.statuses)
    rules = Rules(config, statuses, data.tracts_loaded)
    customers = [CustomerRow.from_row(row) for row in data.customers]
    outcomes = [rules.decide(c) for c in customers]
    summary = FilingSummary.from_outcomes(as_of, outcomes)
    summary.data_imported_at, summary.oldest_detail = data.latest_report, data.state.oldest_detail
    summary.tracts_loaded = data.tracts_loaded
    subscribers = [
        (c, o)
        for c, o in zip(customers, outcomes, strict=True)
        if isinstance(o, (Connection, Exclusion))
    ]
    return _Decided([c for c, _ in subscribers], [o for _, o in subscribers], summary)


def gather(
    snap: ReviewSnapshot, config: BdcConfig, as_of: date | None, max_detail_age: float
) -> tuple[Json, ReviewCounts]:
    today = datetime.now(timezone.utc).date()
    decided = decide(snap, config, as_of or today)
    matches = snap.matches()
    addresses = snap.addresses()
    connections = [o for o in decided.outcomes if isinstance(o, Connection)]
    counts = ReviewCounts(len(snap.filing.customers), len(decided.outcomes))
    counts.summary = decided.summary
    counts.matched = sum(1 for m in matches.values() if m.location_id is not None)
    checks, tiers, note = _availability(snap, config, decided, matches)
    counts.checks, counts.availability_note = Counter(c.check for c in checks), note
    areas = snap.areas()
    points = _points(decided, addresses, matches, snap.point_coverage())
    state = snap.filing.state
    texts = [p.text for p in readiness.problems(state, max_detail_age, as_of, today)]
    findings = all_findings(points, {a.technology for a in areas}, texts + readiness.notices(state))
    counts.findings = Counter(f.kind for f in findings)
    customers, values = _columns(decided, addresses, matches, have_matches=bool(matches))
    counts.drawn = sum(1 for c in decided.customers if _point(c) is not None)
    geoids = sorted({t for c in decided.customers for t in c.polygon_tracts})
    page: Json = {
        "headline": _headline(snap, decided, counts, connections, tiers, as_of),
        "categories": [{"key": k, "label": CATEGORIES[k]} for k in CATEGORY_KEYS],
        "customers": customers,
        "customer_values": values,
        "exclusions": _exclusions(decided.outcomes),
        "checks": [_check(c) for c in checks],
        "findings": [_finding(f) for f in findings],
        "coverage": [
            {
                "id": a.id,
                "technology": a.technology,
                "download": a.download_mbps,
                "upload": a.upload_mbps,
                "source": a.source,
                "geojson": a.geojson,
            }
            for a in areas
        ],
        "tracts": [{"geoid": g, "geojson": j} for g, j in snap.tracts(geoids)],
    }
    return page, counts


def _availability(
    snap: ReviewSnapshot, config: BdcConfig, decided: _Decided, matches: dict[int, Match]
) -> tuple[list[CrossCheck], Counter[tuple[int, str]] | None, str | None]:
    """The availability file's cross-checks and its locations per technology and tier,
    as ``bdc availability`` would write them; None and why when it cannot be built."""
    avail = snap.availability()
    if avail is None:
        return [], None, "no Fabric loaded (sonar-bdc fabric load): no availability file yet"
    connections = [o for o in decided.outcomes if isinstance(o, Connection)]
    coverage = avail.coverage()
    try:
        offers, _ = technology_offers(config, connections, coverage)
    except ConfigError as exc:
        return [], None, f"the availability file would be refused: {exc}"
    names = {c.id: c.name for c in decided.customers}
    served, checks = served_locations(connections, names, avail.matches())
    keys = sorted({s.key for s in served})
    checks += coverage_checks(served, avail.covering(keys), coverage, offers)
    written = Written()
    locations = set()
    for location, technology, down, up, _, _ in avail.rows(offer_tuples(offers, coverage), keys):
        written.rows += 1
        locations.add(location)
        written.by_tier[(technology, speed_tier(down, up))] += 1
    written.locations = len(locations)
    checks = sorted_checks([*checks, *absent_technologies(connections, written)])
    return checks, written.by_tier, None


def _headline(
    snap: ReviewSnapshot,
    decided: _Decided,
    counts: ReviewCounts,
    connections: Sequence[Connection],
    availability_tiers: Counter[tuple[int, str]] | None,
    as_of: date | None,
) -> Json:
    state, summary = snap.filing.state, decided.summary
    subscription_tiers: Counter[tuple[int, str]] = Counter(
        (c.technology_code, speed_tier(c.download_kbps // KBPS, c.upload_kbps // KBPS))
        for c in connections
    )
    keys = sorted(set(subscription_tiers) | set(availability_tiers or ()))
    last = state.last_filing
    return {
        "prefix": state.prefix,
        "generated_at": _when(datetime.now(timezone.utc)),
        "as_of": as_of.isoformat() if as_of else None,
        "imported_at": _when(state.latest_report),
        "oldest_detail": _when(state.oldest_detail),
        "demo": state.demo,
        "customers": counts.customers,
        "in_latest_report": state.listed,
        "subscribers": counts.subscribers,
        "counted": len(connections),
        "consumer": sum(c.consumer for c in connections),
        "tracts_loaded": snap.filing.tracts_loaded,
        "fabric_matched": counts.matched,
        "tiers": [
            {
                "technology": t,
                "tier": tier,
                "subscription": subscription_tiers[(t, tier)],
                "availability": None
                if availability_tiers is None
                else availability_tiers[(t, tier)],
            }
            for t, tier in keys
        ],
        "excluded": {r: summary.excluded[r] for r in REASONS if summary.excluded[r]},
        "warnings": {r: summary.listed_warnings[r] for r in WARNINGS if summary.listed_warnings[r]},
        "skipped": dict(summary.skipped),
        "checks": {c: counts.checks[c] for c in CHECKS if counts.checks[c]},
        "availability_note": counts.availability_note,
        "findings": {k: n for k, n in counts.findings.items() if n},
        "last_filing": None
        if last is None
        else {
            "kind": last.kind,
            "as_of": last.as_of.isoformat(),
            "written_at": _when(last.written_at),
            "path": last.csv_path,
        },
    }


def _points(
    decided: _Decided,
    addresses: dict[int, Address],
    matches: dict[int, Match],
    covering: dict[int, tuple[int, ...]],
) -> list[Point]:
    points = []
    for c, o in zip(decided.customers, decided.outcomes, strict=True):
        match = matches.get(c.id)
        address = addresses.get(c.id)
        point = _point(c)
        points.append(
            Point(
                c.id,
                point[0] if point else None,
                point[1] if point else None,
                address.state if address else None,
                c.polygon_tracts,
                o.technology_code if isinstance(o, Connection) else None,
                covering.get(c.id, ()),
                match.distance_m if match else None,
                match.location_id if match else None,
            )
        )
    return points


def _point(c: CustomerRow) -> tuple[float, float] | None:
    """The customer's valid point (the geom the filing uses), rounded to about 10 cm."""
    if not c.has_point or c.latitude is None or c.longitude is None:
        return None
    return round(c.latitude, 6), round(c.longitude, 6)


def _category(outcome: Connection | Exclusion, match: Match | None, have_matches: bool) -> str:
    if isinstance(outcome, Exclusion):
        return f"excluded:{outcome.reason}"
    if match is None:
        return COUNTED_UNMATCHED if have_matches else NOT_MATCHED_YET
    if match.location_id is None:
        return COUNTED_UNMATCHED
    return COUNTED if match.bsl else COUNTED_NOBSL


# Columns with few distinct texts travel as codes into a list of their values (a plan's
# label or a status repeats for thousands of customers): the page decodes them.
CODED = ("name", "status", "plan", "how")
COLUMNS = (
    *("id", "name", "addr", "status", "plan", "tech", "tract", "lat", "lon", "cat"),
    *("loc", "how", "flat", "flon"),  # the matched location: id, how, its point
)


def _columns(
    decided: _Decided,
    addresses: dict[int, Address],
    matches: dict[int, Match],
    have_matches: bool,
) -> tuple[Json, Json]:
    """One list per field, one entry per subscriber, in customer id order; and the values
    of the coded columns."""
    cols: dict[str, list[object]] = {n: [] for n in COLUMNS}
    category = {k: n for n, k in enumerate(CATEGORY_KEYS)}
    for c, o in zip(decided.customers, decided.outcomes, strict=True):
        match = matches.get(c.id)
        address = addresses.get(c.id)
        point = _point(c)
        connection = o if isinstance(o, Connection) else None
        cols["id"].append(c.id)
        cols["name"].append(c.name)
        cols["addr"].append(address.line() if address else None)
        cols["status"].append(c.status_name)
        cols["plan"].append(_plan(c))
        cols["tech"].append(connection.technology_code if connection else None)
        cols["tract"].append(connection.tract if connection else None)
        cols["lat"].append(point[0] if point else None)
        cols["lon"].append(point[1] if point else None)
        cols["cat"].append(category[_category(o, match, have_matches)])
        cols["loc"].append(match.location_id if match else None)
        cols["how"].append(_how(match, have_matches))
        located = _located(match)
        cols["flat"].append(located[0] if located else None)
        cols["flon"].append(located[1] if located else None)
    values: Json = {}
    for name in CODED:
        cols[name], values[name] = _coded(cols[name])
    return dict(cols), values


def _coded(column: list[object]) -> tuple[list[object], list[object]]:
    """Each entry as the index of its value in the returned values (first seen first)."""
    index: dict[object, int] = {}
    codes: list[object] = [index.setdefault(v, len(index)) for v in column]
    return codes, list(index)


def _located(match: Match | None) -> tuple[float, float] | None:
    if match is None or match.lat is None or match.lon is None:
        return None
    return round(match.lat, 6), round(match.lon, 6)


def _plan(c: CustomerRow) -> str | None:
    plan = fastest_plan(c.services)
    if plan is None:
        return None
    speeds = f"{(plan.download_kbps or 0) / KBPS:g}/{(plan.upload_kbps or 0) / KBPS:g} Mbps"
    return f"{plan.label()}: {speeds}"


def _how(match: Match | None, have_matches: bool) -> str:
    if match is None:
        return "not matched (not in the last match run)" if have_matches else "not matched yet"
    if match.location_id is None:
        return f"unmatched: {match.reason}"
    where = "" if match.distance_m is None else f", {match.distance_m:.0f} m away"
    bsl = "" if match.bsl else ", not a BSL (NoBSL)"
    return f"by {match.method}{where}{bsl}"


def _exclusions(outcomes: Sequence[Connection | Exclusion]) -> list[Json]:
    listed = [o for o in outcomes if isinstance(o, Exclusion)]
    listed += [o.warning for o in outcomes if isinstance(o, Connection) and o.warning]
    return [
        {"customer_id": e.customer_id, "name": e.name, "reason": e.reason, "detail": e.detail}
        for e in sorted_exclusions(listed)
    ]


def _check(c: CrossCheck) -> Json:
    return {
        "check": c.check,
        "customer_id": c.customer_id,
        "name": c.name,
        "location_id": c.location_id,
        "technology": c.technology,
        "detail": c.detail,
    }


def _finding(f: Finding) -> Json:
    return {"kind": f.kind, "customer_id": f.customer_id, "detail": f.detail}


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else readiness.when(moment)
