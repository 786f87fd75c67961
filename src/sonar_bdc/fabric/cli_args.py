"""The Fabric subcommands: ``sonar-bdc fabric load`` and ``sonar-bdc fabric match``.

``cli.py`` calls ``add_fabric_commands(subparsers)`` when building its parser and
``run_fabric_command(args)`` for them. Options are parsed here; the work is done in
this package's library modules; errors propagate to ``cli.main`` as ours.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TypeVar

from sonar_bdc.cli_common import add_common, common_settings
from sonar_bdc.errors import ConfigError
from sonar_bdc.settings import Settings

log = logging.getLogger("sonar_bdc.fabric")

COMMANDS = ("fabric",)
P = TypeVar("P", bound=argparse.ArgumentParser)  # the CLI's own parser class


def add_fabric_commands(subparsers: argparse._SubParsersAction[P]) -> None:
    fabric = subparsers.add_parser(
        "fabric", help="load your licensed Fabric and match customers to its locations"
    )
    fabric_sub = fabric.add_subparsers(dest="fabric_command", required=True)
    _add_load(fabric_sub)
    _add_match(fabric_sub)


def run_fabric_command(args: argparse.Namespace) -> int:
    """Run ``fabric load`` or ``fabric match``; return the exit code."""
    settings = common_settings(args)
    if args.fabric_command == "load":
        return _load(settings, args)
    if args.fabric_command == "match":
        return _match(settings, args)
    raise ConfigError(f"unknown fabric command {args.fabric_command}")


# --- fabric load (owned by the load work) ------------------------------------------------


LOAD_DESCRIPTION = (
    "Load your licensed Fabric (CostQuest, through the BDC system) from the ZIPs as "
    "delivered or their CSV files, recognised by their header: Active BSL/NoBSL and "
    "Secondary/Supplemental. Give every file of one release at once: the load builds "
    "the release beside the one loaded before, which stays readable, then replaces it "
    "in one short transaction and empties the matches."
)


def _add_load(sub: argparse._SubParsersAction[P]) -> None:
    load = sub.add_parser(
        "load", help="load Fabric ZIP or CSV files (one release)", description=LOAD_DESCRIPTION
    )
    load.add_argument("files", nargs="+", type=Path, help="Fabric ZIPs or CSV files, as delivered")
    load.add_argument(
        "--release",
        metavar="NAME",
        help="the release of files without an fcc_rel column (default: the files' fcc_rel)",
    )
    add_common(load)


def _load(settings: Settings, args: argparse.Namespace) -> int:
    from .load import load_fabric  # late: `--help` stays fast

    loaded = load_fabric(settings, args.files, args.release)
    for line in loaded.lines():
        log.info("%s", line)
    return 0


# --- fabric match (owned by the match work) ----------------------------------------------


MATCH_DESCRIPTION = (
    "Match every customer of the latest import to the location_id of the loaded Fabric: "
    "its point first (the nearest BSL within 15 m), its address to confirm or to decide "
    "(farther, up to 150 m, or when several are close), its address alone in its ZIP "
    "without coordinates. Rewrites the fabric_matches table whole and lists every "
    "unmatched customer, with its reason, in the exceptions CSV. Radii and rules: the "
    "[match] section of the BDC configuration file (docs/fabric-match.md)."
)


def _add_match(sub: argparse._SubParsersAction[P]) -> None:
    match = sub.add_parser(
        "match",
        help="match every customer to its Fabric location_id",
        description=MATCH_DESCRIPTION,
    )
    match.add_argument(
        "-o",
        "--output",
        type=_csv_path,
        metavar="FILE.csv",
        help="the exceptions CSV: every unmatched customer and why "
        "(default: fabric_match_exceptions.csv)",
    )
    match.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="the BDC configuration file; its [match] section sets the radii and rules "
        "(see docs/bdc.example.toml)",
    )
    add_common(match)


def _csv_path(text: str) -> Path:
    if text == "-":
        raise argparse.ArgumentTypeError("standard output (-) is not supported; give a file name")
    return Path(text)


def _match(settings: Settings, args: argparse.Namespace) -> int:
    from .match import MatchOptions, match  # late: `--help` stays fast

    summary = match(settings, MatchOptions(output=args.output, config=args.config))
    for line in summary.lines():
        log.info("%s", line)
    return 0
