"""``sonar-bdc fabric load`` on real PostGIS, with generated look-alike files only
(never real Fabric data): recognition, streaming, one release per prefix, bad input."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from sonar_bdc.cli import main
from sonar_bdc.errors import FabricFileError, RunLocked
from sonar_bdc.fabric.files import ADDRESS_COLUMNS, LOCATION_COLUMNS, Kind, recognise
from sonar_bdc.fabric.load import load_fabric
from sonar_bdc.settings import Settings
from sonar_bdc.store import ddl, parse_prefix
from sonar_bdc.store.fabric import INDEXES

RELEASE = "06302025"


def location(n: int, **changes: str) -> dict[str, str]:
    row = {
        "location_id": str(1_100_000_000 + n), "address_primary": f"{n} EXAMPLE RD",
        "city": "SAMPLETOWN", "state": "TX", "zip": "78155", "zip_suffix": "",
        "unit_count": "1", "bsl_flag": "True" if n % 5 else "False",
        "building_type_code": "R", "land_use_code": "110", "address_confidence_code": "1",
        "county_geoid": "48187", "block_geoid": "481872105011000", "h3_9": "8948a2b3fffffff",
        "latitude": f"{29.5 + n / 1e5:.6f}", "longitude": f"{-97.9 - n / 1e5:.6f}",
        "fcc_rel": RELEASE,
    }  # fmt: skip
    row.update(changes)
    return row


def address(n: int, **changes: str) -> dict[str, str]:
    row = dict.fromkeys(ADDRESS_COLUMNS, "")
    row.update(location_id=str(1_100_000_000 + n), address_id=str(n), street_name="EXAMPLE",
               suffix="RD", primary_secondary="S", address=f"{n} EXAMPLE ROAD",
               city="SAMPLETOWN", state="TX", zip="78155", fcc_rel=RELEASE)  # fmt: skip
    row.update(changes)
    return row


def csv_text(rows: list[dict[str, str]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return out.getvalue()


LOC_HEADER = [*LOCATION_COLUMNS, "fcc_rel"]
ADDR_HEADER = [*ADDRESS_COLUMNS, "fcc_rel"]


def write_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def fabric_zip(tmp_path: Path, count: int = 50, release: str = RELEASE, start: int = 0) -> Path:
    """A delivered-like ZIP: two county BSL/NoBSL files and a Secondary file."""
    half = count // 2
    locs = [location(start + n, fcc_rel=release) for n in range(count)]
    addrs = [address(start + n, fcc_rel=release) for n in range(0, count, 3)]
    return write_zip(tmp_path / f"fabric_{release}_{start}.zip", {
        "FCC_Active_BSL_county_a.csv": csv_text(locs[:half], LOC_HEADER),
        "FCC_Active_NoBSL_county_b.csv": csv_text(locs[half:], LOC_HEADER),
        "FCC_Secondary_county_a.csv": csv_text(addrs, ADDR_HEADER),
        "readme.txt": "not a csv",
    })  # fmt: skip


@pytest.fixture
def fabric(pg_schema: tuple[dict, str], settings: Callable[..., Settings]) -> Iterator[Any]:
    params, schema = pg_schema

    class Fabric:
        prefix = f"{schema}."
        db_schema, db_params = pg_schema[1], pg_schema[0]
        config = settings(None, schema)

        def load(self, *files: Path, release: str | None = None) -> Any:
            return load_fabric(self.config, list(files), release, progress=False)

        def query(self, text: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(**params) as conn:
                conn.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
                return conn.execute(text).fetchall()  # type: ignore[arg-type]

        def staged(self) -> list[tuple[Any, ...]]:
            """The staging tables a load left (none, once it has ended)."""
            return self.query("SELECT tablename FROM pg_tables WHERE schemaname ="
                              " current_schema() AND tablename LIKE 'fabric_load%'")  # fmt: skip

        def columns(self, table: str) -> list[tuple[Any, ...]]:
            """What a table's columns and constraints are, as the catalog says."""
            return self.query(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                " a.attgenerated, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
                " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                f" WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0"
                " AND NOT a.attisdropped ORDER BY a.attnum"
            ) + self.query(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                f" WHERE conrelid = '{table}'::regclass ORDER BY conname"
            )

        def meta(self) -> dict[str, str]:
            return {k: v for k, v in self.query("SELECT key, value FROM metadata")}

        def cli(self, *argv: str) -> int:
            env = {"POSTGRES_HOST": params["host"], "POSTGRES_PORT": str(params["port"]),
                   "POSTGRES_USER": params["user"], "POSTGRES_DB": params["dbname"]}  # fmt: skip
            env_file = Path("test.env")
            env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            return main(["fabric", "load", *argv, "-p", self.prefix, "--env-file", str(env_file)])

    yield Fabric()


