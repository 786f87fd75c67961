"""One typed Settings object, filled in one documented order.

Order of precedence: command line > process environment > ``.env`` file > default.
This is the only module that reads ``os.environ``. Secrets are masked in ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .errors import ConfigError

REPORT_LAYOUTS = ("auto", "A", "B")
APIS = ("v1", "v2")
V2_DEFAULT_RATE_LIMIT = 400 / 60  # Sonar v2: 400 requests per minute per user


def _secret() -> Any:
    return field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    # Import behaviour: the design document's options and defaults.
    workers: int = 10
    batch_size: int = 100
    commit_interval: int = 1000
    force: bool = False
    days: float = 7.0
    prefix: str = "sonar."
    limit: int | None = None
    verbose: bool = False
    inventory_only: bool = False
    customers_only: bool = False
    max_retries: int = 5
    initial_backoff: float = 1.0
    report_layout: str = "auto"
    rate_limit: float | None = None
    dry_run: bool = False
    log_file: str = "bdc_import.log"
    # PostgreSQL (POSTGRES_*).
    postgres_host: str = "localhost"
    postgres_port: int = 5432
    postgres_db: str = "propagation"
    postgres_user: str = "propagation"
    postgres_password: str | None = _secret()
    # Sonar (SONAR_*).
    api: str = "v1"
    sonar_token: str | None = _secret()
    technology_names: str | None = None  # v2: extra "NAME=code, ..." for TechnologyCode names
    sonar_protocol: str = "https"
    sonar_host: str | None = None
    sonar_username: str | None = None
    sonar_password: str | None = _secret()
    sonar_ca_bundle: str | None = None
    sonar_timeout: float = 30.0

    @property
    def sonar_base_url(self) -> str:
        if not self.sonar_host:
            raise ConfigError(
                "SONAR_HOST is not set: put your Sonar host name in .env or the environment"
            )
        return f"{self.sonar_protocol}://{self.sonar_host}"

    def postgres_conninfo(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "dbname": self.postgres_db,
            "user": self.postgres_user,
        }
        if self.postgres_password:
            info["password"] = self.postgres_password
        return info

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line or message."""
        return [s for s in (self.postgres_password, self.sonar_password, self.sonar_token) if s]

    @property
    def effective_rate_limit(self) -> float | None:
        """--rate-limit, or Sonar v2's documented 400/min when talking to v2."""
        if self.rate_limit is not None:
            return self.rate_limit
        return V2_DEFAULT_RATE_LIMIT if self.api == "v2" else None

    def require_sonar_credentials(self) -> None:
        if self.api == "v2":
            needed = (("SONAR_HOST", self.sonar_host), ("SONAR_TOKEN", self.sonar_token))
        else:
            needed = (
                ("SONAR_HOST", self.sonar_host),
                ("SONAR_USERNAME", self.sonar_username),
                ("SONAR_PASSWORD", self.sonar_password),
            )
        missing = [name for name, value in needed if not value]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} not set: add them to .env (or the environment); "
                "see README 'Environment variables'"
            )


# Environment variable -> Settings field. Only these are read from the environment.
ENV_FIELDS = {
    "POSTGRES_HOST": "postgres_host",
    "POSTGRES_PORT": "postgres_port",
    "POSTGRES_DB": "postgres_db",
    "POSTGRES_USER": "postgres_user",
    "POSTGRES_PASSWORD": "postgres_password",
    "SONAR_PROTOCOL": "sonar_protocol",
    "SONAR_HOST": "sonar_host",
    "SONAR_USERNAME": "sonar_username",
    "SONAR_PASSWORD": "sonar_password",
    "SONAR_API": "api",
    "SONAR_TOKEN": "sonar_token",
    "SONAR_TECHNOLOGY_NAMES": "technology_names",
    "SONAR_CA_BUNDLE": "sonar_ca_bundle",
    "SONAR_TIMEOUT": "sonar_timeout",
    "SONAR_REPORT_LAYOUT": "report_layout",
    "SONAR_RATE_LIMIT": "rate_limit",
}
_FIELD_TO_ENV = {v: k for k, v in ENV_FIELDS.items()}
_TYPES = {f.name: f.type for f in fields(Settings)}


def read_env_file(env_file: str | None) -> dict[str, str]:
    """Values from ``env_file`` (must exist), or from ./.env when present."""
    if env_file is not None:
        path = Path(env_file)
        if not path.is_file():
            raise ConfigError(f"--env-file {env_file}: no such file")
    else:
        path = Path(".env")
        if not path.is_file():
            return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def _convert(name: str, raw: str | Any, source: str) -> Any:
    """Convert a string from the environment to the field's type, with a clear error."""
    if not isinstance(raw, str):
        return raw
    kind = _TYPES[name]
    try:
        if "int" in kind and "float" not in kind:
            return None if raw == "" and "None" in kind else int(raw)
        if "float" in kind:
            return None if raw == "" and "None" in kind else float(raw)
        if "bool" in kind:
            return raw.strip().lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise ConfigError(f"{source}={raw!r} is not a valid number") from None
    return raw if raw != "" or "None" not in kind else None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings: ``overrides`` (command line, None = not given) > environment > .env."""
    environ = os.environ if environ is None else environ
    merged = {**read_env_file(env_file), **environ}
    values: dict[str, Any] = {}
    for env_name, field_name in ENV_FIELDS.items():
        if env_name in merged:
            values[field_name] = _convert(field_name, merged[env_name], env_name)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    """Refuse values that cannot work, naming the option or variable to fix."""
    checks = [
        (s.workers >= 1, "-w/--workers must be at least 1"),
        (s.batch_size >= 1, "-b/--batch-size must be at least 1"),
        (s.commit_interval >= 1, "-c/--commit-interval must be at least 1"),
        (s.days >= 0, "-d/--days must be 0 or more"),
        (s.limit is None or s.limit >= 0, "-l/--limit must be 0 or more"),
        (s.max_retries >= 0, "--max-retries must be 0 or more"),
        (s.initial_backoff >= 0, "--initial-backoff must be 0 or more"),
        (s.rate_limit is None or s.rate_limit > 0, "--rate-limit must be more than 0"),
        (s.report_layout in REPORT_LAYOUTS, "--report-layout must be auto, A or B"),
        (s.api in APIS, "--api / SONAR_API must be v1 or v2"),
        (s.sonar_protocol in ("http", "https"), "SONAR_PROTOCOL must be http or https"),
        (s.sonar_timeout > 0, "SONAR_TIMEOUT must be more than 0 seconds"),
        (1 <= s.postgres_port <= 65535, "POSTGRES_PORT must be a port number (1-65535)"),
        (
            not (s.inventory_only and s.customers_only),
            "--inventory-only and --customers-only exclude each other",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    if s.sonar_ca_bundle and not Path(s.sonar_ca_bundle).is_file():
        raise ConfigError(f"SONAR_CA_BUNDLE={s.sonar_ca_bundle}: no such file")


def env_name(field_name: str) -> str | None:
    """The environment variable that sets ``field_name``, if any."""
    return _FIELD_TO_ENV.get(field_name)
