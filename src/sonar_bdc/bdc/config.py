"""The BDC configuration file (TOML): technology mapping, consumer/business overrides and
the rules that match customers to Fabric locations.

Every key is optional; an absent file means the defaults. Unknown keys and invalid
values are refused with a ConfigError that names the file, the key and the fix, so a
typo never silently changes a filing. See docs/bdc.md and docs/bdc.example.toml.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sonar_bdc.errors import ConfigError

from .offers import OfferEntry, parse_offers

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The BDC fixed broadband technology codes.
BDC_CODES = frozenset({0, 10, 40, 50, 60, 61, 70, 71, 72})

# Sonar's Form 477 code -> BDC code. 20/30 (symmetric xDSL, other copper) become 10
# (copper), 90 (power line) becomes 0 (other). 11/12 and 41-43 are Form 477's xDSL
# and DOCSIS sub-codes. 61, 71 and 72 are not Form 477 codes: a source that sends
# them already speaks BDC, so they map to themselves. 70 is ambiguous (BDC 70, 71 or
# 72) and defaults to 70, unlicensed fixed wireless: override it per service.
DEFAULT_FORM477 = {
    0: 0,
    10: 10,
    11: 10,
    12: 10,
    20: 10,
    30: 10,
    40: 40,
    41: 40,
    42: 40,
    43: 40,
    50: 50,
    60: 60,
    61: 61,
    70: 70,
    71: 71,
    72: 72,
    90: 0,
}

_TOP_KEYS = ("technology", "consumer", "offers", "match")
_TECHNOLOGY_KEYS = ("service", "names")
_SERVICE_KEYS = ("id", "name_pattern", "technology_code")
_CONSUMER_KEYS = ("business_groups", "consumer_groups")


@dataclass(frozen=True)
class ServiceRule:
    """``[[technology.service]]``: services by id or name glob -> one BDC code."""

    technology_code: int
    ids: frozenset[int] = frozenset()
    name_pattern: str | None = None  # fnmatch glob, matched case-insensitively


@dataclass(frozen=True)
class MatchConfig:
    """``[match]``: how ``sonar-bdc fabric match`` ties customers to Fabric locations."""

    point_radius_m: float = 15.0  # the nearest BSL this close is taken by its point alone ...
    clear_margin_m: float = 5.0  # ... when every other BSL is this much farther
    address_radius_m: float = 150.0  # farther (or crowded): the address must agree
    street_similarity: float = 85.0  # rapidfuzz ratio (0-100) from which street names agree
    max_candidates: int = 20  # nearest Fabric points considered per customer
    confirm_point: bool = True  # a point match whose address disagrees yields to one that agrees
    address_fallback: bool = True  # a point with nothing in reach may match by address in its ZIP


_MATCH_LIMITS: dict[str, tuple[float, float]] = {
    "point_radius_m": (1, 1000),
    "clear_margin_m": (0, 1000),
    "address_radius_m": (1, 5000),
    "street_similarity": (50, 100),
    "max_candidates": (1, 1000),
}
_MATCH_FLAGS = ("confirm_point", "address_fallback")


@dataclass(frozen=True)
class BdcConfig:
    form477: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_FORM477))
    services: tuple[ServiceRule, ...] = ()
    names: Mapping[str, int] = field(default_factory=dict)  # casefolded name -> BDC code
    business_groups: tuple[int | str, ...] = ()  # group ids or names
    consumer_groups: tuple[int | str, ...] = ()
    offers: Mapping[int, OfferEntry] = field(default_factory=dict)  # [offers."CODE"] (bdc.offers)
    match: MatchConfig = field(default_factory=MatchConfig)
    source: str = "(defaults)"


def load_config(path: str | Path | None) -> BdcConfig:
    """Read ``path`` (None: the defaults); ConfigError names the file and the problem."""
    if path is None:
        return BdcConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot read it: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML: {exc}") from exc
    return parse_config(data, str(path))


def parse_config(data: Mapping[str, Any], source: str) -> BdcConfig:
    """Build a BdcConfig from parsed TOML, refusing unknown keys and invalid codes."""
    _known_keys(data, _TOP_KEYS, "the top level", source)
    technology = _table(data, "technology", source)
    consumer = _table(data, "consumer", source)
    _known_keys(consumer, _CONSUMER_KEYS, "[consumer]", source)
    return BdcConfig(
        form477=_form477(technology, source),
        services=tuple(
            _service_rule(rule, i, source) for i, rule in enumerate(_rules(technology, source))
        ),
        names=_names(_table(technology, "names", source, "[technology.names]"), source),
        business_groups=_groups(consumer, "business_groups", source),
        consumer_groups=_groups(consumer, "consumer_groups", source),
        offers=parse_offers(_table(data, "offers", source), source, BDC_CODES),
        match=_match(_table(data, "match", source), source),
        source=source,
    )


def _table(
    data: Mapping[str, Any], key: str, source: str, label: str | None = None
) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: {label or f'[{key}]'} must be a table")
    return value


def _known_keys(data: Mapping[str, Any], known: tuple[str, ...], where: str, source: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{source}: unknown key {key!r} in {where}; known keys: {', '.join(known)}"
            )


def _bdc_code(value: Any, where: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in BDC_CODES:
        allowed = ", ".join(str(c) for c in sorted(BDC_CODES))
        raise ConfigError(f"{source}: {where} = {value!r} is not a BDC code ({allowed})")
    return value


def _form477(technology: Mapping[str, Any], source: str) -> dict[int, int]:
    """Defaults, then ``"70" = 71`` style overrides from [technology]."""
    mapping = dict(DEFAULT_FORM477)
    for key, value in technology.items():
        if key in _TECHNOLOGY_KEYS:
            continue
        if not key.strip().isdigit():
            raise ConfigError(
                f'{source}: [technology] key {key!r} is neither a Form 477 code (e.g. "70" = 71) '
                f"nor one of: {', '.join(_TECHNOLOGY_KEYS)}"
            )
        mapping[int(key)] = _bdc_code(value, f"[technology] {key!r}", source)
    return mapping


def _rules(technology: Mapping[str, Any], source: str) -> list[Mapping[str, Any]]:
    rules = technology.get("service", [])
    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
        raise ConfigError(f"{source}: [[technology.service]] must be an array of tables")
    return rules


def _service_rule(rule: Mapping[str, Any], index: int, source: str) -> ServiceRule:
    where = f"[[technology.service]] #{index + 1}"
    _known_keys(rule, _SERVICE_KEYS, where, source)
    if ("id" in rule) == ("name_pattern" in rule):
        raise ConfigError(f"{source}: {where} needs exactly one of id or name_pattern")
    if "technology_code" not in rule:
        raise ConfigError(f"{source}: {where} needs technology_code (the BDC code)")
    code = _bdc_code(rule["technology_code"], f"{where} technology_code", source)
    if "id" in rule:
        return ServiceRule(code, ids=_ids(rule["id"], where, source))
    pattern = rule["name_pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{source}: {where} name_pattern must be a non-empty string (a glob)")
    return ServiceRule(code, name_pattern=pattern)


def _ids(value: Any, where: str, source: str) -> frozenset[int]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ConfigError(f"{source}: {where} id must be a service id or a list of them")
    return frozenset(values)


def _names(names: Mapping[str, Any], source: str) -> dict[str, int]:
    return {
        key.strip().casefold(): _bdc_code(value, f"[technology.names] {key!r}", source)
        for key, value in names.items()
    }


def _groups(consumer: Mapping[str, Any], key: str, source: str) -> tuple[int | str, ...]:
    values = consumer.get(key, [])
    ok = isinstance(values, list) and all(
        isinstance(v, (int, str)) and not isinstance(v, bool) for v in values
    )
    if not ok:
        raise ConfigError(f"{source}: [consumer] {key} must be a list of group names or ids")
    return tuple(values)


def _match(match: Mapping[str, Any], source: str) -> MatchConfig:
    _known_keys(match, (*_MATCH_LIMITS, *_MATCH_FLAGS), "[match]", source)
    d = MatchConfig()
    config = MatchConfig(
        point_radius_m=_number(match, "point_radius_m", d.point_radius_m, source),
        clear_margin_m=_number(match, "clear_margin_m", d.clear_margin_m, source),
        address_radius_m=_number(match, "address_radius_m", d.address_radius_m, source),
        street_similarity=_number(match, "street_similarity", d.street_similarity, source),
        max_candidates=int(_number(match, "max_candidates", d.max_candidates, source)),
        confirm_point=_flag(match, "confirm_point", d.confirm_point, source),
        address_fallback=_flag(match, "address_fallback", d.address_fallback, source),
    )
    if config.point_radius_m > config.address_radius_m:
        raise ConfigError(
            f"{source}: [match] point_radius_m ({config.point_radius_m:g}) must not exceed "
            f"address_radius_m ({config.address_radius_m:g})"
        )
    return config


def _number(match: Mapping[str, Any], key: str, default: float, source: str) -> float:
    value = match.get(key, default)
    low, high = _MATCH_LIMITS[key]
    integral = key == "max_candidates"
    kinds = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a whole number" if integral else "a number"
        raise ConfigError(
            f"{source}: [match] {key} = {value!r} must be {kind} from {low:g} to {high:g}"
        )
    return float(value)


def _flag(match: Mapping[str, Any], key: str, default: bool, source: str) -> bool:
    value = match.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{source}: [match] {key} = {value!r} must be true or false")
    return value
