""":class:`GraphQLSimulator` (the v1 ``Simulator`` shape) and the blocking ``serve_v2``.

The HTTP plumbing is v1's keep-alive ``ThreadingHTTPServer`` (``server.KeepAliveServer``),
which only needs an app with ``handle(Request) -> Response``.
"""

from __future__ import annotations

import time

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator.faults import FaultInjector, Faults
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.simulator.server import BackgroundServer
from sonar_bdc.simulator.v2.app import PATH, GraphQLApp
from sonar_bdc.simulator.v2.relations import attach
from sonar_bdc.simulator.v2.schema import build
from sonar_bdc.simulator.v2.store import Store


class GraphQLSimulator(BackgroundServer[GraphQLApp]):
    """A Sonar v2 instance on loopback serving ``dataset``; a context manager.

    ``faults`` can be replaced while running; ``dataset`` is the live ground truth,
    shared with any v1 simulator serving it. ``nested_limit`` cuts nested connections
    to N entities (``total_count`` stays true); ``unknown_technology`` makes the
    services of ``enums.UNKNOWN_TECHNOLOGY_SERVICE_IDS`` report a name that is in the
    schema but in no mapping table.
    """

    thread_name = "sonar-v2-simulator"

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
        super().__init__(self._app, host, port)

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
