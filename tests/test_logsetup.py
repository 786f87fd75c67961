"""The redacting log filter: secrets never reach a handler."""

from __future__ import annotations

import logging

from sonar_bdc.logsetup import RedactFilter, setup_logging


def test_redacts_known_secrets_headers_and_url_passwords() -> None:
    f = RedactFilter(["hunter2"])
    assert f.redact("login failed for hunter2") == "login failed for ***"
    assert "dXNlcjpwYXNz" not in f.redact("headers {'Authorization': 'Basic dXNlcjpwYXNz'}")
    assert "tok123" not in f.redact("Authorization: Bearer tok123")
    assert f.redact("postgresql://bob:pw@db/x") == "postgresql://bob:***@db/x"


def test_log_file_never_holds_the_secret(tmp_path) -> None:
    log_file = tmp_path / "bdc_import.log"
    logger = setup_logging(verbose=True, log_file=str(log_file), secrets=["s3cr3t"])
    try:
        raise RuntimeError("connect failed with password s3cr3t")
    except RuntimeError as exc:
        logger.error("boom %s", "s3cr3t", exc_info=exc)
    for handler in logger.handlers:
        handler.flush()
    text = log_file.read_text()
    assert "boom ***" in text and "RuntimeError" in text
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
