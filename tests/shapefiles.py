"""Polygon shapefiles for the tests, written without warnings.

pyshp 3.1's ``Writer`` leaves a .dbf open and writes bytes past the size its header
declares, which its own ``Reader`` then warns about (``PossiblyCorruptFileHeader``).
So pyshp writes the geometry (.shp, .shx) into memory, and the few lines below write
the dBASE III table: text fields only, as in TIGER/Line's tract files.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from pathlib import Path

import shapefile

Ring = list[list[float]]


def write_polygons(
    base: Path,
    fields: Sequence[tuple[str, int]],
    features: Sequence[tuple[list[Ring], Sequence[str]]],
) -> Path:
    """``base``.shp/.shx/.dbf: one polygon per (rings, text values); returns the .shp."""
    shp, shx = io.BytesIO(), io.BytesIO()
    writer = shapefile.Writer(shp=shp, shx=shx, shapeType=shapefile.POLYGON)
    for rings, _ in features:
        writer.poly(rings)
    writer.close()
    base.with_suffix(".shp").write_bytes(shp.getvalue())
    base.with_suffix(".shx").write_bytes(shx.getvalue())
    base.with_suffix(".dbf").write_bytes(dbf(fields, [values for _, values in features]))
    return base.with_suffix(".shp")


def dbf(fields: Sequence[tuple[str, int]], records: Sequence[Sequence[str]]) -> bytes:
    """A dBASE III table of text (``C``) fields: header, field descriptors, records."""
    record_size = 1 + sum(size for _, size in fields)  # a deletion flag, then the fields
    header = struct.pack(
        "<B3BIHH20x", 3, 126, 1, 1, len(records), 32 + 32 * len(fields) + 1, record_size
    )
    descriptors = b"".join(
        struct.pack("<11sc4xBB14x", name.encode("ascii"), b"C", size, 0) for name, size in fields
    )
    rows = b"".join(
        b" "
        + b"".join(value.encode().ljust(size) for value, (_, size) in zip(row, fields, strict=True))
        for row in records
    )
    return header + descriptors + b"\r" + rows + b"\x1a"
