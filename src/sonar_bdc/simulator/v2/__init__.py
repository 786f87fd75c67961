"""The bundled Sonar **v2** simulator: a GraphQL server on graphql-core.

>>> from sonar_bdc.simulator import generate
>>> from sonar_bdc.simulator.v2 import GraphQLSimulator
>>> with GraphQLSimulator(generate(accounts=100, seed=1)) as sim:  # doctest: +SKIP
...     sim.url  # POST JSON {"query", "variables"}, "Authorization: Bearer sonar-token"

It serves the schema subset of ``sonar-v2-graphql.md`` (§2-§5) from the same
:class:`~sonar_bdc.simulator.model.Dataset` as the v1 simulator, with v1's
:class:`~sonar_bdc.simulator.faults.Faults` and rate limit.

Enum spellings (the contract leaves them open; see :mod:`.enums`):

=====  ========================================
Form 477 code -> ``TechnologyCode``
=====  ========================================
10     ``ASYMMETRIC_XDSL``
11     ``ADSL2_ADSL2_PLUS``
12     ``VDSL``
20     ``SYMMETRIC_XDSL``
30     ``OTHER_COPPER_WIRELINE``
40     ``CABLE_MODEM_OTHER``
41     ``CABLE_MODEM_DOCSIS_1_0_TO_2_0``
42     ``CABLE_MODEM_DOCSIS_3_0``
43     ``CABLE_MODEM_DOCSIS_3_1``
50     ``OPTICAL_CARRIER_FIBER_TO_THE_END_USER``
60     ``SATELLITE``
70     ``TERRESTRIAL_FIXED_WIRELESS``
90     ``ELECTRIC_POWER_LINE``
0      ``ALL_OTHER``
=====  ========================================

With ``unknown_technology=True`` the enum gains ``LICENSED_FIXED_WIRELESS_NEW`` and
service 697 ("CBRS 100/20", truly code 70) reports it. ``AccountTypeEnum``:
``RESIDENTIAL``/``COMMERCIAL``; ``InventoryItemStatus``: ``FUNCTIONAL``/``FAILED``/
``LOST``; ``ServiceType``: ``DATA``/``RECURRING``/``ONE_TIME``; ``AddressType``:
``PHYSICAL``/``MAILING``; ``Subdivision``: ``US_<state>``; ``UsCounty``: ``TX_BEXAR``.

Value rendering (coordinates, ZIP, inventory, MAC, ids, ``updated_at``) is documented
in :mod:`.entities`; filters, sorting, paging and ``nested_limit`` in :mod:`.select`;
the HTTP surface and fault order in :mod:`.app`.

Modules: ``enums``, ``schema`` (SDL + scalars), ``entities`` (dataset -> rows),
``select`` (filters, paging), ``relations`` (nested connections), ``store`` (root
lists, caches, changes), ``app`` (HTTP dispatch), ``server``
(:class:`GraphQLSimulator`).
"""

from sonar_bdc.simulator.v2.app import INTERNAL_ERROR, PATH
from sonar_bdc.simulator.v2.entities import coordinate, technology_name, zip_code
from sonar_bdc.simulator.v2.enums import (
    TECHNOLOGY_CODES,
    TECHNOLOGY_NAMES,
    UNKNOWN_TECHNOLOGY,
    UNKNOWN_TECHNOLOGY_SERVICE_IDS,
)
from sonar_bdc.simulator.v2.schema import sdl
from sonar_bdc.simulator.v2.server import GraphQLSimulator

__all__ = [
    "INTERNAL_ERROR",
    "PATH",
    "TECHNOLOGY_CODES",
    "TECHNOLOGY_NAMES",
    "UNKNOWN_TECHNOLOGY",
    "UNKNOWN_TECHNOLOGY_SERVICE_IDS",
    "GraphQLSimulator",
    "coordinate",
    "sdl",
    "technology_name",
    "zip_code",
]
