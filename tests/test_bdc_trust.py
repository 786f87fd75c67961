"""The filing on day one (issue 14): atomic files, hostile values, silent acceptance.

Pure checks first, then the commands through ``cli.main`` against a database filled
by a real import from the simulator.
"""

from __future__ import annotations

import csv
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sonar_bdc import cli
from sonar_bdc.bdc.cli_args import check_as_of
from sonar_bdc.bdc.config import parse_config
from sonar_bdc.bdc.model import (
    NO_DATA_SERVICE,
    UNMAPPED_TECHNOLOGY,
    CustomerRow,
    Exclusion,
    ServiceRow,
)
from sonar_bdc.bdc.output import (
    FilingValidationError,
    SubscriptionRow,
    _replace_both,
    format_mbps,
    validate,
    write_files,
)
from sonar_bdc.bdc.rules import unused_config
from sonar_bdc.errors import ConfigError
from sonar_bdc.importer import run_import
from sonar_bdc.settings import ENV_FIELDS, Settings
from sonar_bdc.simulator import Simulator, generate
from sonar_bdc.simulator.v2 import UNKNOWN_TECHNOLOGY, GraphQLSimulator
from sonar_bdc.store import Store
from sonar_bdc.store.prefix import lookalike_warning, parse_prefix

EXAMPLE = Path(__file__).parents[1] / "docs" / "bdc.example.toml"
ROW = SubscriptionRow("01001020100", 70, 25_000, 3_000, 2, 1)

# --------------------------------------------------------------- both files or neither


def old_files(tmp_path: Path, name: str = "june") -> tuple[Path, Path]:
    csv_path, extra = tmp_path / f"{name}.csv", tmp_path / f"{name}.exceptions.csv"
    csv_path.write_text("old subscription\n")
    extra.write_text("old exceptions\n")
    return csv_path, extra


