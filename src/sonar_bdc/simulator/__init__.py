"""The bundled Sonar v1 simulator: the demo target, the test fixture and the benchmark.

>>> from sonar_bdc.simulator import Simulator, Faults, generate
>>> with Simulator(generate(accounts=100, seed=1)) as sim:  # doctest: +SKIP
...     sim.base_url  # http://127.0.0.1:<port>, user "admin", password "sonar"

Modules: ``model`` (dataset types), ``catalogs`` and ``nasty`` (value pools),
``data`` (``generate``), ``changes`` (``change_accounts``), ``render`` (JSON shapes),
``faults``, ``sessions``, ``api`` and ``views`` (the two HTTP surfaces), ``app``
(dispatch), ``server``. What an importer should store is computed in ``tests/expected.py``.
"""

from sonar_bdc.simulator.data import generate
from sonar_bdc.simulator.faults import Faults
from sonar_bdc.simulator.model import Account, Address, Dataset, Item
from sonar_bdc.simulator.server import Simulator

__all__ = [
    "Account",
    "Address",
    "Dataset",
    "Faults",
    "Item",
    "Simulator",
    "generate",
]
