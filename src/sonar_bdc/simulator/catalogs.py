"""The fixed catalogs of the simulated Sonar instance, and the places accounts live in.

Catalogs do not depend on the seed: every generated dataset shares them, so tests
can name a service or a model by id.
"""

from __future__ import annotations

from typing import NamedTuple

from sonar_bdc.simulator.model import (
    FieldDef,
    GroupDef,
    Manufacturer,
    ModelDef,
    ServiceDef,
    StatusDef,
    TypeDef,
)

STATUSES = (
    StatusDef(1, "Lead", False),
    StatusDef(2, "Active", True),
    StatusDef(3, "Inactive", False),
    StatusDef(4, "Cancelled", False),
    StatusDef(5, "Active-Delinquent", True),
)
ACTIVE_STATUS_IDS = (2, 5)
INACTIVE_STATUS_IDS = (1, 3, 4)

TYPES = (
    TypeDef(1, "Residential", "residential"),
    TypeDef(2, "Business", "commercial"),
    TypeDef(3, "Government", "commercial"),
    TypeDef(4, "Farm & Ranch", "residential"),
)

# Group names never contain ", ": the report joins them with it.
GROUPS = (
    GroupDef(1, "Group A"),
    GroupDef(2, "Fiber Customers"),
    GroupDef(3, "Wireless - North Tower"),
    GroupDef(4, "VIP"),
    GroupDef(5, "O'Neil Ranch Tower"),
    GroupDef(6, "Seasonal"),
    GroupDef(7, "Grupo Español"),
    GroupDef(8, "Paperless Billing"),
)


def _svc(
    sid: int, name: str, down: int | None, up: int | None, code: int | None, amount: str
) -> ServiceDef:
    data = bool(down)
    return ServiceDef(sid, name, "recurring", True, data, down, up, code, amount)


SERVICES = (
    _svc(694, "Basic 15/2", 15000, 2048, 70, "39.95"),
    _svc(695, "Fixed Wireless 25/3", 25000, 3072, 70, "49.95"),
    _svc(696, "Fixed Wireless 50/10", 50000, 10240, 70, "69.95"),
    _svc(697, "CBRS 100/20", 100000, 20480, 70, "89.00"),
    _svc(700, "Fiber 100/100", 100000, 100000, 50, "59.00"),
    _svc(701, "Fiber 1 Gig", 1000000, 1000000, 50, "99.00"),
    _svc(710, "Cable 200/10", 200000, 10240, 40, "64.99"),
    _svc(720, "ADSL 6/1", 6144, 768, 10, "34.95"),
    _svc(721, "SDSL 3/3", 3072, 3072, 20, "54.95"),
    _svc(722, "Copper T1", 1544, 1544, 30, "299.00"),
    _svc(730, "Satellite 25/3", 25000, 3072, 60, "109.99"),
    _svc(740, "Powerline 10/1", 10240, 1024, 90, "29.95"),
    _svc(750, "Other Broadband 10/1", 10240, 1024, 0, "24.95"),
    ServiceDef(760, "Legacy Wireless 3/1", "recurring", False, True, 3072, 1024, 70, "19.95"),
    ServiceDef(800, "Static IP", "recurring", True, False, None, None, None, "10.00"),
    ServiceDef(801, "Router rental", "recurring", True, False, 0, 0, 0, "5.00"),
    ServiceDef(802, "Installation fee", "one time", True, False, None, None, None, "99.00"),
    ServiceDef(803, "Late fee", "one time", True, False, None, None, 0, "0.00"),
    ServiceDef(804, "VoIP line", "recurring", True, False, 0, 0, None, "19.99"),
)
DATA_SERVICE_IDS = tuple(s.id for s in SERVICES if s.data_service)
EXTRA_SERVICE_IDS = tuple(s.id for s in SERVICES if not s.data_service)