def test_a_zip_as_delivered_loads_every_kind_with_points_and_metadata(fabric, tmp_path) -> None:
    loaded = fabric.load(fabric_zip(tmp_path, 50))
    assert (loaded.replaced.bsl, loaded.replaced.nobsl, loaded.replaced.addresses) == (40, 10, 17)
    assert loaded.files == 3 and loaded.replaced.previous is None
    ((lat, lon, srid, rel, bsl),) = fabric.query(
        "SELECT ST_Y(geom), ST_X(geom), ST_SRID(geom), fcc_rel, bsl_flag FROM fabric_locations"
        " WHERE location_id = 1100000007"
    )
    assert (lat, lon, srid, rel, bsl) == (29.50007, -97.90007, 4326, RELEASE, True)
    assert fabric.query("SELECT zip_suffix FROM fabric_locations LIMIT 1") == [(None,)]
    meta = fabric.meta()
    assert meta["fabric_release"] == RELEASE
    counts = (meta["fabric_bsl"], meta["fabric_nobsl"], meta["fabric_addresses"])
    assert counts == ("40", "10", "17")
    assert meta["fabric_loaded_at"]


def test_the_key_and_indexes_are_those_of_the_schema_after_a_load(fabric, tmp_path) -> None:
    fabric.load(fabric_zip(tmp_path))
    prefix = parse_prefix(fabric.prefix)
    names = {prefix.name(f"{i.table}_{i.suffix}") for i in INDEXES}
    assert names <= set(ddl.derived_names(prefix))
    found = fabric.query(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        " AND tablename LIKE 'fabric_%'"
    )
    assert {n for n, _ in found} == names | {prefix.name("fabric_locations_pkey"),
                                             prefix.name("fabric_matches_pkey")}  # fmt: skip
    assert any("gist (geom)" in d for n, d in found if n.endswith("geom_idx"))


def test_plain_csvs_with_columns_reordered_and_no_fcc_rel_take_release(fabric, tmp_path) -> None:
    header = [c for c in reversed(LOCATION_COLUMNS)]  # found by name, not position
    path = tmp_path / "whatever_name.txt"
    path.write_text(csv_text([location(n) for n in range(5)], header), encoding="utf-8-sig")
    with pytest.raises(FabricFileError, match=r"no fcc_rel column.*--release"):
        fabric.load(path)
    loaded = fabric.load(path, release="2025-06")
    assert loaded.release == "2025-06" and loaded.replaced.bsl == 4


def test_a_supplemental_file_is_recognised_by_its_renamed_column(tmp_path) -> None:
    header = [("primary_supplemental" if c == "primary_secondary" else c) for c in ADDR_HEADER]
    assert recognise(header, "f").kind is Kind.ADDRESSES
    assert recognise(list(LOCATION_COLUMNS), "f").kind is Kind.LOCATIONS


def test_a_new_release_replaces_the_old_and_empties_the_matches(fabric, tmp_path) -> None:
    fabric.load(fabric_zip(tmp_path, 30, "12312024"))
    fabric.query(
        "INSERT INTO fabric_matches (customer_id, location_id, method) VALUES (1, 1100000001, "
        "'point') RETURNING 1"
    )
    loaded = fabric.load(fabric_zip(tmp_path, 20, RELEASE, start=1000))
    assert loaded.replaced.previous == "12312024" and loaded.replaced.matches_cleared == 1
    assert any("replaced release 12312024" in line for line in loaded.lines())
    assert any("fabric match again" in line for line in loaded.lines())
    assert fabric.query("SELECT DISTINCT fcc_rel FROM fabric_locations") == [(RELEASE,)]
    assert fabric.query("SELECT DISTINCT fcc_rel FROM fabric_addresses") == [(RELEASE,)]
    assert fabric.query("SELECT count(*), min(location_id) FROM fabric_locations") == [
        (20, 1_100_001_000)
    ]
    assert fabric.query("SELECT count(*) FROM fabric_matches") == [(0,)]


