""":class:`GraphQLSimulator`: the v1 ``Simulator``'s plumbing (``server.BackgroundServer``
on a keep-alive ``ThreadingHTTPServer``) serving the GraphQL app.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sonar_bdc.errors import ConfigError
from sonar_bdc.simulator.faults import FaultInjector, Faults
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.simulator.server import BackgroundServer
from sonar_bdc.simulator.v2.app import PATH, GraphQLApp
from sonar_bdc.simulator.v2.relations import attach
from sonar_bdc.simulator.v2.schema import build
from sonar_bdc.simulator.v2.store import EntityStore


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not token:
            raise ConfigError("simulator token must not be empty")
        if nested_limit is not None and nested_limit < 1:
            raise ConfigError(f"simulator nested_limit must be 1 or more, got {nested_limit}")
        injector = FaultInjector(faults or Faults(), clock)
        self._store = EntityStore(dataset, unknown_technology)
        schema = attach(build(unknown_technology))
        app = GraphQLApp(self._store, schema, token, injector, nested_limit)
        super().__init__(app, injector, host, port)

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
    def app(self) -> GraphQLApp:
        """The app itself: ``app.execute(query)`` runs a query without HTTP or faults."""
        return self._app

    def fail_next_with_errors(self, count: int = 1) -> None:
        """The next ``count`` authorized GraphQL requests answer ``Internal server error``."""
        self._app.fail_next_with_errors(count)

    def banner(self) -> str:
        return (
            f"Sonar v2 (GraphQL) simulator on {self.url} ({len(self.dataset.accounts)} "
            f"accounts)\n  Authorization: Bearer {self.token}"
        )

    def __repr__(self) -> str:
        where = self.base_url if self._server else "stopped"
        return f"GraphQLSimulator({where}, accounts={len(self.dataset.accounts)})"
