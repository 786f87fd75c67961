"""The filing's gate: no subscription file from an import that is incomplete or old."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from sonar_bdc import readiness
from sonar_bdc.errors import FilingValidationError
from sonar_bdc.store.runs import ImportState

OVERRIDE = "--allow-incomplete-import"


class ImportNotReady(FilingValidationError):
    """The import is not complete or recent enough to file from: nothing was written."""


class GateOptions(Protocol):
    """What a file's options say about the import it may be filed from."""

    @property
    def as_of(self) -> date: ...
    @property
    def max_detail_age(self) -> float: ...
    @property
    def allow_incomplete_import(self) -> bool: ...


def gate(state: ImportState, options: GateOptions) -> list[str]:
    """``check_import`` with a file's options (both files pass the same gate)."""
    return check_import(
        state, options.max_detail_age, options.allow_incomplete_import, options.as_of
    )


def check_import(
    state: ImportState, max_detail_age: float, allow_incomplete: bool, as_of: date | None = None
) -> list[str]:
    """Raise ImportNotReady when the import may not be filed from; else return warnings.

    ``allow_incomplete`` turns the problems into warnings, except a running import
    (its half-written data is never filed).
    """
    found = readiness.problems(state, max_detail_age, as_of)
    blocking = [p.text for p in found if not p.overridable or not allow_incomplete]
    if blocking:
        hint = "" if any(not p.overridable for p in found) else f" (or pass {OVERRIDE})"
        raise ImportNotReady(
            f"not filing from the import at {state.prefix}: {'; '.join(blocking)}; "
            f"nothing was written{hint}"
        )
    forced = [f"filed anyway ({OVERRIDE}): {p.text}" for p in found]
    return forced + readiness.notices(state)
