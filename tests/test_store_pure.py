"""The -p/--prefix grammar and the SQL builders, without a database."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import NamedTuple

import pytest
from psycopg import sql

from sonar_bdc.errors import ConfigError
from sonar_bdc.records import (
    CustomerDetail,
    CustomerInventory,
    Group,
    InventoryItem,
    ReportRow,
    Service,
)
from sonar_bdc.store import Prefix, ddl, parse_prefix, rows, staging, upserts
from sonar_bdc.store.batch import Batch, Customer
from sonar_bdc.store.db import connect_message, one_line
from sonar_bdc.store.prefix import MAX_IDENTIFIER, MAX_TABLE_PREFIX
from sonar_bdc.store.rows import TextCleaner, report_rows, storable
from sonar_bdc.store.timing import DbClock


@pytest.mark.parametrize(
    ("text", "schema", "table_prefix", "qualified"),
    [
        ("sonar.", "sonar", "", ("sonar", "customers")),
        ("bdc_", None, "bdc_", ("public", "bdc_customers")),
        ("sonar.bdc_", "sonar", "bdc_", ("sonar", "bdc_customers")),
        ("", None, "", ("public", "customers")),
        ("public.x1_", "public", "x1_", ("public", "x1_customers")),
        ("_s2.", "_s2", "", ("_s2", "customers")),
    ],
)
def test_prefix_forms(text: str, schema: str | None, table_prefix: str, qualified: tuple) -> None:
    prefix = parse_prefix(text)
    assert (prefix.schema, prefix.table_prefix) == (schema, table_prefix)
    assert prefix.table("customers") == sql.Identifier(*qualified)


def test_bare_word_is_a_table_prefix() -> None:
    assert parse_prefix("sonar") == Prefix(schema=None, table_prefix="sonar")


@pytest.mark.parametrize(
    "text",
    [
        ".bdc_",
        "sonar..",
        "a.b.c",
        "sonar.bdc.",
        "so nar.",
        "sonar;drop.",
        'sonar".',
        "sonar'.",
        "Sonar.",
        "1sonar.",
        "sonar.1x",
        "sonar-x.",
        "pg_catalog.",
        "information_schema.",
        "sonar.\n",
        "sønar.",
        "x" * (MAX_IDENTIFIER + 1) + ".",
        "s." + "x" * (MAX_TABLE_PREFIX + 1),
    ],
)
def test_bad_prefixes_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"-p/--prefix") as info:
        parse_prefix(text)
    assert "\n" not in str(info.value)


def test_longest_prefix_keeps_every_name_within_postgres_limit() -> None:
    prefix = parse_prefix("s." + "x" * MAX_TABLE_PREFIX)
    assert max(len(name) for name in ddl.derived_names(prefix)) <= MAX_IDENTIFIER


def test_lock_key_is_stable_and_distinct() -> None:
    assert parse_prefix("sonar.").lock_key() == parse_prefix("sonar.").lock_key()
    assert parse_prefix("sonar.").lock_key() != parse_prefix("sonar.bdc_").lock_key()
    assert -(2**63) <= parse_prefix("sonar.").lock_key() < 2**63


def test_ddl_uses_only_qualified_identifiers() -> None:
    prefix = parse_prefix("sch.p_")
    text = " ".join(repr(statement) for statement in ddl.schema_v1(prefix) + ddl.schema_v2(prefix))
    assert "Identifier('sch', 'p_customers')" in text
    assert "Identifier('p_customers_geom_idx')" in text


def test_migration_plan() -> None:
    assert ddl.migration_plan(0) == [1, 2, 3, 4, 5, 6, 7]
    assert ddl.migration_plan(2) == [3, 4, 5, 6, 7]
    assert ddl.migration_plan(5) == [6, 7]
    assert ddl.migration_plan(ddl.LATEST_VERSION) == []


def test_upsert_builder_returns_composed() -> None:
    target = sql.Identifier("s", "groups")
    statement = upserts.upsert_sql(target, staging.GROUPS, ("id",), ("name",))
    assert isinstance(statement, sql.Composed)
    assert "IS DISTINCT FROM" in repr(statement)
    no_values = upserts.upsert_sql(target, staging.GROUP_LINKS, ("customer_id", "group_id"), ())
    assert "DO NOTHING" in repr(no_values)


def test_text_cleaner_counts_nul_and_surrogates() -> None:
    clean = TextCleaner()
    assert clean("plain") == "plain"
    assert clean(None) is None
    assert clean("é ü ✓") == "é ü ✓"
    assert clean("a\x00b") == "ab"
    assert clean("bad \ud800 surrogate") == "bad ? surrogate"
    assert clean.cleaned == 2


def test_report_rows_dedupe_last_wins_and_clean() -> None:
    clean = TextCleaner()
    batch = [ReportRow(1, name="a"), ReportRow(2, name="b\x00"), ReportRow(1, name="c")]
    staged = report_rows(batch, clean)
    assert [(row[0], row[1]) for row in staged] == [(1, "c"), (2, "b")]
    assert clean.cleaned == 1
    untouched = [ReportRow(3, name="naïve ✓", city="x")]
    assert report_rows(untouched, clean)[0][1] == "naïve ✓"
    assert clean.cleaned == 1


def test_a_report_row_is_the_staged_row_in_column_order() -> None:
    assert ReportRow._fields == staging.REPORT.column_names
    row = ReportRow(7, name="n", city="c", latitude=1.5, longitude=-2.5)
    assert report_rows([row], TextCleaner()) == [row]


@pytest.mark.parametrize(
    ("row_type", "stage"),
    [
        (rows.CustomerRow, staging.CUSTOMERS),
        (rows.GroupLink, staging.GROUP_LINKS),
        (rows.ServiceRow, staging.SERVICES),
        (rows.ItemRow, staging.ITEMS),
        (rows.ItemLink, staging.ITEM_LINKS),
        (rows.ListedItem, staging.LISTING),
        (rows.GroupRow, staging.GROUPS),
        (rows.StatusRow, staging.STATUSES),
        (rows.TypeRow, staging.TYPES),
    ],
)
def test_each_staged_row_names_its_stage_columns_in_order(
    row_type: type[NamedTuple], stage: staging.Stage
) -> None:
    assert row_type._fields == stage.column_names


def test_child_rows_are_built_by_name_from_the_records() -> None:
    service = Service(9, name="fiber", download_kbps=100, technology_code=50, quantity=2)
    detail = CustomerDetail(4, groups=(Group(7), Group(8), Group(7)), services=(service,))
    assert rows.group_links(detail) == [rows.GroupLink(4, 7), rows.GroupLink(4, 8)]
    [staged] = rows.service_rows(detail)
    assert type(staged) is rows.ServiceRow
    assert staged._asdict() == {"customer_id": 4, **asdict(service)}
    item = InventoryItem(30, model_name="m", mac_address="aa")
    [staged_item] = rows.item_rows(CustomerInventory(4, (item,)))
    assert type(staged_item) is rows.ItemRow and staged_item._asdict() == asdict(item)


def test_a_cleaned_row_keeps_its_type_and_only_its_text_changes() -> None:
    clean = TextCleaner()
    dirty = rows.ServiceRow(1, 2, "n\x00", True, 10, 2, 70, "fi\x00ber", 1)
    fine = rows.ServiceRow(1, 3, "ok", None, None, None, None, None, None)
    cleaned = clean.rows([dirty, fine], rows.SERVICE_TEXTS)
    assert cleaned == [rows.ServiceRow(1, 2, "n", True, 10, 2, 70, "fiber", 1), fine]
    assert type(cleaned[0]) is rows.ServiceRow and cleaned[1] is fine
    assert clean.cleaned == 2
    listed = rows.ListedItem(5, 9, None, "m\x00", None, "acme", "ok", "aa:bb")
    assert clean.rows([listed], rows.LISTING_TEXTS) == [listed._replace(model_name="m")]


def test_storable() -> None:
    assert storable("plain ascii")
    assert storable("ünïcödé ✓ 🚀")
    assert not storable("nul\x00")
    assert not storable("lone \udc80")


def test_connect_messages_name_the_setting_and_hide_the_password() -> None:
    params = {"host": "db", "port": 5432, "password": "hunter2"}
    auth = connect_message(Exception("FATAL: password authentication failed hunter2"), params)
    assert "POSTGRES_USER and POSTGRES_PASSWORD" in auth
    assert "hunter2" not in auth
    db = connect_message(Exception('FATAL:  database "x" does not exist'), params)
    assert "POSTGRES_DB" in db
    refused = connect_message(Exception("Connection refused\n\tIs the server running"), params)
    assert "POSTGRES_HOST and POSTGRES_PORT" in refused
    assert "\n" not in refused
    assert one_line("a\n  b") == "a b"


def test_batch_plan_runs_in_foreign_key_order_with_key_arrays() -> None:
    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    detail = Customer(1, updated_at=at, groups=[rows.GroupLink(1, 7)], services=[])
    item = rows.ItemRow(30, None, "m", None, None, None, None)
    inventory = Customer(2, items=[item])
    gone = Customer(3, deleted=True)
    batch = Batch.of([detail, inventory, gone])
    kinds = [(kind, params["ids"]) for _, params, kind in batch.plan(parse_prefix("s."))]
    assert kinds == [
        ("customers", "{1,2,3}"),  # parents first: children below may be new customers
        ("customers", "{1}"),  # customer_groups
        ("customers", "{1}"),  # services
        ("items", "{30}"),
        ("customers", "{2}"),  # customer_inventory
        ("customers", "{3}"),  # children of deleted customers
    ]
    assert batch.links == [(2, 30)] and batch.owners_of([30]) == {2}


class Ticks:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_the_db_clock_counts_a_block_inside_another_once() -> None:
    clock = DbClock(Ticks())
    with clock, clock:  # read at 1; the inner one (a writer's add that flushes) is not
        pass
    assert clock.seconds == 1.0  # read at 2
    with pytest.raises(ValueError), clock:  # 3; a failed write took its time too
        raise ValueError
    assert clock.seconds == 2.0  # 4
