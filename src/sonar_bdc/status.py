"""``sonar-bdc status``: what a filer checks before filing, from the database alone.

Read-only (no table is created, nothing is written). ``StatusReport`` renders the
same facts as text for people and as a stable JSON object for scripts; ``ready``
uses the filing's own rules (``sonar_bdc.readiness``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sonar_bdc import readiness
from sonar_bdc.readiness import is_filing_date, when
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.runs import (
    PARTS,
    FabricState,
    FilingRecord,
    ImportState,
    RunRecord,
    read_status,
)


@dataclass(frozen=True)
class StatusReport:
    state: ImportState
    stale_days: float
    max_detail_age: float
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ready else 1

    def lines(self) -> list[str]:
        if not self.state.has_tables:
            return [f"not ready to file: {problem}" for problem in self.problems]
        s = self.state
        lines = [
            f"sonar-bdc status of {s.prefix}",
            f"import running now: {'yes' if s.lock_held else 'no'}",
            "last import of each part:",
            *(f"  {part:<9}  {_run_line(s.last_runs[part], s.lock_held)}" for part in PARTS),
            f"latest report: {when(s.latest_report)}",
            f"customers in the latest report: {s.listed}",
            f"  account detail: never imported {s.never_detailed}, older than "
            f"{self.stale_days:g} days {s.stale_detail}, oldest {when(s.oldest_detail)}",
            f"  inventory: never imported {s.never_inventory}, older than "
            f"{self.stale_days:g} days {s.stale_inventory}",
            f"  failed in the last import: {_failed(s)}",
            f"deleted in Sonar: {s.deleted}",
            f"tracts loaded: {s.tracts}",
            f"Fabric: {_fabric_line(s.fabric)}",
            f"last filing: {_filing_line(s.last_filing)}",
        ]
        lines += [f"note: {notice}" for notice in self.notices]
        if self.ready:
            return [*lines, "ready to file: yes"]
        return [*lines, "not ready to file:", *(f"  - {problem}" for problem in self.problems)]

    def as_json(self) -> dict[str, object]:
        """A stable object for scripts: keys are only ever added."""
        s = self.state
        return {
            "prefix": s.prefix,
            "ready": self.ready,
            "problems": list(self.problems),
            "notices": list(self.notices),
            "import_running": s.lock_held,
            "last_import": {part: _run_json(s.last_runs.get(part)) for part in PARTS},
            "latest_report": _iso(s.latest_report),
            "customers": {
                "listed": s.listed,
                "never_detailed": s.never_detailed,
                "stale_detail": s.stale_detail,
                "oldest_detail": _iso(s.oldest_detail),
                "never_inventory": s.never_inventory,
                "stale_inventory": s.stale_inventory,
                "failed_last_run": _failed(s),
                "deleted": s.deleted,
            },
            "stale_days": self.stale_days,
            "max_detail_age": self.max_detail_age,
            "tracts_loaded": s.tracts,
            "fabric": None
            if s.fabric is None
            else {
                "release": s.fabric.release,
                "loaded_at": _iso(s.fabric.loaded_at),
                "matched_at": _iso(s.fabric.matched_at),
                "match_release": s.fabric.match_release,
            },
            "last_filing": _filing_json(s.last_filing),
        }


def status(settings: Settings, max_detail_age: float, as_of: date | None = None) -> StatusReport:
    """Read the import's state at ``settings.prefix``; stale means older than ``-d/--days``."""
    prefix = parse_prefix(settings.prefix)
    cutoff = datetime.now(timezone.utc) - timedelta(days=settings.days)
    state = read_status(settings.postgres_conninfo(), prefix, cutoff)
    return StatusReport(
        state,
        settings.days,
        max_detail_age,
        [p.text for p in readiness.problems(state, max_detail_age, as_of)],
        readiness.notices(state),
    )


def _failed(state: ImportState) -> int:
    run = state.last_runs.get("detail") or state.last_run
    return (run.failed or 0) if run else 0


def _outcome(run: RunRecord, lock_held: bool) -> str:
    if run.outcome == "running":
        return "running now" if lock_held else "did not finish (killed or crashed)"
    return run.outcome.replace("_", " ")


def _run_line(run: RunRecord | None, lock_held: bool) -> str:
    if run is None:
        return "never"
    finished = f", finished {when(run.finished_at)}" if run.finished_at else ""
    return f"started {when(run.started_at)}{finished}: {_outcome(run, lock_held)}"


def _filing_line(filing: FilingRecord | None) -> str:
    if filing is None:
        return "none recorded"
    excluded = ", ".join(f"{reason} {n}" for reason, n in sorted(filing.excluded.items()))
    trial = "" if is_filing_date(filing.as_of) else " (a trial date, --any-date: not a filing)"
    return (
        f"{filing.kind} as of {filing.as_of}{trial} written {when(filing.written_at)} to "
        f"{filing.csv_path}: {filing.connections} connections; excluded: {excluded or 'none'}"
    )


def _run_json(run: RunRecord | None) -> dict[str, object] | None:
    if run is None:
        return None
    return {
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "outcome": run.outcome,
        "api": run.api,
        "parts": list(run.parts),
        "listed": run.listed,
        "new": run.new,
        "updated": run.updated,
        "failed": run.failed,
        "deleted": run.deleted,
        "message": run.message,
    }


def _filing_json(filing: FilingRecord | None) -> dict[str, object] | None:
    if filing is None:
        return None
    return {
        "kind": filing.kind,
        "as_of": filing.as_of.isoformat(),
        "trial": not is_filing_date(filing.as_of),
        "written_at": _iso(filing.written_at),
        "file": filing.csv_path,
        "rows": filing.rows,
        "connections": filing.connections,
        "excluded": dict(filing.excluded),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat()


def _fabric_line(fabric: FabricState | None) -> str:
    if fabric is None or fabric.release is None:
        return "not loaded (sonar-bdc fabric load)"
    matched = when(fabric.matched_at) if fabric.match_release == fabric.release else "never"
    return f"release {fabric.release}, loaded {when(fabric.loaded_at)}, matched {matched}"
