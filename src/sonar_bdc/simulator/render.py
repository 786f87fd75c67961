"""Dataset -> the JSON shapes of sonar-v1-api.md (plain Python objects, not bytes).

Pure functions: the caller holds the dataset lock and serializes the result.
"""

from __future__ import annotations

import html
import random
from collections.abc import Iterator
from typing import Any

from sonar_bdc.simulator.catalogs import FIRST_NAMES, LAST_NAMES
from sonar_bdc.simulator.model import Account, Address, Dataset, Item, Raw, ServiceDef

Json = dict[str, Any]

# ---------------------------------------------------------------- report


def report_rows(ds: Dataset, layout: str) -> Iterator[list[Raw]]:
    """One row per account contact; an account's rows are adjacent, first row first."""
    render = _row_a if layout == "A" else _row_b
    for account in ds.accounts.values():
        for contact in range(account.contacts):
            yield render(ds, account, contact)


def _common(ds: Dataset, account: Account, contact: int) -> list[Raw]:
    name, email, phones = _contact(account, contact)
    groups = ", ".join(ds.groups[g].name for g in account.group_ids)
    # A live Sonar builds the link in a Blade view, which HTML-escapes the name.
    link = f'<a href="/accounts/{account.id}">{html.escape(account.name)}</a>'
    account_id: Raw = str(account.id) if account.id_as_text else account.id
    status = ds.statuses[account.status_id].name
    return [account_id, link, status, name, email, *phones, groups]


def _zip(account: Account) -> Raw:
    zip_code = account.address.zip
    return int(zip_code) if account.zip_as_number and zip_code.isdigit() else zip_code


def _row_a(ds: Dataset, account: Account, contact: int) -> list[Raw]:
    a = account.address
    return [
        *_common(ds, account, contact),
        *(a.line1, a.city, a.state, _zip(account), a.lat_raw, a.lon_raw, a.plus4, a.line2),
        *(None, None, a.country, a.source),
    ]


def _row_b(ds: Dataset, account: Account, contact: int) -> list[Raw]:
    a = account.address
    m = account.mailing
    mailing: tuple[Raw, ...] = (m.line1, m.line2, m.city, m.state, m.zip) if m else ("",) * 5
    return [
        *_common(ds, account, contact),
        *(a.line1, a.line2, a.city, a.state, _zip(account), a.lat_raw, a.lon_raw),
        *mailing,
    ]


def _contact(account: Account, index: int) -> tuple[str, str, tuple[str, str, str, str]]:
    """(name, email, (home, work, mobile, fax)); contact 0 carries the account name."""
    n = account.id
    if index == 0:
        phones = (f"(210) 555-{n % 10000:04d}", "", f"210-555-{(n * 7) % 10000:04d}", "")
        return account.name, f"customer{n}@example.com", phones
    name = (
        f"{FIRST_NAMES[(n + index) % len(FIRST_NAMES)]} {LAST_NAMES[(n * index) % len(LAST_NAMES)]}"
    )
    phones = ("", f"(830) 555-{(n + index) % 10000:04d}", "", f"830.555.{index:04d}")
    return name, f"contact{index}.{n}@example.org", phones


# ---------------------------------------------------------------- account detail


def account_detail(ds: Dataset, account: Account) -> Json:
    """The ``/accounts/{id}/json`` body, usage history included (a few KB to ~30 KB)."""
    status = ds.statuses[account.status_id]
    kind = ds.types[account.type_id]
    return {
        "account": {
            "id": account.id,
            "name": account.name,
            "account_status_id": account.status_id,
            "account_type_id": account.type_id,
            "company_id": 1,
            "parent_account_id": None,
            "deleted_at": None,
            "created_at": account.created_at,
            "updated_at": account.created_at,
            "activation_date": account.created_at[:10],
            "balance_due": account.balance_due,
            "status": {"id": status.id, "name": status.name, "active": status.active},
            "type": {"id": kind.id, "name": kind.name, "type": kind.type},
            "addresses": _addresses(account),
            "groups": [_group(ds, account, g) for g in account.group_ids],
            "services": [
                _service(ds.services[s], account, q, i) for i, (s, q) in enumerate(account.services)
            ],
            "data_usage_histories": _usage(ds, account),
            "contacts": [_contact_json(account, i) for i in range(account.contacts)],
            "custom_fields": _custom_fields(account),
        }
    }


def _addresses(account: Account) -> list[Json]:
    found = [_address(account.address, account.id * 2, 1, "physical")]
    if account.mailing:
        mailing = _address(account.mailing, account.id * 2 + 1, 2, "mailing")
        found.insert(0 if account.mailing_first else 1, mailing)
    return found


def _address(a: Address, address_id: int, type_id: int, type_name: str) -> Json:
    return {
        "id": address_id,
        "line1": a.line1,
        "line2": a.line2,
        "city": a.city,
        "state": a.state,
        "zip": a.zip,
        "country": a.country,
        "county": a.county,
        "latitude": a.lat_raw,
        "longitude": a.lon_raw,
        "fips": a.fips,
        "failed_geocoding": a.lat is None,
        "address_type_id": type_id,
        "address_type": {"id": type_id, "name": type_name},
    }


