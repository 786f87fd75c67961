"""Talking to Sonar **v1**: the ``/api/v1`` REST lists (HTTP Basic auth) and the web
JSON views with a browser-style login (the contact-information report, account detail).

``SonarClient`` is the entry point; everything it returns is a typed record
(``sonar_bdc.records``) or one of the small types exported here. Modules: ``config``,
``login`` (the login's pure parts), ``transport`` (one attempt, the session),
``pagination`` (the page reader of ``/api/v1`` lists), ``report`` (the report's
layouts and streaming parser), ``parse`` (detail and catalogs), ``inventory`` and
``model_fields`` (items, models and their MAC fields), ``client`` (the facade).
"""

from .client import ItemsPage, SonarClient
from .config import SonarConfig
from .inventory import InventoryCatalog, InventoryModel
from .report import LAYOUTS, Report, detect_layout, parse_report

__all__ = [
    "LAYOUTS",
    "InventoryCatalog",
    "InventoryModel",
    "ItemsPage",
    "Report",
    "SonarClient",
    "SonarConfig",
    "detect_layout",
    "parse_report",
]
