"""What the v2 (GraphQL) client needs, checked once when it is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ...errors import ConfigError
from ..config import check_base_url

TOKEN_SETTING = "SONAR_TOKEN"
PAGE_SIZE = 100  # accounts per request: the size every client of the contract uses


@dataclass(frozen=True)
class GraphQLConfig:
    """Connection, retry and paging settings for one Sonar v2 instance.

    ``verify`` is True, a CA bundle path, or False. ``rate_limit`` is requests per
    second over all threads (None: no limit). ``workers`` pages are fetched at once.
    ``technology_names`` extends the built-in name table. The token never appears
    in ``repr``.
    """

    base_url: str
    token: str = field(repr=False)
    timeout: float = 30.0
    verify: bool | str = True
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    rate_limit: float | None = None
    workers: int = 4
    page_size: int = PAGE_SIZE
    technology_names: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        check_base_url(self.base_url)
        checks = [
            (bool(self.token.strip()), f"{TOKEN_SETTING} is empty: set a personal access token"),
            (self.timeout > 0, "SONAR_TIMEOUT must be more than 0 seconds"),
            (self.max_retries >= 0, "--max-retries must be 0 or more"),
            (self.initial_backoff >= 0, "--initial-backoff must be 0 or more"),
            (self.rate_limit is None or self.rate_limit > 0, "--rate-limit must be more than 0"),
            (self.workers >= 1, "-w/--workers must be at least 1"),
            (1 <= self.page_size <= 10_000, "the v2 page size must be within 1..10000"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
