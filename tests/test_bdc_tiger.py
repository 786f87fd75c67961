"""Reading TIGER/Line tract files: shapefile, zipped shapefile, GeoJSON."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from shapefiles import write_polygons
from sonar_bdc.bdc.tiger import read_tracts, tract_geoid
from sonar_bdc.errors import ConfigError

NAD83 = 'GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983"]]'
PROJECTED = 'PROJCS["NAD_1983_Albers",GEOGCS["GCS_North_American_1983"]]'


def square(x: float, y: float, size: float = 1.0) -> list[list[float]]:
    return [[x, y], [x, y + size], [x + size, y + size], [x + size, y], [x, y]]  # clockwise


def write_tract_shapefile(
    base: Path, tracts: dict[str, list], prj: str = NAD83, fields: tuple[str, ...] = ("GEOID",)
) -> Path:
    """A TIGER-like polygon shapefile: {geoid: [ring, ...]} -> base.shp/.shx/.dbf/.prj."""
    features = []
    for geoid, rings in tracts.items():
        values = [geoid] if fields == ("GEOID",) else [geoid[:2], geoid[2:5], geoid[5:]]
        features.append((rings, [*values, f"Census Tract {geoid[5:]}"]))
    shp = write_polygons(base, [*((name, 20) for name in fields), ("NAMELSAD", 40)], features)
    base.with_suffix(".prj").write_text(prj)
    return shp


def zip_shapefile(shp: Path, target: Path, folder: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            z.write(shp.with_suffix(ext), folder + shp.with_suffix(ext).name)
    return target


def test_shapefile(tmp_path: Path) -> None:
    shp = write_tract_shapefile(
        tmp_path / "tl_2020_01_tract",
        {"01001020100": [square(-87, 32)], "01001020200": [square(-86, 32), square(-84, 32, 0.5)]},
    )
    tracts = read_tracts(shp)
    assert [t.geoid for t in tracts] == ["01001020100", "01001020200"]
    first = json.loads(tracts[0].geojson)
    assert first["type"] == "Polygon" and first["coordinates"][0][0] == [-87, 32]
    assert json.loads(tracts[1].geojson)["type"] == "MultiPolygon"


def test_zipped_shapefile_as_downloaded(tmp_path: Path) -> None:
    shp = write_tract_shapefile(
        tmp_path / "tl_2020_06_tract",
        {"06001400100": [square(-122, 37)]},
        fields=("STATEFP", "COUNTYFP", "TRACTCE"),
    )
    archive = zip_shapefile(shp, tmp_path / "tl_2020_06_tract.zip", folder="inner/")
    assert [t.geoid for t in read_tracts(archive)] == ["06001400100"]


def test_geojson(tmp_path: Path) -> None:
    path = tmp_path / "tracts.geojson"
    features = [
        {
            "type": "Feature",
            "properties": {"GEOID20": "09001010101"},
            "geometry": {"type": "Polygon", "coordinates": [square(-73, 41)]},
        },
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert [t.geoid for t in read_tracts(path)] == ["09001010101"]


def test_a_tract_without_geometry_is_refused_by_geoid_and_file(tmp_path: Path) -> None:
    path = tmp_path / "tracts.geojson"
    features = [
        {"type": "Feature", "properties": {"GEOID": "09001010101"}, "geometry": None},
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(ConfigError, match=r"tracts.geojson feature 1 \(GEOID 09001010101\) has no"):
        read_tracts(path)


def test_projected_files_are_refused(tmp_path: Path) -> None:
    shp = write_tract_shapefile(
        tmp_path / "albers", {"01001020100": [square(-87, 32)]}, prj=PROJECTED
    )
    with pytest.raises(ConfigError, match="projected"):
        read_tracts(shp)
    metres = tmp_path / "metres.geojson"
    geometry = {"type": "Polygon", "coordinates": [square(850000, 1100000, 1000)]}
    feature = {"type": "Feature", "properties": {"GEOID": "01001020100"}, "geometry": geometry}
    metres.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(ConfigError, match="projected"):
        read_tracts(metres)


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"GEOID10": "01001020100"}, "2010 tracts"),
        ({"NAME": "x"}, "no GEOID field"),
        ({"GEOID": "010010201001"}, "not an 11-digit census tract"),
        ({"GEOID": "01001"}, "not an 11-digit census tract"),
    ],
)
def test_geoid_checks(properties: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        tract_geoid(properties, "f.shp record 1")


def test_geoid_from_parts() -> None:
    assert tract_geoid({"STATEFP20": "01", "COUNTYFP20": "001", "TRACTCE20": "020100"}, "f") == (
        "01001020100"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.txt", "x", "expected a .shp, .zip"),
        ("t.zip", "not a zip", "not a zip file"),
        ("t.geojson", "{", "not readable GeoJSON"),
        ("t.geojson", "[]", "not a GeoJSON FeatureCollection"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_tracts(path)
    with pytest.raises(ConfigError, match="no such file"):
        read_tracts(tmp_path / "missing.shp")


def test_zip_without_shapefile(tmp_path: Path) -> None:
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "nothing")
    with pytest.raises(ConfigError, match=r"no \.shp"):
        read_tracts(archive)
