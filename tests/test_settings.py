"""Settings precedence and validation: pure functions, no database."""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sonar_bdc.cli import build_parser, main, settings_from_args
from sonar_bdc.errors import ConfigError
from sonar_bdc.settings import Settings, load_settings


def test_defaults_are_the_design_documents() -> None:
    s = load_settings(environ={})
    assert (s.workers, s.batch_size, s.commit_interval, s.days, s.prefix) == (
        10,
        100,
        1000,
        7,
        "sonar.",
    )
    assert (s.max_retries, s.initial_backoff, s.force, s.limit) == (5, 1.0, False, None)
    assert (s.postgres_host, s.postgres_db, s.postgres_user, s.postgres_port) == (
        "localhost",
        "propagation",
        "propagation",
        5432,
    )


def test_flag_beats_environment_beats_env_file(tmp_path, monkeypatch) -> None:
    env_file = tmp_path / "prod.env"
    env_file.write_text("POSTGRES_DB=from_file\nPOSTGRES_USER=file_user\nSONAR_HOST=file.example\n")
    s = load_settings(
        {"prefix": "bdc_"}, env_file=str(env_file), environ={"POSTGRES_DB": "from_env"}
    )
    assert s.postgres_db == "from_env"
    assert s.postgres_user == "file_user"
    assert s.sonar_host == "file.example"
    assert s.prefix == "bdc_"


def test_dotenv_in_working_directory_is_read(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SONAR_USERNAME=alice\n")
    assert load_settings(environ={}).sonar_username == "alice"


def test_missing_env_file_named_on_command_line_is_an_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(env_file=str(tmp_path / "missing.env"), environ={})


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"POSTGRES_PORT": "five"}, "POSTGRES_PORT"),
        ({"POSTGRES_PORT": "70000"}, "POSTGRES_PORT"),
        ({"SONAR_PROTOCOL": "ftp"}, "SONAR_PROTOCOL"),
        ({"SONAR_TIMEOUT": "soon"}, "SONAR_TIMEOUT"),
        ({"SONAR_CA_BUNDLE": "/nonexistent/ca.pem"}, "SONAR_CA_BUNDLE"),
    ],
)
def test_bad_environment_values_name_the_variable(environ, match) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(environ=environ)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"workers": 0}, "--workers"),
        ({"days": -1}, "--days"),
        ({"rate_limit": 0}, "--rate-limit"),
        ({"inventory_only": True, "customers_only": True}, "exclude each other"),
    ],
)
def test_bad_options_name_the_option(overrides, match) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(overrides, environ={})


def test_passwords_are_masked_in_repr() -> None:
    s = Settings(postgres_password="pg-secret", sonar_password="sonar-secret")
    assert "pg-secret" not in repr(s) and "sonar-secret" not in repr(s)


def test_missing_sonar_credentials_are_named() -> None:
    with pytest.raises(ConfigError, match="SONAR_HOST, SONAR_USERNAME, SONAR_PASSWORD"):
        Settings().require_sonar_credentials()


def test_command_line_parses_the_design_documents_options(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        [
            "import",
            "-w",
            "20",
            "-b",
            "50",
            "-c",
            "500",
            "-f",
            "-d",
            "3",
            "-p",
            "bdc.",
            "-l",
            "100",
            "-v",
            "--inventory-only",
            "--max-retries",
            "2",
            "--initial-backoff",
            "0.5",
            "--report-layout",
            "B",
            "--rate-limit",
            "20",
            "--dry-run",
        ]
    )
    s = settings_from_args(args)
    assert (s.workers, s.batch_size, s.commit_interval, s.force, s.days) == (20, 50, 500, True, 3)
    assert (s.prefix, s.limit, s.verbose, s.inventory_only) == ("bdc.", 100, True, True)
    assert (s.max_retries, s.initial_backoff, s.report_layout) == (2, 0.5, "B")
    assert (s.rate_limit, s.dry_run) == (20, True)


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "-w", "many"],
        ["import", "--days", "x"],
        ["import", "--report-layout", "C"],
        ["import", "--inventory-only", "--customers-only"],
    ],
)
def test_bad_command_lines_exit_2(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0]


