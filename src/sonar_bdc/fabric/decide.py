"""Which Fabric location a customer is at: the matching rules, as pure functions.

The FCC's guidance: a spatial join first (10 to 15 m finds most), the address to
confirm or to decide when points are farther apart or several are close. The rules,
in order, are in docs/fabric-match.md; every unmatched customer gets a reason, and two
equally good candidates are never guessed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from sonar_bdc.bdc.config import MatchConfig

from .address import Address, Agreement, best_agreement, normalize

POINT, POINT_ADDRESS, ADDRESS, UNMATCHED = "point", "point_address", "address", "unmatched"
NO_COORDINATES_NO_ADDRESS = "no_coordinates_no_address"
NOTHING_WITHIN_REACH = "nothing_within_reach"
AMBIGUOUS = "ambiguous"
NEAREST_NOT_BSL = "nearest_not_bsl"
REASONS = (NO_COORDINATES_NO_ADDRESS, NOTHING_WITHIN_REACH, AMBIGUOUS, NEAREST_NOT_BSL)
METHODS = (POINT, POINT_ADDRESS, ADDRESS)
FALLBACK_REASONS = (NOTHING_WITHIN_REACH, NEAREST_NOT_BSL)  # a point may retry by address


@dataclass(frozen=True, slots=True)
class Candidate:
    """A Fabric location near a customer's point or in its ZIP."""

    location_id: int
    bsl: bool
    distance_m: float | None  # from the customer's point; None without a point
    addresses: tuple[str, ...] = ()  # address_primary, then Secondary / Supplemental lines


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    line1: str | None
    line2: str | None = None
    has_point: bool = True
    latitude: float | None = None

    @property
    def address(self) -> Address | None:
        return normalize(self.line1, self.line2)


@dataclass(frozen=True, slots=True)
class Decision:
    """A customer's location_id (None: unmatched, with its reason)."""

    customer_id: int
    location_id: int | None
    method: str
    distance_m: float | None = None  # to the location matched; unmatched: the nearest point
    candidates: int = 0  # BSLs considered
    reason: str | None = None
    candidate_ids: tuple[int, ...] = field(default=())  # ambiguous: the tied locations
    unconfirmed: bool = False  # a point match whose address disagrees, none nearby agreeing


def decide_by_point(
    customer: Customer, candidates: Sequence[Candidate], config: MatchConfig
) -> Decision:
    """A customer with coordinates, against the Fabric points near it."""
    reach = sorted(
        (c for c in candidates if _distance(c) <= config.address_radius_m), key=_distance
    )
    bsls = [c for c in reach if c.bsl]
    if not bsls:
        reason = NEAREST_NOT_BSL if reach else NOTHING_WITHIN_REACH
        return _unmatched(customer, reason, reach)
    first = bsls[0]
    contenders = [c for c in bsls if _distance(c) - _distance(first) < config.clear_margin_m]
    if _distance(first) <= config.point_radius_m and len(contenders) == 1:
        return _clear_nearest(customer, first, bsls, config)
    winner, tied = _by_address(customer.address, bsls, config)
    if winner is not None:
        return _matched(customer, winner, POINT_ADDRESS, bsls)
    if tied:
        return _unmatched(customer, AMBIGUOUS, reach, bsls, tied)
    if _distance(first) <= config.point_radius_m:  # several close, no address tells them apart
        ids = tuple(sorted(c.location_id for c in contenders))
        return _unmatched(customer, AMBIGUOUS, reach, bsls, ids)
    reason = NOTHING_WITHIN_REACH if reach[0].bsl else NEAREST_NOT_BSL
    return _unmatched(customer, reason, reach, bsls)


def settled(
    decision: Decision,
    candidates: Sequence[Candidate],
    k: int,
    config: MatchConfig,
    latitude: float | None,
) -> bool:
    """Whether ``decision``, made from the ``k`` nearest points only, stands whatever
    lies beyond them: all points in reach were seen, or it is a confirmed clear nearest
    and every unseen point is at least ``clear_margin_m`` farther.

    The index orders points in degrees, where a degree of longitude is cos(latitude)
    of one of latitude: an unseen point is no nearer than the farthest seen times that.
    """
    if len(candidates) < k:
        return True
    if decision.method != POINT or decision.unconfirmed or decision.distance_m is None:
        return False
    shrink = math.cos(math.radians(abs(latitude))) if latitude is not None else 0.3
    farthest = max(_distance(c) for c in candidates)
    return farthest * shrink - decision.distance_m >= config.clear_margin_m


