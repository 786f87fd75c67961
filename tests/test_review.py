"""The review page's data: every figure equals what the filing commands write from the same
simulator import, with and without the Fabric; the file itself (escaping, atomic write,
no request but tiles when asked); and the data-quality findings (pure)."""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import stat
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from review_fabric import drop_schema, load_lookalike_fabric
from sonar_bdc import cli
from sonar_bdc.bdc.availability import AvailabilityOptions, availability
from sonar_bdc.bdc.run import SubscriptionOptions, subscription
from sonar_bdc.coverage.run import load_coverage
from sonar_bdc.errors import ConfigError
from sonar_bdc.importer import run_import
from sonar_bdc.review import findings as f
from sonar_bdc.review.gather import CATEGORY_KEYS, NOT_MATCHED_YET, _coded
from sonar_bdc.review.page import build_html, check_tile_url, json_block, write_page
from sonar_bdc.review.run import ReviewOptions, review
from sonar_bdc.settings import Settings
from sonar_bdc.simulator import Simulator, generate
from sonar_bdc.simulator.coverage import write_coverage
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.store.coverage import AreaOffer

pytestmark = pytest.mark.timeout(180)
AS_OF = date(2024, 6, 30)
_DATA = re.compile(r'<script type="application/json" id="review-data">(.*?)</script>', re.S)


def page_data(path: Path) -> dict:
    """The page's data, its coded customer columns decoded (as the page's script does)."""
    block = _DATA.search(path.read_text(encoding="utf-8"))
    assert block is not None
    data = json.loads(block.group(1))
    customers = data["customers"]
    for key, values in data["customer_values"].items():
        customers[key] = [values[code] for code in customers[key]]
    return data


def import_simulator(
    settings: Callable[..., Settings], pg_database: dict, accounts: int, seed: int
) -> Iterator[tuple[Settings, Dataset, str]]:
    schema = f"rv_{uuid.uuid4().hex[:10]}"
    dataset = generate(accounts=accounts, seed=seed)
    try:
        with Simulator(dataset) as sim:
            assert run_import(settings(sim, schema), show_progress=False).exit_code == 0
        yield settings(None, schema), dataset, schema
    finally:
        drop_schema(pg_database, schema)


@pytest.fixture(scope="module")
def plain(settings: Callable[..., Settings], pg_database: dict) -> Iterator[tuple]:
    """An import with no Fabric and no coverage: nothing matched yet."""
    yield from import_simulator(settings, pg_database, 150, 4)


@pytest.fixture(scope="module")
def matched(
    settings: Callable[..., Settings], pg_database: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple]:
    """An import with a look-alike Fabric matched and coverage of technology 70."""
    for s, dataset, schema in import_simulator(settings, pg_database, 200, 5):
        with psycopg.connect(**pg_database) as conn:
            load_lookalike_fabric(conn, schema, dataset)
        path = tmp_path_factory.mktemp("coverage") / "towers.geojson"
        plan = write_coverage(dataset, path)
        load_coverage(s, [path], AreaOffer(70))
        yield s, dataset, schema, plan


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def count(pg_conn: psycopg.Connection, schema: str, table: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table))
    return int(pg_conn.execute(query).fetchone()[0])  # type: ignore[index]


