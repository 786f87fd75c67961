"""The ``sonar-bdc`` command line: parse options, build Settings, call the library.

No SQL and no HTTP here. Our exceptions become one line on stderr (and in the log
file, once logging is set up) and an exit code from ``errors.EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .bdc.cli_args import COMMANDS as BDC_COMMANDS
from .bdc.cli_args import add_bdc_commands, run_bdc_command
from .coverage.cli_args import COMMANDS as COVERAGE_COMMANDS
from .coverage.cli_args import add_coverage_commands, run_coverage_command
from .errors import EXIT_INTERRUPTED, EXIT_TERMINATED, ConfigError, SonarBdcError
from .fabric.cli_args import COMMANDS as FABRIC_COMMANDS
from .fabric.cli_args import add_fabric_commands, run_fabric_command
from .logsetup import LOGGER_NAME, redact
from .settings import APIS, DEMO_PREFIX, REPORT_LAYOUTS, Settings, load_settings
from .status_args import add_status_command, run_status_command
from .stopping import Terminated

log = logging.getLogger("sonar_bdc")

IMPORT_DESCRIPTION = (
    "Import Sonar customers, services, groups and inventory into PostgreSQL/PostGIS. "
    "Database and Sonar credentials come from POSTGRES_* and SONAR_* variables "
    "(environment, then --env-file, ./.env or ~/.config/sonar-bdc/.env)."
)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_import_options(p: argparse.ArgumentParser, prefix: str | None = None) -> None:
    """The design document's options, with its defaults, plus what users need.

    ``prefix``: the -p default of a command with its own (the demo), else Settings'.
    """
    d = Settings()
    p.add_argument("-w", "--workers", type=int, help=f"worker threads (default: {d.workers})")
    p.add_argument(
        "-b",
        "--batch-size",
        type=int,
        help=f"rows per staged database batch (default: {d.batch_size})",
    )
    p.add_argument(
        "-c",
        "--commit-interval",
        type=int,
        help=f"rows per database commit (default: {d.commit_interval})",
    )
    p.add_argument(
        "-f", "--force", action="store_true", default=None, help="update all data regardless of age"
    )
    p.add_argument(
        "-d",
        "--days",
        type=float,
        help=f"only update data older than this many days (default: {d.days:g})",
    )
    p.add_argument(
        "-p",
        "--prefix",
        default=prefix,
        help=f"table prefix: [schema.][table_prefix] (default: {prefix or d.prefix})",
    )
    p.add_argument("-l", "--limit", type=int, help="limit the number of customers to import")
    p.add_argument("-v", "--verbose", action="store_true", default=None, help="verbose output")
    part = p.add_mutually_exclusive_group()
    part.add_argument(
        "--inventory-only", action="store_true", default=None, help="only import inventory data"
    )
    part.add_argument(
        "--customers-only", action="store_true", default=None, help="only import customer data"
    )
    p.add_argument(
        "--max-retries", type=int, help=f"retries per API call (default: {d.max_retries})"
    )
    p.add_argument(
        "--initial-backoff",
        type=float,
        help=f"first retry delay in seconds (default: {d.initial_backoff:g})",
    )
    p.add_argument(
        "--api",
        choices=APIS,
        help="Sonar API: v1 (REST + reports, default) or v2 (GraphQL, SONAR_TOKEN)",
    )
    p.add_argument(
        "--env-file",
        help="read variables from this file (default: ./.env, else ~/.config/sonar-bdc/.env)",
    )
    p.add_argument(
        "--report-layout",
        choices=REPORT_LAYOUTS,
        help="contact report column layout (default: auto-detect)",
    )
    p.add_argument(
        "--rate-limit",
        type=float,
        help="most requests per second to Sonar, all workers together (default: off; v2: 400/min)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="fetch and stage everything, then roll back",
    )
    p.add_argument(
        "--log-file",
        help=f"log file, rotated; a relative path is beside the .env file used, else in the "
        f"working directory (default: {d.log_file})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sonar-bdc", description="Sonar -> PostGIS for FCC BDC filings.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_import_options(
        sub.add_parser("import", help="import from Sonar", description=IMPORT_DESCRIPTION)
    )
    _add_simulate(sub.add_parser("simulate", help="serve the bundled Sonar simulator"))
    demo = sub.add_parser(
        "demo", help=f"import a bundled simulated Sonar into its own tables ({DEMO_PREFIX})"
    )
    add_import_options(demo, prefix=DEMO_PREFIX)
    demo.add_argument("--accounts", type=int, default=3000, help="simulated accounts (3000)")
    demo.add_argument("--seed", type=int, default=1, help="dataset seed (1)")
    add_bdc_commands(sub)
    add_fabric_commands(sub)
    add_coverage_commands(sub)
    add_status_command(sub)
    return parser


def _add_simulate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accounts", type=int, default=1000, help="number of accounts (1000)")
    p.add_argument("--models", type=int, default=300, help="inventory models (300; at least 10)")
    p.add_argument("--seed", type=int, default=1, help="dataset seed (1)")
    p.add_argument("--layout", choices=("A", "B"), default="A", help="report layout (A)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="listen port (8080)")
    p.add_argument("--username", default="admin", help="accepted username (admin)")
    p.add_argument("--password", default="sonar", help="accepted password (sonar)")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    p.add_argument("--jitter", type=float, default=0.0, help="random extra latency, seconds")
    p.add_argument("--rate-limit", type=float, default=0.0, help="requests/second, 429 above")
    p.add_argument("--error-rate", type=float, default=0.0, help="share of random 5xx")
    p.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped connections")
    p.add_argument("--truncate-rate", type=float, default=0.0, help="share of truncated bodies")
    p.add_argument(
        "--session-expiry",
        type=int,
        default=0,
        help="expire web sessions every N requests (0: never)",
    )
    p.add_argument("--api", choices=("v1", "v2"), default="v1", help="Sonar API to simulate (v1)")
    p.add_argument("--token", default="sonar-token", help="v2 bearer token (sonar-token)")
    p.add_argument("--nested-limit", type=int, default=None, help="v2: cut nested lists to N")
    p.add_argument(
        "--unknown-technology", action="store_true", help="v2: one unknown TechnologyCode name"
    )
    _add_write_fabric(p)


def _add_write_fabric(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "simulated Fabric (a look-alike of the licensed one, for tests and benchmarks)"
    )
    g.add_argument(
        "--write-fabric",
        metavar="DIR",
        help="write the Fabric ZIP of these accounts into DIR and exit (serves nothing)",
    )
    g.add_argument(
        "--fabric-release",
        action="append",
        metavar="MMDDYYYY",
        help="release as-of date, June 30 or December 31 (12312025); repeat for more ZIPs",
    )
    g.add_argument(
        "--fabric-layout",
        choices=("secondary", "supplemental", "legacy"),
        default="secondary",
        help="file generation: fcc_rel + Secondary (default), fcc_rel + Supplemental, "
        "or legacy (no fcc_rel)",
    )
    g.add_argument(
        "--fabric-filler",
        type=int,
        default=0,
        metavar="N",
        help="add N unrelated synthetic rows (benchmarks: a large file without N accounts)",
    )
    g.add_argument(
        "--fabric-truth",
        metavar="FILE",
        help="for testing only: also write each account's right location_id as CSV",
    )
    p.add_argument(
        "--write-coverage",
        metavar="FILE",
        help="write coverage polygons of these accounts (GeoJSON in EPSG:32614, with gaps "
        "and holes) to FILE and exit (serves nothing)",
    )


def settings_from_args(args: argparse.Namespace, *, sonar: bool = True) -> Settings:
    keys = [
        "workers",
        "batch_size",
        "commit_interval",
        "force",
        "days",
        "prefix",
        "limit",
        "verbose",
        "inventory_only",
        "customers_only",
        "max_retries",
        "initial_backoff",
        "report_layout",
        "rate_limit",
        "dry_run",
        "log_file",
        "api",
    ]
    overrides = {k: getattr(args, k, None) for k in keys}
    return load_settings(overrides, env_file=args.env_file, sonar=sonar)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    handlers_before = list(logging.getLogger(LOGGER_NAME).handlers)
    try:
        return _dispatch(args)
    except SonarBdcError as exc:
        if verbose:  # the traceback on the console and in the log file, redacted
            log.debug("details", exc_info=exc)
        _tell(f"sonar-bdc: error: {exc}", None if verbose else exc, handlers_before)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if isinstance(exc, Terminated):
            _tell("sonar-bdc: stopped by SIGTERM", exc, handlers_before)
            return EXIT_TERMINATED
        _tell("sonar-bdc: interrupted", exc, handlers_before)
        return EXIT_INTERRUPTED


def _tell(line: str, exc: BaseException | None, handlers_before: list[logging.Handler]) -> None:
    """``line`` on stderr, and in the log file this run opened, with ``exc``'s traceback;
    masked in both (cron mails stderr)."""
    print(redact(line), file=sys.stderr)
    logger = logging.getLogger(LOGGER_NAME)
    files = [h for h in logger.handlers
             if isinstance(h, logging.FileHandler) and h not in handlers_before]  # fmt: skip
    if files:
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            0,
            "%s",
            (line,),
            None if exc is None else (type(exc), exc, exc.__traceback__),
        )
        for handler in files:
            handler.handle(record)


def _dispatch(args: argparse.Namespace) -> int:
    from . import commands  # imported late: `--help` stays fast

    if args.command == "import":
        return commands.import_command(settings_from_args(args))
    if args.command == "demo":
        return commands.demo_command(
            settings_from_args(args, sonar=False), args.accounts, args.seed
        )
    if args.command == "simulate":
        return commands.simulate_command(args)
    if args.command in BDC_COMMANDS:
        return run_bdc_command(args)
    if args.command in FABRIC_COMMANDS:
        return run_fabric_command(args)
    if args.command in COVERAGE_COMMANDS:
        return run_coverage_command(args)
    if args.command == "status":
        return run_status_command(args)
    raise ConfigError(f"unknown command {args.command}")


if __name__ == "__main__":
    sys.exit(main())
