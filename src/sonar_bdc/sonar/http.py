"""One pool of keep-alive connections to a Sonar instance, shared by every worker.

Built on libcurl (pycurl): a pool of ``size`` curl handles, each keeping its own
connection alive, lent to one worker thread at a time. libcurl sends, reads and
parses the answer outside the GIL: 0.14 ms of this process's CPU per request
against 0.41-0.47 ms with urllib3, which the importer's 32 workers and its writer
thread all queued for (``bench/bench_http.py``). pycurl's errors do not leave this
module: ``HttpPool.send`` raises ours, worded with what the caller was doing.
"""

from __future__ import annotations

import io
import logging
import math
import queue
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import pycurl

from ..errors import (
    ConfigError,
    SonarConnectionFailed,
    SonarError,
    SonarRetriableError,
    SonarUnreachable,
)
from .config import CA_BUNDLE_SETTING, HOST_SETTINGS

log = logging.getLogger(__name__)

REDIRECTS = frozenset({301, 302, 303, 307, 308})

# libcurl's error codes, by what they mean for the caller.
_NEVER_CONNECTED = frozenset({
    pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_CONNECT, pycurl.E_COULDNT_RESOLVE_PROXY,
})  # fmt: skip
_CERTIFICATE = frozenset({pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CACERT_BADFILE})
_UNRESOLVED = pycurl.E_COULDNT_RESOLVE_HOST
_TIMED_OUT = pycurl.E_OPERATION_TIMEDOUT
_WRITE_FAILED = pycurl.E_WRITE_ERROR


class Headers(Mapping[str, str]):
    """An answer's headers, looked up without regard to case; repeats joined by ', '."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._values[key] = f"{self._values[key]}, {value}" if key in self._values else value

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


@dataclass(frozen=True)
class Reply:
    """A whole answer: status, headers (case-insensitive) and body."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    set_cookies: tuple[str, ...] = ()

    @property
    def is_redirect(self) -> bool:
        return self.status in REDIRECTS and "location" in self.headers

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def cookies(self) -> dict[str, str | None]:
        """``name: value`` of each Set-Cookie header; None for a cookie the server
        deletes (already expired). Other attributes, such as path, are ignored."""
        found: dict[str, str | None] = {}
        for header in self.set_cookies:
            pair, *attributes = header.split(";")
            name, _, value = pair.partition("=")
            if name.strip():
                found[name.strip()] = None if _expired(attributes) else value.strip()
        return found


