"""The BDC subcommands: ``sonar-bdc bdc subscription|availability|review`` and ``tracts load``.

``cli.py`` calls ``add_bdc_commands(subparsers)`` when building its parser and
``run_bdc_command(args)`` for these commands. Options are parsed here, the work is
done by ``sonar_bdc.bdc.run``; errors propagate to ``cli.main`` as ours.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date
from pathlib import Path
from typing import Protocol, TypeVar

from sonar_bdc.cli_common import add_common, common_settings
from sonar_bdc.errors import ConfigError
from sonar_bdc.readiness import FILING_DATES, MAX_DETAIL_AGE_DAYS, is_filing_date
from sonar_bdc.settings import MAX_DAYS, Settings, valid_days

log = logging.getLogger("sonar_bdc.bdc")

COMMANDS = ("bdc", "tracts")
P = TypeVar("P", bound=argparse.ArgumentParser)  # the CLI's own parser class
SUBSCRIPTION_DESCRIPTION = (
    "Write the BDC fixed broadband subscription file (one row per census tract, technology "
    "and advertised speeds) from the tables `sonar-bdc import` fills, and next to it "
    "FILE.exceptions.csv listing every active data customer left out and why. "
    "Nothing is written when a check fails. Database settings: POSTGRES_* (environment, .env)."
)
AVAILABILITY_DESCRIPTION = (
    "Write the BDC fixed availability location list: every BSL of the loaded Fabric inside "
    "a coverage area (sonar-bdc coverage load), plus every BSL with a subscriber, one row "
    "per location and technology, and FILE.exceptions.csv with the cross-checks against "
    "the subscription file. Nothing is written when a check fails."
)
REVIEW_DESCRIPTION = (
    "Write one self-contained HTML page to look at before filing: the headline figures of "
    "both files, a map of the subscribers (coloured by outcome), their Fabric matches, the "
    "coverage and tract outlines, data-quality findings and every exception, searchable. "
    "It works offline and sends nothing anywhere; it holds customers' names and addresses."
)
TRACTS_DESCRIPTION = (
    "Load census tract polygons from the Census Bureau's TIGER/Line tract files "
    "(tl_2020_SS_tract.zip, one per state; shapefile, zipped shapefile or GeoJSON). "
    "They place customers without a census block (fips) and check the others. Tracts "
    "already loaded are replaced by GEOID; all files load in one transaction."
)


def add_bdc_commands(
    subparsers: argparse._SubParsersAction[P],
) -> None:
    bdc = subparsers.add_parser("bdc", help="FCC BDC filing files from the imported tables")
    bdc_sub = bdc.add_subparsers(dest="bdc_command", required=True)
    sub = bdc_sub.add_parser(
        "subscription", help="write the subscription CSV", description=SUBSCRIPTION_DESCRIPTION
    )
    sub.add_argument(
        "--as-of",
        required=True,
        type=parse_date,
        metavar="YYYY-MM-DD",
        help="the filing's as-of date (June 30 or December 31)",
    )
    sub.add_argument(
        "--any-date",
        action="store_true",
        help="accept an --as-of that is not June 30 or December 31 (a trial file, not a filing)",
    )
    sub.add_argument(
        "-o",
        "--output",
        type=_output,
        metavar="FILE.csv",
        help="output file (default: bdc_subscription_<as-of>.csv)",
    )
    sub.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="technology mapping and consumer groups (see docs/bdc.example.toml)",
    )
    _add_import_checks(sub)
    add_common(sub)
    _add_availability(bdc_sub)
    _add_review(bdc_sub)
    tracts = subparsers.add_parser("tracts", help="census tract polygons for the BDC files")
    tracts_sub = tracts.add_subparsers(dest="tracts_command", required=True)
    load = tracts_sub.add_parser(
        "load", help="load TIGER/Line tract files", description=TRACTS_DESCRIPTION
    )
    load.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help=".shp, .zip (zipped shapefile) or .geojson",
    )
    load.add_argument(
        "--replace",
        action="store_true",
        help="remove every loaded tract first (default: add or replace by GEOID)",
    )
    add_common(load)


def _add_availability(bdc_sub: argparse._SubParsersAction[P]) -> None:
    av = bdc_sub.add_parser(
        "availability", help="write the availability location list CSV",
        description=AVAILABILITY_DESCRIPTION,
    )  # fmt: skip
    av.add_argument("--as-of", required=True, type=parse_date, metavar="YYYY-MM-DD",
                    help="the filing's as-of date (June 30 or December 31)")  # fmt: skip
    av.add_argument("--any-date", action="store_true", help="accept another --as-of (a trial)")
    av.add_argument("--provider-id", required=True, type=parse_provider_id, metavar="N",
                    help="your 6-digit FCC provider id")  # fmt: skip
    av.add_argument("--brand-name", required=True, type=parse_brand_name, metavar="NAME",
                    help="the brand the service is sold under")  # fmt: skip
    av.add_argument("-o", "--output", type=_output, metavar="FILE.csv",
                    help="output file (default: bdc_availability_<as-of>.csv)")  # fmt: skip
    av.add_argument("--config", type=Path, metavar="FILE.toml",
                    help="technology mapping, consumer groups and [offers]")  # fmt: skip
    _add_import_checks(av)
    add_common(av)


def _add_review(bdc_sub: argparse._SubParsersAction[P]) -> None:
    rv = bdc_sub.add_parser(
        "review", help="write the review page (HTML, with a map)", description=REVIEW_DESCRIPTION
    )
    rv.add_argument(
        "-o",
        "--output",
        type=_output,
        metavar="FILE.html",
        help="output file (default: bdc_review.html)",
    )
    rv.add_argument(
        "--as-of",
        type=parse_date,
        metavar="YYYY-MM-DD",
        help="check the import's age against this date (default: today)",
    )
    rv.add_argument(
        "--config",
        type=Path,
        metavar="FILE.toml",
        help="the filing's configuration (technology mapping, groups, [offers])",
    )
    rv.add_argument(
        "--tile-url",
        metavar="URL",
        help="background map tiles, e.g. https://tile.example.org/{z}/{x}/{y}.png "
        "(default: none; the page then makes no request at all)",
    )
    rv.add_argument(
        "--max-detail-age",
        type=parse_days,
        default=MAX_DETAIL_AGE_DAYS,
        metavar="DAYS",
        help="as for the filing files, for the import's findings "
        f"(default: {MAX_DETAIL_AGE_DAYS:g})",
    )
    add_common(rv)


def _add_import_checks(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-detail-age",
        type=parse_days,
        default=MAX_DETAIL_AGE_DAYS,
        metavar="DAYS",
        help="refuse when the oldest account detail is this many days older than the latest "
        f"report (default: {MAX_DETAIL_AGE_DAYS:g})",
    )
    p.add_argument(
        "--allow-incomplete-import",
        action="store_true",
        help="file even when the import is interrupted, incomplete or old (the problems are "
        "printed as warnings); never while an import is running",
    )


def parse_provider_id(text: str) -> int:
    """The FCC's 6-digit provider id, checked before any work (the file checks it again)."""
    from .availability_output import MAX_PROVIDER_ID, MIN_PROVIDER_ID

    value = int(text) if text.strip().isdigit() else -1
    if not MIN_PROVIDER_ID <= value <= MAX_PROVIDER_ID:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a 6-digit FCC provider id (see the BDC system's provider list)"
        )
    return value


