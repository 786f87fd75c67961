"""Report layouts A and B, auto-detection, a report that fits neither, collapsing."""

from __future__ import annotations

import logging

import pytest

from sonar_bdc.errors import SonarDataError
from sonar_bdc.records import ReportRow
from sonar_bdc.sonar.v1.report import detect_layout, parse_report

LINK = '<a href="/accounts/{id}">Account {id}</a>'


def row_a(account_id, lat="29.2845", lon="-98.37306", zip_="78112", **over) -> list:
    """A design-document (layout A) row."""
    row = [account_id, LINK.format(id=account_id), "Active", f"Name {account_id}",
           "a@example.com", "", "", "", "", "Group A", "1 Main St", "San Antonio", "TX", zip_,
           lat, lon, "1234", "#1", None, None, "US", "geocoder"]  # fmt: skip
    for index, value in over.items():
        row[int(index.removeprefix("c"))] = value
    return row


def row_b(account_id, lat="29.2845", lon="-98.37306", zip_="78112") -> list:
    """A live-sample (layout B) row: physical then mailing address."""
    return [account_id, LINK.format(id=account_id), "Active", f"Contact {account_id}",
            "a@example.com", "555", "", "", "", "Group A", "1 Main St", "#1", "San Antonio",
            "TX", zip_, lat, lon, "PO Box 1", "", "San Antonio", "TX", "78113"]  # fmt: skip


def test_layout_a_fields() -> None:
    report = parse_report([row_a(7)], "A")
    assert report.layout == "A"
    assert report.rows == [
        ReportRow(id=7, name="Name 7", status="Active", address="1 Main St", street2="#1",
                  city="San Antonio", state="TX", zip="78112", plus4="1234", country="US",
                  source="geocoder", latitude=29.2845, longitude=-98.37306)
    ]  # fmt: skip


def test_layout_b_fields() -> None:
    report = parse_report([row_b("7")], "B")
    assert report.layout == "B"
    assert report.rows == [
        ReportRow(id=7, name="Contact 7", status="Active", address="1 Main St", street2="#1",
                  city="San Antonio", state="TX", zip="78112", latitude=29.2845,
                  longitude=-98.37306)
    ]  # fmt: skip


@pytest.mark.parametrize(("make", "expected"), [(row_a, "A"), (row_b, "B")])
def test_auto_detects_layout(make, expected: str, caplog: pytest.LogCaptureFixture) -> None:
    rows = [make(i) for i in range(1, 11)] + [make(20, lat="", lon=""), make(21, lat="0", lon="0")]
    with caplog.at_level(logging.INFO, logger="sonar_bdc.sonar.v1.report"):
        report = parse_report(rows, "auto")
    assert report.layout == expected
    assert f"report layout {expected} detected" in caplog.text
    assert len(report.rows) == 12
    assert report.invalid_coordinates == 2 and report.rejected_coordinates == 0


@pytest.mark.parametrize(("make", "expected"), [(row_a, "A"), (row_b, "B")])
def test_auto_tolerates_some_garbage_coordinates(make, expected: str) -> None:
    rows = [make(i) for i in range(1, 7)] + [make(i, lat="abc", lon="x") for i in range(7, 11)]
    report = parse_report(rows)
    assert report.layout == expected
    assert report.invalid_coordinates == 4 and report.rejected_coordinates == 4


@pytest.mark.parametrize(("make", "expected"), [(row_a, "A"), (row_b, "B")])
def test_auto_without_any_geocoded_row_uses_zip_column(make, expected: str) -> None:
    rows = [make(i, lat="", lon="") for i in range(1, 6)]
    assert detect_layout(rows) == expected


def test_empty_report() -> None:
    report = parse_report([], "auto")
    assert (report.rows, report.raw_rows, report.layout) == ([], 0, "A")


def test_report_fitting_neither_layout_stops() -> None:
    # Layout A with two extra columns inserted before the address: everything shifted.
    rows = [[*row_a(i)[:10], "x", "y", *row_a(i)[10:]] for i in range(1, 11)]
    with pytest.raises(SonarDataError, match=r"fits neither .*SONAR_REPORT_LAYOUT"):
        parse_report(rows, "auto")


