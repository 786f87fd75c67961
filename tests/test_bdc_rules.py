"""Which customers count, at which plan and tract: the pure rules."""

from __future__ import annotations

import pytest

from sonar_bdc.bdc.config import BdcConfig, parse_config
from sonar_bdc.bdc.model import (
    CONFLICTING_TRACT,
    DELETED,
    INACTIVE,
    NO_COORDINATES,
    NO_DATA_SERVICE,
    NO_TRACT,
    NOT_IN_REPORT,
    UNKNOWN_STATUS,
    UNMAPPED_TECHNOLOGY,
    Connection,
    CustomerRow,
    Exclusion,
    ServiceRow,
    Skipped,
    Status,
)
from sonar_bdc.bdc.rules import (
    Rules,
    StatusResolver,
    fastest_plan,
    fips_tract,
    is_consumer,
    qualifies,
)

STATUSES = [Status(1, "Active", True), Status(2, "Inactive", False), Status(3, "Lead", None)]
FIPS = "010010201001000"  # tract 01001020100 (leading zero)
FIBER = ServiceRow(10, "Fiber 100", True, 100_000, 100_000, 50)


def customer(**kwargs) -> CustomerRow:
    base = dict(
        id=7,
        name="Ada",
        status_name="Active",
        account_status_id=1,
        account_type="residential",
        fips=FIPS,
        census_year=2020,
        has_point=True,
        latitude=32.5,
        longitude=-86.5,
        services=(FIBER,),
    )
    return CustomerRow(**{**base, **kwargs})


def decide(c: CustomerRow, config: BdcConfig | None = None, tracts: int = 3):
    return Rules(config or BdcConfig(), StatusResolver(STATUSES), tracts).decide(c)


def test_counted_connection_from_fips() -> None:
    assert decide(customer()) == Connection(7, "01001020100", 50, 100_000, 100_000, True, "fips")


def test_polygon_tract_when_fips_missing_or_malformed() -> None:
    for fips in (None, "", "1001020100100", "01001020100100A"):
        got = decide(customer(fips=fips, polygon_tracts=("01001020200",)))
        assert isinstance(got, Connection)
        assert (got.tract, got.tract_source) == ("01001020200", "polygon")


def test_fips_and_polygon_agree_on_a_boundary_point() -> None:
    got = decide(customer(polygon_tracts=("01001020000", "01001020100")))
    assert isinstance(got, Connection) and got.tract == "01001020100"


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"account_status_id": 9, "status_name": "Gone"}, UNKNOWN_STATUS, "'Gone' (id 9)"),
        ({"status_name": "Lead", "account_status_id": 3}, UNKNOWN_STATUS, "active flag"),
        (
            {"account_status_id": None, "status_name": None, "detail_imported": False},
            UNKNOWN_STATUS,
            "not imported yet",
        ),
        ({"services": ()}, NO_DATA_SERVICE, "no services"),
        ({"services": (ServiceRow(1, "Voice", False, 0, 0),)}, NO_DATA_SERVICE, "no data service"),
        (
            {"services": (ServiceRow(1, "Dial", True, 200, 56, 10),)},
            NO_DATA_SERVICE,
            "Dial (service 1) 200/56 kbps",
        ),
        (
            {"services": (ServiceRow(1, "Odd", True, 5000, 1000, 80),)},
            UNMAPPED_TECHNOLOGY,
            '"80" = <BDC code>',
        ),
        ({"fips": None, "has_point": False}, NO_COORDINATES, "no census block"),
        ({"fips": "123", "has_point": False}, NO_COORDINATES, "'123' is not 15 digits"),
        ({"fips": None}, NO_TRACT, "none of the 3 loaded tracts"),
        ({"fips": None, "tracts": 0}, NO_TRACT, "no tract polygons are loaded"),
        ({"polygon_tracts": ("01003010100",)}, CONFLICTING_TRACT, "tract 01003010100"),
    ],
)
def test_each_exclusion_reason(changes: dict, reason: str, detail: str) -> None:
    tracts = changes.pop("tracts", 3)
    got = decide(customer(**changes), tracts=tracts)
    assert isinstance(got, Exclusion)
    assert (got.customer_id, got.name, got.reason) == (7, "Ada", reason)
    assert detail in got.detail


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"deleted": True}, DELETED),
        ({"in_latest_report": False}, NOT_IN_REPORT),
        ({"status_name": "Inactive"}, INACTIVE),
        ({"status_name": None, "account_status_id": 2}, INACTIVE),
    ],
)
def test_non_subscribers_are_skipped_not_listed(changes: dict, why: str) -> None:
    assert decide(customer(**changes)) == Skipped(7, why)


