"""The import pipeline: Sonar -> PostgreSQL, one run skeleton and one module per API.

``run`` is the skeleton every source shares (login, schema, run lock, the run record,
the end of a run); ``v1`` (REST and the report, with ``fetching`` and ``bulk_inventory``)
and ``v2`` (GraphQL) each import their data within it. Neither source imports the
other: both import ``run``, and only this module chooses between them.
"""

from __future__ import annotations

from ..settings import Settings
from .run import Source, session
from .summary import Summary
from .v1 import V1Source

__all__ = ["Summary", "run_import"]


def run_import(settings: Settings, *, show_progress: bool = True, demo: bool = False) -> Summary:
    """Run one import as ``settings`` says and return its summary.

    Configuration and environment problems raise ConfigError/StoreUnavailable/
    SonarAuthError before anything is written. Ctrl-C commits what is complete and
    returns a summary marked interrupted. Only the demo (``demo=True``) may write to a
    prefix that holds the demo's simulated customers.
    """
    settings.require_sonar_credentials()
    source: Source
    if settings.api == "v2":
        from .v2 import V2Source  # GraphQL's modules load only for a v2 run

        source = V2Source.from_settings(settings)
    else:
        source = V1Source.from_settings(settings)
    return session(settings, source, show_progress, demo)