def test_report_with_mostly_invalid_coordinates_stops() -> None:
    rows = [row_b(1)] + [row_b(i, lat="999", lon="999") for i in range(2, 10)]
    with pytest.raises(SonarDataError, match="fits neither"):
        parse_report(rows, "auto")


def test_explicit_layout_overrides_detection(caplog: pytest.LogCaptureFixture) -> None:
    rows = [row_b(i) for i in range(1, 5)]
    with caplog.at_level(logging.WARNING, logger="sonar_bdc.sonar.v1.report"):
        report = parse_report(rows, "A")
    assert report.layout == "A"
    assert report.rows[0].zip == "TX"  # read as told, with a warning
    assert all(row.latitude is None for row in report.rows)
    assert "layout B has valid coordinates" in caplog.text


def test_collapses_rows_of_one_account_to_the_first() -> None:
    rows = [row_a(1), row_a(2), row_a("1", lat="30", lon="-97", c3="Second contact"), row_a(1)]
    report = parse_report(rows, "A")
    assert [r.id for r in report.rows] == [1, 2]
    assert report.rows[0].name == "Name 1" and report.rows[0].latitude == 29.2845
    assert (report.raw_rows, report.duplicate_rows) == (4, 2)


def test_rows_without_account_id_are_skipped() -> None:
    report = parse_report([row_a(1), row_a(""), row_a("x"), row_a(None)], "A")
    assert [r.id for r in report.rows] == [1]
    assert report.skipped_rows == 3


def test_values_parsed_without_guessing() -> None:
    row = row_a(1, lat=29.5, lon=-98.5, zip_=8012, c3="", c20=None)
    (parsed,) = parse_report([row], "A").rows
    assert (parsed.latitude, parsed.longitude) == (29.5, -98.5)
    assert parsed.zip == "8012" and parsed.name is None and parsed.country is None


def test_short_rows_read_as_missing_values() -> None:
    (parsed,) = parse_report([row_a(1)[:16]], "A").rows
    assert parsed.latitude == 29.2845 and parsed.plus4 is None and parsed.source is None


@pytest.mark.parametrize("data", [{"rows": []}, [{"id": 1}], "text", None])
def test_not_a_list_of_rows(data) -> None:
    with pytest.raises(SonarDataError, match="not a list of rows"):
        parse_report(data)


def test_streamed_rows_accept_a_utf8_bom_and_refuse_a_truncated_body() -> None:
    from sonar_bdc.errors import SonarRetriableError
    from sonar_bdc.sonar.v1.report import iter_json_rows

    body = b'\xef\xbb\xbf{"data": [[1, "a"], [2, "b"]]}'
    assert list(iter_json_rows(body)) == [[1, "a"], [2, "b"]]
    with pytest.raises(SonarRetriableError, match="truncated"):
        list(iter_json_rows(b'{"data": [[1, "a"], [2, '))


def test_streamed_rows_from_a_file_can_be_read_twice() -> None:
    import io

    from sonar_bdc.sonar.v1.report import iter_json_rows

    for body in (b'{"data": [[1, "a"], [2, "b"]]}', b'\xef\xbb\xbf {"data": [[1, "a"], [2, "b"]]}'):
        spooled = io.BytesIO(body)
        first = iter_json_rows(spooled)
        assert next(first) == [1, "a"]  # a pass left half-way, as layout detection does
        assert list(iter_json_rows(spooled)) == [[1, "a"], [2, "b"]]


def test_streamed_rows_refuse_a_body_without_a_data_list() -> None:
    from sonar_bdc.errors import SonarDataError
    from sonar_bdc.sonar.v1.report import iter_json_rows

    for body in (b'{"rows": []}', b'{"data": {"x": 1}}'):
        with pytest.raises(SonarDataError, match="not a list of rows"):
            list(iter_json_rows(body))