def test_report_status_name_wins_over_the_older_detail_id() -> None:
    # The detail (id 1, Active) is older than the report that says Inactive.
    assert decide(customer(status_name=" inactive ", account_status_id=1)) == Skipped(7, INACTIVE)
    # An unknown or ambiguous name falls back to the id.
    got = decide(customer(status_name="Suspended?", account_status_id=1))
    assert isinstance(got, Connection)
    twice = StatusResolver([*STATUSES, Status(4, "Active", False)])
    assert twice.resolve(customer(account_status_id=1)) == STATUSES[0]


def test_fastest_plan_is_download_then_upload_then_lowest_id() -> None:
    a = ServiceRow(3, "A", True, 50_000, 5_000, 70)
    b = ServiceRow(2, "B", True, 50_000, 10_000, 70)
    c = ServiceRow(1, "C", True, 50_000, 10_000, 70)
    slow_fast_up = ServiceRow(4, "Up", True, 100, 300_000, 70)
    not_data = ServiceRow(5, "TV", False, 900_000, 900_000, 40)
    assert fastest_plan([a, b, c, slow_fast_up, not_data]) == c
    assert fastest_plan([not_data]) is None
    assert fastest_plan([slow_fast_up]) == slow_fast_up  # 300 Mbps up qualifies alone


def test_a_customer_with_several_plans_counts_once_at_the_fastest() -> None:
    slow = ServiceRow(1, "Wireless 25", True, 25_000, 3_000, 70)
    got = decide(customer(services=(slow, FIBER)))
    assert isinstance(got, Connection) and got.technology_code == 50
    assert got.download_kbps == 100_000


def test_unmapped_fastest_plan_is_not_replaced_by_a_slower_one() -> None:
    fast_odd = ServiceRow(1, "Odd", True, 500_000, 500_000, 80)
    got = decide(customer(services=(fast_odd, FIBER)))
    assert isinstance(got, Exclusion) and got.reason == UNMAPPED_TECHNOLOGY


@pytest.mark.parametrize(
    ("down", "up", "ok"), [(200, 200, False), (201, 0, True), (0, 201, True), (None, None, False)]
)
def test_the_200_kbps_threshold(down: int | None, up: int | None, ok: bool) -> None:
    assert qualifies(ServiceRow(1, "x", True, down, up, 70)) is ok


def test_service_override_applies_in_the_decision() -> None:
    config = parse_config({"technology": {"service": [{"id": 10, "technology_code": 40}]}}, "t")
    got = decide(customer(), config)
    assert isinstance(got, Connection) and got.technology_code == 40


def test_consumer_by_type_and_group_overrides() -> None:
    config = parse_config(
        {"consumer": {"business_groups": ["Commercial", 9], "consumer_groups": ["home office"]}},
        "t",
    )
    assert is_consumer(customer(), config)
    assert not is_consumer(customer(account_type="commercial"), config)
    assert not is_consumer(customer(account_type=None), config)
    assert not is_consumer(customer(group_names=(" commercial ",)), config)
    assert not is_consumer(customer(group_ids=(9,)), config)
    home = customer(account_type="commercial", group_names=("Home Office",))
    assert is_consumer(home, config)
    both = customer(group_names=("Home Office", "Commercial"))
    assert not is_consumer(both, config)  # business wins


def test_fips_tract() -> None:
    assert fips_tract("010010201001000") == "01001020100"
    assert fips_tract(" 480291234001000 ") == "48029123400"
    for bad in (None, "", "10010201001000", "0100102010010000", "01001020100100x", "٠" * 15):
        assert fips_tract(bad) is None


def test_customer_row_from_a_store_row() -> None:
    row = {
        "id": 5,
        "name": "B",
        "status": "Active",
        "account_status_id": 1,
        "account_type": "residential",
        "group_ids": [3],
        "group_names": ["G", None],
        "fips": FIPS,
        "latitude": 1.0,
        "longitude": 2.0,
        "has_point": True,
        "polygon_tracts": None,
        "deleted": False,
        "in_latest_report": True,
        "detail_imported": True,
        "services": [
            {
                "service_id": 10,
                "name": "Fiber 100",
                "data_service": True,
                "download_kbps": 100000,
                "upload_kbps": 100000,
                "technology_code": 50,
                "technology_name": "50",
            }
        ],
    }
    got = CustomerRow.from_row(row)
    assert got.group_names == ("G",) and got.polygon_tracts == ()
    assert got.services == (ServiceRow(10, "Fiber 100", True, 100_000, 100_000, 50, "50"),)
