"""What the v1 client needs beyond the shared connection settings, checked once."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...settings import REPORT_LAYOUTS
from ..config import Check, ConnectionConfig


@dataclass(frozen=True)
class SonarConfig(ConnectionConfig):
    """Connection, retry and parsing settings for one Sonar v1 instance (REST and the
    report). The password never appears in ``repr``."""

    username: str
    password: str = field(repr=False)
    pool_size: int = 10
    report_layout: str = "auto"

    def checks(self) -> list[Check]:
        return [
            *super().checks(),
            (self.pool_size >= 1, "the connection pool size (--workers) must be at least 1"),
            (self.report_layout in REPORT_LAYOUTS, "--report-layout must be auto, A or B"),
        ]
