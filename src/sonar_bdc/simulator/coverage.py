"""Coverage polygons for the simulator's accounts, with holes and gaps (GeoJSON, projected).

For the availability file's tests and demos: one rectangle per town around its accounts,
split by a gap (a strip no area covers) and pierced by small square holes around some
accounts, written in a projected CRS (UTM zone 14N by default) so a loader must
reproject. ``CoveragePlan`` says which accounts the polygons cover and which fall in a
hole or the gap: the expected rows of a file built on them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pyproj import Transformer

from .model import Account, Dataset

EPSG = 32614  # UTM zone 14N, metres
PAD_M = 500.0  # the rectangle's margin around a town's accounts
GAP_M = 150.0  # half-width of the uncovered strip through each town
HOLE_M = 25.0  # half-side of the square hole around a chosen account
HOLE_EVERY = 9  # every ninth account (by id) gets a hole, where one fits

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class CoveragePlan:
    path: Path
    epsg: int
    inside: frozenset[int]  # account ids the polygons cover
    outside: frozenset[int]  # in a hole or a gap


def write_coverage(dataset: Dataset, path: Path, epsg: int = EPSG) -> CoveragePlan:
    """Write ``path`` (GeoJSON with a ``crs`` member) for the accounts with coordinates."""
    to = Transformer.from_crs(4326, epsg, always_xy=True)
    towns: dict[tuple[str, str], list[tuple[int, float, float]]] = defaultdict(list)
    for account in dataset.accounts.values():
        if _placed(account):
            x, y = to.transform(account.address.lon, account.address.lat)
            towns[(account.address.city, account.address.state)].append((account.id, x, y))
    polygons = [rings for points in towns.values() for rings in _town(points)]
    placed = [p for points in towns.values() for p in points]
    # Towns can overlap: an account in its own town's gap may be in a neighbour's area.
    inside = {i for i, x, y in placed if any(_covers(rings, x, y) for rings in polygons)}
    outside = {i for i, _, _ in placed} - inside
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}},
        "features": [_feature(rings) for rings in polygons],
    }
    path.write_text(json.dumps(collection), encoding="utf-8")
    return CoveragePlan(path, epsg, frozenset(inside), frozenset(outside))


def _placed(account: Account) -> bool:
    return account.address.lat is not None and account.address.lon is not None


def _town(points: list[tuple[int, float, float]]) -> list[list[Box]]:
    """Two rectangles either side of a gap, each with its holes."""
    xs, ys = [p[1] for p in points], [p[2] for p in points]
    x0, y0, x1, y1 = min(xs) - PAD_M, min(ys) - PAD_M, max(xs) + PAD_M, max(ys) + PAD_M
    middle = sorted(xs)[len(xs) // 2]
    halves = [(x0, y0, middle - GAP_M, y1), (middle + GAP_M, y0, x1, y1)]
    holes: list[Box] = []
    for account_id, x, y in sorted(points):
        hole = (x - HOLE_M, y - HOLE_M, x + HOLE_M, y + HOLE_M)
        fits = any(_within(hole, half) for half in halves)
        if account_id % HOLE_EVERY == 0 and fits and not any(_overlap(hole, h) for h in holes):
            holes.append(hole)
    return [[half, *[h for h in holes if _within(h, half)]] for half in halves]


def _covers(rings: list[Box], x: float, y: float) -> bool:
    """As PostGIS ST_Covers: the shell's boundary counts as covered, a hole's inside not."""
    (x0, y0, x1, y1), *holes = rings
    return x0 <= x <= x1 and y0 <= y <= y1 and not any(_strictly_in(x, y, h) for h in holes)


def _within(inner: Box, outer: Box) -> bool:
    """``inner`` strictly inside ``outer``, a margin away (a hole never touches its shell)."""
    return (
        outer[0] + 1 < inner[0]
        and outer[1] + 1 < inner[1]
        and inner[2] < outer[2] - 1
        and inner[3] < outer[3] - 1
    )


def _overlap(a: Box, b: Box) -> bool:
    """Touching counts: holes that share an edge would make an invalid polygon."""
    return a[0] <= b[2] + 1 and b[0] <= a[2] + 1 and a[1] <= b[3] + 1 and b[1] <= a[3] + 1


def _strictly_in(x: float, y: float, box: Box) -> bool:
    return box[0] < x < box[2] and box[1] < y < box[3]


def _ring(box: Box) -> list[list[float]]:
    x0, y0, x1, y1 = box
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def _feature(boxes: list[Box]) -> dict[str, object]:
    shell, *holes = boxes
    rings = [_ring(shell)] + [_ring(h)[::-1] for h in holes]  # holes clockwise
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": rings},
    }
