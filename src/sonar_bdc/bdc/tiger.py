"""Read the Census Bureau's TIGER/Line census tract files into (GEOID, GeoJSON geometry).

Accepted: a shapefile (``.shp`` with its ``.dbf``/``.shx``), a zipped shapefile as
downloaded (``tl_2020_01_tract.zip``) and GeoJSON. The tract is the 11-digit
``GEOID`` (or ``GEOID20``, or STATEFP+COUNTYFP+TRACTCE). TIGER/Line is in NAD83
longitude/latitude; it is used as WGS 84 (EPSG:4326), a difference of about a metre,
well below geocoding accuracy. Projected files and 2010 tracts are refused.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import shapefile

from sonar_bdc.errors import ConfigError

GEOID_FIELDS = ("GEOID", "GEOID20")
PART_FIELDS = (("STATEFP", "COUNTYFP", "TRACTCE"), ("STATEFP20", "COUNTYFP20", "TRACTCE20"))
POLYGON_TYPES = ("Polygon", "MultiPolygon")
TRACT_LENGTH = 11


@dataclass(frozen=True, slots=True)
class TractShape:
    geoid: str
    geojson: str  # a GeoJSON Polygon or MultiPolygon, longitude/latitude


def read_tracts(path: str | Path) -> list[TractShape]:
    """Every tract in ``path``; ConfigError names the file and what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return list(_geojson_tracts(path))
    if suffix == ".zip":
        return list(_zip_tracts(path))
    if suffix == ".shp":
        return _shp_file_tracts(path)
    raise ConfigError(f"{path}: expected a .shp, .zip (zipped shapefile) or .geojson file")


def tract_geoid(properties: Mapping[str, Any], where: str) -> str:
    """The 11-digit GEOID of a tract record, refusing 2010 and non-tract files."""
    geoid = next((properties[f] for f in GEOID_FIELDS if properties.get(f)), None)
    if geoid is None:
        parts = next((p for p in PART_FIELDS if all(properties.get(f) for f in p)), None)
        geoid = "".join(str(properties[f]) for f in parts) if parts else None
    if geoid is None:
        if properties.get("GEOID10"):
            raise ConfigError(f"{where}: holds 2010 tracts (GEOID10); the BDC uses 2020 tracts")
        raise ConfigError(f"{where}: no GEOID field; is it a TIGER/Line census tract file?")
    geoid = str(geoid).strip()
    if not (len(geoid) == TRACT_LENGTH and geoid.isascii() and geoid.isdigit()):
        raise ConfigError(
            f"{where}: GEOID {geoid!r} is not an 11-digit census tract; load the TIGER/Line "
            "tract files (tl_2020_SS_tract.zip), not blocks, block groups or counties"
        )
    return geoid


def _shp_file_tracts(path: Path) -> list[TractShape]:
    prj = path.with_suffix(".prj")
    _check_prj(prj.read_text(errors="replace") if prj.is_file() else None, str(path))
    try:
        with shapefile.Reader(str(path)) as reader:
            return list(_shapefile_tracts(reader, str(path)))
    except shapefile.ShapefileException as exc:
        raise ConfigError(f"{path}: not a readable shapefile: {exc}") from exc


def _zip_tracts(path: Path) -> Iterator[TractShape]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"{path}: not a zip file: {exc}") from exc
    with archive:
        shps = [n for n in archive.namelist() if n.lower().endswith(".shp")]
        if not shps:
            raise ConfigError(f"{path}: the zip holds no .shp file")
        for shp in shps:
            yield from _zipped_shapefile(archive, shp, f"{path}:{PurePosixPath(shp).name}")


def _zipped_shapefile(archive: zipfile.ZipFile, shp: str, where: str) -> Iterator[TractShape]:
    stem = shp[:-4]
    members = {n.lower(): n for n in archive.namelist()}

    def part(ext: str) -> io.BytesIO | None:
        name = members.get(f"{stem}.{ext}".lower())
        return io.BytesIO(archive.read(name)) if name else None

    prj = part("prj")
    _check_prj(prj.getvalue().decode(errors="replace") if prj else None, where)
    dbf = part("dbf")
    if dbf is None:
        raise ConfigError(f"{where}: the zip has no .dbf next to the .shp")
    try:
        reader = shapefile.Reader(shp=part("shp"), dbf=dbf, shx=part("shx"))
    except shapefile.ShapefileException as exc:
        raise ConfigError(f"{where}: not a readable shapefile: {exc}") from exc
    with reader:
        yield from _shapefile_tracts(reader, where)


def _check_prj(prj: str | None, where: str) -> None:
    if prj is not None and prj.lstrip().upper().startswith("PROJCS"):
        raise ConfigError(
            f"{where}: the coordinates are projected ({prj[:60]}...); use the TIGER/Line "
            "files as published (NAD83 longitude/latitude)"
        )


def _shapefile_tracts(reader: shapefile.Reader, where: str) -> Iterator[TractShape]:
    _check_lonlat(reader.bbox, where)
    for number, item in enumerate(reader.iterShapeRecords(), start=1):
        geoid = tract_geoid(item.record.as_dict(), f"{where} record {number}")
        if item.shape.shapeType == shapefile.NULL:
            raise ConfigError(_no_geometry(f"{where} record {number}", geoid))
        geometry = item.shape.__geo_interface__
        if geometry["type"] not in POLYGON_TYPES:
            raise ConfigError(f"{where}: record {number} is a {geometry['type']}, not a polygon")
        yield TractShape(geoid, json.dumps(geometry, separators=(",", ":")))


def _no_geometry(where: str, geoid: str) -> str:
    """A tract without its polygon would silently leave its customers unplaced."""
    return f"{where} (GEOID {geoid}) has no geometry; nothing loaded: use the file as published"


def _check_lonlat(bbox: Any, where: str) -> None:
    if bbox is None or len(bbox) < 4:
        return
    west, south, east, north = bbox[:4]
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise ConfigError(
            f"{where}: coordinates outside longitude/latitude ({west}, {south}, {east}, "
            f"{north}): the file is projected; use the TIGER/Line files as published"
        )


def _geojson_tracts(path: Path) -> Iterator[TractShape]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not readable GeoJSON: {exc}") from exc
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ConfigError(f"{path}: not a GeoJSON FeatureCollection")
    for number, feature in enumerate(features, start=1):
        where = f"{path} feature {number}"
        if not isinstance(feature, dict):
            raise ConfigError(f"{where}: not a GeoJSON Feature")
        geoid = tract_geoid(feature.get("properties") or {}, where)
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict):
            raise ConfigError(_no_geometry(where, geoid))
        if geometry.get("type") not in POLYGON_TYPES:
            raise ConfigError(f"{where}: a {geometry.get('type')}, not a polygon")
        _check_lonlat(_bbox(geometry.get("coordinates")), where)
        yield TractShape(geoid, json.dumps(geometry, separators=(",", ":")))


def _bbox(coordinates: Any) -> tuple[float, float, float, float] | None:
    points = list(_points(coordinates))
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _points(coordinates: Any) -> Iterator[tuple[float, float]]:
    if coordinates and isinstance(coordinates[0], (int, float)):
        yield float(coordinates[0]), float(coordinates[1])
    elif isinstance(coordinates, list):
        for inner in coordinates:
            yield from _points(inner)
