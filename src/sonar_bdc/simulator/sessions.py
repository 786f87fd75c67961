"""Browser-style web sessions: the login page, CSRF tokens and session cookies.

Modelled on a Laravel app (which Sonar is): ``GET /`` always hands out a fresh guest
session with its CSRF token; a successful ``POST /`` replaces it with a new,
authenticated session id.
"""

from __future__ import annotations

import html
import secrets
import threading
from dataclasses import dataclass

COOKIE_NAME = "sonar_session"
_MAX_SESSIONS = 100_000


@dataclass(slots=True)
class Session:
    csrf: str
    authenticated: bool = False


class SessionStore:
    """Thread-safe session table; the oldest sessions are forgotten past a cap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def new(self, authenticated: bool = False) -> tuple[str, Session]:
        sid = secrets.token_hex(20)
        session = Session(csrf=secrets.token_hex(20), authenticated=authenticated)
        with self._lock:
            if len(self._sessions) >= _MAX_SESSIONS:
                del self._sessions[next(iter(self._sessions))]
            self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if sid is None:
            return None
        with self._lock:
            return self._sessions.get(sid)

    def discard(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def clear(self) -> None:
        """Log every session out (what an expiry does)."""
        with self._lock:
            self._sessions.clear()


def session_id(cookie_header: str | None) -> str | None:
    """The session id from a ``Cookie`` request header, if present."""
    for part in (cookie_header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME and value:
            return value
    return None


def set_cookie(sid: str) -> str:
    return f"{COOKIE_NAME}={sid}; path=/; httponly; samesite=lax"


def login_page(csrf: str, error: str | None = None) -> bytes:
    message = f'<div class="alert">{html.escape(error)}</div>' if error else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="csrf-token" content="{csrf}">
<title>Sonar - Login</title></head>
<body>{message}
<form method="POST" action="/">
<input type="hidden" name="_token" value="{csrf}">
<input type="text" name="username"><input type="password" name="password">
<button type="submit">Log in</button>
</form></body></html>
""".encode()


HOME_PAGE = b"<!DOCTYPE html><html><head><title>Sonar</title></head><body>Dashboard</body></html>"
