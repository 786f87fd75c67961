"""The contract's schema subset, generated as SDL from one table, built with graphql-core.

Every entity type ``T`` gets a ``TConnection { entities page_info }``. Root fields and
nested connections take the same arguments: each scalar field of ``T`` as an equality
filter, plus ``paginator``, ``sorter`` and ``search`` (contract §2-§4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timezone
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, build_schema
from graphql.language import FloatValueNode, IntValueNode, StringValueNode, ValueNode

from sonar_bdc.simulator.v2 import enums

_TS = "updated_at: Datetime!"
# type -> its scalar fields (name: SDL type); these are the filterable/sortable attributes.
SCALARS: dict[str, str] = {
    "Account": "id: Int64Bit!, name: String!, account_status_id: Int64Bit!, "
    "account_type_id: Int64Bit!, parent_account_id: Int64Bit, activation_date: Date, "
    f"archived_at: Datetime, created_at: Datetime!, {_TS}",
    "AccountStatus": "id: Int64Bit!, name: String!, activates_account: Boolean!",
    "AccountType": "id: Int64Bit!, name: String!, type: AccountTypeEnum!",
    "AccountGroup": "id: Int64Bit!, name: String!",
    "Address": "id: Int64Bit!, type: AddressType!, line1: String!, line2: String, "
    "city: String, subdivision: Subdivision, zip: String, country: String, county: UsCounty, "
    "latitude: Decimal, longitude: Decimal, fips: String, census_year: Int, "
    f"serviceable: Boolean!, addressable_type: String!, addressable_id: Int64Bit!, {_TS}",
    "AccountService": f"id: Int64Bit!, account_id: Int64Bit!, service_id: Int64Bit!, "
    f"quantity: Int!, {_TS}",
    "Service": "id: Int64Bit!, name: String!, type: ServiceType!, enabled: Boolean!, amount: Int!",
    "InventoryItem": "id: Int64Bit!, status: InventoryItemStatus!, "
    "inventoryitemable_type: String!, inventoryitemable_id: Int64Bit!, "
    f"account_service_id: Int64Bit, inventory_model_id: Int64Bit!, {_TS}",
    "InventoryModel": "id: Int64Bit!, name: String!, model_name: String!, "
    "manufacturer_id: Int64Bit!",
    "Manufacturer": "id: Int64Bit!, name: String!",
    "InventoryModelFieldData": "id: Int64Bit!, value: String, inventory_model_field_id: Int64Bit",
    "InventoryModelField": "id: Int64Bit!, name: String!, primary: Boolean!, "
    "type: InventoryModelFieldType!",
}
# type -> relations: "Type" is a to-one object, "[Type]" a connection.
RELATIONS: dict[str, dict[str, str]] = {
    "Account": {
        "account_status": "AccountStatus!",
        "account_type": "AccountType!",
        "account_groups": "[AccountGroup]",
        "addresses": "[Address]",
        "account_services": "[AccountService]",
        "child_accounts": "[Account]",
    },
    "Address": {"inventory_items": "[InventoryItem]"},
    "AccountService": {"service": "Service!", "inventory_items": "[InventoryItem]"},
    "Service": {"data_service_detail": "DataServiceDetail"},
    "InventoryItem": {
        "inventory_model": "InventoryModel",
        "inventory_model_field_data": "[InventoryModelFieldData]",
    },
    "InventoryModel": {"manufacturer": "Manufacturer"},
    "InventoryModelFieldData": {"inventory_model_field": "InventoryModelField"},
}
ROOTS = {
    "accounts": "Account",
    "account_statuses": "AccountStatus",
    "account_types": "AccountType",
    "account_groups": "AccountGroup",
    "services": "Service",
    "addresses": "Address",
    "account_services": "AccountService",
    "inventory_items": "InventoryItem",
}
CONTROL_ARGS = frozenset({"paginator", "sorter", "search"})

_FIXED_SDL = """
scalar Int64Bit
scalar Datetime
scalar Date
scalar Decimal

