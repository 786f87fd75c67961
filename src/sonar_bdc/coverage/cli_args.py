"""``sonar-bdc coverage load|list|remove``: options here, the work in ``coverage.run``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sonar_bdc.bdc.config import BDC_CODES
from sonar_bdc.bdc.offers import CODES_BRC, speeds_problem
from sonar_bdc.cli_common import add_common, common_settings
from sonar_bdc.errors import ConfigError

if TYPE_CHECKING:  # the store imports psycopg: only commands that run load it
    from sonar_bdc.store.coverage import AreaOffer, AreaRow

log = logging.getLogger("sonar_bdc.coverage")

COMMANDS = ("coverage",)
P = TypeVar("P", bound=argparse.ArgumentParser)
LOAD_DESCRIPTION = (
    "Load coverage polygons (GeoJSON, shapefile .shp or zipped, GeoPackage) for one BDC "
    "technology, reprojected from the CRS the file declares (a file without one is "
    "refused). Without speeds the areas take the technology's offer from the filing's "
    "[offers] configuration, else the fastest plan sold on it in Sonar. All files load in "
    "one transaction."
)


def add_coverage_commands(subparsers: argparse._SubParsersAction[P]) -> None:
    coverage = subparsers.add_parser(
        "coverage", help="coverage areas (polygons) for the BDC availability file"
    )
    sub = coverage.add_subparsers(dest="coverage_command", required=True)
    load = sub.add_parser("load", help="load coverage polygon files", description=LOAD_DESCRIPTION)
    load.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help=".geojson, .shp, .zip, .gpkg"
    )
    load.add_argument(
        "--technology",
        required=True,
        type=bdc_code,
        metavar="CODE",
        help="BDC technology code of the areas (e.g. 70, 71, 50)",
    )
    load.add_argument(
        "--download",
        type=int,
        metavar="MBPS",
        help="fastest advertised download offered in the areas, whole Mbps",
    )
    load.add_argument(
        "--upload",
        type=int,
        metavar="MBPS",
        help="fastest advertised upload offered in the areas, whole Mbps",
    )
    load.add_argument(
        "--low-latency",
        type=int,
        choices=(0, 1),
        help="1: round-trip latency at most 100 ms (default: the technology's)",
    )
    load.add_argument(
        "--business-residential",
        choices=CODES_BRC,
        help="R residential, B business, X both (default: the technology's)",
    )
    load.add_argument(
        "--replace", action="store_true", help="remove the technology's loaded areas first"
    )
    add_common(load)
    add_common(sub.add_parser("list", help="list the loaded coverage areas"))
    remove = sub.add_parser("remove", help="remove coverage areas by id or technology")
    which = remove.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id", type=int, nargs="+", dest="ids", metavar="ID", help="area ids (see list)"
    )
    which.add_argument("--technology", type=bdc_code, metavar="CODE", help="every area of it")
    add_common(remove)


def bdc_code(text: str) -> int:
    if not text.strip().isdigit() or int(text) not in BDC_CODES:
        allowed = ", ".join(str(c) for c in sorted(BDC_CODES))
        raise argparse.ArgumentTypeError(f"{text!r} is not a BDC technology code ({allowed})")
    return int(text)


def area_offer(args: argparse.Namespace) -> AreaOffer:
    """The offer options of ``coverage load``; ConfigError on speeds the FCC refuses."""
    from sonar_bdc.store.coverage import AreaOffer

    if (args.download is None) != (args.upload is None):
        raise ConfigError("give --download and --upload together (or neither)")
    if args.download is not None:
        problem = speeds_problem(args.download, args.upload)
        if problem:
            raise ConfigError(f"--download/--upload: {problem}")
    latency = None if args.low_latency is None else bool(args.low_latency)
    return AreaOffer(
        args.technology, args.download, args.upload, latency, args.business_residential
    )


def run_coverage_command(args: argparse.Namespace) -> int:
    from .run import list_coverage, load_coverage, remove_coverage  # late: --help stays fast

    settings = common_settings(args)
    if args.coverage_command == "load":
        loaded = load_coverage(settings, args.files, area_offer(args), args.replace)
        log.info(
            "loaded %d coverage polygons for technology %d (%d repaired, %d replaced); "
            "%d areas of it in %scoverage_areas",
            loaded.polygons,
            args.technology,
            loaded.repaired,
            loaded.replaced,
            loaded.total,
            settings.prefix,
        )
    elif args.coverage_command == "list":
        for line in area_lines(list_coverage(settings)):
            log.info("%s", line)
    else:
        removed = remove_coverage(settings, args.ids or (), args.technology)
        log.info("removed %d coverage areas", removed)
    return 0


def area_lines(areas: list[AreaRow]) -> list[str]:
    if not areas:
        return ["no coverage areas loaded (sonar-bdc coverage load)"]
    lines = ["id  technology  offer  km2  source"]
    for a in areas:
        offer = "technology's" if a.download_mbps is None else f"{a.download_mbps}/{a.upload_mbps}"
        if a.low_latency is not None:
            offer += f" low_latency={int(a.low_latency)}"
        if a.business_residential_code:
            offer += f" {a.business_residential_code}"
        lines.append(
            f"{a.id}  {a.technology}  {offer}  {a.square_km:.2f}  "
            f"{a.source} #{a.feature} ({a.source_crs}, {a.loaded_at:%Y-%m-%d})"
        )
    return lines
