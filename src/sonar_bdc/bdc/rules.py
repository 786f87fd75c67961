"""Which customers count, at which plan, in which tract: one pure decision per customer.

The checks run in this order and the first that fails decides (docs/bdc.md):

1. deleted in Sonar, or missing from the latest report: skipped (not listed);
2. status: inactive is skipped; a status we cannot resolve is an exclusion;
3. a data service faster than 200 kbps in at least one direction, else excluded;
4. the fastest such service (download, then upload, then lowest service id) must map
   to a BDC technology code, else excluded (never silently a slower plan);
5. the 2020 tract: from the matched Fabric location's block, else Sonar's 15-digit census
   block (fips) unless it is from an older census, else the loaded tract polygon covering
   the point; missing or disagreeing tracts are exclusions (an older census's block that
   disagrees with the polygon is a warning: the polygon's tract counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .config import BdcConfig, ServiceRule
from .model import (
    CONFLICTING_TRACT,
    CURRENT_CENSUS,
    DELETED,
    FROM_FABRIC,
    FROM_FIPS,
    FROM_POLYGON,
    FROM_UNKNOWN_VINTAGE,
    INACTIVE,
    NO_COORDINATES,
    NO_DATA_SERVICE,
    NO_TRACT,
    NOT_IN_REPORT,
    OLD_CENSUS_BLOCK,
    UNKNOWN_STATUS,
    UNMAPPED_TECHNOLOGY,
    Connection,
    CustomerRow,
    Exclusion,
    Outcome,
    ServiceRow,
    Skipped,
    Status,
)
from .technology import TechnologyMapper, name_key, rule_matches

MIN_KBPS = 200  # the FCC's broadband connection: more than 200 kbps in one direction
FIPS_BLOCK_LENGTH = 15
TRACT_LENGTH = 11


class StatusResolver:
    """Whether a customer's status activates services.

    The report's status name is refreshed on every run, the detail's status id only
    every --days, so the name wins when it names exactly one catalog status; the id
    is the fallback. Neither resolving means an ``unknown_status`` exclusion.
    """

    def __init__(self, statuses: Iterable[Status]) -> None:
        statuses = list(statuses)
        self.by_id = {s.id: s for s in statuses}
        by_name: dict[str, list[Status]] = {}
        for s in statuses:
            by_name.setdefault(_fold(s.name), []).append(s)
        self.by_name = {name: found[0] for name, found in by_name.items() if len(found) == 1}

    def resolve(self, customer: CustomerRow) -> Status | None:
        status = self.by_name.get(_fold(customer.status_name))
        if status is None and customer.account_status_id is not None:
            status = self.by_id.get(customer.account_status_id)
        return None if status is None or status.active is None else status


class Rules:
    """The decision for one customer, given the configuration and the catalogs."""

    def __init__(self, config: BdcConfig, statuses: StatusResolver, tracts_loaded: int) -> None:
        self.config = config
        self.statuses = statuses
        self.tracts_loaded = tracts_loaded  # polygons in the tracts table (0: none loaded)
        self.mapper = TechnologyMapper(config)

    def decide(self, customer: CustomerRow) -> Outcome:
        if customer.deleted:
            return Skipped(customer.id, DELETED)
        if not customer.in_latest_report:
            return Skipped(customer.id, NOT_IN_REPORT)
        status = self.statuses.resolve(customer)
        if status is None:
            return _exclude(customer, UNKNOWN_STATUS, _unknown_status(customer))
        if not status.active:
            return Skipped(customer.id, INACTIVE)
        return self._connection(customer)

    def _connection(self, customer: CustomerRow) -> Connection | Exclusion:
        plan = fastest_plan(customer.services)
        if plan is None:
            return _exclude(customer, NO_DATA_SERVICE, _no_data_service(customer))
        mapped = self.mapper.map(plan)
        if mapped.code is None:
            return _exclude(customer, UNMAPPED_TECHNOLOGY, f"{plan.label()}: {mapped.note}")
        tract = resolve_tract(customer, self.tracts_loaded)
        if isinstance(tract, Exclusion):
            return tract
        tract_id, source, warning = tract
        return Connection(
            customer_id=customer.id,
            tract=tract_id,
            technology_code=mapped.code,
            download_kbps=plan.download_kbps or 0,
            upload_kbps=plan.upload_kbps or 0,
            consumer=is_consumer(customer, self.config),
            tract_source=source,
            warning=warning,
        )


def decide_all(customers: Iterable[CustomerRow], rules: Rules) -> list[Outcome]:
    return [rules.decide(c) for c in customers]


def _fold(name: str | None) -> str:
    return " ".join((name or "").split()).casefold()


def _exclude(customer: CustomerRow, reason: str, detail: str) -> Exclusion:
    return Exclusion(customer.id, customer.name, reason, detail)


def _unknown_status(customer: CustomerRow) -> str:
    if not customer.detail_imported:
        return "account detail not imported yet (run sonar-bdc import)"
    return (
        f"status {customer.status_name!r} (id {customer.account_status_id}) is not in the "
        "account status catalog, or its active flag is unknown (run sonar-bdc import)"
    )


def qualifies(service: ServiceRow) -> bool:
    """A data service faster than 200 kbps in at least one direction."""
    down, up = service.download_kbps or 0, service.upload_kbps or 0
    return bool(service.data_service) and (down > MIN_KBPS or up > MIN_KBPS)


def fastest_plan(services: Iterable[ServiceRow]) -> ServiceRow | None:
    """The qualifying service with the highest download, then upload, then lowest id."""
    candidates = [s for s in services if qualifies(s)]
    if not candidates:
        return None
    return min(
        candidates, key=lambda s: (-(s.download_kbps or 0), -(s.upload_kbps or 0), s.service_id)
    )


def _no_data_service(customer: CustomerRow) -> str:
    if not customer.detail_imported:
        return "account detail not imported yet (run sonar-bdc import)"
    data = [s for s in customer.services if s.data_service]
    if not data:
        return "no data service" if customer.services else "no services"
    slow = ", ".join(f"{s.label()} {s.download_kbps or 0}/{s.upload_kbps or 0} kbps" for s in data)
    return f"no data service faster than {MIN_KBPS} kbps: {slow}"


def is_consumer(customer: CustomerRow, config: BdcConfig) -> bool:
    """Business groups win, then consumer groups, then the account type (residential)."""
    if _in_groups(customer, config.business_groups):
        return False
    if _in_groups(customer, config.consumer_groups):
        return True
    return (customer.account_type or "").strip().casefold() == "residential"


def _in_groups(customer: CustomerRow, groups: tuple[int | str, ...]) -> bool:
    names = {_fold(n) for n in customer.group_names}
    return any(
        (g in customer.group_ids) if isinstance(g, int) else (_fold(g) in names) for g in groups
    )


def fips_tract(fips: str | None) -> str | None:
    """The 11-digit tract of a well-formed 15-digit census block code, else None."""
    block = (fips or "").strip()
    if len(block) == FIPS_BLOCK_LENGTH and block.isascii() and block.isdigit():
        return block[:TRACT_LENGTH]
    return None


def resolve_tract(
    customer: CustomerRow, tracts_loaded: int
) -> tuple[str, str, Exclusion | None] | Exclusion:
    """(2020 tract, source, warning or None), or the exclusion saying why there is none.

    In order: the matched Fabric location's 2020 block; Sonar's census block when it is
    from the 2020 census or of unknown vintage (v1 sends none); the loaded 2020 tract
    polygon covering the point. A block of an older census never names the tract (tract
    boundaries changed in 2020): the polygon does, with a warning when they differ.
    """
    from_fabric = fips_tract(customer.fabric_block)
    if from_fabric is not None:
        return from_fabric, FROM_FABRIC, None
    from_fips = fips_tract(customer.fips)
    polygons = customer.polygon_tracts
    old_vintage = customer.census_year is not None and customer.census_year != CURRENT_CENSUS
    if from_fips is not None and not old_vintage:
        if polygons and from_fips not in polygons:
            return _exclude(customer, CONFLICTING_TRACT, _conflict(customer, from_fips))
        source = FROM_FIPS if customer.census_year == CURRENT_CENSUS else FROM_UNKNOWN_VINTAGE
        return from_fips, source, None
    if polygons:
        warning = None
        if from_fips is not None and from_fips not in polygons:
            warning = _exclude(customer, OLD_CENSUS_BLOCK, _old_block(customer, polygons[0]))
        return polygons[0], FROM_POLYGON, warning
    if not customer.has_point:
        return _exclude(customer, NO_COORDINATES, _no_coordinates(customer))
    return _exclude(customer, NO_TRACT, _no_tract(customer, tracts_loaded))


def _old_block(customer: CustomerRow, tract: str) -> str:
    return (
        f"counted in 2020 tract {tract} (the tract polygon covering the point); Sonar's "
        f"census block {customer.fips} is from the {customer.census_year} census, whose "
        "tract differs: update the address's census block in Sonar"
    )


def _conflict(customer: CustomerRow, from_fips: str) -> str:
    return (
        f"census block {customer.fips} is in tract {from_fips}, but the point "
        f"({customer.latitude}, {customer.longitude}) is in tract "
        f"{' / '.join(customer.polygon_tracts)}; fix the address or coordinates in Sonar"
    )


def _bad_fips(customer: CustomerRow) -> str:
    if customer.fips is None or not customer.fips.strip():
        return "no census block (fips)"
    if fips_tract(customer.fips) is None:
        return f"census block (fips) {customer.fips!r} is not 15 digits"
    return (
        f"census block {customer.fips} is from the {customer.census_year} census, not a 2020 tract"
    )


def _no_coordinates(customer: CustomerRow) -> str:
    return f"{_bad_fips(customer)} and no valid coordinates; geocode the address in Sonar"


def _no_tract(customer: CustomerRow, tracts_loaded: int) -> str:
    where = f"({customer.latitude}, {customer.longitude})"
    if tracts_loaded == 0:
        return (
            f"{_bad_fips(customer)}, and no tract polygons are loaded to place {where}: "
            "run sonar-bdc tracts load with the TIGER/Line tract file of its state"
        )
    return (
        f"{_bad_fips(customer)}, and {where} is in none of the {tracts_loaded} loaded tracts "
        "(load its state's TIGER/Line tract file, or check the coordinates)"
    )


def unused_config(config: BdcConfig, customers: Sequence[CustomerRow]) -> list[str]:
    """One warning per service rule, technology name and group matching nothing stored.

    A typo, or names copied from another Sonar (the example file's), would otherwise
    change nothing without a word, and the filing would silently use the defaults.
    """
    services = {s for c in customers for s in c.services}
    where = f"in {config.source}"
    found = [
        f"[[technology.service]] #{number} ({_rule_label(rule)}) {where} matches no service "
        "in the database"
        for number, rule in enumerate(config.services, start=1)
        if not any(rule_matches(rule, s) for s in services)
    ]
    names = {name_key(s) for s in services}
    found += [
        f"[technology.names] {name!r} {where} matches no service's technology name in the database"
        for name in config.names
        if name not in names
    ]
    for key in ("business_groups", "consumer_groups"):
        found += [
            f"[consumer] {key} {group!r} {where} matches no group of any customer"
            for group in getattr(config, key)
            if not any(_in_groups(c, (group,)) for c in customers)
        ]
    return found


def _rule_label(rule: ServiceRule) -> str:
    if rule.name_pattern is not None:
        return f"name_pattern {rule.name_pattern!r}"
    return f"id {', '.join(str(i) for i in sorted(rule.ids))}"
