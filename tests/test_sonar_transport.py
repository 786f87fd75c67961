"""Transport edge cases the simulator does not produce, against a scripted loopback stub.

The stub answers each path from a script of canned answers (the last one repeats)
and records every request, so the tests can check what the client sent.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sonar_bdc.errors import SonarAuthError, SonarError, SonarRetriesExhausted
from sonar_bdc.sonar.v1 import SonarClient, SonarConfig

pytestmark = pytest.mark.timeout(30)
PASSWORD = "Pa55-w0rd-secret"
REPORT = "/reports/accounts/contact_information/json"
ROW = [1, "<a>x</a>", "Active", "Jane", "", "", "", "", "", "", "1 Main", "Town", "TX", "78112",
       "29.5", "-98.5", "", "", None, None, "US", ""]  # fmt: skip


@dataclass
class Answer:
    status: int = 200
    body: bytes | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    more_headers: list[tuple[str, str]] = field(default_factory=list)  # repeated names


def login_page(token: str, in_header: bool = False) -> Answer:
    headers = {"Content-Type": "text/html", "Set-Cookie": "sonar_session=guest; path=/"}
    if in_header:
        headers["X-Meta-CSRF-Token"] = token
    page = f'<html><head><meta content="{token}" name="csrf-token"></head></html>'.encode()
    return Answer(200, page, headers)


def logged_in(session: str) -> Answer:
    return Answer(302, b"", {"Location": "/home", "Set-Cookie": f"sonar_session={session}"})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Stub:
    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Answer]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.script[(method, path)] = list(answers)

    def next(self, method: str, path: str) -> Answer:
        with self.lock:
            answers = self.script.get((method, path.split("?")[0]))
            if not answers:
                return Answer(404, {"error": {"message": "Not found", "status_code": 404}})
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path.split("?")[0] == path]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.answer()

    def answer(self) -> None:
        stub: Stub = self.server.stub
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        stub.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        answer = stub.next(self.command, self.path)
        payload = answer.body
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
            answer.headers.setdefault("Content-Type", "application/json")
        self.send_response(answer.status)
        for name, value in [*answer.headers.items(), *answer.more_headers]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.stub = Stub()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.stub, f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def client_for(url: str, **over: Any) -> SonarClient:
    settings = {"max_retries": 2, "initial_backoff": 0.01, "max_backoff": 0.02, "timeout": 5.0}
    return SonarClient(SonarConfig(url, "admin", PASSWORD, **{**settings, **over}))


def test_meta_tag_login_and_html_expiry_relogin(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.on("GET", "/", login_page("tok1"), login_page("tok2"))
    server.on("POST", "/", logged_in("s1"), logged_in("s2"))
    expired = Answer(200, b"<!DOCTYPE html><html>Login</html>", {"Content-Type": "text/html"})
    server.on("GET", REPORT, expired, Answer(200, {"data": [ROW]}))
    with client_for(url) as client:
        report = client.report()
        stats = client.stats
    assert [row.id for row in report.rows] == [1]
    assert stats.retries == 0 and stats.logins == 2  # re-login is not a retry
    first_post = server.requests("/")[1]
    assert first_post.method == "POST" and first_post.headers["X-CSRF-TOKEN"] == "tok1"
    assert b"_token=tok1" in first_post.body and b"username=admin" in first_post.body
    assert "sonar_session=guest" in first_post.headers["Cookie"]
    views = server.requests(REPORT)
    assert [v.headers["Cookie"] for v in views] == ["sonar_session=s1", "sonar_session=s2"]
    assert all("Authorization" not in v.headers for v in server.seen)


def test_empty_view_body_waits_and_logs_in_again(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.on("GET", "/", login_page("t", in_header=True))
    server.on("POST", "/", logged_in("s1"), logged_in("s2"))
    server.on("GET", REPORT, Answer(200, b""), Answer(200, {"data": [ROW]}))
    with client_for(url) as client:
        assert len(client.report().rows) == 1
        assert (client.stats.retries, client.stats.logins) == (1, 2)


def test_a_cookie_the_login_deletes_is_not_sent_again(stub: tuple[Stub, str]) -> None:
    server, url = stub
    page = login_page("tok")
    page.more_headers = [("Set-Cookie", "remember=old; path=/"), ("Set-Cookie", "keep=1")]
    server.on("GET", "/", page)
    deletes = [
        ("Set-Cookie", "remember=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT; path=/"),
        ("Set-Cookie", "keep=2; Max-Age=0; Expires=Wed, 01 Jan 2998 00:00:00 GMT"),  # Max-Age wins
        ("Set-Cookie", "later=3; Expires=Wed, 01 Jan 2998 00:00:00 GMT; Max-Age=soon"),
    ]
    server.on("POST", "/", Answer(302, b"", {"Location": "/home"}, deletes))
    server.on("GET", REPORT, Answer(200, {"data": [ROW]}))
    with client_for(url) as client:
        client.report()
    sent = server.requests(REPORT)[0].headers["Cookie"]
    assert sent == "sonar_session=guest; later=3"


def test_login_page_sent_as_json_is_an_expired_session(stub: tuple[Stub, str]) -> None:
    """Sniffed from the (spooled) body itself when the header claims JSON."""
    server, url = stub
    server.on("GET", "/", login_page("t", in_header=True))
    server.on("POST", "/", logged_in("s1"), logged_in("s2"))
    page = Answer(
        200, b"\n  <!DOCTYPE html><html>Login</html>", {"Content-Type": "application/json"}
    )
    server.on("GET", REPORT, page, Answer(200, {"data": [ROW]}))
    with client_for(url) as client:
        assert len(client.report().rows) == 1
        assert (client.stats.retries, client.stats.logins) == (0, 2)


def test_report_that_cannot_be_spooled_names_tmpdir(
    stub: tuple[Stub, str], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from sonar_bdc.errors import ConfigError
    from sonar_bdc.sonar.v1 import transport

    server, url = stub
    server.on("GET", "/", login_page("t", in_header=True))
    server.on("POST", "/", logged_in("s1"))
    server.on("GET", REPORT, Answer(200, {"data": [ROW] * 200}))
    monkeypatch.setattr(transport, "SPOOL_IN_MEMORY", 100)  # past it: a file on disk
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    with client_for(url) as client, pytest.raises(ConfigError, match="TMPDIR"):
        client.report()
    assert len(server.requests(REPORT)) == 1  # not retried: waiting does not fix it


def test_redirect_back_to_login_page_retries_once_then_refuses(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.on("GET", "/", login_page("t", in_header=True))
    server.on("POST", "/", Answer(302, b"", {"Location": "/"}))
    with client_for(url) as client, pytest.raises(SonarAuthError, match="SONAR_PASSWORD"):
        client.login()
    assert len(server.requests("/")) == 4  # two tries of GET + POST, then stop


def test_api_and_view_credentials_stay_apart(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.on("GET", "/", login_page("t", in_header=True))
    server.on("POST", "/", logged_in("s1"))
    server.on("GET", REPORT, Answer(200, {"data": [ROW]}))
    server.on("GET", "/api/v1/system/account_statuses", Answer(200, {"data": []}))
    with client_for(url) as client:
        client.login()
        client.report()
    (api,) = server.requests("/api/v1/system/account_statuses")
    expected = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    assert api.headers["Authorization"] == expected and "Cookie" not in api.headers
    assert api.path.endswith("?page=1&limit=1")
    assert all("Cookie" in v.headers for v in server.requests(REPORT))


def test_api_redirect_to_https_names_protocol(stub: tuple[Stub, str]) -> None:
    server, url = stub
    moved = Answer(301, b"", {"Location": "https://sonar.example/api/v1/accounts"})
    server.on("GET", "/api/v1/accounts", moved)
    with client_for(url) as client, pytest.raises(SonarError, match="SONAR_PROTOCOL=https"):
        list(client.iter_pages("accounts"))


@pytest.mark.parametrize(
    ("answer", "text"),
    [(Answer(422, {"error": {"message": {"limit": "must be an integer"}, "status_code": 422}}),
      "limit: must be an integer"),
     (Answer(400, {"error": "Request was bad"}), "Request was bad"),
     (Answer(405, b"<html>nope</html>", {"Content-Type": "text/html"}), "HTTP 405")],
)  # fmt: skip
def test_error_envelopes_are_reported_not_retried(
    stub: tuple[Stub, str], answer: Answer, text: str
) -> None:
    server, url = stub
    server.on("GET", "/api/v1/accounts", answer)
    with client_for(url) as client:
        with pytest.raises(SonarError, match=text) as info:
            list(client.iter_pages("accounts"))
        assert not isinstance(info.value, SonarRetriesExhausted) and client.stats.retries == 0


def test_api_forbidden_names_credentials(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.on("GET", "/api/v1/accounts", Answer(403, {"error": {"message": "Forbidden"}}))
    with client_for(url) as client, pytest.raises(SonarAuthError, match="may use the API"):
        list(client.iter_pages("accounts"))


def test_html_where_json_expected_is_retried(stub: tuple[Stub, str]) -> None:
    server, url = stub
    proxy_page = Answer(200, b"<html>Bad gateway</html>", {"Content-Type": "text/html"})
    page = Answer(200, {"data": [{"id": 5}], "paginator": {"total_pages": 1}})
    server.on("GET", "/api/v1/accounts", proxy_page, page)
    with client_for(url) as client:
        assert list(client.iter_pages("accounts")) == [{"id": 5}]
        assert client.stats.retries == 1


def test_secrets_never_logged(stub: tuple[Stub, str], caplog: pytest.LogCaptureFixture) -> None:
    server, url = stub
    server.on("GET", "/", login_page("t"))
    server.on("POST", "/", login_page("t"))  # refused: the login page again
    server.on("GET", "/api/v1/accounts", Answer(503), Answer(401, {"error": "Unauthorized"}))
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    messages = []
    with caplog.at_level(logging.DEBUG), client_for(url) as client:
        for action in (client.login, lambda: list(client.iter_pages("accounts"))):
            with pytest.raises(SonarAuthError) as info:
                action()
            messages.append(str(info.value))
    for text in [caplog.text, *messages]:
        assert PASSWORD not in text and token not in text
