"""Resolvers of the to-many relations (nested connections), attached to the schema.

Rows hold scalars and to-one objects only; a nested connection asks the request's
:class:`~.entities.Rows` for the parent's children, then filters and pages them
(see :func:`.select.nested`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema

from sonar_bdc.simulator.v2.entities import Context, Rows
from sonar_bdc.simulator.v2.schema import RELATIONS
from sonar_bdc.simulator.v2.select import Row, nested

Children = Callable[[Rows, Row], list[Row]]


def _none(rows: Rows, parent: Row) -> list[Row]:
    return []


def _items_at(rows: Rows, address: Row) -> list[Row]:
    return rows.children(address["addressable_id"]).items if address["serviceable"] else []


CHILDREN: dict[tuple[str, str], Children] = {
    ("Account", "account_groups"): lambda rows, a: rows.groups_of(a["id"]),
    ("Account", "addresses"): lambda rows, a: rows.children(a["id"]).addresses,
    ("Account", "account_services"): lambda rows, a: rows.children(a["id"]).services,
    ("Account", "child_accounts"): _none,
    ("Address", "inventory_items"): _items_at,
    ("AccountService", "inventory_items"): _none,
    ("InventoryItem", "inventory_model_field_data"): lambda rows, i: rows.field_data(i["id"]),
}


def attach(schema: GraphQLSchema) -> GraphQLSchema:
    """Set the resolver of every connection field of ``schema.RELATIONS``."""
    for type_name, relations in RELATIONS.items():
        owner = schema.type_map[type_name]
        assert isinstance(owner, GraphQLObjectType)
        for field, target in relations.items():
            if target.startswith("["):
                children = CHILDREN[(type_name, field)]
                owner.fields[field].resolve = _resolver(target.strip("[]"), children)
    return schema


def _resolver(type_name: str, children: Children) -> Callable[..., Row]:
    def resolve(parent: Row, info: GraphQLResolveInfo[Context], **args: Any) -> Row:
        context = info.context
        return nested(type_name, children(context.rows, parent), args, context.nested_limit)

    return resolve
