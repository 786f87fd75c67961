"""One typed Settings object, filled in one documented order.

Order of precedence: command line > process environment > ``.env`` file > default.
The ``.env`` file is ``--env-file FILE``, else ``./.env``, else
``~/.config/sonar-bdc/.env`` (``$XDG_CONFIG_HOME/sonar-bdc/.env``); a relative log file
goes beside it, so cron and systemd runs do not write into ``/``. This is the only
module that reads ``os.environ``. Secrets are masked in ``repr``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .errors import ConfigError

REPORT_LAYOUTS = ("auto", "A", "B")
APIS = ("v1", "v2")
V2_DEFAULT_RATE_LIMIT = 400 / 60  # Sonar v2: 400 requests per minute per user
MAX_DAYS = 36500  # a century: more is a typo, and overflows date arithmetic
DEMO_PREFIX = "sonar_demo."  # the demo's own schema, never a real import's


def valid_days(days: float) -> bool:
    """Whether ``days`` is a usable age in days (0 to MAX_DAYS), for every -d option."""
    return math.isfinite(days) and 0 <= days <= MAX_DAYS


EXAMPLE_HOST = "example.sonar.software"  # what .env.example holds
USER_ENV_FILE = Path("sonar-bdc") / ".env"  # under $XDG_CONFIG_HOME or ~/.config


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
    # Where the variables came from: the .env file read (absolute) and those looked for.
    env_file: str | None = None
    env_files_searched: tuple[str, ...] = ()

    @property
    def sonar_base_url(self) -> str:
        if not self.sonar_host:
            raise ConfigError(
                "SONAR_HOST is not set: put your Sonar host name in .env or the environment"
            )
        return f"{self.sonar_protocol}://{self.sonar_host}"

    def postgres_conninfo(self) -> dict[str, str | int | None]:
        info: dict[str, str | int | None] = {
            "host": self.postgres_host,
            "port": self.postgres_port,
            "dbname": self.postgres_db,
            "user": self.postgres_user,
        }
        if self.postgres_password:
            info["password"] = self.postgres_password
        return info

    @property
    def effective_rate_limit(self) -> float | None:
        """--rate-limit, or Sonar v2's documented 400/min when talking to v2."""
        if self.rate_limit is not None:
            return self.rate_limit
        return V2_DEFAULT_RATE_LIMIT if self.api == "v2" else None

    def require_sonar_credentials(self) -> None:
        needed: tuple[tuple[str, str | None], ...]
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
                f"{', '.join(missing)} not set: {self._where_to_set()}; "
                "see README 'Environment variables'"
            )

    def require_log_file(self) -> None:
        """Refuse a relative log file with no directory to go in (not ``/``)."""
        if self.log_file and not Path(self.log_file).is_absolute():
            raise ConfigError(
                f"--log-file {self.log_file} would be written in {Path.cwd()} (the working "
                "directory of cron and systemd jobs): pass --log-file with an absolute path, "
                "or --env-file (the log goes beside it), or cd to a writable directory first"
            )

    def _where_to_set(self) -> str:
        if self.env_file:
            return f"add them to {self.env_file} (the .env file read) or the environment"
        if self.env_files_searched:
            looked = ", ".join(self.env_files_searched)
            return f"add them to the environment or a .env file (looked for {looked}: none found)"
        return "add them to .env or the environment"


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
# Where and as whom to reach Sonar: what load_settings(sonar=False) leaves out.
SONAR_CONNECTION = frozenset(
    ("SONAR_HOST", "SONAR_PROTOCOL", "SONAR_USERNAME", "SONAR_PASSWORD", "SONAR_TOKEN",
     "SONAR_CA_BUNDLE")
)  # fmt: skip
_FIELD_TO_ENV = {v: k for k, v in ENV_FIELDS.items()}
_TYPES = {f.name: f.type for f in fields(Settings)}


