"""The review page in a real browser: Debian's headless Chromium, driven by Playwright.

One page of a simulator import (with a look-alike Fabric and coverage) is opened once for
the module; the tests check what a person sees there: the figures equal the database's,
one marker per subscriber with coordinates, a table row or a point selects its customer,
no console error, no request but the file itself. Without Chromium or Playwright these
tests fail, saying what to install: they never skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from review_fabric import load_lookalike_fabric
from sonar_bdc.bdc.config import load_config
from sonar_bdc.bdc.model import Connection, CustomerRow, Exclusion, Status
from sonar_bdc.bdc.rules import Rules, StatusResolver
from sonar_bdc.coverage.run import load_coverage
from sonar_bdc.review.run import ReviewOptions, review
from sonar_bdc.settings import Settings
from sonar_bdc.simulator.coverage import write_coverage
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.coverage import AreaOffer
from sonar_bdc.store.filing import FilingDb
from test_review import import_simulator

pytestmark = pytest.mark.timeout(180)
INSTALL = "run scripts/setup.sh (it installs Debian's chromium) and pip install -e '.[dev]'"


def chromium() -> str:
    """The system Chromium (SONAR_BDC_TEST_CHROMIUM overrides); a clear failure without it."""
    path = os.environ.get("SONAR_BDC_TEST_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(f"no chromium on PATH for the review page's browser tests: {INSTALL}")
    return path


@dataclass
class Opened:
    page: Any  # playwright.sync_api.Page
    url: str
    settings: Settings
    schema: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def opened(
    settings: Callable[..., Settings], pg_database: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Opened]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"playwright is not installed: {INSTALL}")
    browser_path = chromium()
    for s, dataset, schema in import_simulator(settings, pg_database, 300, 6):
        with psycopg.connect(**pg_database) as conn:
            load_lookalike_fabric(conn, schema, dataset)
        where = tmp_path_factory.mktemp("review")
        load_coverage(s, [write_coverage(dataset, where / "towers.geojson").path], AreaOffer(70))
        path = review(s, ReviewOptions(where / "review.html")).path
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=browser_path)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(10_000)
            seen = Opened(page, path.resolve().as_uri(), s, schema)
            console, requests = seen.console, seen.requests
            page.on("console", lambda m, out=console: out.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e, out=console: out.append(f"error: {e}"))
            page.on("request", lambda r, out=requests: out.append(r.url))
            page.goto(seen.url)
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            yield seen
            browser.close()


def figure(page: Any, key: str) -> int:
    return int(page.inner_text(f'[data-figure="{key}"]').replace(",", ""))


def decisions(s: Settings) -> list[tuple[CustomerRow, Connection | Exclusion]]:
    """The filing's decision for each active data customer, straight from the library."""
    with FilingDb.connect(s.postgres_conninfo(), parse_prefix(s.prefix)) as db:
        data = db.read_filing()
    statuses = StatusResolver(Status(x["id"], x["name"], x["active"]) for x in data.statuses)
    rules = Rules(load_config(None), statuses, data.tracts_loaded)
    found = []
    for row in data.customers:
        customer = CustomerRow.from_row(row)
        outcome = rules.decide(customer)
        if isinstance(outcome, (Connection, Exclusion)):
            found.append((customer, outcome))
    return found


def test_the_figures_equal_the_database(opened: Opened, pg_conn: psycopg.Connection) -> None:
    customers = sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(opened.schema, "customers")
    )
    assert figure(opened.page, "customers") == pg_conn.execute(customers).fetchone()[0]  # type: ignore[index]
    decided = decisions(opened.settings)
    counted = [o for _, o in decided if isinstance(o, Connection)]
    assert figure(opened.page, "subscribers") == len(decided)
    assert figure(opened.page, "counted") == len(counted)
    assert figure(opened.page, "consumer") == sum(o.consumer for o in counted)
    assert figure(opened.page, "excluded") == len(decided) - len(counted)
    matches = sql.SQL("SELECT count(*) FROM {} WHERE location_id IS NOT NULL").format(
        sql.Identifier(opened.schema, "fabric_matches")
    )
    assert figure(opened.page, "fabric_matched") == pg_conn.execute(matches).fetchone()[0]  # type: ignore[index]


