"""One exception tree, sorted by what the caller does next.

Every message is meant for a user: it names the culprit and, where there is one,
the setting to change. Foreign exceptions (pycurl, psycopg) are translated at the
module boundary with ``raise ... from exc`` so the cause survives for ``-v``.
"""

from __future__ import annotations


class SonarBdcError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(SonarBdcError):
    """A setting is missing or invalid: the user must fix configuration (exit 2)."""

    exit_code = 2


class SonarError(SonarBdcError):
    """Talking to Sonar failed."""


class SonarRetriableError(SonarError):
    """A transient fault (timeout, 429, 5xx, truncated body): worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SonarUnreachable(SonarRetriableError):
    """Nothing answered at the configured address (DNS, refused port, http to a TLS port)."""


class SonarRetriesExhausted(SonarError):
    """A retriable fault persisted past the retry budget."""


class SonarConnectionFailed(SonarRetriesExhausted):
    """Sonar cannot be reached as configured (never answered, or TLS refused): exit 2."""

    exit_code = 2


class SonarAuthError(SonarError):
    """Sonar refused our credentials (401/403 or a refused login): never retried."""

    exit_code = 2


class SonarNotFound(SonarError):
    """The object is gone (404): for an account detail, the account was deleted."""


class SonarDataError(SonarError):
    """Sonar answered with data we cannot interpret safely (e.g. an unknown report layout)."""

    exit_code = 2


class StoreError(SonarBdcError):
    """The database failed or refused an operation."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is not set up (exit 2)."""

    exit_code = 2


class FilingValidationError(SonarBdcError):
    """A BDC filing failed a check before writing: nothing was written (exit 1)."""
