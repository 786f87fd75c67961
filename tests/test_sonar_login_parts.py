"""The pure parts of the web login: CSRF token, success test, cookie header."""

from __future__ import annotations

import pytest

from sonar_bdc.sonar.v1.login import cookie_header, csrf_token, login_accepted


@pytest.mark.parametrize(
    ("headers", "page", "token"),
    [({"X-Meta-CSRF-Token": "h1"}, '<meta name="csrf-token" content="m1">', "h1"),
     ({}, '<head><meta name="csrf-token" content="m1"></head>', "m1"),
     ({}, "<META content='m2' NAME='CSRF-TOKEN' />", "m2"),
     ({}, '<meta name="viewport" content="x"><meta name="csrf-token" content="m3">', "m3"),
     ({"X-Meta-CSRF-Token": ""}, '<meta name="csrf-token" content="m4">', "m4"),
     ({}, '<meta name="csrf-token" content="">', None),
     ({}, "", None)],
)  # fmt: skip
def test_csrf_token(headers: dict, page: str, token: str | None) -> None:
    assert csrf_token(headers, page) == token


@pytest.mark.parametrize(
    ("status", "location", "accepted"),
    [(302, "/home", True), (302, "http://sonar.example/home", True), (303, "/dashboard", True),
     (302, "/", False), (302, "http://sonar.example/", False), (302, "", False),
     (302, None, False), (302, "/login", False), (200, None, False), (419, None, False)],
)  # fmt: skip
def test_login_accepted(status: int, location: str | None, accepted: bool) -> None:
    assert login_accepted(status, location) is accepted


def test_cookie_header() -> None:
    assert cookie_header({"sonar_session": "abc", "XSRF-TOKEN": "t"}) == (
        "sonar_session=abc; XSRF-TOKEN=t"
    )
