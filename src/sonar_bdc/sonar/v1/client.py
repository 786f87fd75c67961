"""SonarClient: the facade the importer uses. Each call is retried as one unit.

Layers, each wrapping the one below: transport (one attempt, login/re-login) ->
retry policy -> pagination -> parsing into records. Thread-safe: worker threads
share one client, one connection pool, one session and one rate limiter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ...records import Catalogs, CustomerDetail, CustomerInventory, InventoryItem
from ..base import ClientBase
from ..parse import parse_all, parse_group
from ..values import parse_int
from .config import SonarConfig
from .inventory import (
    InventoryCatalog,
    account_assignee,
    mac_field_ids,
    parse_manufacturer,
    parse_model,
)
from .model_fields import ModelFields
from .pagination import PAGE_LIMIT, iter_items, split_page, total_count
from .parse import parse_account_detail, parse_status, parse_type
from .report import Report, ReportReader, iter_json_rows
from .transport import Transport

log = logging.getLogger(__name__)
REPORT_PATH = "/reports/accounts/contact_information/json"


@dataclass(frozen=True)
class ItemsPage:
    """One page of Sonar's list of all inventory items."""

    assigned: list[tuple[int, InventoryItem]]  # items on accounts, with the account id
    total_pages: int | None
    item_ids: frozenset[int]  # every item on the page, whoever holds it
    total_count: int | None = None  # items in the whole list when this page was read


class SonarClient(ClientBase[Transport, SonarConfig]):
    def __init__(self, config: SonarConfig) -> None:
        self.config = config
        super().__init__(config, Transport)

    def login(self) -> None:
        """Check both logins now: the web session, then Basic auth with a one-item list."""
        self._retry(self._transport.login, "web login")
        self._api("system/account_statuses", {"page": 1, "limit": 1})

    def report_reader(self, received: Callable[[int], object] | None = None) -> ReportReader:
        """The contact-information report, read as a stream of typed rows.

        The fetch and the first pass (which checks the body and picks the layout) are
        retried together; iterating the reader yields one row per account. Close it
        (``with``) to remove the temporary file the body waits in. ``received``: called
        with the size of each piece of the body as it arrives.
        """

        def fetch() -> ReportReader:
            body = self._transport.web_json(REPORT_PATH, raw=True, received=received)
            try:
                return ReportReader(
                    lambda: iter_json_rows(body), self.config.report_layout, body.close
                )
            except BaseException:
                body.close()
                raise

        return self._retry(fetch, f"GET {REPORT_PATH}")

    def report(self) -> Report:
        """The contact-information report, one typed row per account, as a list."""
        with self.report_reader() as reader:
            rows = list(reader)
        return Report(rows, reader.layout, reader.raw_rows, reader.duplicate_rows,
                      reader.invalid_coordinates, reader.rejected_coordinates,
                      reader.skipped_rows)  # fmt: skip

    def catalogs(self) -> Catalogs:
        return Catalogs(
            groups=tuple(
                parse_all(self.iter_pages("system/account_groups"), parse_group, "groups")
            ),
            statuses=tuple(
                parse_all(self.iter_pages("system/account_statuses"), parse_status, "statuses")
            ),
            types=tuple(parse_all(self.iter_pages("system/account_types"), parse_type, "types")),
        )

    def inventory_catalog(
        self, known_mac_fields: Mapping[int, frozenset[int]] = {}
    ) -> InventoryCatalog:
        """Models and manufacturers; each model's MAC fields are fetched when an item of
        it is first met (``known_mac_fields``: the ones not to ask again)."""
        models = parse_all(self.iter_pages("inventory/models"), parse_model, "inventory models")
        manufacturers = parse_all(
            self.iter_pages("inventory/manufacturers"), parse_manufacturer, "manufacturers"
        )
        mac_fields = ModelFields(self.model_mac_fields, known_mac_fields)
        return InventoryCatalog({m.id: m for m in models}, dict(manufacturers), mac_fields)

    def model_mac_fields(self, model_id: int) -> frozenset[int]:
        """The ids of the model's fields of type "mac" (none for most accessories)."""
        return mac_field_ids(self.iter_pages(f"inventory/models/{int(model_id)}/fields"))

    def account_detail(self, account_id: int) -> CustomerDetail:
        """The account's detail; SonarNotFound when the account is gone (404)."""
        path = f"/accounts/{int(account_id)}/json"
        body = self._retry(lambda: self._transport.web_json(path), f"GET {path}")
        return parse_account_detail(body, int(account_id))

    def account_inventory(self, account_id: int, catalog: InventoryCatalog) -> CustomerInventory:
        """The items assigned to the account; SonarNotFound when the account is gone."""
        raws = list(self.iter_pages(f"accounts/{int(account_id)}/inventory_items"))
        catalog.resolve(raws)
        items = parse_all(raws, catalog.item, "inventory items")
        return CustomerInventory(int(account_id), tuple(items))

    def inventory_items_page(self, page: int, catalog: InventoryCatalog) -> ItemsPage:
        """One page of ``/inventory/items`` (every item in Sonar, with its assignee).

        Keeps (account id, item) for the items assigned to accounts, plus the ids of
        every item on the page (to notice an instance that repeats pages). One request
        per 100 items: cheaper than one per account when most accounts need theirs.
        """
        return self.items_page(self.inventory_items_body(page), page, catalog)

    def inventory_items_body(self, page: int) -> Any:
        """One page of ``/inventory/items`` as Sonar sent it."""
        return self._api("inventory/items", {"page": page, "limit": PAGE_LIMIT})

    def items_page(
        self, body: Any, page: int, catalog: InventoryCatalog, wanted: Container[int] | None = None
    ) -> ItemsPage:
        """``inventory_items_body`` read with ``catalog``, which fetches the field lists of
        the models of the items on ``wanted`` accounts (all accounts: None) it lacks."""
        data, total_pages = split_page(body, "inventory/items", page)
        on_accounts = [(account_id, raw) for raw in data
                       if (account_id := account_assignee(raw)) is not None]  # fmt: skip
        catalog.resolve(raw for a, raw in on_accounts if wanted is None or a in wanted)
        assigned = []
        for account_id, raw in on_accounts:
            item = catalog.item(raw)
            if item is not None:
                assigned.append((account_id, item))
        ids = frozenset(i for raw in data if isinstance(raw, dict)
                        if (i := parse_int(raw.get("id"))) is not None)  # fmt: skip
        return ItemsPage(assigned, total_pages, ids, total_count(body))

    def iter_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of an ``/api/v1`` list (``path`` relative to /api/v1), page by page."""
        return iter_items(self._api, _api_path(path), params)

    def _api(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._retry(lambda: self._transport.api_json(path, params), f"GET /api/v1/{path}")


def _api_path(path: str) -> str:
    """``accounts``, ``/accounts`` and ``/api/v1/accounts`` all mean the same list."""
    return path.lstrip("/").removeprefix("api/v1/")
