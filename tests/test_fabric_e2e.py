"""The Fabric end to end, as a filer runs it: import, load the (look-alike) Fabric as
delivered, match, then file. The simulator's Fabric knows every customer's right answer,
so the match is scored in the issue's terms (precision, recall, no NoBSL) and printed."""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from expected_fabric import expected_matches, score
from sonar_bdc.bdc.run import SubscriptionOptions, subscription
from sonar_bdc.fabric.load import load_fabric
from sonar_bdc.fabric.match import MatchOptions, match
from sonar_bdc.importer import run_import
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Simulator, generate
from sonar_bdc.simulator.fabric import make_fabric
from sonar_bdc.simulator.fabric_files import write_fabric
from sonar_bdc.simulator.model import Dataset

pytestmark = pytest.mark.timeout(300)
ACCOUNTS = 2500


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(accounts=ACCOUNTS, seed=5)


@pytest.fixture(scope="module")
def imported(
    pg_database: dict, settings: Callable[..., Settings], dataset: Dataset
) -> Iterator[Settings]:
    schema = f"fe_{uuid.uuid4().hex[:8]}"
    with Simulator(dataset) as sim:
        config = settings(sim, schema, workers=4)
        assert run_import(config, show_progress=False).exit_code == 0
    try:
        yield config
    finally:
        with psycopg.connect(**pg_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def stored(settings: Settings) -> dict[int, tuple[int | None, str | None]]:
    schema = settings.prefix.rstrip(".")
    with psycopg.connect(**settings.postgres_conninfo()) as conn:
        rows = conn.execute(
            sql.SQL("SELECT customer_id, location_id, reason FROM {}").format(
                sql.Identifier(schema, "fabric_matches")
            )
        ).fetchall()
    return {cid: (loc, reason) for cid, loc, reason in rows}


def load_and_match(settings: Settings, zip_path: Path, out: Path) -> dict:
    load_fabric(settings, [zip_path], progress=False)
    summary = match(settings, MatchOptions(output=out))
    assert summary.customers == len(stored(settings))
    return stored(settings)


def test_the_simulated_fabric_is_matched_right(
    imported: Settings, dataset: Dataset, tmp_path: Path
) -> None:
    fabric = make_fabric(dataset, seed=1)
    got = load_and_match(imported, write_fabric(fabric, tmp_path), tmp_path / "x.csv")
    result = score(fabric, {cid: loc for cid, (loc, _) in got.items()})
    print(
        f"\n{len(got)} customers: precision {result.precision:.4f} ({result.right} of "
        f"{result.matched} matches right), recall {result.recall:.4f} (of {result.matchable} "
        f"matchable), {result.to_nobsl} matches to a NoBSL point"
    )
    assert result.to_nobsl == 0
    assert result.precision >= 0.995
    assert result.recall >= 0.98
    # Every unmatched customer is listed with its reason, and the reasons are the truth's.
    unmatched = {cid: reason for cid, (loc, reason) in got.items() if loc is None}
    with (tmp_path / "x.csv").open(newline="", encoding="utf-8") as f:
        listed = {int(r["customer_id"]): r["reason"] for r in csv.DictReader(f)}
    assert listed == unmatched and all(listed.values())
    expected = expected_matches(fabric)
    agree = Counter(reason == expected[cid].reason for cid, reason in unmatched.items())
    assert agree[True] >= 0.9 * len(unmatched), agree


def test_a_new_release_replaces_the_matches_and_the_tracts_come_from_it(
    imported: Settings, dataset: Dataset, tmp_path: Path
) -> None:
    first = make_fabric(dataset, seed=1)
    load_and_match(imported, write_fabric(first, tmp_path / "a"), tmp_path / "a.csv")
    second = make_fabric(dataset, seed=1, release="06302026")
    changed = {c for c, loc in second.truth.items() if loc != first.truth.get(c)}
    assert changed  # some ids are renumbered in the new release
    got = load_and_match(imported, write_fabric(second, tmp_path / "b"), tmp_path / "b.csv")
    result = score(second, {cid: loc for cid, (loc, _) in got.items()})
    assert result.precision >= 0.995 and result.recall >= 0.98
    summary = subscription(imported, SubscriptionOptions(date(2025, 12, 31), tmp_path / "s.csv"))
    assert summary.tract_sources["fabric"] > 0.9 * summary.connections


def test_status_and_the_files_say_when_the_matches_are_older_than_the_import(
    imported: Settings, dataset: Dataset, tmp_path: Path
) -> None:
    from sonar_bdc.status import status

    load_and_match(imported, write_fabric(make_fabric(dataset), tmp_path), tmp_path / "x.csv")
    text = "\n".join(status(imported, 14).lines())
    assert "Fabric: release 12312025, loaded 20" in text and "matches (" not in text
    schema = imported.prefix.rstrip(".")
    with psycopg.connect(**imported.postgres_conninfo(), autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET value = '2020-01-01T00:00:00+00:00' WHERE key = %s").format(
                sql.Identifier(schema, "metadata")
            ),
            ["fabric_matched_at"],
        )
    said = "the Fabric matches (2020-01-01 00:00 UTC) are older than the latest import"
    assert said in "\n".join(status(imported, 14).lines())
    summary = subscription(imported, SubscriptionOptions(date(2025, 12, 31), tmp_path / "s.csv"))
    assert any(said in warning for warning in summary.warnings())
