"""The one paging loop, through v1's page reader, against a fake page source (the
simulator tests add HTTP)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest

from sonar_bdc.errors import SonarDataError
from sonar_bdc.sonar import paging
from sonar_bdc.sonar.paging import Page
from sonar_bdc.sonar.v1.pagination import iter_items as iter_pages


class Pages:
    """A fake /api/v1 list of ``count`` items that records the pages asked for."""

    def __init__(self, count: int, *, total_pages: object = "auto", repeat: bool = False):
        self.items = [{"id": i} for i in range(1, count + 1)]
        self.total_pages, self.repeat, self.asked = total_pages, repeat, []

    def __call__(self, path: str, params: dict) -> dict:
        page, limit = params["page"], params["limit"]
        self.asked.append(page)
        start = 0 if self.repeat else (page - 1) * limit
        total = (
            math.ceil(len(self.items) / limit) if self.total_pages == "auto" else self.total_pages
        )
        paginator = {"total_count": len(self.items), "total_pages": total,
                     "current_page": page, "limit": limit}  # fmt: skip
        return {"data": self.items[start : start + limit], "paginator": paginator}


@pytest.mark.parametrize(("count", "pages"), [(0, [1]), (1, [1]), (100, [1]), (101, [1, 2])])
def test_edges(count: int, pages: list[int]) -> None:
    source = Pages(count)
    assert [item["id"] for item in iter_pages(source, "x")] == list(range(1, count + 1))
    assert source.asked == pages


def test_without_paginator_stops_at_empty_page() -> None:
    source = Pages(150, total_pages=None)
    assert len(list(iter_pages(source, "x"))) == 150
    assert source.asked == [1, 2, 3]


def test_total_pages_as_string() -> None:
    source = Pages(150, total_pages="2")
    assert len(list(iter_pages(source, "x"))) == 150 and source.asked == [1, 2]


def test_passes_params_limit_and_page() -> None:
    seen = []

    def fetch(path: str, params: dict) -> dict:
        seen.append((path, params))
        return {"data": []}

    list(iter_pages(fetch, "accounts", {"q": "x"}))
    assert seen == [("accounts", {"q": "x", "page": 1, "limit": 100})]


def test_refuses_a_repeated_page() -> None:
    source = Pages(250, total_pages=None, repeat=True)  # an API that ignores ?page=
    with pytest.raises(SonarDataError, match="repeats an earlier page"):
        list(iter_pages(source, "x"))
    assert source.asked == [1, 2]


@pytest.mark.parametrize("body", [{"data": {"id": 1}}, {"error": "x"}, [], "text"])
def test_malformed_page(body: object) -> None:
    with pytest.raises(SonarDataError, match="expected a list under 'data'"):
        list(iter_pages(lambda path, params: body, "x"))


def test_the_loop_reads_on_without_a_page_count_and_stops_at_the_last_page() -> None:
    def reader(total_pages: int | None, filled: int) -> list[int]:
        asked: list[int] = []

        def read(page: int) -> Page[int]:
            asked.append(page)
            return Page(page, [page] if page <= filled else [], total_pages)

        list(paging.iter_pages(read, paging.RepeatGuard("x")))
        return asked

    assert reader(None, 3) == [1, 2, 3, 4]  # no count: on to the first empty page
    assert reader(2, 3) == [1, 2]  # the count says page 2 is the last
    assert reader(5, 1) == [1, 2]  # an empty page ends the list whatever the count
    assert list(paging.later_pages(3)) == [2, 3]
    assert list(itertools.islice(paging.later_pages(None), 3)) == [2, 3, 4]


def test_every_repeated_page_is_refused_in_one_wording() -> None:
    """v1 lists, v2 connections and the bulk inventory listing share the guard."""
    from sonar_bdc.importer.bulk_inventory import checked
    from sonar_bdc.sonar.v1 import ItemsPage
    from sonar_bdc.sonar.v2.paging import iter_pages as v2_pages

    def refusal(read: Callable[[], object]) -> str:
        with pytest.raises(SonarDataError) as caught:
            read()
        return str(caught.value)

    same = ItemsPage(assigned=[], total_pages=3, item_ids=frozenset({1, 2}))
    messages = [
        refusal(lambda: list(iter_pages(Pages(250, total_pages=None, repeat=True), "accounts"))),
        refusal(lambda: list(v2_pages(lambda page: {"entities": [{"id": 1}]}, "groups of 7"))),
        refusal(lambda: list(checked([same, same]))),
    ]
    assert [m.split(":")[0] for m in messages] == [
        "GET accounts",
        "groups of 7",
        "GET inventory/items",
    ]
    for message in messages:
        assert "page 2 repeats an earlier page; Sonar seems to ignore the " in message
        assert message.endswith("point SONAR_HOST and SONAR_PROTOCOL at Sonar itself")
