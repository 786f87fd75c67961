"""``sonar-bdc bdc review`` as a library call: gather from one snapshot, write the page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sonar_bdc.bdc.config import load_config
from sonar_bdc.readiness import MAX_DETAIL_AGE_DAYS
from sonar_bdc.settings import Settings
from sonar_bdc.store import parse_prefix
from sonar_bdc.store.review import ReviewDb

from .gather import ReviewCounts, gather
from .page import build_html, check_tile_url, write_page

DEFAULT_OUTPUT = Path("bdc_review.html")


@dataclass(frozen=True)
class ReviewOptions:
    output: Path | None = None  # default: bdc_review.html
    as_of: date | None = None  # the import's age is checked against it (default: today)
    config: Path | None = None  # the filing's TOML: technology mapping, groups, offers
    tile_url: str | None = None  # a background map; None: no request to any server
    max_detail_age: float = MAX_DETAIL_AGE_DAYS

    @property
    def path(self) -> Path:
        return self.output or DEFAULT_OUTPUT


@dataclass
class ReviewResult:
    path: Path
    size: int  # bytes
    counts: ReviewCounts

    def lines(self) -> list[str]:
        c = self.counts
        excluded = sum(c.summary.excluded.values()) if c.summary else 0
        counted = sum(c.summary.by_technology.values()) if c.summary else 0
        lines = [
            f"review page: {self.path} ({self.size / 1e6:.1f} MB; open it in a browser)",
            f"customers {c.customers}, active data customers {c.subscribers} "
            f"({c.drawn} on the map), counted {counted}, excluded {excluded}",
            f"availability cross-checks: {sum(c.checks.values())}; data-quality findings: "
            f"{sum(c.findings.values())}",
        ]
        if c.availability_note:
            lines.append(c.availability_note)
        return lines


def review(settings: Settings, options: ReviewOptions) -> ReviewResult:
    """Read everything in one read-only snapshot, then write the page atomically."""
    config = load_config(options.config)  # a bad file stops us before any SQL
    tile_url = check_tile_url(options.tile_url) if options.tile_url else None
    prefix = parse_prefix(settings.prefix)
    with ReviewDb.connect(settings.postgres_conninfo(), prefix) as db, db.snapshot() as snap:
        data, counts = gather(snap, config, options.as_of, options.max_detail_age)
    data["tile_url"] = tile_url
    text = build_html(data, f"BDC review: {prefix}", tile_url)
    path = write_page(options.path, text)
    return ReviewResult(path, len(text.encode("utf-8")), counts)