# --- the user's files and environment never reach a test (conftest) -----------------------

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "POSTGRES_HOST=127.0.0.9\nPOSTGRES_DB=hostile\nSONAR_HOST=hostile.example\n"


def test_the_suite_ignores_the_users_env_files_and_variables(tmp_path) -> None:
    """`cp .env.example .env`, a user-level .env and exported variables: the defaults
    test still passes, run by pytest from that directory."""
    home = tmp_path / "user"
    (home / "sonar-bdc").mkdir(parents=True)
    (home / "sonar-bdc" / ".env").write_text(HOSTILE)
    (tmp_path / ".env").write_text(HOSTILE)
    environ = {**os.environ, "XDG_CONFIG_HOME": str(home), "POSTGRES_USER": "hostile"}
    test = f"{ROOT / 'tests' / 'test_settings.py'}::test_defaults_are_the_design_documents"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), test],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_defaults_hold_with_no_arguments_at_all() -> None:
    """load_settings() as the CLI calls it: the process environment and the lookup."""
    s = load_settings()
    assert (s.postgres_host, s.postgres_db, s.sonar_host, s.env_file) == (
        "localhost", "propagation", None, None,
    )  # fmt: skip


# --- where .env is looked for ------------------------------------------------------------


def user_env(tmp_path: Path, text: str) -> dict[str, str]:
    """An environ whose ~/.config/sonar-bdc/.env holds ``text``."""
    (tmp_path / "home" / ".config" / "sonar-bdc").mkdir(parents=True)
    (tmp_path / "home" / ".config" / "sonar-bdc" / ".env").write_text(text)
    return {"HOME": str(tmp_path / "home")}


def test_env_file_beats_dotenv_beats_the_user_config_file(tmp_path) -> None:
    environ = user_env(tmp_path, "SONAR_USERNAME=from_home\n")
    home_file = tmp_path / "home" / ".config" / "sonar-bdc" / ".env"
    s = load_settings(environ=environ)
    assert (s.sonar_username, s.env_file) == ("from_home", str(home_file))
    (tmp_path / ".env").write_text("SONAR_USERNAME=from_cwd\n")
    assert load_settings(environ=environ).sonar_username == "from_cwd"
    (tmp_path / "prod.env").write_text("SONAR_USERNAME=from_flag\n")
    assert load_settings(env_file="prod.env", environ=environ).sonar_username == "from_flag"