def test_a_directory_target_changes_neither_file(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    extra = tmp_path / "d.exceptions.csv"
    extra.write_text("old exceptions\n")
    with pytest.raises(ConfigError, match="is a directory"):
        write_files(folder, [ROW], [])
    assert extra.read_text() == "old exceptions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "d.exceptions.csv"]


def test_an_exceptions_target_that_is_a_directory_changes_neither_file(tmp_path: Path) -> None:
    csv_path = tmp_path / "june.csv"
    csv_path.write_text("old subscription\n")
    (tmp_path / "june.exceptions.csv").mkdir()
    with pytest.raises(ConfigError, match=r"june\.exceptions\.csv is a directory"):
        write_files(csv_path, [ROW], [])
    assert csv_path.read_text() == "old subscription\n"


def test_a_failure_writing_the_second_file_changes_neither(tmp_path: Path) -> None:
    csv_path, extra = old_files(tmp_path)
    unwritable = Exclusion(1, "bad \udcff", NO_DATA_SERVICE, "a lone surrogate: not UTF-8")
    with pytest.raises(UnicodeEncodeError):
        write_files(csv_path, [ROW], [unwritable])
    assert csv_path.read_text() == "old subscription\n"
    assert extra.read_text() == "old exceptions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["june.csv", "june.exceptions.csv"]


def test_a_failed_second_rename_puts_the_first_file_back(tmp_path: Path) -> None:
    csv_path, extra = old_files(tmp_path)
    new = tmp_path / ".june.csv.tmp"
    new.write_text("new subscription\n")
    with pytest.raises(FileNotFoundError):  # the second temporary file is gone
        _replace_both((new, csv_path), (tmp_path / ".missing.tmp", extra))
    assert csv_path.read_text() == "old subscription\n"
    assert extra.read_text() == "old exceptions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["june.csv", "june.exceptions.csv"]


def test_a_negative_speed_is_a_validation_failure_not_a_crash() -> None:
    assert format_mbps(-1500) == "-1.5"
    with pytest.raises(FilingValidationError, match=r"01001020100,70,-25,3,2,1\): a speed is neg"):
        validate([SubscriptionRow("01001020100", 70, -25_000, 3_000, 2, 1)])


# --------------------------------------------------------------- silent acceptance


def test_the_as_of_date_must_be_a_filing_date(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("sonar_bdc"), "propagate", True)  # for caplog
    check_as_of(date(2025, 6, 30), any_date=False)
    check_as_of(date(2025, 12, 31), any_date=False)
    with pytest.raises(ConfigError, match="BDC filings are as of June 30 or December 31"):
        check_as_of(date(2025, 6, 29), any_date=False)
    with caplog.at_level(logging.WARNING):
        check_as_of(date(2025, 6, 29), any_date=True)
    assert "trial file" in caplog.text


def service(sid: int, name: str, tech: str | None = None) -> ServiceRow:
    return ServiceRow(sid, name, True, 25_000, 3_000, 70, tech)


def test_config_entries_that_match_nothing_are_named() -> None:
    config = parse_config(
        {
            "technology": {
                "service": [
                    {"id": [1, 99], "technology_code": 71},
                    {"id": 98, "technology_code": 71},
                    {"name_pattern": "cbrs *", "technology_code": 72},
                    {"name_pattern": "*Unlicensed*", "technology_code": 70},
                ],
                "names": {"LICENSED_FIXED_WIRELESS_NEW": 71, "FIBER": 50},
            },
            "consumer": {"business_groups": ["VIP", "Commercial", 12], "consumer_groups": [3]},
        },
        "bdc.toml",
    )
    customers = [
        CustomerRow(1, services=(service(1, "Basic"), service(2, "CBRS 100/20"))),
        CustomerRow(2, services=(service(3, "x", "licensed_fixed_wireless_new"),)),
        CustomerRow(3, group_ids=(3, 4), group_names=("Seasonal", "VIP")),
    ]
    assert unused_config(config, customers) == [
        "[[technology.service]] #2 (id 98) in bdc.toml matches no service in the database",
        "[[technology.service]] #4 (name_pattern '*Unlicensed*') in bdc.toml matches no "
        "service in the database",
        "[technology.names] 'fiber' in bdc.toml matches no service's technology name in the "
        "database",
        "[consumer] business_groups 'Commercial' in bdc.toml matches no group of any customer",
        "[consumer] business_groups 12 in bdc.toml matches no group of any customer",
    ]


@pytest.mark.parametrize(
    ("text", "schema_exists", "warned"),
    [
        ("sonar", True, True),  # beside the existing schema sonar
        ("sonar", False, True),  # a bare word: public.sonarcustomers is surely not meant
        ("bdc_", False, False),  # the documented public.bdc_* form
        ("bdc_", True, True),  # ... unless a schema of exactly that name exists
        ("sonar.", True, False),
        ("sonar.bdc_", True, False),
    ],
)
def test_a_prefix_without_its_dot(text: str, schema_exists: bool, warned: bool) -> None:
    warning = lookalike_warning(parse_prefix(text), schema_exists)
    assert (warning is not None) == warned
    if warned:
        assert f"did you mean -p {text}.?" in str(warning)


# --------------------------------------------------------------- through the commands


@pytest.fixture(scope="module")
def imported(settings: Callable[..., Settings]) -> Iterator[str]:
    """A generated Sonar imported completely (v1): the filing's readiness is not at issue."""
    prefix = f"trust_{uuid.uuid4().hex[:8]}."
    with Simulator(generate(accounts=80, seed=5)) as sim:
        assert (
            run_import(settings(sim, prefix=prefix, workers=2), show_progress=False).exit_code == 0
        )
    yield prefix


@pytest.fixture
def env(pg_database: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test database in the environment, no .env; the working directory is tmp_path."""
    for name in ENV_FIELDS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POSTGRES_HOST", pg_database["host"])
    monkeypatch.setenv("POSTGRES_PORT", str(pg_database["port"]))
    monkeypatch.setenv("POSTGRES_USER", pg_database["user"])
    monkeypatch.setenv("POSTGRES_DB", pg_database["dbname"])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def subscription(prefix: str, *extra: str) -> int:
    return cli.main(["bdc", "subscription", "--as-of", "2026-06-30", "-p", prefix, *extra])


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "error" in line]


def test_a_negative_speed_in_the_database_is_one_line_and_no_file(
    imported: str, env: Path, pg_conn: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    services = sql.Identifier(imported.rstrip("."), "services")
    negate = sql.SQL(
        "UPDATE {} SET download_kbps = -download_kbps WHERE data_service AND upload_kbps > 200"
    ).format(services)
    pg_conn.execute(negate)
    try:
        assert subscription(imported, "-o", "june.csv") == 1
    finally:
        pg_conn.execute(negate)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert error_lines(err) == [line for line in err.splitlines() if "a speed is negative" in line]
    assert len(error_lines(err)) == 1
    assert list(env.iterdir()) == []


def test_a_directory_output_leaves_the_old_exceptions_file(
    imported: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (env / "d").mkdir()
    (env / "d.exceptions.csv").write_text("old exceptions\n")
    assert subscription(imported, "-o", "d") == 2
    assert "d is a directory" in capsys.readouterr().err
    assert (env / "d.exceptions.csv").read_text() == "old exceptions\n"


def test_standard_output_and_other_dates_are_refused(
    imported: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        subscription(imported, "-o", "-")
    assert exit_.value.code == 2
    assert "standard output (-) is not supported; give a file name" in capsys.readouterr().err
    argv = ["bdc", "subscription", "--as-of", "2026-05-31", "-p", imported]
    assert cli.main(argv) == 2
    assert "BDC filings are as of June 30 or December 31" in capsys.readouterr().err
    assert list(env.iterdir()) == []
    assert cli.main([*argv, "--any-date"]) == 0
    assert "trial file" in capsys.readouterr().err
    assert (env / "bdc_subscription_2026-05-31.csv").is_file()


def test_the_example_configuration_matches_the_demo_and_a_typo_is_named(
    imported: str, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert subscription(imported, "--config", str(EXAMPLE)) == 0
    assert "matches no" not in capsys.readouterr().err
    typo = env / "typo.toml"
    typo.write_text('[consumer]\nbusiness_groups = ["VIP", "Comercial"]\n')
    assert subscription(imported, "--config", str(typo)) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "matches no" in line]
    assert len(warned) == 1 and "'Comercial'" in warned[0] and "WARNING" in warned[0]


def feature(geoid: str, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": {"GEOID": geoid}, "geometry": geometry}


SQUARE = {"type": "Polygon", "coordinates": [[[-86.5, 32.4], [-86.4, 32.4], [-86.4, 32.5],
                                              [-86.5, 32.4]]]}  # fmt: skip


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([], "empty.geojson: no tract polygons in the file; nothing loaded"),
        (
            [feature("01001020100", SQUARE), feature("01001020200", None)],
            "empty.geojson feature 2 (GEOID 01001020200) has no geometry",
        ),
    ],
)
def test_tracts_load_without_polygons_is_an_error(
    imported: str, env: Path, pg_conn: psycopg.Connection, capsys: pytest.CaptureFixture[str],
    features: list, message: str,
) -> None:  # fmt: skip
    path = env / "empty.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert cli.main(["tracts", "load", str(path), "-p", imported]) == 2
    assert message in capsys.readouterr().err
    tracts = pg_conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'tracts'",
        [imported.rstrip(".")],
    ).fetchone()
    assert tracts == (0,)  # nothing loaded, not even an empty table


def test_a_prefix_without_its_dot_warns_where_the_store_opens(
    imported: str, env: Path, pg_database: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = imported.rstrip(".")
    assert subscription(schema) == 2  # nothing imported at public.<schema>...
    warning = f"not those in the existing schema {schema}; did you mean -p {schema}.?"
    assert warning in capsys.readouterr().err
    with Store.connect(pg_database, schema):  # the import's way in: the same warning
        pass
    assert warning in capsys.readouterr().err


# --------------------------------------------------------------- one place for technology names


def test_an_unknown_v2_technology_name_is_mapped_by_the_filing_configuration(
    pg_schema: tuple[dict, str], env: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    settings: Callable[..., Settings],
) -> None:  # fmt: skip
    _, schema = pg_schema
    monkeypatch.setattr(logging.getLogger("sonar_bdc"), "propagate", True)  # for caplog
    with (
        GraphQLSimulator(generate(accounts=120, seed=7), unknown_technology=True) as sim,
        caplog.at_level(logging.WARNING),
    ):
        assert run_import(settings(sim, schema, workers=2), show_progress=False).exit_code == 0
    pointers = [r.getMessage() for r in caplog.records if UNKNOWN_TECHNOLOGY in r.getMessage()]
    assert len(set(pointers)) == 2  # the enum at the start, the services at the end
    assert all("[technology.names] NAME = <BDC code>" in p for p in pointers)
    assert not any("SONAR_TECHNOLOGY_NAMES" in p for p in pointers)

    assert subscription(f"{schema}.", "-o", "plain.csv") == 0
    unmapped = [r for r in exceptions(env / "plain.exceptions.csv") if r[2] == UNMAPPED_TECHNOLOGY]
    assert unmapped and all(f"add {UNKNOWN_TECHNOLOGY} = <BDC code>" in r[3] for r in unmapped)

    config = env / "bdc.toml"
    config.write_text(f"[technology.names]\n{UNKNOWN_TECHNOLOGY} = 71\n")
    capsys.readouterr()
    assert subscription(f"{schema}.", "-o", "mapped.csv", "--config", str(config)) == 0
    assert f"technology 71: {len(unmapped)} " in capsys.readouterr().err
    mapped = exceptions(env / "mapped.exceptions.csv")
    assert not [r for r in mapped if r[2] == UNMAPPED_TECHNOLOGY]


def exceptions(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))[1:]