def test_reloading_the_same_release_replaces_it_and_is_idempotent(fabric, tmp_path) -> None:
    path = fabric_zip(tmp_path, 40)
    fabric.load(path)
    before = fabric.query("SELECT * FROM fabric_locations ORDER BY location_id")
    again = fabric.load(path)
    assert again.replaced.previous == RELEASE
    assert any("loaded already" in line for line in again.lines())
    assert fabric.query("SELECT * FROM fabric_locations ORDER BY location_id") == before


def test_files_of_two_releases_are_refused_before_anything_changes(fabric, tmp_path) -> None:
    fabric.load(fabric_zip(tmp_path, 10, "12312024"))
    mixed = [fabric_zip(tmp_path, 10, RELEASE, 100), fabric_zip(tmp_path, 10, "X", 200)]
    with pytest.raises(FabricFileError, match="more than one release"):
        fabric.load(*mixed)
    with pytest.raises(FabricFileError, match="holds release X, not --release"):
        fabric.load(*mixed, release=RELEASE)
    assert fabric.meta()["fabric_release"] == "12312024"
    assert fabric.query("SELECT count(*) FROM fabric_locations") == [(10,)]


def broken_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each bad input and (a piece of) its one-line message."""

    def loc_csv(name: str, rows: list[dict[str, str]], header: list[str] = LOC_HEADER) -> Path:
        path = tmp_path / name
        path.write_text(csv_text(rows, header))
        return path

    good = [location(n) for n in range(5)]

    def with_addresses(name: str, rows: list[dict[str, str]]) -> Path:
        return write_zip(tmp_path / name, {"l.csv": csv_text(good, LOC_HEADER),
                                           "s.csv": csv_text(rows, ADDR_HEADER)})  # fmt: skip

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(fabric_zip(tmp_path, 200).read_bytes()[:900])
    corrupt = tmp_path / "corrupt.zip"
    data = bytearray(fabric_zip(tmp_path, 200, start=500).read_bytes())
    data[200:260] = bytes(60)  # inside the first member's compressed data
    corrupt.write_bytes(bytes(data))
    return {
        "not fabric": (loc_csv("x.csv", [], ["a", "b"]), "not a Fabric file"),
        "missing column": (loc_csv("m.csv", good, [c for c in LOC_HEADER if c != "bsl_flag"]),
                           "no bsl_flag column"),
        "truncated zip": (truncated, "damaged or truncated"),
        "corrupt zip": (corrupt, "damaged or truncated"),
        "zip without fabric": (write_zip(tmp_path / "other.zip", {"a.csv": "x,y\n1,2\n"}),
                               "no Fabric CSV in the ZIP"),
        "zip without csv": (write_zip(tmp_path / "none.zip", {"a.txt": "x"}), "holds no CSV"),
        "short id": (loc_csv("s.csv", [*good, location(9, location_id="999999999")]),
                     "s.csv line 7: location_id is not a 10-digit"),
        "id below 1e9": (loc_csv("z.csv", [location(1, location_id="0999999999")]),
                         "z.csv line 2: location_id"),
        "id not a number": (loc_csv("n.csv", [location(1, location_id="11000000x1")]),
                            "location_id is not"),
        "latitude": (loc_csv("l.csv", [location(1, latitude="91")]), "line 2: latitude/longitude"),
        "longitude text": (loc_csv("o.csv", [location(1, longitude="west")]),
                           "latitude/longitude"),
        "bsl_flag": (loc_csv("b.csv", [location(1, bsl_flag="yes")]), "bsl_flag is neither"),
        "duplicate": (loc_csv("d.csv", [*good, location(2)]),
                      "location_id 1100000002 is on two rows, .*d.csv line 4 and .*d.csv line 7"),
        "release inside a file": (loc_csv("r.csv", [*good, location(7, fcc_rel="other")]),
                                  "r.csv line 7: fcc_rel is not"),
        "ragged row": (tmp_path / "g.csv", "fields where the header has"),
        "not utf-8": (tmp_path / "u.csv", "not UTF-8"),
        "nul byte": (loc_csv("nul.csv", [*good, location(7, city="SAMPLE\x00TOWN")]),
                     "nul.csv line 7: a field holds a NUL byte"),
        "no locations": (write_zip(tmp_path / "addr.zip", {"s.csv": csv_text([address(1)],
                                                                            ADDR_HEADER)}),
                         "no Active BSL/NoBSL file"),
        "address id": (with_addresses("ai.zip", [address(1), address(2, location_id="12")]),
                       "ai.zip:s.csv line 3: location_id is not a 10-digit"),
        "address_id": (with_addresses("ad.zip", [address(1), address(2, address_id="x1")]),
                       "ad.zip:s.csv line 3: address_id is not a whole number"),
        "address release": (with_addresses("ar.zip", [address(1), address(2, fcc_rel="o")]),
                            "ar.zip:s.csv line 3: fcc_rel is not"),
    }  # fmt: skip


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    files = broken_files(tmp_path)
    (tmp_path / "g.csv").write_text(csv_text([location(1)], LOC_HEADER) + "1,2,3\n")
    (tmp_path / "u.csv").write_bytes(
        csv_text([location(1)], LOC_HEADER).encode() + b"1100000005,\xff\xfe,x\n"
    )
    return files


BAD = [
    "not fabric", "missing column", "truncated zip", "corrupt zip", "zip without fabric",
    "zip without csv", "short id", "id below 1e9", "id not a number", "latitude",
    "longitude text", "bsl_flag", "duplicate", "release inside a file", "ragged row",
    "not utf-8", "no locations", "nul byte", "address id", "address_id", "address release",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    case: str, fabric, tmp_path, bad_files, capsys
) -> None:
    fabric.load(fabric_zip(tmp_path, 10, "12312024", start=900))
    before = fabric.query("SELECT location_id FROM fabric_locations ORDER BY 1")
    path, message = bad_files[case]
    assert fabric.cli(str(path)) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert re.search(message, lines[0]), lines[0]
    assert "EXAMPLE" not in err and "SAMPLETOWN" not in err  # never a row's address
    assert fabric.query("SELECT location_id FROM fabric_locations ORDER BY 1") == before
    assert fabric.meta()["fabric_release"] == "12312024"
    assert fabric.staged() == []


def test_a_missing_file_or_one_given_twice_is_refused(fabric, tmp_path) -> None:
    with pytest.raises(FabricFileError, match="no such file"):
        fabric.load(tmp_path / "absent.zip")
    with pytest.raises(FabricFileError, match="a directory; give the Fabric ZIP or CSV files"):
        fabric.load(tmp_path)
    path = fabric_zip(tmp_path)
    with pytest.raises(FabricFileError, match="given twice"):
        fabric.load(path, path)


def test_the_cli_prints_the_summary_and_exits_0(fabric, tmp_path, capsys) -> None:
    assert fabric.cli(str(fabric_zip(tmp_path, 20))) == 0
    text = capsys.readouterr().err
    assert f"Fabric release {RELEASE} loaded" in text and "16 BSL and 4 NoBSL" in text
    assert "EXAMPLE" not in text


def test_a_stop_request_rolls_back_and_keeps_the_old_release(fabric, tmp_path, monkeypatch) -> None:
    import threading

    from sonar_bdc import stopping

    fabric.load(fabric_zip(tmp_path, 10, "12312024"))
    real = stopping.stop_signals_as_flag

    class StopAtOnce:  # Ctrl-C arrives as the rows start streaming
        def __enter__(self) -> threading.Event:
            self.inner = real()
            event = self.inner.__enter__()
            event.set()
            return event

        def __exit__(self, *exc: object) -> None:
            self.inner.__exit__(*exc)

    monkeypatch.setattr(stopping, "stop_signals_as_flag", StopAtOnce)
    with pytest.raises(KeyboardInterrupt):
        fabric.load(fabric_zip(tmp_path, 10, RELEASE, start=300))
    assert fabric.meta()["fabric_release"] == "12312024"
    assert fabric.query("SELECT count(*), min(location_id) FROM fabric_locations") == [
        (10, 1_100_000_000)
    ]


def test_a_reader_holding_the_tables_makes_the_load_wait_then_exit_75(
    fabric, tmp_path, pg_schema, monkeypatch
) -> None:
    from sonar_bdc.store import fabric as store_fabric

    fabric.load(fabric_zip(tmp_path, 10))
    monkeypatch.setattr(store_fabric, "LOCK_TIMEOUT", sql.SQL("SET LOCAL lock_timeout = '200ms'"))
    params, schema = pg_schema
    with psycopg.connect(**params) as reader:
        reader.execute(sql.SQL("SELECT 1 FROM {}.fabric_locations LIMIT 1").format(
            sql.Identifier(schema)))  # fmt: skip
        with pytest.raises(RunLocked, match="in use by another session"):
            fabric.load(fabric_zip(tmp_path, 10, "other", start=50))
    assert fabric.meta()["fabric_release"] == RELEASE


def test_quoted_fields_and_escapes_reach_the_table_as_written(fabric, tmp_path) -> None:
    odd = ["1 MAIN ST, APT 2", "TAB\tHERE", "BACK\\SLASH", "TWO\nLINES", "CR\r\nLF"]
    rows = [location(n) for n in range(3)]
    rows += [location(10 + n, address_primary=text) for n, text in enumerate(odd)]
    path = tmp_path / "quoted.csv"
    path.write_bytes(csv_text(rows, LOC_HEADER).replace("\n", "\r\n").encode())
    fabric.load(path)
    stored = fabric.query("SELECT address_primary FROM fabric_locations WHERE location_id"
                          " >= 1100000010 ORDER BY location_id")  # fmt: skip
    assert [text for (text,) in stored] == [t.replace("\n", "\r\n") for t in odd]


def test_a_bad_row_after_blank_and_quoted_lines_names_its_own_line(fabric, tmp_path) -> None:
    rows = [location(1, address_primary="TWO\nLINES"), location(2), location(3, bsl_flag="x")]
    text = csv_text(rows, LOC_HEADER)
    path = tmp_path / "lines.csv"
    path.write_text(text.replace("\n", "\n\n", 1))  # a blank line after the header
    with pytest.raises(FabricFileError, match=r"lines.csv line 6: bsl_flag"):
        fabric.load(path)


def test_a_file_with_only_its_header_holds_no_release_to_disagree_with(fabric, tmp_path) -> None:
    """A county with no Secondary address comes as a header alone: the load goes on."""
    locs = [location(n) for n in range(6)]
    path = write_zip(tmp_path / "headers.zip", {
        "FCC_Active_BSL_a.csv": csv_text(locs, LOC_HEADER),
        "FCC_Secondary_a.csv": csv_text([], ADDR_HEADER),
    })  # fmt: skip
    loaded = fabric.load(path)
    assert loaded.release == RELEASE and loaded.rows == 6
    assert fabric.query("SELECT count(*) FROM fabric_addresses") == [(0,)]
    empty = write_zip(tmp_path / "empty.zip", {"FCC_Active_BSL_a.csv": csv_text([], LOC_HEADER)})
    with pytest.raises(FabricFileError, match="the files hold no rows, only headers"):
        fabric.load(empty)
    assert fabric.query("SELECT count(*) FROM fabric_locations") == [(6,)]


def test_the_tables_after_a_load_are_those_the_schema_creates(fabric, tmp_path) -> None:
    """The staging table's own columns (bsl_flag's text, latitude, longitude) and checks
    are gone after the swap: the columns, types, order and constraints are the schema's."""
    from sonar_bdc.store.fabric import FabricDb

    FabricDb.connect(fabric.config.postgres_conninfo(), parse_prefix(fabric.prefix)).close()
    created = {t: fabric.columns(t) for t in ("fabric_locations", "fabric_addresses")}
    fabric.load(fabric_zip(tmp_path))
    fabric.load(fabric_zip(tmp_path, 20, "other", start=100))  # a load replacing a load
    assert {t: fabric.columns(t) for t in created} == created
    assert fabric.staged() == []


