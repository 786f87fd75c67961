"""Speeds, aggregation, validation and the two files."""

from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from sonar_bdc.bdc.model import (
    NO_COORDINATES,
    NO_DATA_SERVICE,
    UNKNOWN_STATUS,
    Connection,
    Exclusion,
    Skipped,
)
from sonar_bdc.bdc.output import (
    EXCEPTIONS_HEADER,
    HEADER,
    FilingValidationError,
    SubscriptionRow,
    aggregate,
    exceptions_path,
    format_mbps,
    validate,
    write_files,
)
from sonar_bdc.bdc.summary import FilingSummary


@pytest.mark.parametrize(
    ("kbps", "mbps"),
    [
        (15000, "15"),
        (2048, "2.048"),
        (1500, "1.5"),
        (512, "0.512"),
        (0, "0"),
        (1_000_000, "1000"),
        (250, "0.25"),
        (100_001, "100.001"),
    ],
)
def test_format_mbps(kbps: int, mbps: str) -> None:
    assert format_mbps(kbps) == mbps


def conn(
    cid: int,
    tract: str = "01001020100",
    code: int = 70,
    down: int = 25000,
    up: int = 3000,
    consumer: bool = True,
) -> Connection:
    return Connection(cid, tract, code, down, up, consumer, "fips")


def test_aggregate_one_row_per_tract_technology_and_speeds() -> None:
    rows = aggregate(
        [
            conn(1),
            conn(2, consumer=False),
            conn(3, code=71),
            conn(4, down=50000),
            conn(5, tract="01001020000"),
            conn(6, down=2048, up=512),
        ]
    )
    assert [r.cells() for r in rows] == [
        ("01001020000", "70", "25", "3", "1", "1"),
        ("01001020100", "70", "2.048", "0.512", "1", "1"),
        ("01001020100", "70", "25", "3", "2", "1"),
        ("01001020100", "70", "50", "3", "1", "1"),
        ("01001020100", "71", "25", "3", "1", "1"),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (SubscriptionRow("1001020100", 70, 1, 1, 1, 1), "not 11 digits"),
        (SubscriptionRow("0100102010A", 70, 1, 1, 1, 1), "not 11 digits"),
        (SubscriptionRow("01001020100", 80, 1, 1, 1, 1), "not a BDC code"),
        (SubscriptionRow("01001020100", 70, 1, 1, 1, 2), "not between 0 and total"),
        (SubscriptionRow("01001020100", 70, 1, 1, 0, 0), "below 1"),
    ],
)
def test_validation_refuses_and_writes_nothing(
    tmp_path: Path, row: SubscriptionRow, message: str
) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(FilingValidationError, match=message):
        write_files(target, [row], [])
    assert list(tmp_path.iterdir()) == []


def test_validation_finds_duplicates_and_counts_the_rest() -> None:
    row = SubscriptionRow("01001020100", 70, 1, 1, 1, 1)
    with pytest.raises(FilingValidationError, match=r"line 3 .*duplicate row"):
        validate([row, row])
    bad = [SubscriptionRow("x", 70, i, 1, 1, 1) for i in range(8)]
    with pytest.raises(FilingValidationError, match=r"\(and 3 more\)"):
        validate(bad)


def test_files_read_back_with_csv(tmp_path: Path) -> None:
    target = tmp_path / "filing" / "subscription.csv"
    exclusions = [
        Exclusion(9, "Zed, Inc.", NO_COORDINATES, 'no "fips"'),
        Exclusion(3, None, NO_DATA_SERVICE, "no services"),
        Exclusion(5, "Eve", UNKNOWN_STATUS, "status"),
    ]
    extra = write_files(target, aggregate([conn(1), conn(2, consumer=False)]), exclusions)
    assert extra == tmp_path / "filing" / "subscription.exceptions.csv"
    with target.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows == [list(HEADER), ["01001020100", "70", "25", "3", "2", "1"]]
    header = "tract,technology_code,advertised_download_speed,advertised_upload_speed,"
    assert ",".join(rows[0]) == header + "total_connections,consumer_connections"
    with extra.open(newline="", encoding="utf-8") as f:
        listed = list(csv.DictReader(f))
    assert tuple(listed[0]) == EXCEPTIONS_HEADER
    assert [(r["customer_id"], r["reason"]) for r in listed] == [
        ("5", UNKNOWN_STATUS),
        ("3", NO_DATA_SERVICE),
        ("9", NO_COORDINATES),
    ]
    assert listed[2]["name"] == "Zed, Inc." and listed[2]["detail"] == 'no "fips"'
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "subscription.csv",
        "subscription.exceptions.csv",
    ]


def test_exceptions_path() -> None:
    assert exceptions_path(Path("a/b.csv")) == Path("a/b.exceptions.csv")
    assert exceptions_path(Path("june")) == Path("june.exceptions.csv")


def test_summary_lines() -> None:
    outcomes = [
        conn(1),
        conn(2, consumer=False),
        conn(3, code=50),
        Exclusion(4, "x", NO_COORDINATES, ""),
        Skipped(5, "inactive status"),
    ]
    summary = FilingSummary.from_outcomes(date(2024, 6, 30), outcomes)
    summary.data_imported_at = datetime(2024, 7, 1, tzinfo=timezone.utc)
    text = "\n".join(summary.lines())
    assert "connections counted: 3, consumer 2 (66.7%)" in text
    assert "technology 50: 1 (consumer 1)" in text
    assert "technology 70: 2 (consumer 1)" in text
    assert "no_coordinates: 1" in text and "inactive status 1" in text
    assert summary.warnings() == []
    summary.data_imported_at = datetime(2024, 8, 20, tzinfo=timezone.utc)
    assert "51 days after the as-of date 2024-06-30" in summary.warnings()[0]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("Jane O'Hara", "Jane O'Hara"),
        ("", ""),
    ],
)
def test_exception_names_cannot_run_as_spreadsheet_formulas(name, written) -> None:
    from sonar_bdc.bdc.output import spreadsheet_safe

    assert spreadsheet_safe(name) == written