def test_one_marker_per_subscriber_with_coordinates(opened: Opened) -> None:
    expected = sum(1 for c, _ in decided_with_points(opened.settings))
    # The map opens on every subscriber: each one is painted on a canvas tile once.
    drawn = opened.page.evaluate("() => review.painted()")
    assert drawn == expected == figure(opened.page, "markers")
    assert opened.page.get_attribute("body", "data-markers") == str(expected)
    # Canvas rendering: a few canvas tiles, not one DOM node per subscriber.
    assert opened.page.locator(".leaflet-interactive").count() < 10
    assert opened.page.locator("canvas").count() < 100


def decided_with_points(s: Settings) -> list[tuple[CustomerRow, Connection | Exclusion]]:
    return [(c, o) for c, o in decisions(s) if c.has_point and c.latitude is not None]


def test_a_table_row_selects_its_customer_on_the_map(opened: Opened) -> None:
    page = opened.page
    row = page.locator("[data-listing=checks] tr.pick").first
    cid = int(row.get_attribute("data-customer-id"))
    row.click()
    info = page.locator("#info")
    assert info.get_attribute("data-customer-id") == str(cid)
    assert page.inner_text('#info [data-field="id"]') == str(cid)
    name = page.evaluate(
        "(id) => { const d = JSON.parse(document.getElementById('review-data').textContent);"
        " const c = d.customers; return d.customer_values.name[c.name[c.id.indexOf(id)]]; }",
        cid,
    )
    assert page.inner_text('#info [data-field="name"]') == (name or "(no name)")
    point = page.inner_text('#info [data-field="point"]')
    if point != "no coordinates":
        lat, lon = (float(x) for x in point.split(","))
        centre = page.evaluate("() => review.map.getCenter()")
        assert abs(centre["lat"] - lat) < 1e-4 and abs(centre["lng"] - lon) < 1e-4
        assert page.evaluate("() => review.map.getZoom()") >= 16


def test_a_click_on_a_point_shows_its_customer(opened: Opened) -> None:
    page = opened.page
    customer, _ = decided_with_points(opened.settings)[0]
    lat, lon = round(customer.latitude or 0, 6), round(customer.longitude or 0, 6)
    page.evaluate("(id) => review.select(id)", customer.id)
    page.evaluate("() => document.getElementById('info').replaceChildren()")
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    xy = page.evaluate(
        "([lat, lon]) => review.map.latLngToContainerPoint([lat, lon])",
        [lat, lon],
    )
    page.mouse.click(box["x"] + xy["x"], box["y"] + xy["y"])
    shown = page.inner_text('#info [data-field="point"]')
    assert shown == f"{lat!r}, {lon!r}"  # the point clicked (another customer may share it)


def test_search_narrows_and_headers_sort_a_table(opened: Opened) -> None:
    page = opened.page
    listing = page.locator("[data-listing=exclusions]")
    rows = listing.locator("tbody tr")
    total = rows.count()
    assert total > 1
    first = rows.first.get_attribute("data-customer-id") or rows.first.inner_text()
    listing.locator("input").fill("no_such_text_anywhere")
    assert rows.count() == 0
    listing.locator("input").fill("")
    assert rows.count() == total
    listing.locator('th[data-sort="customer_id"]').click()
    listing.locator('th[data-sort="customer_id"]').click()  # descending
    ids = [int(x) for x in listing.locator("tbody tr td:first-child").all_inner_texts()]
    assert ids == sorted(ids, reverse=True) and first


def test_no_console_error_no_request_and_a_screenshot(opened: Opened, tmp_path: Path) -> None:
    shot = tmp_path / "review.png"
    opened.page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert opened.console == []
    assert opened.requests == [opened.url]
