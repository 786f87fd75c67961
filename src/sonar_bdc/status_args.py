"""The ``sonar-bdc status`` subcommand: options here, the work in ``sonar_bdc.status``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TypeVar

from sonar_bdc.bdc.cli_args import parse_date, parse_days
from sonar_bdc.logsetup import setup_logging
from sonar_bdc.readiness import MAX_DETAIL_AGE_DAYS
from sonar_bdc.settings import Settings, load_settings

P = TypeVar("P", bound=argparse.ArgumentParser)  # the CLI's own parser class
STATUS_DESCRIPTION = (
    "What to check before filing, from the database alone: each part's last import "
    "(complete, interrupted, failed or killed), customers listed, never imported and "
    "stale, deleted, tracts loaded, a running import, the last filing's exclusions. "
    "Exit 0 when the import is ready to file from, 1 when not (the reasons are printed)."
)


def add_status_command(subparsers: argparse._SubParsersAction[P]) -> None:
    d = Settings()
    p = subparsers.add_parser("status", help="is the import ready to file from?",
                              description=STATUS_DESCRIPTION)  # fmt: skip
    p.add_argument(
        "-p", "--prefix", help=f"table prefix: [schema.][table_prefix] (default: {d.prefix})"
    )
    p.add_argument("--env-file", help="read variables from this file (default: ./.env if present)")
    p.add_argument("-v", "--verbose", action="store_true", default=None, help="debug output")
    p.add_argument(
        "-d",
        "--days",
        type=parse_days,
        help=f"count data older than this many days as stale (default: {d.days:g}, as the import)",
    )
    p.add_argument(
        "--max-detail-age",
        type=parse_days,
        default=MAX_DETAIL_AGE_DAYS,
        metavar="DAYS",
        help="as bdc subscription: not ready when the oldest account detail is this many "
        "days older than the latest report, or than the as-of date (or today) "
        f"(default: {MAX_DETAIL_AGE_DAYS:g})",
    )
    p.add_argument(
        "--as-of",
        type=parse_date,
        metavar="YYYY-MM-DD",
        help="check for the filing as of this date, as bdc subscription would (default: today)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object for scripts")


def run_status_command(args: argparse.Namespace) -> int:
    from sonar_bdc.status import status  # late: `--help` stays fast

    settings = load_settings(
        {"prefix": args.prefix, "verbose": args.verbose, "days": args.days},
        env_file=args.env_file,
        sonar=False,
    )
    setup_logging(settings.verbose, None)
    report = status(settings, args.max_detail_age, args.as_of)
    if args.json:
        json.dump(report.as_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("".join(f"{line}\n" for line in report.lines()))
    return report.exit_code