def test_xdg_config_home_is_where_the_user_file_lives(tmp_path) -> None:
    (tmp_path / "xdg" / "sonar-bdc").mkdir(parents=True)
    (tmp_path / "xdg" / "sonar-bdc" / ".env").write_text("SONAR_USERNAME=xdg\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "nohome")}
    assert load_settings(environ=environ).sonar_username == "xdg"


def test_missing_credentials_name_the_env_files_looked_for(tmp_path) -> None:
    s = load_settings(environ={"HOME": str(tmp_path / "home")})
    with pytest.raises(ConfigError) as info:
        s.require_sonar_credentials()
    message = str(info.value)
    assert "SONAR_HOST, SONAR_USERNAME, SONAR_PASSWORD not set" in message
    assert str(tmp_path / ".env") in message
    assert str(tmp_path / "home" / ".config" / "sonar-bdc" / ".env") in message


def test_missing_credentials_name_the_env_file_that_was_read(tmp_path) -> None:
    (tmp_path / "prod.env").write_text("SONAR_HOST=sonar.example.com\n")
    s = load_settings(env_file="prod.env", environ={})
    wanted = f"SONAR_USERNAME, SONAR_PASSWORD not set: add them to {tmp_path / 'prod.env'} "
    with pytest.raises(ConfigError, match=re.escape(wanted)):
        s.require_sonar_credentials()


@pytest.mark.parametrize("where", ["--env-file", "./.env", "user"])
def test_an_env_file_that_is_not_utf8_is_one_line_naming_it(tmp_path, where) -> None:
    bad = b"SONAR_HOST=sonar.example.com\nSONAR_PASSWORD=caf\xe9\n"
    environ: dict[str, str] = {}
    if where == "user":
        environ = user_env(tmp_path, "")
        path = tmp_path / "home" / ".config" / "sonar-bdc" / ".env"
    else:
        path = tmp_path / ("prod.env" if where == "--env-file" else ".env")
    path.write_bytes(bad)
    with pytest.raises(ConfigError) as info:
        load_settings(env_file="prod.env" if where == "--env-file" else None, environ=environ)
    message = str(info.value)
    assert str(path) in message and "UTF-8" in message and "0xe9" in message
    assert "\n" not in message


def test_an_env_file_that_is_a_directory_is_one_line(tmp_path) -> None:
    (tmp_path / "conf").mkdir()
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(env_file="conf", environ={})


# --- where the log file goes -------------------------------------------------------------


def test_a_relative_log_file_goes_beside_the_env_file_used(tmp_path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "prod.env").write_text("SONAR_HOST=sonar.example.com\n")
    s = load_settings(env_file="etc/prod.env", environ={})
    assert s.log_file == str(tmp_path / "etc" / "bdc_import.log")
    s = load_settings({"log_file": "logs/run.log"}, env_file="etc/prod.env", environ={})
    assert s.log_file == str(tmp_path / "etc" / "logs" / "run.log")
    s = load_settings({"log_file": "/var/tmp/x.log"}, env_file="etc/prod.env", environ={})
    assert s.log_file == "/var/tmp/x.log"


def test_without_an_env_file_the_log_file_goes_in_the_working_directory(tmp_path) -> None:
    assert load_settings(environ={}).log_file == str(tmp_path / "bdc_import.log")


def test_a_log_file_in_the_root_directory_is_refused(monkeypatch) -> None:
    monkeypatch.chdir("/")
    s = load_settings(environ={})  # a bdc command, which keeps no log file, may run from /
    with pytest.raises(
        ConfigError, match=re.escape("--log-file bdc_import.log would be written in /")
    ):
        s.require_log_file()
    load_settings({"log_file": "/tmp/x.log"}, environ={}).require_log_file()


def test_an_import_from_the_root_directory_exits_2_naming_the_log_file(monkeypatch, capsys) -> None:
    monkeypatch.chdir("/")
    monkeypatch.setenv("SONAR_HOST", "sonar.example.com")
    assert main(["import"]) == 2
    assert "--log-file bdc_import.log would be written in /" in capsys.readouterr().err
    assert not Path("/bdc_import.log").exists()


# --- numbers that would overflow later --------------------------------------------------


@pytest.mark.parametrize("days", ["inf", "1e308", "100000000", "nan", "-1", "36501"])
def test_days_out_of_range_is_refused_before_anything_runs(days) -> None:
    args = build_parser().parse_args(["import", "-d", days])
    with pytest.raises(ConfigError, match=r"-d/--days must be a number of days from 0 to 36500"):
        settings_from_args(args)


def test_a_century_of_days_is_accepted() -> None:
    assert load_settings({"days": 36500}, environ={}).days == 36500


@pytest.mark.parametrize(
    ("overrides", "environ", "match"),
    [
        ({"initial_backoff": math.inf}, {}, "--initial-backoff"),
        ({"rate_limit": math.nan}, {}, "--rate-limit"),
        ({}, {"SONAR_RATE_LIMIT": "inf"}, "SONAR_RATE_LIMIT"),
        ({}, {"SONAR_TIMEOUT": "nan"}, "SONAR_TIMEOUT"),
        ({}, {"SONAR_TIMEOUT": "1e308"}, "SONAR_TIMEOUT"),
    ],
)
def test_infinite_or_nan_numbers_are_refused(overrides, environ, match) -> None:
    with pytest.raises(ConfigError, match=match):
        load_settings(overrides, environ=environ)


# --- SONAR_HOST's form -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "protocol", "expected"),
    [
        ("sonar.example.com", None, ("https", "sonar.example.com")),
        ("sonar.example.com:8443", None, ("https", "sonar.example.com:8443")),
        ("  sonar.example.com  ", None, ("https", "sonar.example.com")),
        ("127.0.0.1:8080", "http", ("http", "127.0.0.1:8080")),
        ("[::1]:8080", None, ("https", "[::1]:8080")),
        ("https://sonar.example.com", None, ("https", "sonar.example.com")),
        ("https://sonar.example.com/", None, ("https", "sonar.example.com")),
        ("HTTP://sonar.example.com:81/", None, ("http", "sonar.example.com:81")),
        ("http://sonar.example.com", "http", ("http", "sonar.example.com")),
    ],
)
def test_sonar_host_accepts_a_host_a_port_or_a_pasted_address(host, protocol, expected) -> None:
    environ = {"SONAR_HOST": host, **({"SONAR_PROTOCOL": protocol} if protocol else {})}
    s = load_settings(environ=environ)
    assert (s.sonar_protocol, s.sonar_host) == expected