def _expired(attributes: list[str]) -> bool:
    """Max-Age of 0 or less, else Expires in the past (RFC 6265: Max-Age wins, and
    an attribute that does not parse is ignored)."""
    values = {k.strip().lower(): v.strip() for k, _, v in (a.partition("=") for a in attributes)}
    try:
        return int(values["max-age"]) <= 0
    except (KeyError, ValueError):
        pass
    try:
        when = parsedate_to_datetime(values["expires"])
    except (KeyError, TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when <= datetime.now(timezone.utc)


class Writable(Protocol):
    """Where a successful body goes: a file, or a writer that counts what it is given."""

    def write(self, chunk: bytes, /) -> int: ...


@dataclass
class _Answer:
    """What one transfer brought. libcurl hands header lines to ``lines.append`` and a
    body kept in memory to ``body.write``: C callables, no Python frame per piece."""

    into: Writable | None
    lines: list[bytes] = field(default_factory=list)
    body: io.BytesIO = field(default_factory=io.BytesIO)
    spooling: bool | None = None  # decided at the first piece of the body
    write_error: OSError | None = None

    def parsed(self) -> tuple[int, list[tuple[str, str]]]:
        """The last answer's status and headers (a 100 Continue comes before it)."""
        headers: list[tuple[str, str]]
        status, headers = 0, []
        for line in self.lines:
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text.startswith("HTTP/"):  # a new answer: start over
                parts = text.split(" ", 2)
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                headers = []
            elif ":" in text:
                name, _, value = text.partition(":")
                headers.append((name.strip(), value.strip()))
        return status, headers

    def spool(self, chunk: bytes) -> int | None:
        """The body writer when ``into`` is set: a 2xx body goes there, others to memory."""
        if self.spooling is None:
            self.spooling = 200 <= self.parsed()[0] < 300
        if not self.spooling:
            return self.body.write(chunk)
        assert self.into is not None  # this is the writer only when there is an into
        try:
            self.into.write(chunk)
        except OSError as exc:  # a full or read-only temporary directory
            self.write_error = exc
            return 0  # tells libcurl to stop (E_WRITE_ERROR)
        return None

    def detach(self) -> bytes:
        """The body read; the idle handle's callbacks keep neither it nor ``into``."""
        content, self.body, self.into = self.body.getvalue(), io.BytesIO(), None
        return content


class HttpPool:
    """Thread-safe; ``size`` connections at most, a worker waits up to ``timeout`` for one."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        verify: bool | str,
        size: int,
        headers: Mapping[str, str],
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{base_url}: not an http(s) address: check {HOST_SETTINGS}")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError as exc:
            raise ConfigError(f"{base_url}: {exc}: check {HOST_SETTINGS}") from exc
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._timeout_ms = max(1, round(timeout * 1000))
        self._tls = _tls_options(verify) if parts.scheme == "https" else []
        self._headers = dict(headers)
        self._idle: queue.LifoQueue[pycurl.Curl] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._answered = False  # has the instance ever answered? (for the unreachable hint)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        into: Writable | None = None,
    ) -> Reply:
        """One request, no redirect followed; ``what`` names it in error messages.

        ``into``: a successful (2xx) body is written there in chunks instead of being
        held in memory (``Reply.content`` is then empty); other answers are read whole.
        """
        url = self.base_url + (f"{path}?{urlencode(params)}" if params else path)
        answer = _Answer(into)
        if not self._slots.acquire(timeout=self.timeout):  # every connection busy
            raise SonarRetriableError(f"{what}: no free connection within {self.timeout:g} s")
        try:
            handle = self._handle()
            try:
                self._prepare(handle, method, url, {**self._headers, **(headers or {})}, body)
                # Whole answers within ``timeout`` (SONAR_TIMEOUT: seconds per request).
                handle.setopt(pycurl.TIMEOUT_MS, 0 if into is not None else self._timeout_ms)
                handle.setopt(pycurl.HEADERFUNCTION, answer.lines.append)
                handle.setopt(pycurl.WRITEFUNCTION, answer.spool if into else answer.body.write)
                handle.perform()
            except pycurl.error as exc:
                handle.close()  # its connection may hold half an answer: never reuse it
                raise self._failure(what, exc, answer) from exc
            finally:
                content = answer.detach()
            self._idle.put(handle)
        finally:
            self._slots.release()
        self._answered = True
        status, pairs = answer.parsed()
        cookies = tuple(value for name, value in pairs if name.lower() == "set-cookie")
        return Reply(status, Headers(pairs), content, cookies)

    def _handle(self) -> pycurl.Curl:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._new_handle()

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)  # timeouts without signals: we run in threads
        handle.setopt(pycurl.FOLLOWLOCATION, 0)  # the retry layer above decides
        handle.setopt(pycurl.ACCEPT_ENCODING, "")  # compressed answers, decoded by libcurl
        handle.setopt(pycurl.PROXY, "")  # no proxy from the environment (not supported yet)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, self._timeout_ms)
        # A streamed answer (the report) may take long: it only has to keep coming.
        handle.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        handle.setopt(pycurl.LOW_SPEED_TIME, max(1, math.ceil(self.timeout)))
        for option, value in self._tls:
            handle.setopt(option, value)
        return handle

    @staticmethod
    def _prepare(
        handle: pycurl.Curl,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | str | None,
    ) -> None:
        handle.setopt(pycurl.URL, url)
        lines = [f"{name}: {value}" for name, value in headers.items()]
        if body is None and method == "GET":
            handle.setopt(pycurl.HTTPGET, 1)
        else:
            data = body.encode() if isinstance(body, str) else (body or b"")
            handle.setopt(pycurl.POSTFIELDS, data)
            lines.append("Expect:")  # send the body at once, not after a 100 Continue
        handle.setopt(pycurl.CUSTOMREQUEST, None if method in ("GET", "POST") else method)
        handle.setopt(pycurl.HTTPHEADER, lines)

    def _failure(self, what: str, exc: pycurl.error, answer: _Answer) -> SonarError | ConfigError:
        if len(exc.args) != 2:  # pycurl's own errors (a refused option) carry only a message
            return SonarError(f"{what}: {exc.args[0]}")
        code, reason = exc.args[0], str(exc.args[1] or "") or f"curl error {exc.args[0]}"
        if code == _WRITE_FAILED and answer.write_error is not None:
            return ConfigError(
                f"{what}: cannot keep the answer in a temporary file ({answer.write_error}): "
                f"free space in {tempfile.gettempdir()} or set TMPDIR to a writable directory"
            )
        if code in _CERTIFICATE:
            return SonarConnectionFailed(
                f"TLS certificate verification failed for {self.base_url}: {reason}. If the "
                f"instance uses a private CA, set {CA_BUNDLE_SETTING} to its CA certificate "
                "(PEM file)"
            )
        if code == _UNRESOLVED and not self._answered:
            # A name that never resolved is a typo or a wrong setting, not a passing
            # fault: retrying it only delays the one line that says so.
            host = urlsplit(self.base_url).hostname
            return SonarConnectionFailed(
                f"cannot find Sonar's host {host!r} ({reason}): check SONAR_HOST "
                "(the host name of your instance, e.g. yourcompany.sonar.software)"
            )
        if code == _TIMED_OUT:
            return SonarRetriableError(
                f"{what}: no answer within {self.timeout:g} s ({reason}; see SONAR_TIMEOUT)"
            )
        if code in _NEVER_CONNECTED or not self._answered:
            # Nothing ever answered: DNS, a refused port, or http:// to a TLS port.
            return SonarUnreachable(
                f"cannot reach Sonar at {self.base_url} ({what}: {reason}); check {HOST_SETTINGS}"
            )
        return SonarRetriableError(f"{what}: connection failed: {reason}")


def _tls_options(verify: bool | str) -> list[tuple[int, Any]]:
    """System CAs (True), the CA bundle at a path, or no verification (False, logged)."""
    if verify is False:
        log.warning("TLS certificate verification is OFF for Sonar")
        return [(pycurl.SSL_VERIFYPEER, 0), (pycurl.SSL_VERIFYHOST, 0)]
    if verify is True:
        # This Python's CA store, which the system keeps; not libcurl's compiled-in one.
        paths = ssl.get_default_verify_paths()
        options: list[tuple[int, Any]] = []
        if paths.cafile:
            options.append((pycurl.CAINFO, paths.cafile))
        if paths.capath:
            options.append((pycurl.CAPATH, paths.capath))
        return options
    try:
        ssl.create_default_context(cafile=verify)  # a clear error now, not at first request
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{CA_BUNDLE_SETTING}={verify}: not a readable PEM CA bundle ({exc})"
        ) from exc
    return [(pycurl.CAINFO, verify)]
