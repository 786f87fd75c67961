"""Read a coverage file's polygons (as WKB) and the coordinate reference system it declares.

GeoJSON, shapefiles (``.shp`` with its ``.shx``/``.dbf``/``.prj``, or zipped) and
GeoPackages are read by pyogrio (GDAL). A file must declare its CRS: a shapefile without
its ``.prj`` or a GeoPackage layer without a spatial reference is refused, because a guess
would place every location wrongly. GeoJSON without a ``crs`` member is WGS 84 by its
standard (RFC 7946), which GDAL reports; its coordinates are checked to be longitude and
latitude when stored. Reprojection happens in PostGIS (``store.coverage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyogrio
import pyogrio.errors
from pyogrio.raw import read
from pyproj import CRS
from pyproj.exceptions import CRSError

from sonar_bdc.errors import ConfigError

SUFFIXES = (".geojson", ".json", ".shp", ".zip", ".gpkg")
READ_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FieldError,
)


@dataclass(frozen=True, slots=True)
class CoverageFile:
    path: Path
    crs_name: str  # for people: "WGS 84 / UTM zone 14N (EPSG:32614)"
    crs_text: str  # for PostGIS ST_Transform: "EPSG:32614", else the WKT
    polygons: list[bytes]  # WKB, one per feature, in file order


def read_coverage(path: Path) -> CoverageFile:
    """The polygons of ``path`` with its CRS; ConfigError names the file and the fix."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"{path}: expected a GeoJSON, shapefile (.shp or .zip) or .gpkg file")
    _one_layer(path)
    try:
        meta, _, geometries, _ = read(_source(path), columns=[])
    except READ_ERRORS as exc:
        raise ConfigError(f"{path}: not a readable GIS file: {exc}") from exc
    name, text = _crs(path, meta.get("crs"))
    polygons = []
    for number, wkb in enumerate(geometries, start=1):
        if wkb is None:
            raise ConfigError(f"{path}: feature {number} has no geometry; nothing loaded")
        polygons.append(bytes(wkb))
    if not polygons:
        raise ConfigError(f"{path}: no features in the file; nothing loaded")
    return CoverageFile(path, name, text, polygons)


def _source(path: Path) -> str:
    """GDAL's name for a zipped shapefile is /vsizip/ + the path."""
    return f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)


def _one_layer(path: Path) -> None:
    try:
        layers = pyogrio.list_layers(_source(path))
    except READ_ERRORS as exc:
        raise ConfigError(f"{path}: not a readable GIS file: {exc}") from exc
    if len(layers) > 1:
        names = ", ".join(str(layer[0]) for layer in layers)
        raise ConfigError(
            f"{path}: holds {len(layers)} layers ({names}); save the coverage layer alone"
        )


def _crs(path: Path, declared: str | None) -> tuple[str, str]:
    """(a name for people, the text PostGIS transforms from)."""
    if not declared:
        raise ConfigError(
            f"{path}: declares no coordinate reference system (a shapefile needs its .prj); "
            "export it again with its CRS; nothing loaded"
        )
    try:
        crs = CRS.from_user_input(declared)
    except CRSError as exc:
        raise ConfigError(f"{path}: its coordinate reference system is not usable: {exc}") from exc
    epsg = crs.to_epsg()
    if epsg is not None:
        return f"{crs.name} (EPSG:{epsg})", f"EPSG:{epsg}"
    return crs.name, crs.to_wkt()
