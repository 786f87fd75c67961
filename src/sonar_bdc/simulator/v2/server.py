""":class:`GraphQLSimulator` (the v1 ``Simulator`` shape) and the blocking ``serve_v2``.

The HTTP plumbing is v1's keep-alive ``ThreadingHTTPServer`` (``server.KeepAliveServer``),
which only needs an app with ``handle(Request) -> Response``.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator.faults import FaultInjector, Faults
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.simulator.server import KeepAliveServer
from sonar_bdc.simulator.v2.app import PATH, GraphQLApp
from sonar_bdc.simulator.v2.relations import attach
from sonar_bdc.simulator.v2.schema import build
from sonar_bdc.simulator.v2.store import Store


class GraphQLSimulator:
    """A Sonar v2 instance on loopback serving ``dataset``; a context manager.

    ``faults`` can be replaced while running; ``dataset`` is the live ground truth,
    shared with any v1 simulator serving it. ``nested_limit`` cuts nested connections
    to N entities (``total_count`` stays true); ``unknown_technology`` makes the
    services of ``enums.UNKNOWN_TECHNOLOGY_SERVICE_IDS`` report a name that is in the
    schema but in no mapping table.
    """

    def __init__(
        self,
        dataset: Dataset,
        token: str = "sonar-token",
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        nested_limit: int | None = None,
        unknown_technology: bool = False,
    ) -> None:
        if not token:
            raise ConfigError("simulator token must not be empty")
        if nested_limit is not None and nested_limit < 1:
            raise ConfigError(f"simulator nested_limit must be 1 or more, got {nested_limit}")
        self._injector = FaultInjector(faults or Faults())
        self._store = Store(dataset, unknown_technology)
        schema = attach(build(unknown_technology))
        self._app = GraphQLApp(self._store, schema, token, self._injector, nested_limit)
        self._address = (host, port)
        self._server: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> GraphQLSimulator:
        """Bind and serve in a background thread (no-op if already running)."""
        if self._server is not None:
            return self
        host, port = self._address
        try:
            self._server = KeepAliveServer((host, port), self._app)  # type: ignore[arg-type]
        except OSError as exc:
            msg = f"simulator cannot listen on {host}:{port} ({exc.strerror}); choose another port"
            raise ConfigError(msg) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.1,), name="sonar-v2-simulator", daemon=True
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

    def __enter__(self) -> GraphQLSimulator:
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
    def url(self) -> str:
        """The GraphQL endpoint, ``<base_url>/api/graphql``."""
        return self.base_url + PATH

    @property
    def token(self) -> str:
        return self._app.token

    @property
    def dataset(self) -> Dataset:
        return self._store.dataset

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

    @property
    def app(self) -> GraphQLApp:
        """The app itself: ``app.execute(query)`` runs a query without HTTP or faults."""
        return self._app

    def fail_next_with_errors(self, count: int = 1) -> None:
        """The next ``count`` authorized GraphQL requests answer ``Internal server error``."""
        self._app.fail_next_with_errors(count)

    def change_accounts(self, fraction: float = 0.1, seed: int = 0) -> list[int]:
        """v1's ``change_accounts`` on the shared dataset; bumps ``updated_at``; changed ids."""
        return self._store.change(fraction, seed)

    def __repr__(self) -> str:
        where = self.base_url if self._server else "stopped"
        return f"GraphQLSimulator({where}, accounts={len(self.dataset.accounts)})"


def serve_v2(
    dataset: Dataset,
    token: str = "sonar-token",
    faults: Faults | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    nested_limit: int | None = None,
    unknown_technology: bool = False,
) -> None:
    """Run a v2 simulator in the foreground until Ctrl-C (``sonar-bdc simulate --api v2``)."""
    sim = GraphQLSimulator(dataset, token, faults, host, port, nested_limit, unknown_technology)
    with sim:
        print(
            f"Sonar v2 (GraphQL) simulator on {sim.url} ({len(dataset.accounts)} accounts)\n"
            f"  Authorization: Bearer {token}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
