"""One self-contained HTML file: Leaflet, the page's script and style, and the data, inlined.

The page makes no request: its Content-Security-Policy allows no source but the page
itself (and the tile server, only when ``--tile-url`` names one), so personal data in it
stays in the file. The data travels as JSON in a ``<script type="application/json">``
block with ``<``, ``>`` and ``&`` escaped, so no customer name can end the block.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from sonar_bdc.bdc.output import _temporary, check_target
from sonar_bdc.errors import ConfigError

LEAFLET_VERSION = "1.9.4"
_PACKAGE = resources.files("sonar_bdc.review")
_CSS_IMAGE = re.compile(r"url\(images/([a-z0-9-]+\.png)\)")
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)
_TILE_FIELDS = ("{z}", "{x}", "{y}")


def asset(*parts: str) -> str:
    """The text of a file shipped in the package (``vendor``/``assets``)."""
    node = _PACKAGE
    for part in parts:
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def leaflet_css() -> str:
    """Leaflet's stylesheet with its images as data: URIs (no file beside the page)."""
    images = _PACKAGE.joinpath("vendor").joinpath("leaflet").joinpath("images")

    def inline(m: re.Match[str]) -> str:
        data = base64.b64encode(images.joinpath(m.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return _CSS_IMAGE.sub(inline, asset("vendor", "leaflet", "leaflet.css"))


def leaflet_js() -> str:
    return _SOURCE_MAP.sub("", asset("vendor", "leaflet", "leaflet.js"))


def json_block(data: object) -> str:
    """JSON safe inside a script element: no ``</script>``, ``<!--`` or entity in it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def check_tile_url(url: str) -> str:
    """A tile URL template such as ``https://tile.example.org/{z}/{x}/{y}.png``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--tile-url {url!r}: give an http(s) URL template")
    missing = [f for f in _TILE_FIELDS if f not in url]
    if missing:
        raise ConfigError(
            f"--tile-url {url!r} lacks {', '.join(missing)}: a template such as "
            "https://tile.example.org/{z}/{x}/{y}.png"
        )
    return url


def _tile_source(url: str | None) -> str:
    """The CSP source of the tile server (its subdomain template as a wildcard)."""
    if url is None:
        return ""
    parts = urlsplit(url)
    host = re.sub(r"^\{s\}\.", "*.", parts.netloc)
    return f" {parts.scheme}://{host}"


def build_html(data: dict[str, object], title: str, tile_url: str | None = None) -> str:
    policy = (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        f"img-src data:{_tile_source(tile_url)}; base-uri 'none'; form-action 'none'"
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sonar-bdc (Leaflet {LEAFLET_VERSION})">
<title>{html.escape(title)}</title>
<style>{leaflet_css()}</style>
<style>{asset("assets", "review.css")}</style>
</head>
<body>
<header><h1>Review before you file</h1><p id="subtitle"></p><p id="demo"></p></header>
<section id="figures"></section>
<section id="breakdowns"></section>
<main id="mapwrap"><div id="map"></div>
<aside id="info"><p>Click a point on the map, or a row of a table below.</p></aside></main>
<section id="tables"></section>
<script type="application/json" id="review-data">{json_block(data)}</script>
<script>{leaflet_js()}</script>
<script>{asset("assets", "review.js")}</script>
</body>
</html>
"""


def write_page(path: Path, text: str) -> Path:
    """Write ``path`` whole or not at all: a temporary file renamed into place."""
    check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _temporary(path) as tmp:
            tmp.touch(mode=0o600)  # customers' names and addresses: the user's eyes only
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"-o {path}: cannot write the page: {exc.strerror or exc}") from exc
    return path
