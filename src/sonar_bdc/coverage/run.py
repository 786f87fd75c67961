"""The coverage commands as library calls: load files, list and remove areas."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from sonar_bdc.errors import ConfigError
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.coverage import AreaOffer, AreaRow, CoverageDb, CoverageLoaded, StagedPolygon

from .reader import read_coverage

log = logging.getLogger("sonar_bdc.coverage")


def load_coverage(
    settings: Settings, files: Sequence[Path], offer: AreaOffer, replace: bool = False
) -> CoverageLoaded:
    """Load every polygon of ``files`` for ``offer.technology``: all of them, or nothing."""
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"no such file: {', '.join(missing)}")
    with CoverageDb.connect(settings.postgres_conninfo(), parse_prefix(settings.prefix)) as db:
        return db.load(_polygons(files), offer, replace)


def _polygons(files: Sequence[Path]) -> Iterator[StagedPolygon]:
    for path in files:
        found = read_coverage(Path(path))
        log.info("%s: %d polygons in %s", path, len(found.polygons), found.crs_name)
        for number, wkb in enumerate(found.polygons, start=1):
            yield StagedPolygon(Path(path).name, number, found.crs_text, found.crs_name, wkb)


def list_coverage(settings: Settings) -> list[AreaRow]:
    with CoverageDb.connect(settings.postgres_conninfo(), parse_prefix(settings.prefix)) as db:
        return db.areas()


def remove_coverage(
    settings: Settings, ids: Sequence[int] = (), technology: int | None = None
) -> int:
    with CoverageDb.connect(settings.postgres_conninfo(), parse_prefix(settings.prefix)) as db:
        return db.remove(ids, technology)
