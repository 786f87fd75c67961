"""The HTTP plumbing: a quiet keep-alive ``ThreadingHTTPServer``, :class:`Simulator`, ``serve``."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator.app import App
from sonar_bdc.simulator.faults import FaultInjector, Faults
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.simulator.responses import Request, Response
from sonar_bdc.simulator.state import State

log = logging.getLogger(__name__)
LAYOUTS = ("A", "B")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "nginx"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 120  # idle keep-alive connections are closed after this
    server: KeepAliveServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no per-request logging."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, url.path, query, headers, body)
        self._send(self.server.app.handle(request))

    def _send(self, response: Response) -> None:
        if response.fault == "drop":
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.fault == "truncate":
            self.wfile.write(response.body[: len(response.body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(response.body)


class Handles(Protocol):
    """What the HTTP plumbing needs of an app (v1's or v2's): an answer to a request."""

    def handle(self, req: Request) -> Response: ...


class SimulatorApp(Handles, Protocol):
    """What ``BackgroundServer`` reads of an app besides its answers."""

    @property
    def request_count(self) -> int: ...
    def change(self, fraction: float, seed: int) -> list[int]: ...


_Request = socket.socket | tuple[bytes, socket.socket]  # socketserver's, for TCP and UDP


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes keep-alive connections itself
    request_queue_size = 128  # 32+ clients connecting at once

    def __init__(self, address: tuple[str, int], app: Handles) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    # typeshed types ``request`` for any socketserver (a UDP one's is a tuple); a TCP
    # server's requests are sockets, the only ones there are to close.
    def process_request(self, request: _Request, client_address: object) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: _Request) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client hang-ups are routine
            log.exception("simulator connection from %s failed", client_address)

    def close_connections(self) -> None:
        with self._open_lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


A = TypeVar("A", bound=SimulatorApp)
S = TypeVar("S", bound="BackgroundServer[Any]")


class BackgroundServer(Generic[A]):
    """Serves one app on a :class:`KeepAliveServer` in a background thread.

    What both simulators share: ``start()``/``stop()``, a context manager, ``port`` and
    ``base_url``, the live ``faults``, the request count, ``change_accounts`` and
    ``serve_until_interrupted``. Subclasses build the app and its fault injector.
    """

    thread_name = "sonar-simulator"

    def __init__(self, app: A, injector: FaultInjector, host: str, port: int) -> None:
        self._app = app
        self._injector = injector
        self._address = (host, port)
        self._server: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None

    def start(self: S) -> S:
        """Bind and serve in a background thread (no-op if already running)."""
        if self._server is not None:
            return self
        host, port = self._address
        try:
            self._server = KeepAliveServer((host, port), self._app)
        except OSError as exc:
            msg = f"simulator cannot listen on {host}:{port} ({exc.strerror}); choose another port"
            raise ConfigError(msg) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server = self._thread = None

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = self._address[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def faults(self) -> Faults:
        return self._injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._injector.replace(faults)

    @property
    def request_count(self) -> int:
        """HTTP requests served, faulted ones included, ``/_simulator/*`` excluded."""
        return self._app.request_count

    def change_accounts(self, fraction: float = 0.1, seed: int = 0) -> list[int]:
        """Mutate ``fraction`` of the live accounts (see ``changes.py``); sorted changed ids."""
        return self._app.change(fraction, seed)

    def banner(self) -> str:
        """What ``serve_until_interrupted`` prints once listening: where, and how to log in."""
        return f"Sonar simulator on {self.base_url}"

    def serve_until_interrupted(self) -> None:
        """Serve in the foreground until Ctrl-C (``sonar-bdc simulate``)."""
        with self:
            print(f"{self.banner()}\nPress Ctrl-C to stop.", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)


class Simulator(BackgroundServer[App]):
    """A Sonar v1 instance on loopback serving ``dataset``; a context manager.

    ``faults`` can be replaced while running; ``dataset`` is the live ground truth.
    ``clock``: what the rate limit refills by (see ``FaultInjector``).
    """

    def __init__(
        self,
        dataset: Dataset,
        layout: str = "A",
        username: str = "admin",
        password: str = "sonar",
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if layout not in LAYOUTS:
            raise ConfigError(f"simulator layout must be 'A' or 'B', got {layout!r}")
        injector = FaultInjector(faults or Faults(), clock)
        self._state = State(dataset, layout, username, password, injector)
        super().__init__(App(self._state), injector, host, port)

    @property
    def layout(self) -> str:
        return self._state.layout

    @property
    def dataset(self) -> Dataset:
        return self._state.dataset

    @property
    def requests_by_kind(self) -> dict[str, int]:
        """Counts by kind: login, home, report, detail, inventory, inventory_catalog (models
        and manufacturers), model_fields, api_list (the other lists), other."""
        return self._app.counts()

    def banner(self) -> str:
        state = self._state
        return (
            f"Sonar simulator on {self.base_url} (layout {state.layout}, "
            f"{len(state.dataset.accounts)} accounts)\n"
            f"  username: {state.username}\n  password: {state.password}"
        )

    def __repr__(self) -> str:
        where = self.base_url if self._server else "stopped"
        return f"Simulator({where}, layout={self.layout}, accounts={len(self.dataset.accounts)})"
