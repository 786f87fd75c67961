"""The REST surface, ``/api/v1/...``: HTTP Basic auth, paginated lists, v1 error envelopes."""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
from collections.abc import Callable, Mapping
from itertools import islice
from typing import TYPE_CHECKING

from sonar_bdc.simulator import render
from sonar_bdc.simulator.render import Json
from sonar_bdc.simulator.responses import Request, Response, api_error, json_response

if TYPE_CHECKING:
    from sonar_bdc.simulator.model import Dataset
    from sonar_bdc.simulator.state import State

PREFIX = "/api/v1/"
MAX_LIMIT = 100
INVENTORY_ROUTE = re.compile(r"accounts/(\d+)/inventory_items")
_ACCOUNT_ROUTE = re.compile(r"accounts/(\d+)")
FIELDS_ROUTE = re.compile(r"inventory/models/(\d+)/fields")
INVENTORY_CATALOG_ROUTES = frozenset({"inventory/models", "inventory/manufacturers"})

Window = Callable[[int, int], list[Json]]


def handle(state: State, req: Request) -> Response:
    """Answer one ``/api/v1/...`` request."""
    if not authorized(state, req.header("Authorization")):
        challenge = [("WWW-Authenticate", 'Basic realm="Sonar"')]
        return api_error(401, "Invalid username or password.", challenge)
    if req.method != "GET":
        return api_error(405, "Method not allowed.")
    try:
        page, limit = paging(req.query)
    except ValueError as exc:
        return api_error(422, {str(exc): f"The {exc} must be an integer."})
    with state.lock:
        return _route(state, req.path.removeprefix(PREFIX), page, limit)


def authorized(state: State, header: str | None) -> bool:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), state.username.encode())
    password_ok = hmac.compare_digest(password.encode(), state.password.encode())
    return user_ok and password_ok


def paging(query: Mapping[str, str]) -> tuple[int, int]:
    """(page, limit): page below 1 means 1; limit defaults to and is capped at 100."""
    page = _int(query, "page", 1)
    limit = _int(query, "limit", MAX_LIMIT)
    return max(page, 1), MAX_LIMIT if limit < 1 else min(limit, MAX_LIMIT)


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(name) from None


def _route(state: State, route: str, page: int, limit: int) -> Response:
    ds = state.dataset
    if route == "accounts":
        return paged(len(ds.accounts), page, limit, _accounts_window(state))
    if route == "inventory/items":
        response = paged(len(ds.items), page, limit, _items_window(state))
        if page == 1 and state.injector.vanish_now():
            _delete_unassigned_item(ds, limit)
        return response
    if match := INVENTORY_ROUTE.fullmatch(route):
        return _account_inventory(state, int(match[1]), page, limit)
    if match := _ACCOUNT_ROUTE.fullmatch(route):
        account = ds.accounts.get(int(match[1]))
        if account is None or account.deleted:
            return api_error(404, "That account does not exist")
        return json_response(200, {"data": render.api_account(account)})
    if match := FIELDS_ROUTE.fullmatch(route):
        if state.injector.model_fails(int(match[1])):
            return api_error(500, "Server Error")
        fields = render.model_fields(ds, int(match[1]))
        if fields is None:
            return api_error(404, "That inventory model does not exist")
        return _paged_list(fields, page, limit)
    rows = render.catalog(ds, route)
    if rows is None:
        return api_error(404, "Not found")
    return _paged_list(rows, page, limit)


def _paged_list(rows: list[Json], page: int, limit: int) -> Response:
    return paged(len(rows), page, limit, lambda s, e: rows[s:e])


def _accounts_window(state: State) -> Window:
    accounts = state.dataset.accounts
    return lambda s, e: [render.api_account(a) for a in islice(accounts.values(), s, e)]


def _items_window(state: State) -> Window:
    items = state.dataset.items
    return lambda s, e: [render.api_item(i, True) for i in islice(items.values(), s, e)]


def _delete_unassigned_item(ds: Dataset, within: int) -> None:
    """Delete the first of the first ``within`` items that no account holds."""
    for item in islice(ds.items.values(), within):
        if item.assignee_type != "accounts":
            del ds.items[item.id]
            return


def _account_inventory(state: State, account_id: int, page: int, limit: int) -> Response:
    if state.injector.account_fails(account_id):
        return api_error(500, "Server Error")
    account = state.dataset.accounts.get(account_id)
    if account is None or account.deleted:
        return api_error(404, "That account does not exist")
    rows = [render.api_item(i, False) for i in state.dataset.items_of(account_id)]
    return _paged_list(rows, page, limit)


def paged(total: int, page: int, limit: int, window: Window) -> Response:
    """One page of a list: ``{"data": [...], "paginator": {...}}``; past the end, no data."""
    start = (page - 1) * limit
    data = window(start, start + limit) if start < total else []
    paginator = {
        "total_count": total,
        "total_pages": max(1, math.ceil(total / limit)),  # Laravel: lastPage is at least 1
        "current_page": page,
        "limit": limit,
    }
    return json_response(200, {"data": data, "paginator": paginator})
