"""HTTP to one Sonar v2 instance: ``POST /api/graphql`` with a bearer token, one attempt.

``post`` returns the ``data`` object of an answer or raises one of our errors:
``SonarAuthError`` (the token is refused: never retried), ``SonarRetriableError``
(rate limit, 5xx, timeouts, dropped or non-JSON answers: the retry layer repeats
them, honouring ``Retry-After``), ``GraphQLErrors`` (an ``errors`` array: Sonar's
own text, not retried) or ``SonarError``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from ...errors import SonarAuthError, SonarDataError, SonarError, SonarRetriableError
from ..base import RETRIABLE_STATUS, TransportBase, retry_after
from ..config import HOST_SETTINGS
from ..http import Reply
from ..limiter import RateLimiter
from ..stats import Counters
from .config import TOKEN_SETTING, GraphQLConfig

log = logging.getLogger(__name__)

PATH = "/api/graphql"
RATE_LIMIT_WAIT = 15.0  # seconds, when a rate-limit answer has no Retry-After
_RATE_LIMITED = re.compile(r"rate.?limit|request limit|too many|\b429\b", re.IGNORECASE)
_UNAUTHENTICATED = re.compile(r"unauthenticated|unauthori[sz]ed", re.IGNORECASE)


class GraphQLErrors(SonarError):
    """The answer carried an ``errors`` array (not a rate limit): Sonar refused the query."""


class GraphQLTransport(TransportBase[GraphQLConfig]):
    """Sends one GraphQL request per call; thread-safe (one connection pool)."""

    def __init__(self, config: GraphQLConfig, counters: Counters, limiter: RateLimiter) -> None:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {config.token.strip()}",
        }
        super().__init__(config, counters, limiter, pool_size=config.workers + 1, headers=headers)

    def post(self, query: str, variables: dict[str, Any] | None, what: str) -> dict[str, Any]:
        """One GraphQL request; its ``data`` object, or one of our errors."""
        body: dict[str, Any] = {"query": query}
        if variables:
            body["variables"] = variables
        response = self._send("POST", PATH, what, body=json.dumps(body).encode())
        return self._decode(response, what)

    # --- one answer -------------------------------------------------------------------

    def _decode(self, response: Reply, what: str) -> dict[str, Any]:
        status = response.status
        if status in (401, 403):
            raise self._refused(f"HTTP {status}")
        if response.is_redirect:
            raise self._redirected(response)
        body = _json(response)
        limited = _rate_limit_text(body)
        if status == 429 or limited:
            raise SonarRetriableError(
                f"{what}: Sonar's rate limit ({limited or 'HTTP 429'})",
                retry_after(response) or RATE_LIMIT_WAIT,
            )
        if status in RETRIABLE_STATUS:
            raise SonarRetriableError(f"{what}: HTTP {status}", retry_after(response))
        if status == 404:
            raise SonarDataError(
                f"no GraphQL API at {self._config.base_url}{PATH} (HTTP 404): is this a "
                f"Sonar v2 instance? Check {HOST_SETTINGS}, or use --api v1"
            )
        if body is None and 200 <= status < 300:
            raise SonarRetriableError(f"{what}: the answer is not JSON (truncated?)")
        errors = _error_messages(body)
        if errors:
            raise self._query_failed(what, errors, status)
        if not 200 <= status < 300:
            raise SonarError(f"{what}: HTTP {status}")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise SonarDataError(f"{what}: the answer has no 'data' object")
        return data

    def _query_failed(self, what: str, errors: list[str], status: int) -> SonarError:
        text = "; ".join(errors)[:500]
        if any(_UNAUTHENTICATED.search(message) for message in errors):
            return self._refused(text)
        return GraphQLErrors(f"{what}: Sonar answered with an error (HTTP {status}): {text}")

    def _refused(self, reason: str) -> SonarAuthError:
        return SonarAuthError(
            f"Sonar refused the API token ({reason} on {self._config.base_url}{PATH}): check "
            f"{TOKEN_SETTING} (a personal access token of a user who may read accounts)"
        )

    def _redirected(self, response: Reply) -> SonarError:
        location = response.headers.get("location", "")
        scheme = urlsplit(location).scheme
        if "login" in urlsplit(location).path.lower():
            return self._refused(f"a redirect to the login page {location!r}")
        if scheme and scheme != urlsplit(self._config.base_url).scheme:
            return SonarError(f"{PATH} redirected to {scheme}:// ({location!r}): set "
                              f"SONAR_PROTOCOL={scheme}")  # fmt: skip
        return SonarError(f"{PATH}: unexpected redirect to {location!r}: check {HOST_SETTINGS}")


def _json(response: Reply) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _rate_limit_text(body: Any) -> str:
    """Sonar's rate-limit text (``{"error": "Request limit ..."}`` or an errors entry)."""
    candidates = [body.get("error")] if isinstance(body, dict) else []
    candidates += _error_messages(body)
    return next((str(t) for t in candidates if t and _RATE_LIMITED.search(str(t))), "")


def _error_messages(body: Any) -> list[str]:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [
        str(e.get("message") or "error") if isinstance(e, dict) else str(e) for e in errors if e
    ]
