"""``sonar-bdc fabric match`` as a library call: every customer of the latest report
gets at most one Fabric location_id (rules: ``decide``; SQL: ``store.matching``)."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sonar_bdc.bdc.config import MatchConfig, load_config
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.matching import CandidateRow, CustomerRow, MatchDb

from .decide import (
    FALLBACK_REASONS,
    METHODS,
    REASONS,
    Candidate,
    Customer,
    Decision,
    decide_by_address,
    decide_by_point,
    fall_back_to_address,
    settled,
)
from .exceptions import exception_rows, staged_exceptions

DEFAULT_EXCEPTIONS = Path("fabric_match_exceptions.csv")
# How candidates are found (the bench compares them): "two-pass" asks for the FIRST_K
# nearest of everyone, then the max_candidates nearest of those not settled by them;
# the others ask for the max_candidates nearest of everyone at once.
STRATEGIES = ("two-pass", "knn", "knn-batched", "dwithin")
FIRST_K = 3


@dataclass(frozen=True)
class MatchOptions:
    output: Path | None = None  # the exceptions CSV; None: DEFAULT_EXCEPTIONS
    config: Path | None = None  # the BDC TOML file; None: the defaults
    strategy: str = "two-pass"


@dataclass
class Timings:
    """Seconds spent finding candidates, deciding, writing."""

    candidates: float = 0.0
    decisions: float = 0.0
    write: float = 0.0


@dataclass
class MatchSummary:
    release: str
    customers: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    exceptions_path: Path | None = None
    timings: Timings = field(default_factory=Timings)

    def lines(self) -> list[str]:
        matched = sum(self.methods.values())
        unmatched = sum(self.reasons.values())
        t = self.timings
        return [
            f"Fabric release {self.release}: {matched} of {self.customers} customers matched",
            "matched by " + ", ".join(f"{m} {self.methods[m]}" for m in METHODS),
            f"unmatched {unmatched}: " + ", ".join(f"{r} {self.reasons[r]}" for r in REASONS),
            f"exceptions (every unmatched customer, with its reason): {self.exceptions_path}",
            f"time: candidates {t.candidates:.1f} s, decisions {t.decisions:.1f} s, "
            f"write {t.write:.1f} s",
        ]


def match(settings: Settings, options: MatchOptions) -> MatchSummary:
    """Match every customer, rewrite fabric_matches and the exceptions CSV."""
    config = load_config(options.config).match  # a bad file stops us before any SQL
    path = options.output or DEFAULT_EXCEPTIONS
    with MatchDb.connect(settings.postgres_conninfo(), parse_prefix(settings.prefix)) as db:
        summary = MatchSummary(db.release(), exceptions_path=path)
        customers = db.customers()
        decisions = decide_all(db, customers, config, options.strategy, summary.timings)
        started = time.perf_counter()
        with staged_exceptions(path, exception_rows(customers, decisions)):
            rows = (match_row(d, summary.release) for d in decisions.values())
            db.write(rows, summary.release, datetime.now(timezone.utc).isoformat())
        summary.timings.write = time.perf_counter() - started
    summary.customers = len(customers)
    for decision in decisions.values():
        if decision.reason is None:
            summary.methods[decision.method] += 1
        else:
            summary.reasons[decision.reason] += 1
    return summary


def decide_all(
    db: MatchDb,
    customers: list[CustomerRow],
    config: MatchConfig,
    strategy: str = "two-pass",
    timings: Timings | None = None,
) -> dict[int, Decision]:
    """Every customer's decision: by point, then by address in the ZIP where needed."""
    timings = timings or Timings()
    by_id = {c.id: _customer(c) for c in customers}
    clock = _Clock(timings)
    decisions = _by_points(db, by_id, config, strategy, clock)
    for c in customers:
        if c.has_point and c.id not in decisions:  # nothing in reach
            decisions[c.id] = decide_by_point(by_id[c.id], [], config)
    by_zip = _address_candidates(db, customers, decisions, config, clock)
    started = time.perf_counter()
    for c in customers:
        if not c.has_point:
            decisions[c.id] = decide_by_address(by_id[c.id], by_zip.get(c.id, []), config)
        elif c.id in by_zip:
            decisions[c.id] = fall_back_to_address(
                decisions[c.id], by_id[c.id], by_zip[c.id], config
            )
    timings.decisions += time.perf_counter() - started
    return {c.id: decisions[c.id] for c in customers}


