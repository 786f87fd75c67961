"""The state every route of the v1 simulator shares (its own module: the routes and the
dispatcher both need it, and the dispatcher imports the routes)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sonar_bdc.simulator.faults import FaultInjector
from sonar_bdc.simulator.model import Dataset
from sonar_bdc.simulator.sessions import SessionStore


@dataclass
class State:
    """Everything the routes share. ``lock`` guards ``dataset`` and ``report_cache``."""

    dataset: Dataset
    layout: str
    username: str
    password: str
    injector: FaultInjector
    sessions: SessionStore = field(default_factory=SessionStore)
    lock: threading.Lock = field(default_factory=threading.Lock)
    report_cache: tuple[int, bytes] | None = None