input Paginator { page: Int!, records_per_page: Int! }
input Sorter { attribute: String!, direction: String! }
input StringSearch {
  attribute: String!, search_value: String!, match: Boolean, partial_matching: Boolean
}
input IntegerSearch { attribute: String!, operator: ComparisonOperator!, search_value: Int64Bit! }
input FloatSearch { attribute: String!, operator: ComparisonOperator!, search_value: Float! }
input DateSearch { attribute: String!, operator: ComparisonOperator!, search_value: Date! }
input DatetimeSearch {
  attribute: String!, operator: ComparisonOperator!, search_value: Datetime!
}
input BooleanSearch { attribute: String!, search_value: Boolean! }
input Search {
  string_fields: [StringSearch], integer_fields: [IntegerSearch], float_fields: [FloatSearch],
  date_fields: [DateSearch], datetime_fields: [DatetimeSearch],
  boolean_fields: [BooleanSearch], unset_fields: [String], exists: [String]
}
type PageInfo {
  page: Int!, records_per_page: Int!, total_count: Int!, total_pages: Int!
}
type DataServiceDetail {
  id: Int64Bit!
  download_speed_kilobits_per_second: Int!
  upload_speed_kilobits_per_second: Int!
  technology_code: TechnologyCode!
}
"""


def attributes(type_name: str) -> dict[str, str]:
    """The scalar fields of a type: name -> SDL type (``"Int64Bit!"``)."""
    pairs = (part.split(":") for part in SCALARS[type_name].split(","))
    return {name.strip(): sdl.strip() for name, sdl in pairs}


def _args(type_name: str) -> str:
    eq = ", ".join(f"{n}: {t.rstrip('!')}" for n, t in attributes(type_name).items())
    return f"({eq}, paginator: Paginator, sorter: [Sorter], search: [Search])"


def _relation(name: str, target: str) -> str:
    if target.startswith("["):
        inner = target.strip("[]")
        return f"  {name}{_args(inner)}: {inner}Connection!"
    return f"  {name}: {target}"


def _object(type_name: str) -> str:
    fields = [f"  {n}: {t}" for n, t in attributes(type_name).items()]
    fields += [_relation(n, t) for n, t in RELATIONS.get(type_name, {}).items()]
    body = "\n".join(fields)
    connection = f"{type_name}Connection {{ entities: [{type_name}!]!, page_info: PageInfo! }}"
    return f"type {type_name} {{\n{body}\n}}\ntype {connection}"


def _enum(name: str, values: tuple[str, ...], described: dict[str, str] | None = None) -> str:
    notes = described or {}
    lines = (f'  "{notes[v]}" {v}' if v in notes else f"  {v}" for v in values)
    return f"enum {name} {{\n" + "\n".join(lines) + "\n}"


def _enums(unknown_technology: bool) -> list[str]:
    tech = {name: text for name, text in enums.TECHNOLOGY_NAMES.values()}
    if unknown_technology:
        tech[enums.UNKNOWN_TECHNOLOGY] = "Licensed Fixed Wireless (new)"
    counties = tuple(sorted({c for c in _place_counties() if c}))
    return [
        _enum("TechnologyCode", tuple(tech), tech),
        _enum("AccountTypeEnum", enums.ACCOUNT_TYPES),
        _enum("AddressType", enums.ADDRESS_TYPES),
        _enum("InventoryItemStatus", enums.ITEM_STATUSES),
        _enum("ServiceType", enums.SERVICE_TYPES),
        _enum("InventoryModelFieldType", enums.FIELD_TYPES),
        _enum("ComparisonOperator", enums.OPERATORS),
        _enum("Subdivision", enums.SUBDIVISIONS),
        _enum("UsCounty", counties),
    ]


def _place_counties() -> list[str | None]:
    from sonar_bdc.simulator.catalogs import PLACES

    return [enums.county(p.state, p.county) for p in PLACES]


def sdl(unknown_technology: bool = False) -> str:
    """The whole schema as SDL text."""
    query = "\n".join(f"  {root}{_args(t)}: {t}Connection!" for root, t in ROOTS.items())
    parts = [_FIXED_SDL, *_enums(unknown_technology), *map(_object, SCALARS)]
    return "\n\n".join([*parts, f"type Query {{\n{query}\n}}"])


def build(unknown_technology: bool = False) -> GraphQLSchema:
    """The executable schema, custom scalars wired in."""
    schema = build_schema(sdl(unknown_technology))
    for name, (serialize, parse) in _SCALAR_CODECS.items():
        scalar = schema.type_map[name]
        assert isinstance(scalar, GraphQLScalarType)  # _SCALAR_CODECS names only scalars
        literal = _literal(parse)
        # graphql-core 3.3 reads the coerce_* attributes it declares (and a set
        # coerce_input_literal before parse_literal) ...
        scalar.coerce_output_value, scalar.coerce_input_value = serialize, parse
        scalar.coerce_input_literal = literal
        # ... 3.2 only the legacy names, methods in the stubs: set on the instance, as
        # GraphQLScalarType's own constructor does
        for attr, codec in (("serialize", serialize), ("parse_value", parse),
                            ("parse_literal", literal)):  # fmt: skip
            setattr(scalar, attr, codec)
    return schema


# ---------------------------------------------------------------- scalars


def _int64(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise GraphQLError(f"Int64Bit cannot represent {value!r}")


def _datetime(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise GraphQLError(f"Datetime cannot represent {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise GraphQLError(f"Date cannot represent {value!r}") from None


def _decimal(value: Any) -> str:
    try:
        ok = math.isfinite(float(value)) and not isinstance(value, bool)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GraphQLError(f"Decimal cannot represent {value!r}")
    return str(value)


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


Codec = Callable[[Any], Any]
# scalar -> (its output coercion, its input coercion)
_SCALAR_CODECS: dict[str, tuple[Codec, Codec]] = {
    "Int64Bit": (_int64, _int64),
    "Datetime": (_iso, _datetime),
    "Date": (_day, _date),
    "Decimal": (str, _decimal),
}


def _literal(parse: Codec) -> Callable[[ValueNode], Any]:
    """A literal's parser: its text as a variable's value would be (3.2 passes the
    variables too, which a scalar literal cannot hold)."""

    def parse_literal(node: ValueNode, _variables: object = None) -> Any:
        if isinstance(node, IntValueNode | FloatValueNode | StringValueNode):
            return parse(node.value)
        raise GraphQLError("expected a number or a string literal")

    return parse_literal
