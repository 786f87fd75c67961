"""``sonar-bdc bdc availability`` as a library call: the FCC fixed availability location list.

Every BSL of the loaded Fabric inside a coverage area of a technology (its fastest
covering offer), plus every BSL where a counted subscriber is (served, even outside the
loaded coverage; the technology the subscription file's rules give it), one row per
(location, technology). Same import gate as the subscription file; cross-checks against
it go to the summary and the exceptions file. See docs/bdc.md.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sonar_bdc.errors import ConfigError
from sonar_bdc.readiness import MAX_DETAIL_AGE_DAYS
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.availability import AvailabilityDb, Snapshot

from .availability_output import CrossCheck, Written, speed_tier, write_files
from .config import BdcConfig, load_config
from .crosscheck import (
    CHECKS,
    absent_technologies,
    coverage_checks,
    served_locations,
    sorted_checks,
)
from .gate import gate
from .model import Connection, CustomerRow, Status
from .offers import GSO_SATELLITE, KBPS, Offer, resolve
from .rules import Rules, StatusResolver
from .run import record_file

log = logging.getLogger("sonar_bdc.bdc")


@dataclass(frozen=True)
class AvailabilityOptions:
    as_of: date
    provider_id: int
    brand_name: str
    output: Path | None = None  # default: bdc_availability_<as_of>.csv
    config: Path | None = None
    max_detail_age: float = MAX_DETAIL_AGE_DAYS
    allow_incomplete_import: bool = False

    @property
    def csv_path(self) -> Path:
        return self.output or Path(f"bdc_availability_{self.as_of.isoformat()}.csv")


@dataclass
class AvailabilitySummary:
    as_of: date
    csv_path: Path | None = None
    exceptions_path: Path | None = None
    releases: list[str] = field(default_factory=list)
    written: Written = field(default_factory=Written)
    offers: dict[int, Offer] = field(default_factory=dict)
    assumptions: dict[int, str] = field(default_factory=dict)
    coverage: dict[int, tuple[int, int]] = field(default_factory=dict)
    served: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    subscription_tiers: Counter[tuple[int, str]] = field(default_factory=Counter)
    import_warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        w = self.written
        lines = [
            f"availability as of {self.as_of} (Fabric release {', '.join(self.releases)})",
            f"file: {self.csv_path} ({w.rows} rows, {w.locations} locations)",
        ]
        for code, offer in sorted(self.offers.items()):
            areas, inherit = self.coverage.get(code, (0, 0))
            lines.append(
                f"  technology {code:>2}: offer {offer.download_mbps}/{offer.upload_mbps} Mbps, "
                f"low_latency {int(offer.low_latency)}, {offer.business_residential_code}"
                f"{' (assumed)' if code in self.assumptions else ''}; {areas} coverage areas "
                f"({inherit} take this offer)"
            )
        lines.append(f"served locations (subscribers at a BSL): {self.served}")
        total = sum(self.checks.values())
        lines.append(f"cross-checks: {total} (listed in {self.exceptions_path})")
        lines += [f"  {c}: {self.checks[c]}" for c in CHECKS if self.checks[c]]
        return lines + self._tier_lines()

    def _tier_lines(self) -> list[str]:
        keys = sorted(set(self.subscription_tiers) | set(self.written.by_tier))
        lines = ["technology  speed tier  subscription connections  availability locations"]
        lines += [
            f"  {code:>2}  {tier:>10}  {self.subscription_tiers[(code, tier)]:>8}"
            f"  {self.written.by_tier[(code, tier)]:>8}"
            for code, tier in keys
        ]
        return lines

    def warnings(self) -> list[str]:
        found = list(self.import_warnings)
        found += [
            f'technology {code}: no complete [offers."{code}"] in the configuration; assumed '
            f"{text}: confirm it, or write the offer in --config"
            for code, text in sorted(self.assumptions.items())
        ]
        return found


def availability(settings: Settings, options: AvailabilityOptions) -> AvailabilitySummary:
    config = load_config(options.config)
    with AvailabilityDb.connect(settings.postgres_conninfo(), parse_prefix(settings.prefix)) as db:
        with db.snapshot() as snap:
            warnings = gate(snap.filing.state, options)
            summary = build(snap, config, options)
            summary.import_warnings = warnings
        s, w = summary, summary.written
        record_file(db, "availability", s.as_of, s.csv_path, w.rows, w.locations, s.checks)
    return summary


def build(snap: Snapshot, config: BdcConfig, options: AvailabilityOptions) -> AvailabilitySummary:
    data = snap.filing
    statuses = StatusResolver(Status(s["id"], s["name"], s["active"]) for s in data.statuses)
    rules = Rules(config, statuses, data.tracts_loaded)
    customers = [CustomerRow.from_row(row) for row in data.customers]
    connections = [o for o in map(rules.decide, customers) if isinstance(o, Connection)]
    summary = AvailabilitySummary(options.as_of, releases=snap.releases())
    summary.coverage = snap.coverage()
    offers, summary.assumptions = technology_offers(config, connections, summary.coverage)
    summary.offers = offers
    as_tuples = offer_tuples(offers, summary.coverage)
    names = {c.id: c.name for c in customers}
    served, checks = served_locations(connections, names, snap.matches())
    keys = sorted({s.key for s in served})
    checks += coverage_checks(served, snap.covering(keys), summary.coverage, offers)
    summary.served = len(keys)
    for c in connections:
        tier = speed_tier(c.download_kbps // KBPS, c.upload_kbps // KBPS)
        summary.subscription_tiers[(c.technology_code, tier)] += 1

    def all_checks(written: Written) -> list[CrossCheck]:
        return sorted_checks([*checks, *absent_technologies(connections, written)])

    path = options.csv_path
    try:
        summary.written, summary.exceptions_path = write_files(
            path, options.provider_id, options.brand_name, snap.rows(as_tuples, keys), all_checks
        )
    except OSError as exc:
        raise ConfigError(f"-o {path}: cannot write the file: {exc.strerror or exc}") from exc
    summary.csv_path = path
    summary.checks = Counter(c.check for c in all_checks(summary.written))
    return summary


def offer_tuples(
    offers: dict[int, Offer], coverage: dict[int, tuple[int, int]]
) -> dict[int, tuple[int | None, int | None, bool, str]]:
    """The offers as the location query takes them: (down, up, low latency, R/B/X)."""
    as_tuples: dict[int, tuple[int | None, int | None, bool, str]] = {
        code: (o.download_mbps, o.upload_mbps, o.low_latency, o.business_residential_code)
        for code, o in offers.items()
    }
    for code in set(coverage) - set(offers):  # every area carries its own speeds
        as_tuples[code] = (None, None, code != GSO_SATELLITE, "X")
    return as_tuples


def technology_offers(
    config: BdcConfig, connections: Sequence[Connection], coverage: dict[int, tuple[int, int]]
) -> tuple[dict[int, Offer], dict[int, str]]:
    """Each technology with coverage or subscribers: its offer, and what was assumed."""
    fastest: dict[int, tuple[int, int]] = {}
    for c in connections:  # the fastest active plan sold on each technology
        plan = (c.download_kbps, c.upload_kbps)
        fastest[c.technology_code] = max(fastest.get(c.technology_code, plan), plan)
    offers, assumed = {}, {}
    for code in sorted(set(coverage) | set(fastest) | set(config.offers)):
        resolved = resolve(code, config.offers.get(code), fastest.get(code))
        if resolved is None:
            if code in coverage and coverage[code][1] == 0:
                continue  # every area carries its own offer
            raise ConfigError(
                f"technology {code} has coverage but no offer: give the areas speeds "
                f'(coverage load --download/--upload) or add [offers."{code}"] to --config'
            )
        offers[code] = resolved.offer
        if resolved.assumed:
            assumed[code] = resolved.assumed
    return offers, assumed