def test_postgres_reads_delivered_files_and_python_never_splits_their_rows(
    fabric, tmp_path, monkeypatch
) -> None:
    from sonar_bdc.fabric import load as fabric_load

    def row_by_row(*args: object) -> None:
        raise AssertionError("a delivered locations file was read row by row")

    monkeypatch.setattr(fabric_load, "_copy_rows", row_by_row)
    loaded = fabric.load(fabric_zip(tmp_path, 30))  # BSL, NoBSL and Secondary files
    assert (loaded.replaced.bsl, loaded.replaced.nobsl, loaded.replaced.addresses) == (24, 6, 10)
    assert fabric.query(
        "SELECT address_id, address, zip_suffix, fcc_rel FROM fabric_addresses"
        " WHERE location_id = 1100000003"
    ) == [(3, "3 EXAMPLE ROAD", None, RELEASE)]


def test_rows_postgres_refuses_but_our_checks_take_are_loaded_row_by_row(
    fabric, tmp_path, caplog
) -> None:
    """A blank line and a release with spaces around it: PostgreSQL's CSV reading
    refuses them, our row checks take them; the load starts again, row by row."""
    rows = [location(n) for n in range(8)]
    rows[3]["fcc_rel"] = f" {RELEASE} "
    path = tmp_path / "spaced.csv"
    path.write_text(csv_text(rows, LOC_HEADER).replace("\n", "\n\n", 3))
    with caplog.at_level("INFO", logger="sonar_bdc.fabric"):
        loaded = fabric.load(path)
    assert "loading every file row by row" in caplog.text
    assert "EXAMPLE" not in caplog.text  # the refusal is named, never a value
    assert loaded.rows == 8 and fabric.meta()["fabric_release"] == RELEASE
    assert fabric.query("SELECT count(*), count(DISTINCT fcc_rel), min(fcc_rel)"
                        " FROM fabric_locations") == [(8, 1, RELEASE)]  # fmt: skip