MANUFACTURERS = (
    Manufacturer(1, "Ubiquiti"),
    Manufacturer(2, "Cambium Networks"),
    Manufacturer(3, "MikroTik"),
    Manufacturer(4, "Calix"),
    Manufacturer(5, "TP-Link"),
    Manufacturer(6, "Tarana Wireless"),
    Manufacturer(7, "Generic"),
    Manufacturer(8, "ZTE"),
)

MODELS = (
    ModelDef(1, "LiteBeam 5AC Gen2", 1, 1),
    ModelDef(2, "airMAX Rocket Prism 5AC", 1, 1),
    ModelDef(3, "ePMP Force 300-25", 2, 1),
    ModelDef(4, "hAP ac²", 3, 2),
    ModelDef(5, "GigaPoint GP1100X", 4, 3),
    ModelDef(6, "Archer C7", 5, 2),
    ModelDef(7, "G1 RN", 6, 1),
    ModelDef(8, "Drop Cable 100ft", 7, 4),
    ModelDef(9, "PoE Injector 24V", 1, 4),
    ModelDef(10, "F660 ONT", 8, 3),
)
CPE_MODEL_IDS = (1, 2, 3, 4, 5, 6, 7, 10)
ACCESSORY_MODEL_IDS = (8, 9)
ORPHAN_MODEL_IDS = (99, 404)  # referenced by a few items, absent from the catalog

# Some models carry a MAC field (not always first); some only string serials.
MODEL_FIELDS = {
    1: [FieldDef(1, "MAC Address", "mac", True, True), FieldDef(2, "Serial Number", "string")],
    2: [FieldDef(3, "Serial Number", "string"), FieldDef(4, "MAC Address", "mac", True, True)],
    3: [FieldDef(5, "MAC", "mac", True, True), FieldDef(6, "Serial Number", "string")],
    4: [FieldDef(7, "Serial Number", "string"), FieldDef(8, "Ethernet MAC", "mac", False, True)],
    5: [FieldDef(9, "Serial Number", "string", True, True), FieldDef(10, "FSAN", "string")],
    6: [FieldDef(11, "MAC Address", "mac"), FieldDef(12, "Serial Number", "string")],
    7: [FieldDef(13, "Serial Number", "string", True, True)],
    8: [FieldDef(14, "Length (ft)", "integer")],
    9: [],
    10: [
        FieldDef(15, "GPON SN", "string", True, True),
        FieldDef(16, "MAC Address", "mac", True, True),
        FieldDef(17, "IMSI", "imsi"),
    ],
}

DEFAULT_MODELS = len(MODELS)  # the fixed catalog: enough where the count does not matter
FIRST_GENERATED_FIELD_ID = 1001
# What a live catalog holds beyond the fixed models: every radio, router and ONT an
# ISP ever stocked. Field types: those both of Sonar's APIs (and both simulators) know.
_MODEL_KINDS = (
    ("Radio", ("mac", "string")),
    ("Router", ("string", "mac", "mac")),
    ("ONT", ("string", "string", "mac", "imsi")),
    ("Modem", ("mac", "string", "integer")),
    ("SIM Card", ("imsi", "string")),
    ("Bracket", ("integer",)),
)


def generated_models(count: int) -> tuple[tuple[ModelDef, ...], dict[int, list[FieldDef]]]:
    """``count`` models after the fixed ones, the same for the same count (seedless)."""
    models: list[ModelDef] = []
    fields: dict[int, list[FieldDef]] = {}
    field_id = FIRST_GENERATED_FIELD_ID
    for model_id in range(len(MODELS) + 1, len(MODELS) + 1 + count):
        kind, types = _MODEL_KINDS[model_id % len(_MODEL_KINDS)]
        maker = MANUFACTURERS[model_id % len(MANUFACTURERS)]
        category = 4 if kind == "Bracket" else 1 + model_id % 3
        models.append(ModelDef(model_id, f"{maker.name} {kind} {model_id}", maker.id, category))
        # Rotate the field order so the MAC is not always at the same place.
        shift = model_id % len(types)
        defs = []
        for position, field_type in enumerate(types[shift:] + types[:shift]):
            name = "MAC Address" if field_type == "mac" else f"{field_type.title()} {position}"
            defs.append(FieldDef(field_id, name, field_type, position == 0, field_type == "mac"))
            field_id += 1
        fields[model_id] = defs
    return tuple(models), fields


