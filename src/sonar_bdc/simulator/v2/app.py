"""Request dispatch for ``POST /api/graphql``: faults, bearer token, GraphQL execution.

Order per request (as v1): latency, the rate limit (HTTP 429, ``{"error": "Request
limit of 400/min reached."}``, ``Retry-After``), then a random 5xx (500 as Laravel's
JSON ``{"message": "Server Error"}``, 502-504 as a proxy's HTML page) or a dropped
connection, then the route: 401 ``{"message": "Unauthenticated."}`` for a missing or
wrong token, 400 for a body that is not a JSON ``{"query": ...}``, then the
``fail_next_with_errors`` counter (HTTP 200 ``{"errors": [{"message": "Internal server
error"}], "data": null}``), then graphql-core; a 200 body may then be truncated.
``Faults.fail_accounts``: a page of ``accounts`` holding one of them answers the same
GraphQL error. ``session_expiry_every`` does not apply (no web session in v2).
``/_simulator/stats`` and ``POST /_simulator/change`` are exempt and uncounted.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any, TypeGuard

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    execute,
    parse,
    validate,
)

from sonar_bdc.simulator.faults import FaultInjector
from sonar_bdc.simulator.responses import (
    Request,
    Response,
    change_response,
    error_page,
    json_response,
)
from sonar_bdc.simulator.v2.entities import Context
from sonar_bdc.simulator.v2.store import EntityStore

log = logging.getLogger(__name__)

PATH = "/api/graphql"
INTERNAL_ERROR = {"errors": [{"message": "Internal server error"}], "data": None}
_SERVER_ERROR = {"message": "Server Error"}
_TOO_MANY = {"error": "Request limit of 400/min reached."}
_DOCUMENTS = 256  # parsed and validated queries kept


class GraphQLApp:
    """Turns a :class:`Request` into a :class:`Response`; thread-safe."""

    def __init__(
        self,
        store: EntityStore,
        schema: GraphQLSchema,
        token: str,
        injector: FaultInjector,
        nested_limit: int | None = None,
    ) -> None:
        self.store, self.schema, self.token, self.injector = store, schema, token, injector
        self.nested_limit = nested_limit
        self._documents: OrderedDict[str, DocumentNode | list[GraphQLError]] = OrderedDict()
        self._lock = threading.Lock()  # counters and the document cache
        self._count = 0
        self._fail_next = 0

    @property
    def request_count(self) -> int:
        return self._count

    def change(self, fraction: float, seed: int) -> list[int]:
        """v1's ``change_accounts`` on the shared dataset; bumps ``updated_at``; changed ids."""
        return self.store.change(fraction, seed)

    def fail_next_with_errors(self, count: int) -> None:
        """The next ``count`` authorized GraphQL requests answer a GraphQL error."""
        with self._lock:
            self._fail_next = max(0, count)

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_simulator/"):
            return self._admin(req)
        with self._lock:
            self._count += 1
        try:
            return self._serve(req)
        except Exception:  # a simulator bug: answer 500, keep serving
            log.exception("v2 simulator failed on %s %s", req.method, req.path)
            return json_response(500, _SERVER_ERROR)

    def _serve(self, req: Request) -> Response:
        deadline = self.injector.deadline()  # the query's own work counts as latency
        response = self._answer(req)
        self.injector.wait_until(deadline)
        return response

    def _answer(self, req: Request) -> Response:
        injector = self.injector
        if injector.rate_limited():
            retry_after = injector.faults.retry_after
            headers = [] if retry_after is None else [("Retry-After", retry_after)]
            return json_response(429, _TOO_MANY, headers)
        if req.path != PATH:
            return json_response(404, {"message": "Not Found"})
        status = injector.error_status()
        if status is not None:
            return json_response(500, _SERVER_ERROR) if status == 500 else error_page(status)
        if injector.drop():
            return Response(0, fault="drop")
        response = self._route(req)
        if response.status == 200 and injector.truncate():
            response.fault = "truncate"
        return response

    def _route(self, req: Request) -> Response:
        if req.method != "POST":
            return json_response(405, {"message": "Method not allowed."})
        if not self._authorized(req.header("Authorization")):
            return json_response(401, {"message": "Unauthenticated."})
        try:
            query, variables, operation = _body(req.body)
        except ValueError as exc:
            return json_response(400, {"errors": [{"message": str(exc)}], "data": None})
        if self._take_failure():
            return json_response(200, INTERNAL_ERROR)
        return json_response(200, self.execute(query, variables, operation).formatted)

    def _authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        ok = hmac.compare_digest(token.strip().encode(), self.token.encode())
        return scheme.lower() == "bearer" and ok

    def _take_failure(self) -> bool:
        with self._lock:
            if self._fail_next <= 0:
                return False
            self._fail_next -= 1
            return True

    def execute(
        self, query: str, variables: dict[str, Any] | None = None, operation: str | None = None
    ) -> ExecutionResult:
        """Run one GraphQL request against the live dataset (no HTTP, no faults)."""
        document = self._document(query)
        if isinstance(document, list):
            return ExecutionResult(data=None, errors=document)
        with self.store.lock:
            rows = self.store.refresh()
            context = Context(rows, self.nested_limit, self.injector.faults.fail_accounts)
            result = execute(
                self.schema,
                document,
                root_value=self.store.root_value,
                context_value=context,
                variable_values=variables,
                operation_name=operation,
                is_awaitable=_never_awaitable,
            )
        assert isinstance(result, ExecutionResult)  # no resolver is async
        return result

    def _document(self, query: str) -> DocumentNode | list[GraphQLError]:
        with self._lock:
            found = self._documents.get(query)
        if found is not None:
            return found
        document: DocumentNode | list[GraphQLError]
        try:
            parsed = parse(query)
        except GraphQLError as exc:
            document = [exc]
        else:
            document = validate(self.schema, parsed) or parsed
        with self._lock:
            self._documents[query] = document
            while len(self._documents) > _DOCUMENTS:
                self._documents.popitem(last=False)
        return document

    def _admin(self, req: Request) -> Response:
        if req.path == "/_simulator/stats":
            return json_response(200, {"request_count": self.request_count})
        if req.path == "/_simulator/change" and req.method == "POST":
            return change_response(req, self.change)
        return json_response(404, {"error": "unknown simulator endpoint"})


def _never_awaitable(_value: Any) -> TypeGuard[Awaitable[Any]]:
    return False


def _body(raw: bytes) -> tuple[str, dict[str, Any] | None, str | None]:
    """(query, variables, operationName) of a GraphQL-over-HTTP JSON body."""
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise ValueError('The request body must be a JSON object with a "query" string.')
    variables = body.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise ValueError('"variables" must be a JSON object.')
    operation = body.get("operationName")
    return body["query"], variables, operation if isinstance(operation, str) else None