def env_file_candidates(environ: Mapping[str, str]) -> list[Path]:
    """Where a .env file is looked for when --env-file is not given, in order."""
    candidates = [Path(".env").absolute()]
    config_home = environ.get("XDG_CONFIG_HOME") or (
        str(Path(environ["HOME"]) / ".config") if environ.get("HOME") else None
    )
    if config_home:
        candidates.append(Path(config_home) / USER_ENV_FILE)
    return candidates


def find_env_file(
    env_file: str | None, environ: Mapping[str, str]
) -> tuple[Path | None, list[Path]]:
    """(the .env file to read or None, the paths looked at)."""
    if env_file is not None:
        path = Path(env_file).absolute()
        if not path.is_file():
            raise ConfigError(f"--env-file {env_file}: no such file")
        return path, [path]
    candidates = env_file_candidates(environ)
    return next((path for path in candidates if path.is_file()), None), candidates


def read_env_file(path: Path | None) -> dict[str, str]:
    """The variables set in ``path`` (none when it is None)."""
    if path is None:
        return {}
    try:
        values = dotenv_values(path, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: byte 0x{exc.object[exc.start]:02x} at offset {exc.start} is not UTF-8 "
            "text: save the file as UTF-8 (a .env file holds plain text lines NAME=value)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    return {k: v for k, v in values.items() if v is not None}


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
    *,
    sonar: bool = True,
) -> Settings:
    """Build Settings: ``overrides`` (command line, None = not given) > environment > .env.

    ``sonar=False`` for commands that never talk to the user's Sonar (the demo, the
    filing, status): its address and credentials are neither read nor checked, so an
    unfinished .env (the example host still in it) does not stop them.
    """
    environ = os.environ if environ is None else environ
    path, searched = find_env_file(env_file, environ)
    merged = {**read_env_file(path), **environ}
    values: dict[str, Any] = {}
    for env_name, field_name in ENV_FIELDS.items():
        if not sonar and env_name in SONAR_CONNECTION:
            continue
        if env_name in merged:
            values[field_name] = _convert(field_name, merged[env_name], env_name)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    if values.get("sonar_host"):
        explicit = values.get("sonar_protocol") or None  # set in the environment or .env
        values["sonar_protocol"], values["sonar_host"] = sonar_address(
            values["sonar_host"], explicit
        )
    values["log_file"] = log_file_path(values.get("log_file", Settings.log_file), path)
    values["env_file"] = str(path) if path else None
    values["env_files_searched"] = tuple(str(p) for p in searched)
    settings = Settings(**values)
    validate(settings)
    return settings


def log_file_path(log_file: str | None, env_file: Path | None) -> str | None:
    """A relative log file goes beside the .env file read, else in the working directory;
    left relative when that is ``/`` (cron's and systemd's): ``require_log_file`` refuses it."""
    if not log_file or Path(log_file).is_absolute():
        return log_file
    folder = env_file.parent if env_file else Path.cwd()
    if folder == Path(folder.anchor):
        return log_file
    return os.path.abspath(folder / log_file)


# SONAR_HOST: a host name (letters, digits, '-', '_', dots) or an IP address.
_HOST_NAME = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\]")


def sonar_address(raw: str, protocol: str | None) -> tuple[str, str]:
    """(protocol, ``host[:port]``) from SONAR_HOST, which may be ``host``, ``host:port``
    or a pasted ``https://host[:port][/]``; ``protocol``: SONAR_PROTOCOL if set."""
    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        return protocol or "https", check_host(text.removesuffix("/"), text)
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"SONAR_HOST starts with {scheme}://: give the host name, e.g. sonar.example.com"
        )
    if protocol is not None and protocol != scheme:
        raise ConfigError(
            f"SONAR_HOST says {scheme}:// but SONAR_PROTOCOL={protocol}: "
            "remove SONAR_PROTOCOL or make the two agree"
        )
    return scheme, check_host(rest.removesuffix("/"), text)


