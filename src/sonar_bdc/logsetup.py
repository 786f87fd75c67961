"""Logging to the console and a rotated log file, with secrets redacted.

Secrets never reach a log call on purpose; the redacting filter is a second
line of defence for messages built by libraries (URLs, exception texts).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from collections.abc import Iterable

from .errors import ConfigError

LOGGER_NAME = "sonar_bdc"
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)\s+[^\s'\",}]+")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


class RedactFilter(logging.Filter):
    """Replace known secret values and credential-looking fragments with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _AUTH_HEADER.sub(r"\1\2 ***", text)
        return _URL_PASSWORD.sub(r"\1***@", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def setup_logging(
    verbose: bool, log_file: str | None, secrets: Iterable[str] = ()
) -> logging.Logger:
    """Console at INFO (DEBUG with -v), file at DEBUG, both redacted."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    redact = RedactFilter(secrets)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.INFO)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    handlers: list[logging.Handler] = [console]
    if log_file:
        try:
            file = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError as exc:
            raise ConfigError(
                f"--log-file {log_file}: {exc.strerror}; choose a writable path "
                "(under cron, the working directory may not be writable)"
            ) from exc
        file.setLevel(logging.DEBUG)
        file.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
        )
        handlers.append(file)
    for handler in handlers:
        handler.addFilter(redact)
        logger.addHandler(handler)
    _quiet_libraries(handlers[1:])
    return logger


def _quiet_libraries(file_handlers: list[logging.Handler]) -> None:
    """Libraries' own log lines (psycopg's "error ignored ..." after a lost connection)
    go to the log file only: the console keeps its one clear line per problem."""
    for name in ("psycopg",):
        library = logging.getLogger(name)
        for handler in list(library.handlers):
            library.removeHandler(handler)
        for handler in file_handlers:
            library.addHandler(handler)
        library.propagate = False
        if not file_handlers:
            library.addHandler(logging.NullHandler())