def test_a_file_with_a_column_of_its_own_is_read_row_by_row(fabric, tmp_path) -> None:
    header = [*LOC_HEADER[:3], "county_name", *LOC_HEADER[3:]]
    path = tmp_path / "extra.csv"
    path.write_text(csv_text([location(n, county_name="X") for n in range(6)], header))
    assert fabric.load(path).rows == 6
    ((lat, lon),) = fabric.query("SELECT ST_Y(geom), ST_X(geom) FROM fabric_locations"
                                 " WHERE location_id = 1100000005")  # fmt: skip
    assert (lat, lon) == (29.50005, -97.90005)


def test_a_killed_loads_staging_tables_are_dropped_by_the_next(fabric, tmp_path) -> None:
    fabric.load(fabric_zip(tmp_path, 10))
    with psycopg.connect(**fabric.db_params) as conn:
        for table in ("fabric_load_loc", "fabric_load_addr"):  # as a kill -9 leaves them
            conn.execute(sql.SQL("CREATE TABLE {} (x int)").format(
                sql.Identifier(fabric.db_schema, table)))  # fmt: skip
    assert len(fabric.staged()) == 2
    fabric.load(fabric_zip(tmp_path, 10, "other", start=40))
    assert fabric.staged() == [] and fabric.meta()["fabric_release"] == "other"