def _clear_nearest(
    customer: Customer, first: Candidate, bsls: list[Candidate], config: MatchConfig
) -> Decision:
    """The clear nearest BSL, unless its address disagrees and exactly one other agrees."""
    address = customer.address if config.confirm_point else None
    if address is None:
        return _matched(customer, first, POINT, bsls)
    if best_agreement(address, first.addresses, config.street_similarity) != Agreement.DISAGREES:
        return _matched(customer, first, POINT, bsls)
    other, _ = _by_address(address, bsls[1:], config)
    if other is None:  # its house may be beyond the candidates: see fall_back_to_address
        return dataclasses.replace(_matched(customer, first, POINT, bsls), unconfirmed=True)
    return _matched(customer, other, POINT_ADDRESS, bsls)


def decide_by_address(
    customer: Customer, candidates: Sequence[Candidate], config: MatchConfig
) -> Decision:
    """A customer without coordinates, against the BSLs of its ZIP (same house number)."""
    bsls = [c for c in candidates if c.bsl]
    winner, tied = _by_address(customer.address, bsls, config)
    if winner is not None:
        return _matched(customer, winner, ADDRESS, bsls)
    if tied:
        return _unmatched(customer, AMBIGUOUS, [], bsls, tied)
    return _unmatched(customer, NO_COORDINATES_NO_ADDRESS, [], bsls)


def fall_back_to_address(
    decision: Decision,
    customer: Customer,
    candidates: Sequence[Candidate],
    config: MatchConfig,
) -> Decision:
    """A second look, by address within the ZIP, for two kinds of point decision.

    An unconfirmed point match yields to the one BSL of its ZIP whose address agrees,
    if that one is within reach (only the nearest ``max_candidates`` were looked at).
    A point that found nothing may match by address alone (if ``address_fallback``):
    its geocode may be the road's or the ZIP's centre rather than the house.
    """
    bsls = [c for c in candidates if c.bsl]
    if decision.unconfirmed:
        near = [c for c in bsls if _distance(c) <= config.address_radius_m]
        winner, _ = _by_address(customer.address, near, config)
        if winner is None or winner.location_id == decision.location_id:
            return decision
        return _matched(customer, winner, POINT_ADDRESS, bsls)
    if not config.address_fallback or decision.reason not in FALLBACK_REASONS:
        return decision
    winner, _ = _by_address(customer.address, bsls, config)
    if winner is None:
        return decision
    return _matched(customer, winner, ADDRESS, bsls)


def _by_address(
    address: Address | None, bsls: Sequence[Candidate], config: MatchConfig
) -> tuple[Candidate | None, tuple[int, ...]]:
    """The one BSL whose address agrees best (ties: the clearly nearest of them), else
    None and the ids of the equally good ones."""
    if address is None or not bsls:
        return None, ()
    scored = [(best_agreement(address, c.addresses, config.street_similarity), c) for c in bsls]
    best = max(score for score, _ in scored)
    if best < Agreement.AGREES:
        return None, ()
    top = sorted((c for score, c in scored if score == best), key=_distance)
    if len(top) == 1 or _distance(top[1]) - _distance(top[0]) >= config.clear_margin_m:
        return top[0], ()
    return None, tuple(sorted(c.location_id for c in top))


def _distance(candidate: Candidate) -> float:
    """Unknown distances (no point) sort last and never separate two candidates."""
    return float("inf") if candidate.distance_m is None else candidate.distance_m


def _matched(
    customer: Customer, location: Candidate, method: str, bsls: Sequence[Candidate]
) -> Decision:
    return Decision(customer.id, location.location_id, method, location.distance_m, len(bsls))


def _unmatched(
    customer: Customer,
    reason: str,
    reach: Sequence[Candidate],
    bsls: Sequence[Candidate] = (),
    tied: tuple[int, ...] = (),
) -> Decision:
    nearest = reach[0].distance_m if reach else None
    return Decision(customer.id, None, UNMATCHED, nearest, len(bsls), reason, tied)