def check_host(text: str, shown: str) -> str:
    """``host`` or ``host:port``, or ConfigError naming SONAR_HOST (as ``shown``) and
    what is wrong."""
    if "@" in text:  # never echoed: the part before @ may hold a password
        raise ConfigError(
            "SONAR_HOST must not contain a user name or password (user@host): "
            "give only the host name, and the credentials in SONAR_USERNAME and SONAR_PASSWORD"
        )
    host = re.split(r"[/?#\s]", text, maxsplit=1)[0]
    for mark, what in (("/", "a path"), ("?", "a query"), ("#", "a fragment")):
        if mark in text:
            raise ConfigError(
                f"SONAR_HOST={shown!r} has {what} ({text[text.index(mark) :]!r}): give only the "
                f"host name and optional :port, e.g. {host or 'sonar.example.com'}"
            )
    if not text or any(c.isspace() for c in text):
        raise ConfigError(
            f"SONAR_HOST={shown!r} is not a host name (spaces or empty): "
            "give only the host name, e.g. sonar.example.com"
        )
    name, port = _split_port(text, shown)
    if not _HOST_NAME.fullmatch(name):
        raise ConfigError(
            f"SONAR_HOST={shown!r} is not a host name: use letters, digits, '-' and dots, "
            "e.g. sonar.example.com or sonar.example.com:8443"
        )
    if name.lower().rstrip(".") == EXAMPLE_HOST:
        raise ConfigError(
            f"SONAR_HOST is still {EXAMPLE_HOST}, the example from .env.example: "
            "set it to your Sonar instance's host name"
        )
    return name if port is None else f"{name}:{port}"


def _split_port(text: str, shown: str) -> tuple[str, int | None]:
    """(host, port) from ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    if text.startswith("[") and "]" in text:
        name, _, rest = text.partition("]")
        name += "]"
        if not rest:
            return name, None
        if not rest.startswith(":"):
            raise ConfigError(f"SONAR_HOST={shown!r} is not a host name or [IPv6]:port")
        port_text = rest[1:]
    elif ":" in text:
        name, _, port_text = text.rpartition(":")
    else:
        return text, None
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        problem = "no port" if not port_text else f"port {port_text!r}"
        raise ConfigError(
            f"SONAR_HOST={shown!r} has {problem} after ':': give a port number (1-65535) "
            "or leave out the ':'"
        )
    return name, int(port_text)


def validate(s: Settings) -> None:
    """Refuse values that cannot work, naming the option or variable to fix."""
    checks = [
        (s.workers >= 1, "-w/--workers must be at least 1"),
        (s.batch_size >= 1, "-b/--batch-size must be at least 1"),
        (s.commit_interval >= 1, "-c/--commit-interval must be at least 1"),
        (
            valid_days(s.days),
            f"-d/--days must be a number of days from 0 to {MAX_DAYS}",
        ),
        (s.limit is None or s.limit >= 0, "-l/--limit must be 0 or more"),
        (s.max_retries >= 0, "--max-retries must be 0 or more"),
        (
            math.isfinite(s.initial_backoff) and s.initial_backoff >= 0,
            "--initial-backoff must be a number of seconds, 0 or more",
        ),
        (
            s.rate_limit is None or (math.isfinite(s.rate_limit) and s.rate_limit > 0),
            "--rate-limit / SONAR_RATE_LIMIT must be a number more than 0",
        ),
        (s.report_layout in REPORT_LAYOUTS, "--report-layout must be auto, A or B"),
        (s.api in APIS, "--api / SONAR_API must be v1 or v2"),
        (s.sonar_protocol in ("http", "https"), "SONAR_PROTOCOL must be http or https"),
        (
            math.isfinite(s.sonar_timeout) and 0 < s.sonar_timeout <= 86400,
            "SONAR_TIMEOUT must be a number of seconds, more than 0 and at most 86400",
        ),
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
