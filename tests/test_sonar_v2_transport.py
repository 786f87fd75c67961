"""The v2 transport against a scripted loopback stub: what it sends, how it reads answers.

Each test scripts the answers to ``POST /api/graphql`` (the last one repeats) and
checks the error the client raises, or the retries it makes, for every answer shape
the contract (§1, §7) says a Sonar v2 instance may send.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sonar_bdc.errors import (
    SonarAuthError,
    SonarDataError,
    SonarError,
    SonarRetriesExhausted,
)
from sonar_bdc.sonar.v2 import GraphQLClient, GraphQLConfig, GraphQLErrors

pytestmark = pytest.mark.timeout(30)
TOKEN = "s3cret-personal-token"
COUNT = {"data": {"accounts": {"page_info": {"total_count": 7}}}}


@dataclass
class Answer:
    status: int = 200
    body: bytes | dict = field(default_factory=lambda: COUNT)
    headers: dict[str, str] = field(default_factory=dict)


class Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[Answer] = [Answer()]
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def script(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def next(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Stub

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.path, dict(self.headers.items()), body))
        answer = self.server.next()
        payload = (
            answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        )
        self.send_response(answer.status)
        for name, value in {"Content-Type": "application/json", **answer.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client_for(stub: Stub, **over: Any) -> GraphQLClient:
    settings = {"max_retries": 2, "initial_backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0}
    return GraphQLClient(GraphQLConfig(stub.url, TOKEN, **{**settings, **over}))


def test_a_query_is_a_json_post_with_the_bearer_token(stub: Stub) -> None:
    with client_for(stub) as client:
        assert client.account_count() == 7
    path, headers, body = stub.seen[0]
    assert path == "/api/graphql"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == headers["Accept"] == "application/json"
    sent = json.loads(body)
    assert "accounts(paginator" in sent["query"] and "variables" not in sent


@pytest.mark.parametrize(
    "answer",
    [
        Answer(401, {"message": "Unauthenticated."}),
        Answer(403, {"message": "This action is unauthorized."}),
        Answer(200, {"errors": [{"message": "Unauthenticated."}], "data": None}),
        Answer(302, b"", {"Location": "https://sonar.example/login"}),
    ],
)
def test_a_refused_token_names_sonar_token_once_and_is_never_retried(
    stub: Stub, answer: Answer
) -> None:
    stub.script(answer)
    with client_for(stub) as client, pytest.raises(SonarAuthError) as caught:
        client.login()
    message = str(caught.value)
    assert "SONAR_TOKEN" in message and TOKEN not in message and "\n" not in message
    assert caught.value.exit_code == 2 and len(stub.seen) == 1


@pytest.mark.parametrize(
    "limited",
    [
        Answer(429, {"error": "Request limit of 400/min reached."}, {"Retry-After": "0.05"}),
        Answer(200, {"error": "Request limit of 400/min reached."}, {"Retry-After": "0.05"}),
        Answer(200, {"errors": [{"message": "Too many requests"}]}, {"Retry-After": "0.05"}),
        Answer(503, b"<html>busy</html>", {"Content-Type": "text/html"}),
        Answer(200, b'{"data": {"accou'),  # truncated
    ],
)
def test_rate_limits_5xx_and_truncated_answers_are_waited_out_and_retried(
    stub: Stub, limited: Answer
) -> None:
    stub.script(limited, Answer())
    with client_for(stub) as client:
        assert client.account_count() == 7
        assert client.stats.retries == 1 and client.stats.requests == 2


def test_a_rate_limit_reply_waits_at_least_its_retry_after(stub: Stub) -> None:
    stub.script(Answer(429, {"error": "Request limit of 400/min reached."}, {"Retry-After": "0.3"}),
                Answer())  # fmt: skip
    with client_for(stub, max_backoff=5.0) as client:
        client.login()
        assert client.stats.wait_seconds >= 0.3


def test_a_persistent_rate_limit_gives_up_after_the_retry_budget(stub: Stub) -> None:
    stub.script(Answer(429, {"error": "Request limit of 400/min reached."}, {"Retry-After": "0"}))
    with (
        client_for(stub, max_backoff=0.01) as client,
        pytest.raises(SonarRetriesExhausted) as caught,
    ):
        client.login()
    assert "rate limit" in str(caught.value) and "--max-retries" in str(caught.value)
    assert len(stub.seen) == 3


def test_a_graphql_error_carries_sonars_text_and_is_not_retried(stub: Stub) -> None:
    errors = [{"message": 'Cannot query field "foo" on type "Account".'}, {"message": "two"}]
    stub.script(Answer(200, {"errors": errors, "data": None}))
    with client_for(stub) as client, pytest.raises(GraphQLErrors) as caught:
        client.login()
    assert 'Cannot query field "foo" on type "Account".; two' in str(caught.value)
    assert "counting accounts" in str(caught.value) and len(stub.seen) == 1


def test_no_graphql_endpoint_is_a_configuration_problem(stub: Stub) -> None:
    stub.script(Answer(404, b"<html>Not Found</html>", {"Content-Type": "text/html"}))
    with client_for(stub) as client, pytest.raises(SonarDataError) as caught:
        client.login()
    assert "/api/graphql (HTTP 404)" in str(caught.value) and "--api v1" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (Answer(302, b"", {"Location": "https://x/api/graphql"}), "SONAR_PROTOCOL=https"),
        (Answer(400, {"errors": [{"message": "bad body"}]}), "bad body"),
        (Answer(200, {"data": None}), "no 'data' object"),
        (Answer(418, {"message": "teapot"}), "HTTP 418"),
    ],
)
def test_other_answers_are_errors_that_say_what_happened(
    stub: Stub, answer: Answer, text: str
) -> None:
    stub.script(answer)
    with client_for(stub) as client, pytest.raises(SonarError, match=text):
        client.login()
    assert len(stub.seen) == 1


def test_the_token_is_not_in_the_configs_repr() -> None:
    assert TOKEN not in repr(GraphQLConfig("http://127.0.0.1:9", TOKEN))


# ---------------------------------------------------------------- paging without a page count


def accounts_page(*ids: int) -> Answer:
    """A light accounts page whose ``page_info`` lacks ``total_pages``."""
    rows = [{"id": i, "name": f"Account {i}"} for i in ids]
    return Answer(body={"data": {"accounts": {"page_info": {"total_count": 3}, "entities": rows}}})


def catalogs_page(*group_ids: int) -> Answer:
    """A catalogs page without ``total_pages``: groups only."""
    none: dict[str, Any] = {"page_info": {}, "entities": []}
    groups = {"page_info": {}, "entities": [{"id": i, "name": f"G{i}"} for i in group_ids]}
    data = {"account_groups": groups, "account_statuses": none, "account_types": none}
    return Answer(body={"data": data})


def test_a_listing_without_total_pages_reads_on_to_the_first_empty_page(stub: Stub) -> None:
    stub.script(accounts_page(1, 2), accounts_page(3), accounts_page())
    with client_for(stub) as client:
        pages = list(client.iter_account_pages(full=False))
    assert [[a.report.id for a in page.accounts] for page in pages] == [[1, 2], [3]]
    assert len(stub.seen) == 3


def test_catalogs_without_total_pages_read_on_to_the_first_empty_page(stub: Stub) -> None:
    stub.script(catalogs_page(1, 2), catalogs_page(3), catalogs_page())
    with client_for(stub) as client:
        catalogs = client.catalogs()
    assert [g.id for g in catalogs.groups] == [1, 2, 3] and len(stub.seen) == 3


def test_a_listing_that_ignores_the_paginator_is_refused_in_one_line(stub: Stub) -> None:
    stub.script(accounts_page(1, 2))  # every page the same, and no page count to stop at
    with client_for(stub) as client, pytest.raises(SonarDataError) as caught:
        list(client.iter_account_pages(full=False))
    message = str(caught.value)
    assert message.startswith("accounts: page 2 repeats earlier accounts; Sonar seems to ignore")
    assert "SONAR_HOST" in message and "\n" not in message and len(stub.seen) == 2
