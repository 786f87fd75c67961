"""Request dispatch: classify, count, inject faults, route; plus the admin endpoints.

Fault order per request: latency (all), rate limit (all), then for data endpoints
(report, detail and every API list) a 5xx or a dropped connection, then the
route itself, then truncation of a 200 data body. ``/_simulator/*`` is exempt
from everything and is not counted.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter

from sonar_bdc.simulator import api, views
from sonar_bdc.simulator.changes import change_accounts
from sonar_bdc.simulator.responses import (
    Request,
    Response,
    api_error,
    change_response,
    error_page,
    html_response,
    json_response,
)
from sonar_bdc.simulator.state import State

log = logging.getLogger(__name__)

API_KINDS = frozenset({"inventory", "inventory_catalog", "model_fields", "api_list"})
DATA_KINDS = frozenset({"report", "detail", *API_KINDS})
_DETAIL_PATH = re.compile(r"/accounts/(\d+)/json")
_TOO_MANY = {"error": "Request limit of 400/min reached."}


def classify(path: str) -> str:
    """The request kind counted in ``requests_by_kind``."""
    if path == "/":
        return "login"
    if path == "/home":
        return "home"
    if path == views.REPORT_PATH:
        return "report"
    if _DETAIL_PATH.fullmatch(path):
        return "detail"
    if path.startswith(api.PREFIX):
        route = path.removeprefix(api.PREFIX)
        if api.INVENTORY_ROUTE.fullmatch(route):
            return "inventory"
        if api.FIELDS_ROUTE.fullmatch(route):
            return "model_fields"
        return "inventory_catalog" if route in api.INVENTORY_CATALOG_ROUTES else "api_list"
    return "other"


class App:
    """Turns a :class:`Request` into a :class:`Response`; thread-safe."""

    def __init__(self, state: State) -> None:
        self.state = state
        self._counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_simulator/"):
            return self._admin(req)
        kind = classify(req.path)
        with self._count_lock:
            self._counts[kind] += 1
        try:
            return self._serve(req, kind)
        except Exception:  # a simulator bug: answer 500, keep serving
            log.exception("simulator failed on %s %s", req.method, req.path)
            return error_page(500)

    def counts(self) -> dict[str, int]:
        with self._count_lock:
            return dict(self._counts)

    @property
    def request_count(self) -> int:
        return sum(self.counts().values())

    def change(self, fraction: float, seed: int) -> list[int]:
        with self.state.lock:
            return change_accounts(self.state.dataset, fraction, seed)

    def _serve(self, req: Request, kind: str) -> Response:
        injector = self.state.injector
        deadline = injector.deadline()
        response = self._answer(req, kind)
        injector.wait_until(deadline)
        return response

    def _answer(self, req: Request, kind: str) -> Response:
        injector = self.state.injector
        if injector.rate_limited():
            retry_after = injector.faults.retry_after
            headers = [] if retry_after is None else [("Retry-After", retry_after)]
            return json_response(429, _TOO_MANY, headers)
        if kind in DATA_KINDS:
            status = injector.error_status()
            if status is not None:
                api_500 = status == 500 and kind in API_KINDS
                return api_error(500, "Server Error") if api_500 else error_page(status)
            if injector.drop():
                return Response(0, fault="drop")
        response = self._route(req, kind)
        if kind in DATA_KINDS and response.status == 200 and injector.truncate():
            response.fault = "truncate"
        return response

    def _route(self, req: Request, kind: str) -> Response:
        state = self.state
        if kind == "login":
            return views.login(state, req) if req.method == "POST" else views.login_form(state)
        if kind == "home":
            return views.home(state, req)
        if kind == "report":
            return views.report(state, req)
        if kind == "detail":
            return views.detail(state, req, int(req.path.split("/")[2]))
        if kind in API_KINDS:
            return api.handle(state, req)
        return html_response(404, b"<html><body><h1>404 Not Found</h1></body></html>")

    def _admin(self, req: Request) -> Response:
        if req.path == "/_simulator/stats":
            counts = self.counts()
            stats = {"request_count": sum(counts.values()), "requests_by_kind": counts}
            return json_response(200, stats)
        if req.path == "/_simulator/change" and req.method == "POST":
            return change_response(req, self.change)
        return json_response(404, {"error": "unknown simulator endpoint"})
