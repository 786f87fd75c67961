"""Coverage areas: each format, reprojection from the declared CRS, refusals, list, remove."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from coverage_files import linestring_wkb, polygon_wkb, project, square, write_polygons
from sonar_bdc.cli import main
from sonar_bdc.coverage.run import list_coverage, load_coverage, remove_coverage
from sonar_bdc.errors import ConfigError
from sonar_bdc.settings import Settings
from sonar_bdc.store.coverage import AreaOffer

WEST, SOUTH, SIZE = -98.5, 29.4, 0.1  # a square near San Antonio, in UTM zone 14
SQUARE = square(WEST, SOUTH, SIZE)


@pytest.fixture
def db(pg_schema: tuple[dict, str]) -> Settings:
    conninfo, schema = pg_schema
    return Settings(
        prefix=f"{schema}.",
        postgres_host=conninfo["host"],
        postgres_port=conninfo["port"],
        postgres_user=conninfo["user"],
        postgres_db=conninfo["dbname"],
    )


def stored(settings: Settings) -> list[tuple]:
    """(technology, source, bounds rounded to 1e-6 degrees) of every stored area."""
    schema = settings.prefix.rstrip(".")
    with psycopg.connect(**settings.postgres_conninfo()) as conn:  # type: ignore[arg-type]
        query = sql.SQL(
            "SELECT technology, source, round(ST_XMin(geom)::numeric, 6)::float,"
            " round(ST_YMin(geom)::numeric, 6)::float, round(ST_XMax(geom)::numeric, 6)::float,"
            " round(ST_YMax(geom)::numeric, 6)::float, ST_SRID(geom)"
            " FROM {}.coverage_areas ORDER BY id"
        ).format(sql.Identifier(schema))
        try:
            return conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:
            return []


BOUNDS = (WEST, SOUTH, WEST + SIZE, SOUTH + SIZE, 4326)


@pytest.mark.parametrize(
    ("name", "epsg"),
    [("a.geojson", 4326), ("b.shp", 32614), ("c.gpkg", 3857), ("d.geojson", 32614)],
)
def test_each_format_is_reprojected_from_its_declared_crs(
    db: Settings, tmp_path: Path, name: str, epsg: int
) -> None:
    rings = [SQUARE] if epsg == 4326 else project([SQUARE], epsg)
    path = write_polygons(tmp_path / name, [polygon_wkb(rings)], f"EPSG:{epsg}")
    loaded = load_coverage(db, [path], AreaOffer(70))
    assert (loaded.polygons, loaded.repaired, loaded.total) == (1, 0, 1)
    # A projected square is a curved quadrilateral in degrees: its corners are exact.
    assert stored(db) == [(70, name, *BOUNDS)]


def test_a_zipped_shapefile_loads(db: Settings, tmp_path: Path) -> None:
    import zipfile

    shp = write_polygons(tmp_path / "z.shp", [polygon_wkb(project([SQUARE], 32614))], "EPSG:32614")
    archive = tmp_path / "coverage.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for ext in ("shp", "shx", "dbf", "prj"):
            z.write(shp.with_suffix(f".{ext}"), f"z.{ext}")
    assert load_coverage(db, [archive], AreaOffer(71)).polygons == 1
    assert stored(db) == [(71, "coverage.zip", *BOUNDS)]


def test_a_file_without_a_crs_is_refused(db: Settings, tmp_path: Path) -> None:
    path = write_polygons(tmp_path / "n.shp", [polygon_wkb(project([SQUARE], 32614))], None)
    assert not path.with_suffix(".prj").exists()
    with pytest.raises(ConfigError, match="declares no coordinate reference system"):
        load_coverage(db, [path], AreaOffer(70))
    assert stored(db) == []


def test_projected_geojson_that_says_nothing_is_refused(db: Settings, tmp_path: Path) -> None:
    """RFC 7946 GeoJSON is longitude/latitude; metres there are a file that lies."""
    path = write_polygons(tmp_path / "m.geojson", [polygon_wkb(project([SQUARE], 32614))], None)
    with pytest.raises(ConfigError, match="feature 1 lies outside longitude/latitude"):
        load_coverage(db, [path], AreaOffer(70))
    assert stored(db) == []


def test_a_line_is_not_coverage_and_nothing_loads(db: Settings, tmp_path: Path) -> None:
    good = write_polygons(tmp_path / "good.geojson", [polygon_wkb([SQUARE])])
    bad = write_polygons(
        tmp_path / "bad.geojson", [polygon_wkb([SQUARE]), linestring_wkb(SQUARE[:2])]
    )
    with pytest.raises(ConfigError, match=r"bad.geojson: feature 2 is a Linestring, not a polygon"):
        load_coverage(db, [good, bad], AreaOffer(70))
    assert stored(db) == []


def test_a_self_intersecting_polygon_is_repaired(db: Settings, tmp_path: Path) -> None:
    bowtie = [(WEST, SOUTH), (WEST + SIZE, SOUTH + SIZE), (WEST + SIZE, SOUTH),
              (WEST, SOUTH + SIZE), (WEST, SOUTH)]  # fmt: skip
    path = write_polygons(tmp_path / "bowtie.geojson", [polygon_wkb([bowtie])])
    loaded = load_coverage(db, [path], AreaOffer(70))
    assert (loaded.polygons, loaded.repaired) == (1, 1)
    assert stored(db) == [(70, "bowtie.geojson", *BOUNDS)]


def test_an_unreadable_file_is_refused(db: Settings, tmp_path: Path) -> None:
    path = tmp_path / "broken.gpkg"
    path.write_text("not a geopackage")
    with pytest.raises(ConfigError, match=r"broken\.gpkg: not a readable GIS file"):
        load_coverage(db, [path], AreaOffer(70))
    with pytest.raises(ConfigError, match="expected a GeoJSON"):
        (tmp_path / "x.kml").write_text("")
        load_coverage(db, [tmp_path / "x.kml"], AreaOffer(70))


def test_list_replace_and_remove(db: Settings, tmp_path: Path) -> None:
    one = write_polygons(tmp_path / "one.geojson", [polygon_wkb([SQUARE])] * 2)
    load_coverage(db, [one], AreaOffer(70, 100, 20, True, "X"))
    load_coverage(db, [one], AreaOffer(50))
    areas = list_coverage(db)
    assert [(a.technology, a.download_mbps, a.upload_mbps, a.feature) for a in areas] == [
        (50, None, None, 1), (50, None, None, 2), (70, 100, 20, 1), (70, 100, 20, 2),
    ]  # fmt: skip
    assert areas[0].source_crs == "WGS 84 (EPSG:4326)" and 100 < areas[0].square_km < 120
    replaced = load_coverage(db, [one], AreaOffer(50, 25, 3), replace=True)
    assert (replaced.replaced, replaced.total) == (2, 2)
    assert remove_coverage(db, ids=[areas[2].id]) == 1
    assert remove_coverage(db, technology=50) == 2
    assert [a.technology for a in list_coverage(db)] == [70]


def cli(settings: Settings, *argv: str) -> int:
    env = tuple(
        f"{k}={v}"
        for k, v in {
            "POSTGRES_HOST": settings.postgres_host,
            "POSTGRES_PORT": settings.postgres_port,
            "POSTGRES_USER": settings.postgres_user,
            "POSTGRES_DB": settings.postgres_db,
        }.items()
    )
    Path(".env").write_text("\n".join(env) + "\n")
    return main([*argv, "-p", settings.prefix, "--env-file", ".env"])


def test_the_command_line_checks_the_offer(
    db: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_polygons(tmp_path / "a.geojson", [polygon_wkb([SQUARE])])
    assert cli(db, "coverage", "load", "--technology", "70", "--download", "12",
               "--upload", "2", str(path)) == 2  # fmt: skip
    assert "12/2 Mbps is below 25/3 and not one of the FCC's tiers" in capsys.readouterr().err
    assert cli(db, "coverage", "load", "--technology", "70", "--download", "100", str(path)) == 2
    assert cli(db, "coverage", "load", "--technology", "70", "--download", "10",
               "--upload", "1", "--low-latency", "1", str(path)) == 0  # fmt: skip
    assert cli(db, "coverage", "list") == 0
    assert cli(db, "coverage", "remove", "--technology", "70") == 0
    assert stored(db) == []
    with pytest.raises(SystemExit) as exc:
        main(["coverage", "load", "--technology", "80", str(path)])
    assert exc.value.code == 2
