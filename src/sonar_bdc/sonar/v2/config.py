"""What the v2 (GraphQL) client needs beyond the shared connection settings, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..config import Check, ConnectionConfig

TOKEN_SETTING = "SONAR_TOKEN"
PAGE_SIZE = 100  # accounts per request: the size every client of the contract uses


@dataclass(frozen=True)
class GraphQLConfig(ConnectionConfig):
    """Connection, retry and paging settings for one Sonar v2 instance.

    ``workers``: pages fetched at once (the connection pool holds one more).
    ``technology_names`` extends the built-in name table. The token never appears
    in ``repr``.
    """

    token: str = field(repr=False)
    workers: int = 4
    page_size: int = PAGE_SIZE
    technology_names: Mapping[str, int] = field(default_factory=dict)

    def checks(self) -> list[Check]:
        return [
            (bool(self.token.strip()), f"{TOKEN_SETTING} is empty: set a personal access token"),
            *super().checks(),
            (self.workers >= 1, "-w/--workers must be at least 1"),
            (1 <= self.page_size <= 10_000, "the v2 page size must be within 1..10000"),
        ]
