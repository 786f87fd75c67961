"""Coverage polygon files for the tests: GeoJSON, shapefile, GeoPackage, any CRS.

Polygons are written as WKB by hand (a few lines of ``struct``) and saved with pyogrio,
the library the loader reads them with; ``crs=None`` writes a file that declares none.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pyogrio.raw import write
from pyproj import Transformer

Ring = Sequence[tuple[float, float]]
DRIVERS = {".geojson": "GeoJSON", ".shp": "ESRI Shapefile", ".gpkg": "GPKG"}


def polygon_wkb(rings: Sequence[Ring]) -> bytes:
    """A WKB Polygon (little-endian): the outer ring, then the holes."""
    out = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return out


def linestring_wkb(points: Ring) -> bytes:
    return struct.pack("<BII", 1, 2, len(points)) + b"".join(
        struct.pack("<dd", x, y) for x, y in points
    )


def square(x: float, y: float, size: float) -> list[tuple[float, float]]:
    return [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]


def project(rings: Sequence[Ring], epsg: int) -> list[list[tuple[float, float]]]:
    """Longitude/latitude rings into ``epsg``."""
    to = Transformer.from_crs(4326, epsg, always_xy=True)
    return [[to.transform(x, y) for x, y in ring] for ring in rings]


def write_polygons(path: Path, polygons: Sequence[bytes], crs: str | None = "EPSG:4326") -> Path:
    """``path`` (.geojson, .shp or .gpkg) with one feature per WKB polygon."""
    geometry = np.array(polygons, dtype=object)
    numbers = np.arange(1, len(polygons) + 1, dtype=np.int32)
    with warnings.catch_warnings():  # pyogrio warns that a file without a CRS is one
        warnings.simplefilter("ignore", UserWarning)
        write(
            str(path),
            geometry,
            [numbers],
            ["n"],
            driver=DRIVERS[path.suffix],
            crs=crs,
            geometry_type="Unknown" if path.suffix == ".geojson" else "Polygon",
        )
    return path
