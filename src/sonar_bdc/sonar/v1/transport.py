"""HTTP to one Sonar instance: one pooled client, two logins, one attempt per call.

``api_json`` opens ``/api/v1`` with HTTP Basic auth. ``web_json`` opens the web
JSON views with a browser-style session (CSRF token, form POST, cookie) and logs
in again, once, when the session has expired. Each call is one attempt: it returns
decoded JSON or raises one of our errors (``SonarRetriableError`` for what the
retry layer above should repeat).

The session cookie is kept here and sent by hand on web requests only: the pool
keeps no cookies, so API answers never mix into the web session.
"""

from __future__ import annotations

import base64
import json
import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from ...errors import SonarAuthError, SonarError, SonarNotFound, SonarRetriableError
from ..base import RETRIABLE_STATUS, TransportBase, retry_after
from ..config import CREDENTIAL_SETTINGS, HOST_SETTINGS
from ..http import Reply
from ..limiter import RateLimiter
from ..stats import Counters
from .config import SonarConfig
from .login import cookie_header, csrf_token, login_accepted

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
SPOOL_IN_MEMORY = 1024 * 1024  # bytes of a streamed body kept in memory before a temp file


Refusal = Callable[[str, int, str], SonarAuthError]  # (url, status, username) -> error


class SessionExpired(SonarRetriableError):
    """A web view answered with a redirect or HTML instead of JSON: log in again."""


class EmptyBody(SonarRetriableError):
    """An empty 200 answer: what an overloaded instance sends."""


@dataclass(frozen=True)
class _Session:
    cookie_header: str  # "name=value; ..." from the login answers


