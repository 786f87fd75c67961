"""Logging to the console and a rotated log file, with credentials masked.

Secrets never reach a log call on purpose; the masking filter is a second line of
defence for messages built by libraries (URLs, headers, connection strings). It
masks credentials where they stand, by their form, never by searching every line
for a secret's text: a one-letter or common-word password would otherwise turn
ordinary words into ``***`` and show where the password's letters occur.

On a terminal, console lines go through ``tqdm.write``, which clears the progress
bar, prints the line and draws the bar again below it.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from .errors import ConfigError

if TYPE_CHECKING:  # generic in typeshed; subscriptable at run time only from Python 3.11
    _StreamHandler = logging.StreamHandler[TextIO]
else:
    _StreamHandler = logging.StreamHandler

LOGGER_NAME = "sonar_bdc"
MASK = "***"
_QUOTED_OR_BARE = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s'",;&}]+)"""
# Authorization: Basic xyz / Bearer xyz; also as a dict or JSON entry.
_AUTH_HEADER = re.compile(
    r"""(?i)((?:proxy-)?authorization['"]?\s*[:=]\s*['"]?)"""
    r"""(basic|bearer|digest|token|negotiate|ntlm)\s+[^\s'",}]+"""
)
_COOKIE_HEADER = re.compile(r"""(?i)(\bcookie['"]?\s*[:=]\s*['"]?)[^'"\n}]+""")
# scheme://user:password@host (any scheme: https, postgresql, ...).
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s/]+@")
# password=..., PGPASSWORD=..., 'sonar_token': '...', api_key: ... (settings dumps,
# libpq conninfo, environment listings, dict and JSON reprs).
_KEY_VALUE = re.compile(
    r"""(?i)([\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key)['"]?\s*[:=]\s*)"""
    + _QUOTED_OR_BARE
)


def redact(text: str) -> str:
    """``text`` with credentials masked where they stand; everything else untouched."""
    text = _AUTH_HEADER.sub(rf"\1\2 {MASK}", text)
    text = _COOKIE_HEADER.sub(rf"\1{MASK}", text)
    text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    return _KEY_VALUE.sub(rf"\1{MASK}", text)


class RedactFilter(logging.Filter):
    """Masks credentials (see ``redact``) in each record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class TqdmHandler(_StreamHandler):
    """A console handler that writes through ``tqdm.write``: a line logged while a bar
    is drawn clears the bar, prints on a line of its own, and the bar is drawn again."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        # Without a stream of its own, standard error of the moment: a handler set up
        # once outlives a replaced sys.stderr (an in-process caller's, pytest's capture)
        # and must not write to a closed one.
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        try:
            tqdm.write(self.format(record), file=self.stream)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def setup_logging(verbose: bool, log_file: str | None) -> logging.Logger:
    """Console at INFO (DEBUG with -v), file at DEBUG, both with credentials masked."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    console = TqdmHandler()
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
    masking = RedactFilter()
    for handler in handlers:
        handler.addFilter(masking)
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
