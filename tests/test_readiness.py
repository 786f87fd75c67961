"""The readiness rules on hand-built states (pure: no database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from sonar_bdc.bdc.gate import ImportNotReady, check_import
from sonar_bdc.errors import FilingValidationError
from sonar_bdc.readiness import notices, problems
from sonar_bdc.store.runs import PARTS, ImportState, RunRecord

REPORT = datetime(2026, 6, 30, 12, tzinfo=timezone.utc)


def run(outcome: str = "complete", run_id: int = 1, **kw: object) -> RunRecord:
    return RunRecord(run_id, REPORT, REPORT, "v1", list(PARTS), outcome, **kw)  # type: ignore[arg-type]


def state(last: RunRecord | None = None, **kw: object) -> ImportState:
    values: dict = {
        "prefix": "sonar.",
        "has_tables": True,
        "recorded": True,
        "lock_held": False,
        "last_runs": dict.fromkeys(PARTS, last or run()),
        "latest_report": REPORT,
        "listed": 100,
        "oldest_detail": REPORT - timedelta(days=3),
    }
    return ImportState(**{**values, **kw})


def texts(s: ImportState, max_age: float = 14) -> list[str]:
    return [p.text for p in problems(s, max_age, today=REPORT.date())]


def test_a_complete_recent_import_is_ready() -> None:
    assert texts(state()) == []
    assert check_import(state(), 14, allow_incomplete=False, as_of=REPORT.date()) == []


def test_detail_age_is_measured_from_the_latest_report() -> None:
    aged = state(oldest_detail=REPORT - timedelta(days=14, hours=1))
    assert texts(aged, 15) == []
    [text] = texts(aged, 14)
    assert "14 days older than the latest report (2026-06-30 12:00 UTC)" in text


def test_each_unfinished_outcome_is_named_once_per_run() -> None:
    assert texts(state(run("interrupted")))[0].startswith("the last import (started 2026-06-30")
    assert "failed: boom;" in texts(state(run("error", message="boom")))[0]
    assert "killed or crashed" in texts(state(run("running")))[0]
    assert texts(state(run("failed_customers", failed=2))) == []  # only a notice


def test_a_running_import_is_one_problem_the_override_cannot_pass() -> None:
    running = state(run("running"), lock_held=True)
    found = problems(running, today=REPORT.date())
    assert [p.overridable for p in found] == [False]
    with pytest.raises(ImportNotReady, match="an import is running") as caught:
        check_import(running, 14, allow_incomplete=True)
    assert isinstance(caught.value, FilingValidationError) and caught.value.exit_code == 1
    assert "--allow-incomplete-import" not in str(caught.value)


def test_the_override_turns_problems_into_warnings() -> None:
    partial = state(run("interrupted"), never_detailed=30)
    with pytest.raises(ImportNotReady, match="30 of 100 customers"):
        check_import(partial, 14, allow_incomplete=False, as_of=REPORT.date())
    warnings = check_import(partial, 14, allow_incomplete=True, as_of=REPORT.date())
    assert len(warnings) == 2 and all("--allow-incomplete-import" in w for w in warnings)


def test_no_import_and_unrecorded_imports() -> None:
    assert texts(state(has_tables=False, latest_report=None)) == [
        "no import found at sonar.: run sonar-bdc import"
    ]
    assert "predate" in texts(state(recorded=False, last_runs=dict.fromkeys(PARTS)))[0]
    assert "no import is recorded" in texts(state(last_runs=dict.fromkeys(PARTS)))[0]


def test_detail_is_measured_from_the_as_of_date_or_today() -> None:
    """A months-old import is not ready, however consistent it is in itself."""
    old = state()  # report 2026-06-30, detail 3 days older
    as_of = REPORT.date() + timedelta(days=184)  # 2026-12-31
    [text] = [p.text for p in problems(old, 14, as_of, today=as_of + timedelta(days=20))]
    assert "187 days before the as-of date 2026-12-31" in text
    [text] = [p.text for p in problems(old, 14, today=REPORT.date() + timedelta(days=30))]
    assert "33 days before today" in text
    # An as-of date still ahead counts from today; data imported after it is not "old".
    assert problems(old, 14, as_of, today=REPORT.date()) == []
    assert problems(old, 14, REPORT.date() - timedelta(days=60), today=REPORT.date()) == []
    with pytest.raises(ImportNotReady, match="days before the as-of date"):
        check_import(old, 14, allow_incomplete=False, as_of=as_of)


def test_the_demos_simulated_data_is_named_but_does_not_stop_a_trial() -> None:
    demo = state(demo="40 accounts, seed 1, api v1")
    assert texts(demo) == []
    [notice] = notices(demo)
    assert "simulated Sonar of sonar-bdc demo" in notice and "sonar." in notice
    assert notices(state()) == []


def test_matches_older_than_the_import_or_of_another_release_are_a_notice() -> None:
    from sonar_bdc.readiness import notices
    from sonar_bdc.store.runs import FabricState

    loaded = REPORT - timedelta(days=3)
    fresh = FabricState("12312025", loaded, REPORT + timedelta(hours=1), "12312025")
    assert notices(state(fabric=fresh)) == []
    assert notices(state(fabric=None)) == []
    old = FabricState("12312025", loaded, REPORT - timedelta(hours=1), "12312025")
    [said] = notices(state(fabric=old))
    assert "older than the latest import" in said and "fabric match again" in said
    unmatched = FabricState("06302026", loaded, REPORT + timedelta(hours=1), "12312025")
    [said] = notices(state(fabric=unmatched))
    assert said.startswith("Fabric release 06302026 is loaded but its locations were not matched")
    never = FabricState("06302026", loaded, None, None)
    assert notices(state(fabric=never)) == notices(state(fabric=unmatched))


def test_status_marks_a_trial_file_as_not_a_filing() -> None:
    from sonar_bdc.status import _filing_line
    from sonar_bdc.store.runs import FilingRecord

    def line(as_of: date) -> str:
        return _filing_line(FilingRecord("subscription", as_of, REPORT, "/f.csv", 3, 9, {}))

    assert "trial" not in line(date(2026, 6, 30)) and "trial" not in line(date(2025, 12, 31))
    assert "(a trial date, --any-date: not a filing)" in line(date(2026, 7, 1))