def _group(ds: Dataset, account: Account, group_id: int) -> Json:
    pivot = {"account_id": account.id, "account_group_id": group_id}
    return {"id": group_id, "name": ds.groups[group_id].name, "pivot": pivot}


def _service(s: ServiceDef, account: Account, quantity: int, index: int) -> Json:
    pivot = {
        "account_id": account.id,
        "service_id": s.id,
        "quantity": quantity,
        "unique_service_relationship_id": account.id * 10 + index,
        "price_override": None,
    }
    return {**service_json(s), "pivot": pivot}


def _usage(ds: Dataset, account: Account) -> list[Json]:
    """Monthly usage rows, regenerated per request (never stored: 50k accounts x 30 KB)."""
    rng = random.Random(ds.seed * 1_000_003 + account.id)
    rows = []
    first = 2025 * 12 + 12 - account.usage_months  # the last row is December 2025
    for month in range(account.usage_months):
        year, mon = divmod(first + month, 12)
        mon += 1
        start = f"{year}-{mon:02d}-01 00:00:00"
        rows.append(
            {
                "id": account.id * 1000 + month,
                "account_id": account.id,
                "billing_period_start": start,
                "billing_period_end": f"{year}-{mon:02d}-28 23:59:59",
                "inbound_kilobytes": rng.randrange(10**8),
                "outbound_kilobytes": rng.randrange(10**7),
                "peak_inbound_kilobits": rng.randrange(10**6),
                "created_at": start,
                "updated_at": start,
            }
        )
    return rows


def _contact_json(account: Account, index: int) -> Json:
    name, email, phones = _contact(account, index)
    numbers = [
        {"number": p, "type": t}
        for p, t in zip(phones, ("home", "work", "mobile", "fax"), strict=True)
        if p
    ]
    return {
        "id": account.id * 10 + index,
        "name": name,
        "primary": index == 0,
        "email_address": email,
        "phone_numbers": numbers,
    }


def _custom_fields(account: Account) -> list[Json]:
    if account.id % 3:
        return []
    return [{"id": 1, "name": "Tower", "value": f"Tower {account.id % 40}"}]


# ---------------------------------------------------------------- /api/v1 items


def api_account(account: Account) -> Json:
    return {
        "id": account.id,
        "name": account.name,
        "account_type_id": account.type_id,
        "account_status_id": account.status_id,
        "account_groups": list(account.group_ids),
        "balance_due": account.balance_due,
        "parent_account_id": None,
        "created_at": account.created_at,
    }


def api_item(item: Item, with_assignee: bool) -> Json:
    body: Json = {
        "id": item.id,
        # live instances vary: some send the model id as a numeric string
        "inventory_model_id": str(item.model_id) if item.model_id_as_text else item.model_id,
        "status": item.status,
        "condition": item.condition,
        "purchase_price": item.purchase_price,
        "consumed": False,
        "consumed_at": None,
        "fields": [{"field_id": f, "data": d} for f, d in item.fields],
    }
    if with_assignee:
        body["assignee_type"] = item.assignee_type
        body["assignee_id"] = item.assignee_id
    return body


def service_json(s: ServiceDef) -> Json:
    return {
        "id": s.id,
        "active": s.active,
        "name": s.name,
        "type": s.type,
        "amount": s.amount,
        "data_service": s.data_service,
        "download_in_kilobits": s.download_kbps,
        "upload_in_kilobits": s.upload_kbps,
        "technology_code": s.technology_code,
    }


def catalog(ds: Dataset, name: str) -> list[Json] | None:
    """A catalog list by its endpoint name, or None if there is no such catalog."""
    if name == "system/account_groups":
        return [{"id": g.id, "name": g.name} for g in ds.groups.values()]
    if name == "system/account_types":
        return [{"id": t.id, "name": t.name, "type": t.type} for t in ds.types.values()]
    if name == "system/account_statuses":
        return [{"id": s.id, "name": s.name, "active": s.active} for s in ds.statuses.values()]
    if name == "system/services":
        return [service_json(s) for s in ds.services.values()]
    if name == "inventory/manufacturers":
        return [{"id": m.id, "name": m.name} for m in ds.manufacturers.values()]
    if name == "inventory/models":
        return [
            {
                "id": m.id,
                "name": m.name,
                "manufacturer_id": m.manufacturer_id,
                "inventory_model_category_id": m.category_id,
            }
            for m in ds.models.values()
        ]
    return None


def model_fields(ds: Dataset, model_id: int) -> list[Json] | None:
    if model_id not in ds.models:
        return None
    return [
        {
            "id": f.id,
            "name": f.name,
            "type": f.type,
            "is_required": f.is_required,
            "unique": f.unique,
        }
        for f in ds.model_fields.get(model_id, [])
    ]
