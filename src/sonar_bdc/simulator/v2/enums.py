"""Enum spellings the v2 simulator chose where the contract says "values unseen".

``TECHNOLOGY_NAMES`` maps the Form 477 codes of the v1 catalog to ``TechnologyCode``
names (the importer maps them back with a settable table). The descriptions are human
labels only: they do not carry the code.
"""

from __future__ import annotations

import re

# Form 477 code -> (TechnologyCode name, description), in introspection order.
TECHNOLOGY_NAMES: dict[int, tuple[str, str]] = {
    10: ("ASYMMETRIC_XDSL", "Asymmetric xDSL"),
    11: ("ADSL2_ADSL2_PLUS", "ADSL2, ADSL2+"),
    12: ("VDSL", "VDSL"),
    20: ("SYMMETRIC_XDSL", "Symmetric xDSL"),
    30: ("OTHER_COPPER_WIRELINE", "Other Copper Wireline"),
    40: ("CABLE_MODEM_OTHER", "Cable Modem - other"),
    41: ("CABLE_MODEM_DOCSIS_1_0_TO_2_0", "Cable Modem - DOCSIS 1, 1.1 or 2.0"),
    42: ("CABLE_MODEM_DOCSIS_3_0", "Cable Modem - DOCSIS 3.0"),
    43: ("CABLE_MODEM_DOCSIS_3_1", "Cable Modem - DOCSIS 3.1"),
    50: ("OPTICAL_CARRIER_FIBER_TO_THE_END_USER", "Optical Carrier / Fiber to the end user"),
    60: ("SATELLITE", "Satellite"),
    70: ("TERRESTRIAL_FIXED_WIRELESS", "Terrestrial Fixed Wireless"),
    90: ("ELECTRIC_POWER_LINE", "Electric Power Line"),
    0: ("ALL_OTHER", "All Other"),
}
TECHNOLOGY_CODES = {name: code for code, (name, _) in TECHNOLOGY_NAMES.items()}

# With ``unknown_technology=True`` these services report a name no mapping table knows.
UNKNOWN_TECHNOLOGY = "LICENSED_FIXED_WIRELESS_NEW"
UNKNOWN_TECHNOLOGY_SERVICE_IDS = frozenset({697})  # "CBRS 100/20", truly code 70

ACCOUNT_TYPES = ("RESIDENTIAL", "COMMERCIAL")
ADDRESS_TYPES = ("PHYSICAL", "MAILING")
ITEM_STATUSES = ("FUNCTIONAL", "FAILED", "LOST")
SERVICE_TYPES = ("DATA", "RECURRING", "ONE_TIME")
FIELD_TYPES = ("STRING", "INTEGER", "MAC", "IMSI")
OPERATORS = ("EQ", "NEQ", "GT", "GTE", "LT", "LTE")

# v1 item assignee types -> v2 ``inventoryitemable_type`` (accounts: their service address).
ASSIGNEE_TYPES = {
    "accounts": "Address",
    "network_sites": "NetworkSite",
    "inventory_locations": "InventoryLocation",
    "vehicles": "Vehicle",
    "users": "User",
}

_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
    "NV NH NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY"
)
SUBDIVISIONS = tuple(f"US_{state}" for state in _STATES.split())

_COUNTY_SUFFIX = re.compile(r"\s+(Co\.|County|Parish)$")


def service_type(data_service: bool, v1_type: str) -> str:
    """``DATA`` for data services, else ``RECURRING``/``ONE_TIME`` from the v1 type."""
    return "DATA" if data_service else v1_type.upper().replace(" ", "_")


def subdivision(country: str, state: str) -> str | None:
    """``US_TX`` for (US, TX); None when the pair is not in the enum."""
    name = f"{country}_{state}"
    return name if name in SUBDIVISIONS else None


def county(state: str, name: str) -> str | None:
    """``UsCounty`` spelling: ``Bexar Co.`` in TX -> ``TX_BEXAR``; None for no county."""
    bare = _COUNTY_SUFFIX.sub("", name.strip())
    if not bare:
        return None
    return f"{state}_{re.sub(r'[^A-Z0-9]+', '_', bare.upper()).strip('_')}"
