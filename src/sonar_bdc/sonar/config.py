"""What every Sonar client needs to know, checked once when its config is built.

``ConnectionConfig`` holds the settings both API versions share (address, TLS,
timeout, retries, rate limit) and their one check list; ``v1.SonarConfig`` and
``v2.GraphQLConfig`` add their own fields and checks to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import KW_ONLY, dataclass
from urllib.parse import urlsplit

from ..errors import ConfigError

HOST_SETTINGS = "SONAR_HOST and SONAR_PROTOCOL"
CREDENTIAL_SETTINGS = "SONAR_USERNAME and SONAR_PASSWORD"
CA_BUNDLE_SETTING = "SONAR_CA_BUNDLE"

Check = tuple[bool, str]  # (the value is valid, the message when it is not)


@dataclass(frozen=True)
class ConnectionConfig:
    """Connection and retry settings for one Sonar instance.

    ``verify`` is True (system CAs), a CA bundle path, or False (off; logged
    loudly). ``rate_limit`` is requests per second over all threads, None for no
    limit. Every field after ``base_url`` is keyword-only, so a subclass's own
    fields (credentials) follow ``base_url`` when given by position.
    """

    base_url: str
    _: KW_ONLY
    timeout: float = 30.0
    verify: bool | str = True
    max_retries: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    rate_limit: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        check_base_url(self.base_url)
        raise_first(self.checks())

    def checks(self) -> list[Check]:
        """The checks of the shared settings; a subclass adds its own after them."""
        return [
            (self.timeout > 0, "SONAR_TIMEOUT must be more than 0 seconds"),
            (self.max_retries >= 0, "--max-retries must be 0 or more"),
            (self.initial_backoff >= 0, "--initial-backoff must be 0 or more"),
            (self.max_backoff >= 0, "the maximum backoff must be 0 or more"),
            (self.rate_limit is None or self.rate_limit > 0, "--rate-limit must be more than 0"),
        ]


def raise_first(checks: Iterable[Check]) -> None:
    """ConfigError with the message of the first check that failed."""
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def check_base_url(url: str) -> None:
    # The URL itself is never echoed: it could carry a password in its user part.
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"SONAR_PROTOCOL must be http or https (got {parts.scheme!r})")
    if not parts.hostname:
        raise ConfigError(f"SONAR_HOST is empty or invalid: check {HOST_SETTINGS}")
    if parts.username or parts.password:
        raise ConfigError(
            f"SONAR_HOST must not contain a user name or password: use {CREDENTIAL_SETTINGS}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"SONAR_HOST has an invalid port: check {HOST_SETTINGS}") from None