def test_a_second_load_at_the_prefix_is_refused_with_exit_75(fabric, tmp_path) -> None:
    fabric.load(fabric_zip(tmp_path, 10))
    key = parse_prefix(fabric.prefix).lock_key("fabric load")
    with psycopg.connect(**fabric.db_params) as other:  # a load running elsewhere
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        with pytest.raises(RunLocked, match="another fabric load") as caught:
            fabric.load(fabric_zip(tmp_path, 10, "other", start=40))
    assert caught.value.exit_code == 75
    assert fabric.meta()["fabric_release"] == RELEASE and fabric.staged() == []


def test_schema_v7_drops_the_zip_indexes_of_a_loaded_v6_prefix(fabric, tmp_path) -> None:
    """A prefix loaded before v7 keeps its rows and loses only the two zip indexes."""
    from sonar_bdc.store import migrate

    prefix = parse_prefix(fabric.prefix)
    with psycopg.connect(**fabric.db_params) as conn:
        migrate.ensure_postgis(conn)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
            sql.Identifier(fabric.db_schema)))  # fmt: skip
        for version in range(1, 7):
            migrate.apply_version(conn, prefix, version)
    zips = ("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname LIKE '%zip_idx'")  # fmt: skip
    assert len(fabric.query(zips)) == 2
    fabric.load(fabric_zip(tmp_path, 10))  # the load migrates first
    assert fabric.query(zips) == []
    assert fabric.query("SELECT count(*) FROM fabric_locations") == [(10,)]


