"""Transport-neutral request/response values and the response builders every route uses."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sonar_bdc.errors import ConfigError

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
_REASONS = {
    500: "Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # names in lower case
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(slots=True)
class Response:
    """``fault``: None, "drop" (close without answering) or "truncate" (send half the body)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as PHP's json_encode with JSON_UNESCAPED_UNICODE writes it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, dumps(obj), [("Content-Type", JSON_TYPE), *(headers or [])])


def raw_json(body: bytes) -> Response:
    """A 200 answer whose JSON body is already serialized (e.g. the cached report)."""
    return Response(200, body, [("Content-Type", JSON_TYPE)])


def html_response(
    status: int, body: bytes, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(status, body, [("Content-Type", HTML_TYPE), *(headers or [])])


def redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    body = f'<html><body>Redirecting to <a href="{location}">{location}</a>.</body></html>'
    return html_response(302, body.encode(), [("Location", location), *(headers or [])])


def api_error(
    status: int, message: str | dict[str, str], headers: list[tuple[str, str]] | None = None
) -> Response:
    """The v1 error envelope: ``{"error": {"message": ..., "status_code": ...}}``."""
    return json_response(status, {"error": {"message": message, "status_code": status}}, headers)


def error_page(status: int) -> Response:
    """What a proxy or PHP answers on a 5xx: a small HTML page, never JSON."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return html_response(status, body.encode())


def change_response(req: Request, change: Callable[[float, int], list[int]]) -> Response:
    """``POST /_simulator/change?fraction=F&seed=N`` (both simulators): ``change`` that
    share of the accounts, answer the ids it changed."""
    try:
        fraction = float(req.query.get("fraction", "0.1"))
        seed = int(req.query.get("seed", "0"))
        return json_response(200, {"changed": change(fraction, seed)})
    except (ValueError, ConfigError) as exc:
        return json_response(400, {"error": str(exc)})
