"""The GraphQL documents the v2 client sends, built from shared fragments.

Every connection selects ``page_info { total_count }`` so a nested list cut short
by the server can be told from a complete one (contract §3). Documents carry only
the fragments they use (GraphQL refuses unused fragments).
"""

from __future__ import annotations

import re

BY_ID = '[{attribute: "id", direction: "ASC"}]'
PAGE_INFO = "page_info { page records_per_page total_count total_pages }"

FRAGMENTS = {
    "ReportAddress": """fragment ReportAddress on Address {
  id type line1 line2 city subdivision zip country latitude longitude serviceable
}""",
    "Item": """fragment Item on InventoryItem {
  id status inventory_model_id
  inventory_model { id name manufacturer { id name } }
  inventory_model_field_data { page_info { total_count } entities { ...FieldData } }
}""",
    "FieldData": """fragment FieldData on InventoryModelFieldData {
  value inventory_model_field { name primary type }
}""",
    "FullAddress": """fragment FullAddress on Address {
  ...ReportAddress fips census_year addressable_type
  inventory_items { page_info { total_count } entities { ...Item } }
}""",
    "LightAddress": """fragment LightAddress on Address {
  ...ReportAddress addressable_type
}""",
    "AccountService": """fragment AccountService on AccountService {
  id service_id quantity
  service { id name type data_service_detail {
    download_speed_kilobits_per_second upload_speed_kilobits_per_second technology_code } }
}""",
    "Group": "fragment Group on AccountGroup { id name }",
    "LightAccount": """fragment LightAccount on Account {
  id name account_status_id account_status { id name }
  addresses(serviceable: true) { page_info { total_count } entities { ...LightAddress } }
}""",
    "FullAccount": """fragment FullAccount on Account {
  id name account_status_id account_type_id account_status { id name }
  account_groups { page_info { total_count } entities { ...Group } }
  addresses { page_info { total_count } entities { ...FullAddress } }
  account_services { page_info { total_count } entities { ...AccountService } }
}""",
}
_SPREAD = re.compile(r"\.\.\.(\w+)")


def document(body: str) -> str:
    """``body`` followed by every fragment it uses, directly or through another one."""
    needed: list[str] = []
    todo = _SPREAD.findall(body)
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.append(name)
            todo += _SPREAD.findall(FRAGMENTS[name])
    return "\n".join([body, *(FRAGMENTS[name] for name in sorted(needed))])


def accounts(full: bool) -> str:
    """One page of accounts; ``$q`` (optional) narrows them (ORed ``Search`` objects)."""
    fragment = "FullAccount" if full else "LightAccount"
    return document(
        f"query Accounts($p: Paginator!, $q: [Search]) {{\n"
        f"  accounts(paginator: $p, search: $q, sorter: {BY_ID}) {{\n"
        f"    {PAGE_INFO} entities {{ ...{fragment} }}\n  }}\n}}"
    )


COUNT = document(
    "query Count { accounts(paginator: {page: 1, records_per_page: 1}) {"
    " page_info { total_count } } }"
)
TECHNOLOGY_NAMES = document(
    'query TechnologyNames { __type(name: "TechnologyCode") { enumValues { name } } }'
)
CATALOGS = document(
    f"query Catalogs($p: Paginator!) {{\n"
    f"  account_groups(paginator: $p, sorter: {BY_ID}) {{ {PAGE_INFO} entities {{ ...Group }} }}\n"
    f"  account_statuses(paginator: $p, sorter: {BY_ID}) {{\n"
    f"    {PAGE_INFO} entities {{ id name activates_account }} }}\n"
    f"  account_types(paginator: $p, sorter: {BY_ID}) {{ {PAGE_INFO} entities {{ id name type }} }}"
    "\n}"
)

# Completing a nested list the server cut short (contract §3): from the root field by
# the parent's id where one exists, else the parent's own list with a paginator.
ADDRESSES_OF_ACCOUNT = {
    full: document(
        f"query Addresses($id: Int64Bit!, $p: Paginator!) {{\n"
        f"  addresses(addressable_id: $id, paginator: $p, sorter: {BY_ID}) {{\n"
        f"    {PAGE_INFO} entities {{ ...{'FullAddress' if full else 'LightAddress'} }}"
        f" }}\n}}"
    )
    for full in (False, True)
}
SERVICES_OF_ACCOUNT = document(
    f"query AccountServices($id: Int64Bit!, $p: Paginator!) {{\n"
    f"  account_services(account_id: $id, paginator: $p, sorter: {BY_ID}) {{\n"
    f"    {PAGE_INFO} entities {{ ...AccountService }} }}\n}}"
)
GROUPS_OF_ACCOUNT = document(
    "query AccountGroups($id: Int64Bit!, $p: Paginator!) {\n"
    "  accounts(id: $id) { entities { account_groups(paginator: $p) {\n"
    f"    {PAGE_INFO} entities {{ ...Group }} }} }} }}\n}}"
)
ITEMS_AT_ADDRESS = document(
    f"query Items($id: Int64Bit!, $p: Paginator!) {{\n"
    f"  inventory_items(inventoryitemable_id: $id, paginator: $p, sorter: {BY_ID}) {{\n"
    f"    {PAGE_INFO} entities {{ inventoryitemable_type ...Item }} }}\n}}"
)
FIELD_DATA_OF_ITEM = document(
    "query FieldData($id: Int64Bit!, $p: Paginator!) {\n"
    "  inventory_items(id: $id) { entities { inventory_model_field_data(paginator: $p) {\n"
    f"    {PAGE_INFO} entities {{ ...FieldData }} }} }} }}\n}}"
)


def id_search(ids: list[int]) -> list[dict[str, object]]:
    """``search`` matching any of ``ids`` (one ``Search`` object per id: they are ORed)."""
    return [
        {"integer_fields": [{"attribute": "id", "operator": "EQ", "search_value": i}]} for i in ids
    ]
