"""Small-distance geometry for the simulated Fabric: offsets, distances, a point grid.

Distances are a few metres to a few hundred: a local flat projection is exact to well
under 1% there, and the planted distances keep margins larger than that (near points
within 12 m for a 15 m radius, far ones from 22 m).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG = math.pi * EARTH_RADIUS_M / 180
CELL_DEG = 0.002  # about 200 m: a 3x3 block of cells covers any 150 m radius


def offset(lat: float, lon: float, metres: float, bearing: float) -> tuple[float, float]:
    """The point ``metres`` from (lat, lon) towards ``bearing`` (radians from north)."""
    dlat = metres * math.cos(bearing) / _M_PER_DEG
    dlon = metres * math.sin(bearing) / (_M_PER_DEG * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def bearing_to(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The bearing (radians from north) from point 1 towards point 2 (flat, small scale)."""
    dy = lat2 - lat1
    dx = (lon2 - lon1) * math.cos(math.radians(lat1))
    return math.atan2(dx, dy)


class Grid:
    """Keys at points, found again by a radius of up to about 200 m."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], list[tuple[float, float, int]]] = defaultdict(list)

    def add(self, lat: float, lon: float, key: int) -> None:
        self._cells[_cell(lat, lon)].append((lat, lon, key))

    def near(self, lat: float, lon: float, radius_m: float) -> Iterator[tuple[int, float]]:
        """(key, distance) of every point within ``radius_m`` (at most ~200 m)."""
        ci, cj = _cell(lat, lon)
        for i in (ci - 1, ci, ci + 1):
            for j in (cj - 1, cj, cj + 1):
                for plat, plon, key in self._cells.get((i, j), ()):
                    d = distance_m(lat, lon, plat, plon)
                    if d < radius_m:
                        yield key, d

    def any_within(self, lat: float, lon: float, radius_m: float) -> bool:
        """Whether a point lies within ``radius_m`` (at most ~200 m)."""
        return next(self.near(lat, lon, radius_m), None) is not None


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)
