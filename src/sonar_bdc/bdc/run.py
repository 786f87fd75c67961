"""The BDC commands as library calls: load tract polygons, build the subscription file."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sonar_bdc.errors import ConfigError, StoreError
from sonar_bdc.readiness import MAX_DETAIL_AGE_DAYS
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.filing import FilingData, FilingDb, TractsLoaded

from .config import BdcConfig, load_config
from .gate import gate
from .model import Connection, CustomerRow, Exclusion, Status
from .output import aggregate, write_files
from .rules import Rules, StatusResolver, unused_config
from .summary import FilingSummary
from .tiger import read_tracts

log = logging.getLogger("sonar_bdc.bdc")


@dataclass(frozen=True)
class SubscriptionOptions:
    as_of: date
    output: Path | None = None  # default: bdc_subscription_<as_of>.csv
    config: Path | None = None  # the TOML configuration; None: the defaults
    max_detail_age: float = MAX_DETAIL_AGE_DAYS  # refuse detail this much older than the report
    allow_incomplete_import: bool = False  # file anyway, with warnings

    @property
    def csv_path(self) -> Path:
        return self.output or Path(f"bdc_subscription_{self.as_of.isoformat()}.csv")


def subscription(settings: Settings, options: SubscriptionOptions) -> FilingSummary:
    """Read the imported tables, decide every customer, validate and write both files."""
    config = load_config(options.config)  # a bad file stops us before any SQL
    prefix = parse_prefix(settings.prefix)
    with FilingDb.connect(settings.postgres_conninfo(), prefix) as db:
        data = db.read_filing()
        warnings = gate(data.state, options)
        summary = build_files(data, config, options)
        summary.import_warnings = warnings
        s = summary
        record_file(db, "subscription", s.as_of, s.csv_path, s.rows, s.connections, s.excluded)
    return summary


def record_file(
    db: FilingDb,
    kind: str,
    as_of: date,
    csv_path: Path | None,
    rows: int,
    counted: int,
    checks: Mapping[str, int],
) -> None:
    """Remember a file written for ``sonar-bdc status``; the file stands if this fails."""
    path = str(Path(csv_path or "").resolve())
    try:
        db.record_filing(kind, as_of, path, rows, counted, dict(checks))
    except StoreError as exc:
        log.warning("the file was written but not recorded for sonar-bdc status: %s", exc)


def build_files(data: FilingData, config: BdcConfig, options: SubscriptionOptions) -> FilingSummary:
    """The subscription CSV and its exceptions file from one snapshot of the tables."""
    statuses = StatusResolver(Status(s["id"], s["name"], s["active"]) for s in data.statuses)
    rules = Rules(config, statuses, data.tracts_loaded)
    customers = [CustomerRow.from_row(row) for row in data.customers]
    outcomes = [rules.decide(customer) for customer in customers]
    rows = aggregate(o for o in outcomes if isinstance(o, Connection))
    exclusions = [o for o in outcomes if isinstance(o, Exclusion)]
    exclusions += [o.warning for o in outcomes if isinstance(o, Connection) and o.warning]
    path = options.csv_path
    try:
        extra = write_files(path, rows, exclusions)
    except OSError as exc:
        raise ConfigError(f"-o {path}: cannot write the file: {exc.strerror or exc}") from exc
    summary = FilingSummary.from_outcomes(options.as_of, outcomes)
    summary.data_imported_at = data.latest_report
    summary.oldest_detail = data.state.oldest_detail
    summary.csv_path, summary.exceptions_path = path, extra
    summary.rows, summary.tracts_loaded = len(rows), data.tracts_loaded
    summary.config_warnings = unused_config(config, customers)
    return summary


def load_tracts(settings: Settings, files: Sequence[Path], replace: bool = False) -> TractsLoaded:
    """Load TIGER/Line tract files into the tracts table: all of them, or nothing."""
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"no such file: {', '.join(missing)}")
    prefix = parse_prefix(settings.prefix)
    with FilingDb.connect(settings.postgres_conninfo(), prefix) as db:
        return db.load_tracts(_tract_rows(files), replace)


def _tract_rows(files: Sequence[Path]) -> Iterator[tuple[str, str, str]]:
    for path in files:
        tracts = read_tracts(path)
        if not tracts:  # a tracts table that silently stays empty places no customer
            raise ConfigError(f"{path}: no tract polygons in the file; nothing loaded")
        log.info("%s: %d tract polygons", path, len(tracts))
        for tract in tracts:
            yield tract.geoid, tract.geojson, Path(path).name
