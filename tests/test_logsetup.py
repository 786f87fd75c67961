"""Credential masking in log lines, and console lines that do not garble a progress bar."""

from __future__ import annotations

import base64
import io
import logging

import pytest
from tqdm import tqdm

from sonar_bdc.logsetup import TqdmHandler, redact, setup_logging
from sonar_bdc.settings import Settings

# Ordinary lines that hold a one-letter and a common-word password as plain text.
ORDINARY = [
    "subscription files of 2026-06-30 (detail imported 2026-06-29, a day before)",
    "store: prefix='sonar.' (schema sonar), 4000 accounts in sonar.customers",
    "Import summary: customers listed 4000, deleted in Sonar 0",
]


def test_redacts_headers_url_passwords_and_connection_strings() -> None:
    assert "dXNlcjpwYXNz" not in redact("headers {'Authorization': 'Basic dXNlcjpwYXNz'}")
    assert redact("Authorization: Bearer tok123") == "Authorization: Bearer ***"
    assert redact("postgresql://bob:pw@db/x") == "postgresql://bob:***@db/x"
    assert redact("host=db user=bob password='p w\\'x' dbname=d") == (
        "host=db user=bob password=*** dbname=d"
    )
    assert redact("PGPASSWORD=pw psql") == "PGPASSWORD=*** psql"
    assert redact("{'user': 'bob', 'password': 'pw'}") == "{'user': 'bob', 'password': ***}"
    assert redact('{"sonar_token": "abc.def"}') == '{"sonar_token": ***}'
    assert redact("Cookie: laravel_session=abc; XSRF-TOKEN=x") == "Cookie: ***"


@pytest.mark.parametrize("password", ["a", "sonar"])
def test_a_short_or_common_password_masks_credentials_only(password: str) -> None:
    for line in ORDINARY:
        assert redact(line) == line  # nothing masked, nothing revealed
    basic = base64.b64encode(f"bob:{password}".encode()).decode()
    for line in (
        f"GET https://bob:{password}@sonar.example.com/api/v1/accounts",
        f"headers {{'Authorization': 'Basic {basic}'}}",
        f"connecting with host=db user=bob password={password} dbname=propagation",
        f"postgresql://bob:{password}@db:5432/propagation",
        f"PGPASSWORD={password} psql",
        f"{{'host': 'db', 'password': '{password}'}}",
    ):
        masked = redact(line)
        assert "***" in masked
        secret_free = masked.replace("sonar.example.com", "").replace("propagation", "")
        assert f":{password}@" not in masked and basic not in masked
        assert f"={password}" not in secret_free and f"'{password}'" not in secret_free


@pytest.mark.parametrize("password", ["a", "sonar"])
def test_settings_repr_never_shows_a_secret(password: str) -> None:
    settings = Settings(
        prefix="sonar.", sonar_password=f"{password}-1", postgres_password=f"{password}-2",
        sonar_token=f"{password}-3",
    )  # fmt: skip
    text = repr(settings)
    assert "prefix='sonar.'" in text
    for secret in (f"{password}-1", f"{password}-2", f"{password}-3"):
        assert secret not in text
    for name in ("sonar_password", "postgres_password", "sonar_token"):
        assert name not in text


def test_a_line_logged_while_a_bar_is_drawn_goes_through_tqdm_write() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    handler = TqdmHandler(terminal)
    logger = logging.getLogger("sonar_bdc.test_tqdm")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with tqdm(total=10, desc="customers", file=terminal, mininterval=0) as bar:
            bar.update(3)
            before = terminal.getvalue()
            logger.warning("customer 7 failed")
            written = terminal.getvalue()[len(before) :]
    finally:
        logger.removeHandler(handler)
    # The bar is cleared (carriage return) before the line, which ends with a newline,
    # and drawn again after it: the line never lands on the bar's line.
    head, line, tail = written.partition("customer 7 failed\n")
    assert line and head.startswith("\r") and head.rstrip(" ").endswith("\r")
    assert "customers:" in tail and "3/10" in tail


def test_log_file_never_holds_the_secret(tmp_path) -> None:
    log_file = tmp_path / "bdc_import.log"
    logger = setup_logging(verbose=True, log_file=str(log_file))
    try:
        raise RuntimeError("connect to postgresql://bob:s3cr3t@db/x failed")
    except RuntimeError as exc:
        logger.error("boom %s", "host=db password=s3cr3t", exc_info=exc)
    for handler in logger.handlers:
        handler.flush()
    text = log_file.read_text()
    assert "boom host=db password=***" in text and "RuntimeError" in text
    assert "s3cr3t" not in text
    setup_logging(False, None)
    logging.getLogger("sonar_bdc").handlers.clear()


def test_library_warnings_go_to_the_log_file_not_the_console(tmp_path, capsys) -> None:
    log_file = tmp_path / "bdc_import.log"
    setup_logging(verbose=False, log_file=str(log_file))
    logging.getLogger("psycopg").warning("error ignored terminating <psycopg.Pipeline [BAD]>")
    for handler in logging.getLogger("psycopg").handlers:
        handler.flush()
    assert "error ignored" not in capsys.readouterr().err
    assert "error ignored" in log_file.read_text()
    setup_logging(False, None)


def test_the_error_line_on_stderr_is_masked_as_in_the_log_file(capsys) -> None:
    from sonar_bdc.cli import _tell

    _tell(
        "sonar-bdc: error: cannot reach https://admin:hunter2-secret@sonar.example.com/", None, []
    )
    err = capsys.readouterr().err  # what cron mails
    assert "hunter2-secret" not in err
    assert "sonar.example.com" in err
