"""The web-session surface: login page, login form, and the JSON views behind it."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from sonar_bdc.simulator import render
from sonar_bdc.simulator.responses import (
    Request,
    Response,
    api_error,
    dumps,
    error_page,
    html_response,
    json_response,
    raw_json,
    redirect,
)
from sonar_bdc.simulator.sessions import HOME_PAGE, login_page, session_id, set_cookie

if TYPE_CHECKING:
    from sonar_bdc.simulator.state import State

REPORT_PATH = "/reports/accounts/contact_information/json"
BAD_LOGIN = "These credentials do not match our records."


def login_form(state: State) -> Response:
    """``GET /``: a fresh guest session, its CSRF token in a header and a meta tag."""
    sid, session = state.sessions.new()
    headers = [("Set-Cookie", set_cookie(sid)), ("X-Meta-CSRF-Token", session.csrf)]
    return html_response(200, login_page(session.csrf), headers)


def login(state: State, req: Request) -> Response:
    """``POST /``: 302 to /home with a new authenticated session, or the login page again."""
    sid = session_id(req.header("Cookie"))
    session = state.sessions.get(sid)
    form = parse_qs(req.body.decode("utf-8", "replace"))
    tokens = [*form.get("_token", []), req.header("X-CSRF-TOKEN") or ""]
    if sid is None or session is None or not any(_same(t, session.csrf) for t in tokens):
        return redirect("/")  # no session or a stale token: back to the login page
    user = (form.get("username") or [""])[0]
    password = (form.get("password") or [""])[0]
    user_ok = _same(user, state.username)
    password_ok = _same(password, state.password)
    if not (user_ok and password_ok):
        headers = [("X-Meta-CSRF-Token", session.csrf)]
        return html_response(200, login_page(session.csrf, BAD_LOGIN), headers)
    state.sessions.discard(sid)
    new_sid, _ = state.sessions.new(authenticated=True)
    return redirect("/home", [("Set-Cookie", set_cookie(new_sid))])


def _same(given: str, wanted: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), wanted.encode())


def _session_refused(state: State, req: Request) -> Response | None:
    """A redirect to the login page when the request has no live session, else None."""
    session = state.sessions.get(session_id(req.header("Cookie")))
    if session is None or not session.authenticated:
        return redirect("/")
    if state.injector.session_expires():
        state.sessions.clear()
        return redirect("/")
    return None


def home(state: State, req: Request) -> Response:
    session = state.sessions.get(session_id(req.header("Cookie")))
    if session is None or not session.authenticated:
        return redirect("/")
    return html_response(200, HOME_PAGE)


def report(state: State, req: Request) -> Response:
    """The contact-information report; its bytes are cached until the dataset changes."""
    refused = _session_refused(state, req)
    if refused:
        return refused
    with state.lock:
        version = state.dataset.version
        if state.report_cache is None or state.report_cache[0] != version:
            state.report_cache = (version, _report_body(state))
        return raw_json(state.report_cache[1])


def _report_body(state: State) -> bytes:
    """``{"data": [rows]}`` encoded row by row: one big ``json.dumps`` peaks at ~10x the size."""
    rows = b",".join(dumps(row) for row in render.report_rows(state.dataset, state.layout))
    return b'{"data":[' + rows + b"]}"


def detail(state: State, req: Request, account_id: int) -> Response:
    """``/accounts/{id}/json``: the account object, 404 JSON when deleted or unknown."""
    refused = _session_refused(state, req)
    if refused:
        return refused
    if state.injector.account_fails(account_id):
        return error_page(500)
    with state.lock:
        account = state.dataset.accounts.get(account_id)
        if account is None or account.deleted:
            return api_error(404, "That account does not exist")
        return json_response(200, render.account_detail(state.dataset, account))
