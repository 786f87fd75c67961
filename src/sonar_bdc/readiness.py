"""Is the import complete and recent enough to file from? One set of rules, two users:
the filing's gate (``bdc subscription``) and ``sonar-bdc status``.

Pure: the rules read an ``ImportState`` the store gathered; each problem is one line
saying what is wrong and what to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI reads the default below without loading psycopg
    from sonar_bdc.store.runs import ImportState, RunRecord

FILING_DATES = ((6, 30), (12, 31))  # (month, day) of the BDC's as-of dates


def is_filing_date(as_of: date) -> bool:
    """June 30 or December 31: another as-of date makes a trial file, not a filing."""
    return (as_of.month, as_of.day) in FILING_DATES


MAX_DETAIL_AGE_DAYS = 14.0  # account detail this much older than the report or as-of is too old
FILING_PARTS = ("report", "catalogs", "detail")  # what the subscription file is built from


@dataclass(frozen=True)
class Problem:
    text: str
    overridable: bool = True  # --allow-incomplete-import files anyway


def problems(
    state: ImportState,
    max_detail_age: float = MAX_DETAIL_AGE_DAYS,
    as_of: date | None = None,
    today: date | None = None,
) -> list[Problem]:
    """Every reason not to file from ``state``; empty when it is ready.

    The detail must be recent: within ``max_detail_age`` days of the latest report, and
    of the as-of date (or of ``today`` when there is none yet, or it is still ahead).
    """
    found: list[Problem] = []
    if state.lock_held:
        found.append(Problem(f"an import is running against {state.prefix} now: wait for it "
                             "to finish, then file", overridable=False))  # fmt: skip
    if not state.has_tables or state.latest_report is None:
        return [*found, Problem(f"no import found at {state.prefix}: run sonar-bdc import")]
    found += _run_problems(state)
    if state.never_detailed:
        found.append(Problem(
            f"{state.never_detailed} of {state.listed} customers in the latest report never had "
            "their account detail imported (they would be filed without their services): "
            "run sonar-bdc import to fetch them"
        ))  # fmt: skip
    too_old = _detail_too_old(state, max_detail_age)
    if too_old:
        found.append(Problem(too_old))
    before = _detail_before(
        state, max_detail_age, as_of, today or datetime.now(timezone.utc).date()
    )
    if before and not too_old:
        found.append(Problem(before))
    return found


def notices(state: ImportState) -> list[str]:
    """What a filer should know that does not stop a filing."""
    found = []
    if state.demo is not None:
        found.append(
            f"the data at {state.prefix} is the simulated Sonar of sonar-bdc demo "
            f"({state.demo}), not your customers: file from your own import's prefix"
        )
    found += _fabric_notices(state)
    run = state.last_runs.get("detail")
    if run is not None and run.outcome == "failed_customers" and run.failed:
        found.append(
            f"the last import ({when(run.started_at)}) could not fetch {run.failed} customers: "
            "their account detail is from an earlier import (see the import's log)"
        )
    return found


def _fabric_notices(state: ImportState) -> list[str]:
    """Matches that no longer describe the customers or the Fabric loaded."""
    fabric = state.fabric
    if fabric is None or fabric.release is None:
        return []
    if fabric.matched_at is None or fabric.match_release != fabric.release:
        return [
            f"Fabric release {fabric.release} is loaded but its locations were not matched to "
            "the customers: run sonar-bdc fabric match"
        ]
    report = state.latest_report
    if report is not None and fabric.matched_at < report:
        return [
            f"the Fabric matches ({when(fabric.matched_at)}) are older than the latest import "
            f"({when(report)}): customers added or moved since are unmatched or matched to "
            "their old place; run sonar-bdc fabric match again"
        ]
    return []


def _run_problems(state: ImportState) -> list[Problem]:
    if not state.recorded:
        return [Problem(
            f"no import is recorded at {state.prefix} (its tables predate sonar-bdc's import "
            "records): run sonar-bdc import -f"
        )]  # fmt: skip
    runs = {run.id: run for part in FILING_PARTS if (run := state.last_runs.get(part))}
    if not runs:
        return [Problem(f"no import is recorded at {state.prefix}: run sonar-bdc import -f")]
    found = [_run_problem(run, state.lock_held) for run in sorted(runs.values(), key=_id)]
    return [Problem(text) for text in found if text]


def _run_problem(run: RunRecord, lock_held: bool) -> str | None:
    started = when(run.started_at)
    if run.outcome == "running":
        if lock_held:
            return None  # the running import: said already
        return (
            f"the import started {started} did not finish (killed or crashed): "
            "run sonar-bdc import again to finish it"
        )
    if run.outcome == "interrupted":
        return (
            f"the last import (started {started}) was interrupted before it finished: "
            "run sonar-bdc import again to finish it"
        )
    if run.outcome == "error":
        return (
            f"the last import (started {started}) failed: {run.message or 'unknown error'}; "
            "fix that, then run sonar-bdc import again"
        )
    return None


def _detail_too_old(state: ImportState, max_detail_age: float) -> str | None:
    if state.oldest_detail is None or state.latest_report is None:
        return None
    age = (state.latest_report - state.oldest_detail).total_seconds() / 86400
    if age <= max_detail_age:
        return None
    return (
        f"the oldest account detail ({when(state.oldest_detail)}) is {age:.0f} days older than "
        f"the latest report ({when(state.latest_report)}), over --max-detail-age "
        f"{max_detail_age:g}: run sonar-bdc import -f on or near the as-of date"
    )


def _detail_before(
    state: ImportState, max_detail_age: float, as_of: date | None, today: date
) -> str | None:
    """The oldest detail more than the limit before the as-of date (or today)."""
    if state.oldest_detail is None:
        return None
    reference = today if as_of is None else min(as_of, today)
    oldest = state.oldest_detail.astimezone(timezone.utc).date()
    days = (reference - oldest).days
    if days <= max_detail_age:
        return None
    what = "today" if reference == today and as_of is None else f"the as-of date {reference}"
    return (
        f"the oldest account detail ({when(state.oldest_detail)}) is {days} days before "
        f"{what}, over --max-detail-age {max_detail_age:g}: run sonar-bdc import -f "
        "on or near the as-of date"
    )


def when(moment: datetime | None) -> str:
    """A timestamp for people: UTC, to the minute."""
    if moment is None:
        return "never"
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _id(run: RunRecord) -> int:
    return run.id
