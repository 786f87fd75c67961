"""Settings precedence and validation: pure functions, no database."""

from __future__ import annotations

import pytest

from sonar_bdc.cli import build_parser, settings_from_args
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
    assert set(s.secrets()) == {"pg-secret", "sonar-secret"}


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