def test_every_figure_equals_the_subscription_file(
    plain: tuple, tmp_path: Path, pg_conn: psycopg.Connection
) -> None:
    s, _, schema = plain
    out = tmp_path / "sub.csv"
    summary = subscription(s, SubscriptionOptions(AS_OF, out, allow_incomplete_import=True))
    result = review(s, ReviewOptions(tmp_path / "review.html", AS_OF))
    data = page_data(result.path)
    h = data["headline"]
    rows = read_csv(out)
    exceptions = read_csv(tmp_path / "sub.exceptions.csv")

    assert h["customers"] == count(pg_conn, schema, "customers")
    assert h["counted"] == sum(int(r["total_connections"]) for r in rows) == summary.connections
    assert h["consumer"] == sum(int(r["consumer_connections"]) for r in rows)
    per_technology: Counter[int] = Counter()
    for t in h["tiers"]:
        per_technology[t["technology"]] += t["subscription"]
        assert t["availability"] is None  # no Fabric: no availability file
    filed: Counter[int] = Counter()
    for r in rows:
        filed[int(r["technology_code"])] += int(r["total_connections"])
    assert per_technology == filed
    reasons = Counter(r["reason"] for r in exceptions)
    assert h["excluded"] | h["warnings"] == dict(reasons)
    assert [(e["customer_id"], e["reason"]) for e in data["exclusions"]] == [
        (int(r["customer_id"]), r["reason"]) for r in exceptions
    ]
    assert h["skipped"] == dict(summary.skipped)
    customers = data["customers"]
    assert h["subscribers"] == len(customers["id"]) == h["counted"] + sum(h["excluded"].values())
    assert all(len(column) == len(customers["id"]) for column in customers.values())
    # Nothing matched yet: every counted subscriber says so, and no availability part.
    counted = [c for c in customers["cat"] if not CATEGORY_KEYS[c].startswith("excluded:")]
    assert {CATEGORY_KEYS[c] for c in counted} == {NOT_MATCHED_YET}
    assert set(customers["how"]) == {"not matched yet"}
    assert "no Fabric loaded" in h["availability_note"]
    assert result.counts.drawn == sum(1 for lat in customers["lat"] if lat is not None)


def test_with_the_fabric_the_cross_checks_equal_the_availability_file(
    matched: tuple, tmp_path: Path
) -> None:
    s, _, _, plan = matched
    out = tmp_path / "availability.csv"
    options = AvailabilityOptions(AS_OF, 123456, "Acme", out, allow_incomplete_import=True)
    summary = availability(s, options)
    data = page_data(review(s, ReviewOptions(tmp_path / "review.html")).path)
    filed = read_csv(tmp_path / "availability.exceptions.csv")
    assert [(c["check"], c["customer_id"], c["location_id"]) for c in data["checks"]] == [
        (r["check"], int(r["customer_id"]) if r["customer_id"] else None,
         int(r["location_id"]) if r["location_id"] else None)
        for r in filed
    ]  # fmt: skip
    tiers = {(t["technology"], t["tier"]): t for t in data["headline"]["tiers"]}
    assert {k: t["availability"] for k, t in tiers.items() if t["availability"]} == dict(
        summary.written.by_tier
    )
    assert {k: t["subscription"] for k, t in tiers.items() if t["subscription"]} == dict(
        summary.subscription_tiers
    )
    customers = data["customers"]
    how = dict(zip(customers["id"], customers["how"], strict=True))
    assert any(text.startswith("by point") for text in how.values())
    # Subscribers of technology 70 in a hole or gap of its coverage are findings.
    tech = dict(zip(customers["id"], customers["tech"], strict=True))
    outside = {x["customer_id"] for x in data["findings"] if x["kind"] == f.NOT_COVERED}
    assert outside == {i for i in plan.outside if tech.get(i) == 70}
    assert outside  # the plan puts some subscribers outside
    assert len(data["coverage"]) > 0 and all(a["technology"] == 70 for a in data["coverage"])


