"""The one paging loop, through v1's page reader, against a fake page source (the
simulator tests add HTTP)."""

from __future__ import annotations

import math

import pytest

from sonar_bdc.errors import SonarDataError
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
