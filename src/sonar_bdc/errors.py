"""One exception tree, sorted by what the caller does next.

Every message is meant for a user: it names the culprit and, where there is one,
the setting to change. Foreign exceptions (pycurl, psycopg) are translated at the
module boundary with ``raise ... from exc`` so the cause survives for ``-v``.
"""

from __future__ import annotations

# The exit codes, each with its meaning: README's "Exit codes" table is checked
# against this mapping by a test, so the two cannot drift apart.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 75  # EX_TEMPFAIL (sysexits.h): try again later
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_FAILED: (
        "the run finished but some customers failed; a filing refused by a check; "
        "status: not ready to file"
    ),
    EXIT_CONFIG: "configuration or environment error (one line says what to fix)",
    EXIT_LOCKED: "another sonar-bdc import holds the run lock of this prefix: try again later",
    EXIT_INTERRUPTED: "interrupted with Ctrl-C (completed work is committed)",
    EXIT_TERMINATED: "stopped by SIGTERM (completed work is committed, as for Ctrl-C)",
}


class SonarBdcError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = EXIT_FAILED


class ConfigError(SonarBdcError):
    """A setting is missing or invalid: the user must fix configuration (exit 2)."""

    exit_code = EXIT_CONFIG


class SonarError(SonarBdcError):
    """Talking to Sonar failed."""


class SonarRetriableError(SonarError):
    """A transient fault (timeout, 429, 5xx, truncated body): worth retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SonarUnreachable(SonarRetriableError):
    """Nothing answered at the configured address (a refused port, http to a TLS port):
    retried, as the instance may be restarting."""


class SonarRetriesExhausted(SonarError):
    """A retriable fault persisted past the retry budget."""


class SonarConnectionFailed(SonarRetriesExhausted):
    """Sonar cannot be reached as configured: never answered within the retries, or at
    once for what no retry can mend (a host name that does not resolve, TLS refused)."""

    exit_code = EXIT_CONFIG


class SonarAuthError(SonarError):
    """Sonar refused our credentials (401/403 or a refused login): never retried."""

    exit_code = EXIT_CONFIG


class SonarNotFound(SonarError):
    """The object is gone (404): for an account detail, the account was deleted."""


class SonarDataError(SonarError):
    """Sonar answered with data we cannot interpret safely (e.g. an unknown report layout)."""

    exit_code = EXIT_CONFIG


class StoreError(SonarBdcError):
    """The database failed or refused an operation."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or is not set up (exit 2)."""

    exit_code = EXIT_CONFIG


class PrefixTaken(StoreUnavailable):
    """Tables at the prefix belong to another application: choose another -p (exit 2)."""


class RunLocked(StoreError):
    """Another import holds the prefix's run lock: nothing was done, try later (exit 75)."""

    exit_code = EXIT_LOCKED


class FilingValidationError(SonarBdcError):
    """A BDC filing failed a check before writing: nothing was written (exit 1)."""


class FabricFileError(ConfigError):
    """A Fabric file a load cannot take (not a Fabric file, a missing column, a damaged
    ZIP, a rejected id, mixed releases): nothing was changed (exit 2)."""


class FabricNotRecognised(FabricFileError):
    """A CSV whose header is no Fabric file's (skipped with a warning inside a ZIP)."""


class FabricRowsRefused(FabricFileError):
    """PostgreSQL refused a row of a Fabric file; the message names the row, never its
    values. The loader first asks its own row checks for the line and the reason."""


class FabricDuplicateLocation(FabricFileError):
    """One location_id on two rows of one load; the loader names the two lines."""

    def __init__(self, message: str, location_id: int) -> None:
        super().__init__(message)
        self.location_id = location_id
