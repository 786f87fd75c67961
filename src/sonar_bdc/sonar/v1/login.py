"""Pure pieces of Sonar's browser-style login, kept apart so they test without HTTP.

The flow (``Transport`` runs it): ``GET /`` gives a guest session cookie and a CSRF
token (header ``X-Meta-CSRF-Token`` and ``<meta name="csrf-token">``); ``POST /``
with ``username``, ``password`` and ``_token`` answers 302 to ``/home`` on success,
the login page again (or a redirect back to ``/``) on failure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

CSRF_HEADER = "X-Meta-CSRF-Token"
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def csrf_token(headers: Mapping[str, str], page: str) -> str | None:
    """The login page's CSRF token: from the header, else from the meta tag."""
    token = headers.get(CSRF_HEADER)
    if token:
        return token
    for tag in _META.findall(page):
        attrs: dict[str, str] = {m[0].lower(): m[1] or m[2] for m in _ATTR.findall(tag)}
        if attrs.get("name", "").lower() == "csrf-token" and attrs.get("content"):
            return attrs["content"]
    return None


def login_accepted(status: int, location: str | None) -> bool:
    """True for a redirect away from the login page (Sonar sends /home)."""
    if status not in _REDIRECTS:
        return False  # the login page again
    return urlsplit(location or "").path.rstrip("/") not in ("", "/login")


def cookie_header(cookies: Mapping[str, str | None]) -> str:
    """The Cookie header for ``cookies``; None marks one the server deleted."""
    return "; ".join(f"{name}={value}" for name, value in cookies.items() if value is not None)