def parse_brand_name(text: str) -> str:
    if not text.strip() or any(ord(c) < 0x20 for c in text):
        raise argparse.ArgumentTypeError(f"{text!r}: give the brand name, on one line")
    return text.strip()


def parse_days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not valid_days(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (0 to {MAX_DAYS})")
    return value


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _output(text: str) -> Path:
    if text == "-":
        raise argparse.ArgumentTypeError("standard output (-) is not supported; give a file name")
    return Path(text)


def previous_filing_date(today: date) -> date:
    """The last June 30 or December 31 before ``today`` (the demo's as-of date)."""
    candidates = [
        date(year, m, d) for year in (today.year - 1, today.year) for m, d in FILING_DATES
    ]
    return max(c for c in candidates if c < today)


def check_as_of(as_of: date, any_date: bool) -> None:
    """BDC filings are as of June 30 or December 31; another date only with --any-date."""
    if is_filing_date(as_of):
        return
    if not any_date:
        raise ConfigError(
            f"--as-of {as_of}: BDC filings are as of June 30 or December 31; "
            "pass --any-date for a trial file as of another date"
        )
    log.warning("--as-of %s is not a BDC as-of date: this is a trial file, not a filing", as_of)


def run_bdc_command(args: argparse.Namespace) -> int:
    """Run ``bdc subscription`` or ``tracts load``; return the exit code."""
    settings = common_settings(args)
    if args.command == "tracts":
        return _tracts_load(settings, args)
    if args.bdc_command == "availability":
        return _availability(settings, args)
    if args.bdc_command == "review":
        return _review(settings, args)
    return _subscription(settings, args)


def _availability(settings: Settings, args: argparse.Namespace) -> int:
    from .availability import AvailabilityOptions, availability

    check_as_of(args.as_of, args.any_date)
    options = AvailabilityOptions(
        args.as_of, args.provider_id, args.brand_name, args.output, args.config,
        args.max_detail_age, args.allow_incomplete_import,
    )  # fmt: skip
    return _log_summary(availability(settings, options))


def _review(settings: Settings, args: argparse.Namespace) -> int:
    from sonar_bdc.review.run import ReviewOptions, review

    result = review(
        settings,
        ReviewOptions(args.output, args.as_of, args.config, args.tile_url, args.max_detail_age),
    )
    for line in result.lines():
        log.info("%s", line)
    return 0


def _subscription(settings: Settings, args: argparse.Namespace) -> int:
    from .run import SubscriptionOptions, subscription  # late: `--help` stays fast

    check_as_of(args.as_of, args.any_date)
    options = SubscriptionOptions(
        as_of=args.as_of,
        output=args.output,
        config=args.config,
        max_detail_age=args.max_detail_age,
        allow_incomplete_import=args.allow_incomplete_import,
    )
    return _log_summary(subscription(settings, options))


class _Summary(Protocol):
    def lines(self) -> list[str]: ...
    def warnings(self) -> list[str]: ...


def _log_summary(summary: _Summary) -> int:
    """A file's summary, then its warnings; exit code 0."""
    for line in summary.lines():
        log.info("%s", line)
    for warning in summary.warnings():
        log.warning("%s", warning)
    return 0


def _tracts_load(settings: Settings, args: argparse.Namespace) -> int:
    from .run import load_tracts

    loaded = load_tracts(settings, args.files, replace=args.replace)
    log.info(
        "loaded %d tracts (%d polygons) into %stracts; %d tracts in the table",
        loaded.tracts,
        loaded.shapes,
        settings.prefix,
        loaded.total,
    )
    return 0