def _by_points(
    db: MatchDb, by_id: dict[int, Customer], config: MatchConfig, strategy: str, clock: _Clock
) -> dict[int, Decision]:
    """Decisions of the customers with a point in reach of some Fabric point."""
    decisions: dict[int, Decision] = {}
    k, radius = config.max_candidates, config.address_radius_m
    if strategy == "two-pass" and k > FIRST_K:
        unsettled = []
        for cid, candidates in clock.groups(db.knn_candidates(FIRST_K, radius)):
            decision = clock.decide(decide_by_point, by_id[cid], candidates, config)
            if settled(decision, candidates, FIRST_K, config, by_id[cid].latitude):
                decisions[cid] = decision
            else:
                unsettled.append(cid)
        found = db.knn_candidates(k, radius, ids=unsettled)
    else:
        found = _point_candidates(db, config, strategy)
    for cid, candidates in clock.groups(found):
        decisions[cid] = clock.decide(decide_by_point, by_id[cid], candidates, config)
    return decisions


def _point_candidates(db: MatchDb, config: MatchConfig, strategy: str) -> Iterator[CandidateRow]:
    k, radius = config.max_candidates, config.address_radius_m
    if strategy == "dwithin":
        return db.dwithin_candidates(k, radius)
    return db.knn_candidates(k, radius, batch=5000 if strategy == "knn-batched" else 0)


def _address_candidates(
    db: MatchDb,
    customers: list[CustomerRow],
    decisions: dict[int, Decision],
    config: MatchConfig,
    clock: _Clock,
) -> dict[int, list[Candidate]]:
    """ZIP candidates of customers without a point, of unconfirmed point matches and of
    points that found nothing."""
    fallback = FALLBACK_REASONS if config.address_fallback else ()
    wanted = []
    for c in customers:
        decision = decisions.get(c.id)
        if decision is not None and not decision.unconfirmed and decision.reason not in fallback:
            continue
        address = _customer(c).address
        if address is not None and c.zip:
            wanted.append((c.id, c.zip, address.number))
    return dict(clock.groups(db.zip_candidates(wanted)))


def _customer(row: CustomerRow) -> Customer:
    return Customer(row.id, row.address, row.street2, row.has_point, row.latitude)


def match_row(decision: Decision, release: str) -> tuple[object, ...]:
    """The fabric_matches row (MATCH_COLUMNS) of one decision."""
    return (
        decision.customer_id,
        decision.location_id,
        release if decision.location_id is not None else None,
        decision.method,
        decision.distance_m,
        decision.candidates,
        decision.reason,
        list(decision.candidate_ids) or None,
    )


class _Clock:
    """Splits the time of the candidate stream (the queries) from the decisions."""

    def __init__(self, timings: Timings) -> None:
        self.timings = timings

    def groups(self, rows: Iterable[CandidateRow]) -> Iterator[tuple[int, list[Candidate]]]:
        """(customer_id, its candidates) from rows ordered by customer; time spent in
        ``rows`` counts as candidate time."""
        started = time.perf_counter()
        for cid, group in itertools.groupby(rows, key=lambda row: row[0]):
            candidates = [Candidate(r[1], r[2], r[3], _lines(r[4])) for r in group]
            self.timings.candidates += time.perf_counter() - started
            yield cid, candidates
            started = time.perf_counter()
        self.timings.candidates += time.perf_counter() - started

    def decide(
        self,
        rule: Callable[[Customer, list[Candidate], MatchConfig], Decision],
        customer: Customer,
        candidates: list[Candidate],
        config: MatchConfig,
    ) -> Decision:
        started = time.perf_counter()
        try:
            return rule(customer, candidates, config)
        finally:
            self.timings.decisions += time.perf_counter() - started


def _lines(addresses: list[str | None] | None) -> tuple[str, ...]:
    return tuple(a for a in addresses or () if a)
