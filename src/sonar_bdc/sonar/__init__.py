"""Talking to Sonar: the only package that speaks HTTP.

``SonarClient`` is the entry point; everything it returns is a typed record
(``sonar_bdc.records``) or one of the small types exported here.
"""

from .client import SonarClient
from .config import SonarConfig
from .inventory import InventoryCatalog, InventoryModel
from .report import LAYOUTS, Report, detect_layout, parse_report
from .stats import RequestStats

__all__ = [
    "LAYOUTS",
    "InventoryCatalog",
    "InventoryModel",
    "Report",
    "RequestStats",
    "SonarClient",
    "SonarConfig",
    "detect_layout",
    "parse_report",
]