@pytest.mark.parametrize(
    ("host", "protocol", "match"),
    [
        ("http://sonar.example.com", "https", "SONAR_HOST says http:// but SONAR_PROTOCOL=https"),
        ("sonar example.com", None, "not a host name"),
        ("sonar.example.com/api/v1", None, "has a path"),
        ("https://sonar.example.com/login", None, "has a path"),
        ("sonar.example.com?tab=1", None, "has a query"),
        ("admin:hunter2@sonar.example.com", None, "must not contain a user name or password"),
        ("sonar.example.com:", None, "no port after ':'"),
        ("sonar.example.com:https", None, "port 'https'"),
        ("sonar.example.com:0", None, "port '0' after ':'"),
        ("sonar.example.com:²", None, "port '²' after ':'"),
        ("example.sonar.software", None, "the example from .env.example"),
        ("https://example.sonar.software/", None, "the example from .env.example"),
        ("ftp://sonar.example.com", None, "starts with ftp://"),
        ("sonar_example.com;rm", None, "not a host name"),
    ],
)
def test_sonar_host_mistakes_are_one_line_naming_it(host, protocol, match) -> None:
    environ = {"SONAR_HOST": host, **({"SONAR_PROTOCOL": protocol} if protocol else {})}
    with pytest.raises(ConfigError, match=re.escape(match)) as info:
        load_settings(environ=environ)
    assert "SONAR_HOST" in str(info.value) and "\n" not in str(info.value)
    assert "hunter2" not in str(info.value)


def test_a_pasted_address_and_a_different_protocol_in_dotenv_conflict(tmp_path) -> None:
    (tmp_path / ".env").write_text("SONAR_PROTOCOL=https\nSONAR_HOST=http://sonar.lan\n")
    with pytest.raises(ConfigError, match="SONAR_PROTOCOL=https"):
        load_settings(environ={})


def test_a_pasted_address_works_in_env_example_as_copied(tmp_path) -> None:
    example = (ROOT / ".env.example").read_text()
    assert "SONAR_HOST=example.sonar.software" in example
    (tmp_path / ".env").write_text(
        example.replace("SONAR_HOST=example.sonar.software", "SONAR_HOST=http://sonar.lan:8080/")
    )
    s = load_settings(environ={})
    assert (s.sonar_protocol, s.sonar_host) == ("http", "sonar.lan:8080")


def test_env_example_as_copied_names_the_example_host() -> None:
    Path(".env").write_text((ROOT / ".env.example").read_text())
    with pytest.raises(ConfigError, match=re.escape("example.sonar.software, the example")):
        load_settings(environ={})


def test_every_days_option_checks_the_one_range(monkeypatch) -> None:
    from sonar_bdc import settings
    from sonar_bdc.bdc.cli_args import parse_days

    monkeypatch.setattr(settings, "MAX_DAYS", 10)
    with pytest.raises(ConfigError, match="-d/--days"):
        load_settings({"days": 11}, environ={})
    with pytest.raises(argparse.ArgumentTypeError):
        parse_days("11")


def test_the_command_line_loads_without_the_database_driver() -> None:
    """``--help`` stays fast: psycopg is imported only by a command that needs it."""
    code = "import sys, sonar_bdc.cli; print(sorted(m for m in sys.modules if 'psycopg' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
