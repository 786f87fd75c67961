"""The libcurl pool (sonar/http.py): header handling, timeouts, streaming, pool limits.

Pure parts get unit tests; the rest runs against a small scripted server on
127.0.0.1 whose handlers can answer slowly, in pieces, or with 100 Continue.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pycurl
import pytest

from sonar_bdc.errors import ConfigError, SonarError, SonarRetriableError, SonarUnreachable
from sonar_bdc.sonar.http import Headers, HttpPool, _Answer

pytestmark = pytest.mark.timeout(30)


def test_headers_ignore_case_and_join_repeats() -> None:
    headers = Headers([("Content-Type", "text/html"), ("X-A", "1"), ("x-a", "2")])
    assert headers["content-type"] == headers["CONTENT-TYPE"] == "text/html"
    assert headers.get("X-a") == "1, 2" and "x-A" in headers and 3 not in headers
    assert headers.get("missing", "") == "" and len(headers) == 2


def test_a_second_status_line_starts_the_answer_over() -> None:
    answer = _Answer(io.BytesIO())
    answer.lines += [b"HTTP/1.1 100 Continue\r\n", b"X-Early: 1\r\n", b"\r\n",
                     b"HTTP/1.1 201 Created\r\n", b"Location: /x\r\n", b"\r\n"]  # fmt: skip
    assert answer.parsed() == (201, [("Location", "/x")])
    answer.spool(b"body")
    assert answer.spooling and answer.into.getvalue() == b"body"  # type: ignore[union-attr]


def test_only_a_2xx_body_is_spooled() -> None:
    spool = io.BytesIO()
    answer = _Answer(spool, [b"HTTP/1.1 500 Internal Server Error\r\n", b"\r\n"])
    answer.spool(b"oops")
    assert spool.getvalue() == b"" and answer.detach() == b"oops"
    assert answer.into is None  # an idle handle's callbacks keep nothing


def test_a_spool_that_cannot_be_written_stops_the_transfer() -> None:
    class Full(io.BytesIO):
        def write(self, chunk: Any) -> int:
            raise OSError(28, "No space left on device")

    answer = _Answer(Full(), [b"HTTP/1.1 200 OK\r\n"])
    assert answer.spool(b"data") == 0 and isinstance(answer.write_error, OSError)


Handler = Callable[[BaseHTTPRequestHandler], None]


class _Server(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:
        self.server.seen.append(self.path)
        self.server.handler(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
        server.daemon_threads = True
        server.handler, server.seen = handler, []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(body: bytes, status: int = 200, pause: float = 0.0) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        time.sleep(pause)
        request.send_response(status)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("Set-Cookie", "sid=abc; Path=/")
        request.end_headers()
        request.wfile.write(body)

    return handle


def in_pieces(pieces: int, pause: float) -> Handler:
    """A body that arrives a piece at a time, ``pause`` apart."""

    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(pieces))
        request.end_headers()
        for _ in range(pieces):
            request.wfile.write(b"x")
            request.wfile.flush()
            time.sleep(pause)

    return handle


def pool(url: str, timeout: float = 5.0, size: int = 4) -> HttpPool:
    return HttpPool(url, timeout=timeout, verify=True, size=size, headers={"User-Agent": "t"})


def test_answer_headers_cookies_and_connection_reuse(serve: Callable[[Handler], str]) -> None:
    http = pool(serve(answer(b'{"a": 1}')))
    replies = [http.send("GET", "/x", "GET /x", params={"page": i}) for i in (1, 2)]
    assert [r.content for r in replies] == [b'{"a": 1}'] * 2
    assert replies[0].cookies() == {"sid": "abc"} and replies[0].headers["content-length"] == "8"
    assert http._idle.qsize() == 1  # one handle served both: its connection was kept


def test_a_slow_answer_times_out_as_retriable(serve: Callable[[Handler], str]) -> None:
    http = pool(serve(answer(b"late", pause=0.5)), timeout=0.2)
    with pytest.raises(SonarRetriableError, match=r"no answer within 0\.2 s"):
        http.send("GET", "/x", "GET /x")
    assert http._idle.qsize() == 0  # the handle that timed out was not put back


def test_a_streamed_answer_may_take_longer_than_the_timeout_while_it_flows(
    serve: Callable[[Handler], str],
) -> None:
    """The report is spooled: it has to keep coming, not to finish within the timeout."""
    url = serve(in_pieces(6, 0.3))  # 1.8 s in all, a byte every 0.3 s
    spool = io.BytesIO()
    reply = pool(url, timeout=1.0).send("GET", "/report", "GET /report", into=spool)
    assert reply.status == 200 and spool.getvalue() == b"x" * 6 and reply.content == b""
    with pytest.raises(SonarRetriableError, match="no answer within 1 s"):
        pool(url, timeout=1.0).send("GET", "/detail", "GET /detail")  # a whole answer


def test_every_connection_busy_is_retriable(serve: Callable[[Handler], str]) -> None:
    http = pool(serve(answer(b"ok")), timeout=0.3, size=1)
    assert http._slots.acquire(timeout=1)  # another worker holds the only connection
    with pytest.raises(SonarRetriableError, match=r"no free connection within 0\.3 s"):
        http.send("GET", "/b", "GET /b")
    http._slots.release()
    assert http.send("GET", "/b", "GET /b").content == b"ok"


def test_a_refused_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request
    with pytest.raises(SonarUnreachable, match=f"cannot reach Sonar at http://127.0.0.1:{port}"):
        pool(f"http://127.0.0.1:{port}").send("GET", "/", "GET /")


@pytest.mark.parametrize("url", ["ftp://example.com", "http://", "http://host:port"])
def test_an_address_that_is_not_http_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="check SONAR_"):
        pool(url)


def test_a_pycurl_error_with_only_a_message_names_the_request() -> None:
    # perform() raises (code, message); pycurl's own errors (a refused option) only (message,)
    error = pool("http://127.0.0.1:1")._failure("GET /", pycurl.error("bad option"), _Answer(None))
    assert type(error) is SonarError and str(error) == "GET /: bad option"
