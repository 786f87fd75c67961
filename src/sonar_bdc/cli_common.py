"""The options every database command shares (``bdc``, ``tracts``, ``coverage``,
``fabric``), and the settings they make."""

from __future__ import annotations

import argparse

from sonar_bdc.logsetup import setup_logging
from sonar_bdc.settings import Settings, load_settings


def add_common(p: argparse.ArgumentParser) -> None:
    """``-p/--prefix``, ``--env-file`` and ``-v/--verbose``."""
    d = Settings()
    p.add_argument(
        "-p", "--prefix", help=f"table prefix: [schema.][table_prefix] (default: {d.prefix})"
    )
    p.add_argument("--env-file", help="read variables from this file (default: ./.env if present)")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=None,
        help="debug output, tracebacks on errors",
    )


def common_settings(args: argparse.Namespace) -> Settings:
    """The settings ``add_common``'s options give (no Sonar settings needed), with
    logging set up."""
    settings = load_settings(
        {"prefix": args.prefix, "verbose": args.verbose}, env_file=args.env_file, sonar=False
    )
    setup_logging(settings.verbose, None)
    return settings