class Transport(TransportBase[SonarConfig]):
    """Sends requests; thread-safe; one login at a time."""

    def __init__(self, config: SonarConfig, counters: Counters, limiter: RateLimiter) -> None:
        super().__init__(config, counters, limiter, pool_size=config.pool_size)
        # Basic auth goes on /api/v1 requests only.
        self._api_headers = {
            "Authorization": basic_auth(config.username, config.password),
            "Accept": "application/json",
        }
        self._session: _Session | None = None
        self._login_error: SonarAuthError | None = None
        self._login_lock = threading.Lock()

    # --- /api/v1 with Basic auth -------------------------------------------------------

    def api_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """One GET of ``/api/v1/{path}``: decoded JSON, or one of our errors."""
        url = API_PREFIX + path.lstrip("/")
        response = self._send("GET", url, params=params, headers=self._api_headers)
        if response.is_redirect:
            raise SonarError(f"GET {url}: {_redirect_hint(response, self._config.base_url)}")
        return self._decode(response, url, _credentials_refused)

    # --- web JSON views with a session ---------------------------------------------------

    def web_json(
        self, path: str, *, raw: bool = False, received: Callable[[int], object] | None = None
    ) -> Any:
        """One GET of a web JSON view; logs in again once if the session has expired.

        ``raw``: return the checked body as a file positioned at its start, for a caller
        that decodes it in a streaming way (the report is one large document: it is
        spooled to a temporary file past ``SPOOL_IN_MEMORY`` bytes, not held in memory).
        ``received``: with ``raw``, called with the size of each piece of the body as it
        arrives (download progress).
        """
        session = self._current_session()
        try:
            return self._web_once(path, session, raw, received)
        except SessionExpired as exc:
            log.debug("Sonar web session expired (%s); logging in again", exc)
            self._invalidate(session)
        session = self._current_session()
        try:
            return self._web_once(path, session, raw, received)
        except SessionExpired as exc:
            self._invalidate(session)
            raise SessionExpired(f"{exc}, again right after a new login") from exc

    def login(self) -> None:
        """A fresh web login now (raises SonarAuthError if refused)."""
        with self._login_lock:
            self._session = None
            self._session = self._login_locked()

    def _web_once(
        self,
        path: str,
        session: _Session,
        raw: bool = False,
        received: Callable[[int], object] | None = None,
    ) -> Any:
        # No "Accept: application/json" here: Laravel answers such a request without a
        # session with 401 JSON, which would look like wrong credentials.
        spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY) if raw else None  # noqa: SIM115 (returned)
        try:
            return self._web_answer(path, session, spool, received)
        except BaseException:
            if spool is not None:
                spool.close()
            raise

    def _web_answer(
        self,
        path: str,
        session: _Session,
        spool: IO[bytes] | None,
        received: Callable[[int], object] | None = None,
    ) -> Any:
        headers = {"Cookie": session.cookie_header}
        into = _Counted(spool, received) if spool is not None and received else spool
        response = self._send("GET", path, headers=headers, into=into)
        if response.is_redirect:
            raise SessionExpired(f"GET {path}: redirected to {response.headers['location']!r}")
        if response.status in (401, 419):
            raise SessionExpired(f"GET {path}: HTTP {response.status}")
        if response.status == 200 and _looks_like_html(response, spool):
            raise SessionExpired(f"GET {path}: an HTML page instead of JSON")
        try:
            return self._decode(response, path, _view_refused, spool)
        except EmptyBody:
            self._invalidate(session)  # overloaded or logged out: wait, log in again, retry
            raise

    def _current_session(self) -> _Session:
        # Under the lock: when several threads find the session expired, the first one
        # logs in and the others wait here and reuse its session.
        with self._login_lock:
            if self._session is None:
                self._session = self._login_locked()
            return self._session

    def _invalidate(self, session: _Session) -> None:
        with self._login_lock:
            if self._session is session:  # not one another thread has just made
                self._session = None

    def _login_locked(self) -> _Session:
        if self._login_error is not None:
            raise self._login_error  # never repeat a refused login: it may lock the user out
        for _ in range(2):
            answer, cookies = self._submit_login()
            if login_accepted(answer.status, answer.headers.get("location")):
                cookies.update(answer.cookies())
                # The first login is news; re-logins after expiry are routine (counted).
                first = self._counters.snapshot().logins == 0
                self._counters.add("logins")
                log.log(
                    logging.INFO if first else logging.DEBUG,
                    "logged in to the Sonar web session as %r", self._config.username,
                )  # fmt: skip
                return _Session(cookie_header(cookies))
            if not answer.is_redirect:
                break  # the login page again: the credentials were refused
            # A redirect back to "/" also follows a CSRF token that expired between
            # the two requests: one fresh try tells that apart from a wrong password.
        self._login_error = SonarAuthError(
            f"Sonar refused the web login of user {self._config.username!r} at "
            f"{self._config.base_url}: check {CREDENTIAL_SETTINGS} (and {HOST_SETTINGS} "
            "if that is not your Sonar)"
        )
        raise self._login_error

    def _submit_login(self) -> tuple[Reply, dict[str, str | None]]:
        """GET the login page, POST the form: (the POST's answer, the guest cookies)."""
        page = self._send("GET", "/", headers={"Accept": "text/html"})
        self._check_login_answer(page, "GET /")
        token = csrf_token(page.headers, page.text)
        if token is None:
            raise SonarRetriableError(
                f"no CSRF token on the login page of {self._config.base_url}/: "
                f"is this a Sonar instance? Check {HOST_SETTINGS}"
            )
        cookies = page.cookies()
        form = {"username": self._config.username, "password": self._config.password,
                "_token": token}  # fmt: skip
        answer = self._send(
            "POST",
            "/",
            body=urlencode(form),
            headers={"X-CSRF-TOKEN": token, "Cookie": cookie_header(cookies),
                     "Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        self._check_login_answer(answer, "POST /")
        return answer, cookies

    def _check_login_answer(self, response: Reply, what: str) -> None:
        status = response.status
        if status in RETRIABLE_STATUS or status == 419:  # 419: CSRF token expired meanwhile
            raise SonarRetriableError(f"login {what}: HTTP {status}", retry_after(response))
        if what == "GET /" and response.is_redirect:
            raise SonarError(f"login {what}: {_redirect_hint(response, self._config.base_url)}")

    # --- one answer ---------------------------------------------------------------------

    def _decode(
        self, response: Reply, url: str, refused: Refusal, spool: IO[bytes] | None = None
    ) -> Any:
        status = response.status
        if status in (401, 403):
            raise refused(url, status, self._config.username)
        if status == 404:
            self._counters.add("not_found")
            raise SonarNotFound(f"GET {url}: {_error_message(response) or 'not found'} (404)")
        if status in RETRIABLE_STATUS:
            message = _error_message(response)
            raise SonarRetriableError(
                f"GET {url}: HTTP {status}" + (f" ({message})" if message else ""),
                retry_after(response),
            )
        if not 200 <= status < 300:
            raise SonarError(f"GET {url}: HTTP {status}: {_error_message(response) or 'error'}")
        if not _start(response, spool):
            raise EmptyBody(f"GET {url}: empty answer")
        if spool is not None:
            spool.seek(0)
            return spool
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise SonarRetriableError(f"GET {url}: the answer is not JSON (truncated?)") from exc


def _credentials_refused(url: str, status: int, username: str) -> SonarAuthError:
    return SonarAuthError(
        f"Sonar refused the API credentials of user {username!r} (HTTP {status} on {url}): "
        f"check {CREDENTIAL_SETTINGS}"
        + (", and that the user may use the API" if status == 403 else "")
    )


def _view_refused(url: str, status: int, username: str) -> SonarAuthError:
    # 401 is handled as an expired session before this; a 403 after a fresh login is
    # a permission the user lacks.
    return SonarAuthError(
        f"Sonar refused {url} to user {username!r} (HTTP {status}): check {CREDENTIAL_SETTINGS} "
        "and that the user may open reports and accounts"
    )


class _Counted:
    """Writes to ``file`` and tells ``received`` how many bytes each write brought."""

    def __init__(self, file: IO[bytes], received: Callable[[int], object]) -> None:
        self._file, self._received = file, received

    def write(self, chunk: bytes) -> int:
        written = self._file.write(chunk)
        self._received(len(chunk))
        return written


def basic_auth(username: str, password: str) -> str:
    """The Authorization value for HTTP Basic auth (UTF-8, as RFC 7617 recommends)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _redirect_hint(response: Reply, base_url: str) -> str:
    location = response.headers.get("location", "")
    scheme = urlsplit(location).scheme
    if scheme and scheme != urlsplit(base_url).scheme:
        return f"redirected to {scheme}:// ({location!r}): set SONAR_PROTOCOL={scheme}"
    return f"unexpected redirect to {location!r}: check {HOST_SETTINGS}"


def _looks_like_html(response: Reply, spool: IO[bytes] | None = None) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return _start(response, spool)[:1] == b"<"


def _start(response: Reply, spool: IO[bytes] | None) -> bytes:
    """The body's first bytes after any whitespace, whether held or spooled."""
    if spool is None:  # the head first: lstrip() of a whole detail copies it
        return response.content[:4096].lstrip()[:64] or response.content.lstrip()[:64]
    spool.seek(0)
    while chunk := spool.read(4096):
        if stripped := chunk.lstrip():
            return stripped[:64]
    return b""


def _error_message(response: Reply) -> str:
    """The text of Sonar's error envelope, in any of its known shapes, or ""."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    if isinstance(error, dict):  # 422: {field: text}
        error = "; ".join(f"{key}: {value}" for key, value in error.items())
    return str(error)[:300] if error else ""