class Place(NamedTuple):
    city: str
    state: str
    county: str
    county_fips: str  # 5 digits: state + county
    lat: float
    lon: float
    zip_prefix: str  # first three ZIP digits


# Mostly Texas, with a few neighbouring states (an ISP near a state line).
PLACES = (
    Place("San Antonio", "TX", "Bexar Co.", "48029", 29.4241, -98.4936, "782"),
    Place("Floresville", "TX", "Wilson Co.", "48493", 29.1336, -98.1561, "781"),
    Place("Seguin", "TX", "Guadalupe Co.", "48187", 29.5688, -97.9647, "781"),
    Place("New Braunfels", "TX", "Comal Co.", "48091", 29.7030, -98.1245, "781"),
    Place("Austin", "TX", "Travis Co.", "48453", 30.2672, -97.7431, "787"),
    Place("Houston", "TX", "Harris Co.", "48201", 29.7604, -95.3698, "770"),
    Place("Dallas", "TX", "Dallas Co.", "48113", 32.7767, -96.7970, "752"),
    Place("Fort Worth", "TX", "Tarrant Co.", "48439", 32.7555, -97.3308, "761"),
    Place("El Paso", "TX", "El Paso Co.", "48141", 31.7619, -106.4850, "799"),
    Place("Lubbock", "TX", "Lubbock Co.", "48303", 33.5779, -101.8552, "794"),
    Place("McAllen", "TX", "Hidalgo Co.", "48215", 26.2034, -98.2300, "785"),
    Place("Corpus Christi", "TX", "Nueces Co.", "48355", 27.8006, -97.3964, "784"),
    Place("Oklahoma City", "OK", "Oklahoma Co.", "40109", 35.4676, -97.5164, "731"),
    Place("Albuquerque", "NM", "Bernalillo Co.", "35001", 35.0844, -106.6504, "871"),
    Place("Shreveport", "LA", "Caddo Parish", "22017", 32.5252, -93.7502, "711"),
)
PLACE_WEIGHTS = (30, 12, 10, 8, 6, 5, 5, 4, 3, 3, 4, 3, 3, 2, 2)

STREETS = (
    "Main St", "Oak Ave", "FM 1346", "County Road 412", "Ranch Rd 12", "Elm St",
    "Mission Rd", "Pecan Valley Dr", "Old Seguin Rd", "Hwy 97 W", "Cedar Ln",
    "Bluebonnet Trl", "Loop 1604", "Camino Real", "Live Oak Dr",
)  # fmt: skip
FIRST_NAMES = (
    "James", "Maria", "Robert", "Linda", "Jose", "Patricia", "Michael", "Jennifer",
    "David", "Guadalupe", "William", "Elizabeth", "Juan", "Barbara", "Richard", "Susan",
    "Thomas", "Jessica", "Carlos", "Sarah", "Daniel", "Karen", "Luis", "Nancy",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Johnson", "Martinez", "Williams", "Rodriguez", "Brown", "Hernandez",
    "Jones", "Lopez", "Miller", "Gonzalez", "Davis", "Perez", "Wilson", "Sanchez",
    "Anderson", "Ramirez", "Taylor", "Torres", "Moore", "Flores", "Jackson", "Rivera",
)  # fmt: skip
BUSINESS_SUFFIXES = ("LLC", "Inc.", "Ranch", "Feed & Supply", "Church", "Auto Repair", "ISD")