def test_privileges_granted_on_the_fabric_tables_outlive_a_load(fabric, tmp_path) -> None:
    """The swap replaces the tables: what others were granted goes to the new ones."""
    fabric.load(fabric_zip(tmp_path, 10))
    role = "sonar_bdc_test_reader"
    with psycopg.connect(**fabric.db_params, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
        for table in ("fabric_locations", "fabric_addresses"):
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.Identifier(fabric.db_schema, table), sql.Identifier(role)))  # fmt: skip
    fabric.load(fabric_zip(tmp_path, 10, "other", start=40))
    granted = fabric.query(
        f"SELECT has_table_privilege('{role}', 'fabric_locations', 'SELECT'),"
        f" has_table_privilege('{role}', 'fabric_addresses', 'SELECT'),"
        f" has_table_privilege('{role}', 'fabric_locations', 'DELETE')"
    )
    assert granted == [(True, True, False)]


def test_a_file_quoting_every_field_loads_as_one_quoting_none(
    fabric, tmp_path, monkeypatch
) -> None:
    """Every field in quotes, "" for empty: PostgreSQL reads it (FORCE_NULL makes "" a
    NULL, as csv gives an empty field) to the same rows as the plain file."""
    from sonar_bdc.fabric import load as fabric_load

    def row_by_row(*args: object) -> None:
        raise AssertionError("a quoted file was read row by row")

    monkeypatch.setattr(fabric_load, "_copy_rows", row_by_row)
    rows = [location(n) for n in range(12)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(LOC_HEADER)
    writer.writerows([[row[c] for c in LOC_HEADER] for row in rows])
    path = tmp_path / "all_quoted.csv"
    path.write_text(out.getvalue(), newline="")
    assert '"1100000003","3 EXAMPLE RD"' in out.getvalue() and ',"",' in out.getvalue()
    assert fabric.load(path).rows == 12
    quoted = fabric.query("SELECT * FROM fabric_locations ORDER BY location_id")
    plain = tmp_path / "plain.csv"
    plain.write_text(csv_text(rows, LOC_HEADER))
    fabric.load(plain)
    assert fabric.query("SELECT * FROM fabric_locations ORDER BY location_id") == quoted
    assert fabric.query("SELECT count(*) FROM fabric_locations WHERE zip_suffix IS NULL") == [(12,)]


def test_a_server_older_than_postgresql_13_is_named_before_any_work() -> None:
    from sonar_bdc.errors import StoreUnavailable
    from sonar_bdc.store.fabric import check_server

    check_server(130000)
    check_server(150019)
    with pytest.raises(StoreUnavailable, match="needs PostgreSQL 13 or newer; this server runs 12"):
        check_server(120022)


def test_with_one_connection_the_load_does_the_same_in_turn(fabric, tmp_path, monkeypatch) -> None:
    from sonar_bdc.store import fabric as store_fabric

    monkeypatch.setattr(store_fabric, "COPY_CONNECTIONS", 1)
    loaded = fabric.load(fabric_zip(tmp_path, 50))
    assert (loaded.replaced.bsl, loaded.replaced.nobsl, loaded.replaced.addresses) == (40, 10, 17)
    assert fabric.staged() == []