def test_the_command_writes_a_private_page_atomically(
    plain: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_database: dict,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, _, schema = plain
    for name, value in {"POSTGRES_HOST": pg_database["host"], "POSTGRES_USER":
                        pg_database["user"], "POSTGRES_DB": pg_database["dbname"],
                        "POSTGRES_PORT": str(pg_database["port"])}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    out = tmp_path / "review.html"
    assert cli.main(["bdc", "review", "-p", f"{schema}.", "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"review page: {out}" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert cli.main(["bdc", "review", "-p", f"{schema}.", "-o", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert cli.main(["bdc", "review", "-p", f"{schema}.", "--tile-url", "ftp://x/{z}"]) == 2
    assert "--tile-url" in capsys.readouterr().err


def test_json_block_cannot_end_the_script_element() -> None:
    name = "</script><script>alert(1)</script><!-- & &amp;"
    text = json_block({"name": name})
    assert "</" not in text and "<!--" not in text and "&" not in text
    assert json.loads(text) == {"name": name}


def test_the_page_allows_no_request_but_the_tiles_asked_for() -> None:
    closed = html.unescape(build_html({}, "t"))
    assert "img-src data:;" in closed and "default-src 'none'" in closed
    assert "leafletjs.com" in closed and "url(images/" not in closed  # images inlined
    assert "sourceMappingURL" not in closed
    tiles = html.unescape(build_html({}, "t", "https://{s}.tile.example.org/{z}/{x}/{y}.png"))
    assert "img-src data: https://*.tile.example.org;" in tiles


def test_tile_url_must_be_an_http_template() -> None:
    assert check_tile_url("https://t.example.org/{z}/{x}/{y}.png")
    for bad in ("file:///tiles/{z}/{x}/{y}.png", "https://t.example.org/{z}/{x}.png", "tiles"):
        with pytest.raises(ConfigError, match="--tile-url"):
            check_tile_url(bad)


def test_a_write_failing_midway_leaves_the_old_page(tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    out.write_text("old")
    with pytest.raises(UnicodeEncodeError):  # fails after the temporary file was opened
        write_page(out, "new \ud800")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["review.html"]  # no temporary left
    with pytest.raises(ConfigError, match="is a directory"):
        write_page(tmp_path, "new")


def point(cid: int, lat: float | None = 30.0, lon: float | None = -98.0, **kw: object) -> f.Point:
    return f.Point(cid, lat, lon, **kw)  # type: ignore[arg-type]


def test_a_coded_column_keeps_each_value_in_its_place() -> None:
    column: list[object] = ["Active", None, "Suspended", "Active", None]
    codes, values = _coded(column)
    assert codes == [0, 1, 2, 0, 1]
    assert [values[c] for c in codes] == column  # type: ignore[index]


def test_stacked_points_need_five_customers_on_one_exact_point() -> None:
    points = [point(i) for i in range(1, 6)] + [point(9, 30.0, -98.00001)] * 1
    found = f.stacked(points)
    assert [x.customer_id for x in found] == [1, 2, 3, 4, 5]
    assert "one of 5 customers at exactly (30, -98)" in found[0].detail
    assert f.stacked(points[:4]) == []


def test_a_point_in_another_state_than_its_address() -> None:
    points = [
        point(1, address_state="TX", point_tracts=("48029110100",)),
        point(2, address_state="tx ", point_tracts=("40109100100",)),
        point(3, address_state="TX"),  # no tract polygon: cannot tell
        point(4, address_state="Texas", point_tracts=("40109100100",)),  # unknown spelling
    ]
    found = f.outside_state(points)
    assert [(x.customer_id, x.kind) for x in found] == [(2, f.OTHER_STATE)]
    assert "the address is in tx , the point in OK" in found[0].detail


def test_far_matches_and_subscribers_outside_coverage() -> None:
    points = [
        point(1, match_distance_m=151.0, location_id=1000000001, technology=70),
        point(2, match_distance_m=150.0, technology=70, covering=(70,)),
        point(3, technology=50),  # no coverage of 50 loaded: not judged
        point(4, lat=None, lon=None, technology=70),  # no point: nothing to judge
        point(5, technology=None),  # excluded: not a connection
    ]
    assert [x.customer_id for x in f.far_from_location(points)] == [1]
    assert [x.customer_id for x in f.outside_coverage(points, [70])] == [1]
    everything = f.all_findings(points, [70], ["the import is old"])
    assert f.counts(everything)[f.IMPORT] == 1 and everything[0].customer_id is None


def test_the_docs_table_lists_every_option_of_bdc_review() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "bdc.md").read_text("utf-8")
    section = docs.split("## `sonar-bdc bdc review`", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`(-[-\w]+)", line.split("|")[1])
    }
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    (bdc,) = [a for a in commands.choices["bdc"]._actions
              if isinstance(a, argparse._SubParsersAction)]  # fmt: skip
    options = {o for a in bdc.choices["review"]._actions for o in a.option_strings}
    common = {"-h", "--help", "-p", "--prefix", "--env-file", "-v", "--verbose"}
    assert documented == options - common
