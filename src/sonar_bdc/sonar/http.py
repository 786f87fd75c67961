"""One pool of keep-alive connections to a Sonar instance, shared by every worker.

Built on urllib3 rather than httpx: with 32 threads sharing one client against the
simulator at 30 ms latency, httpx managed 320-420 requests/s at 2.3-2.7 ms of CPU per
request (its pool matches waiting requests to connections under one lock, in time
that grows with the number of threads), urllib3 810-930 requests/s at 0.7 ms
(``bench/bench_http.py``). urllib3 exceptions do not leave this module: ``HttpPool.send``
raises our errors, worded with what the caller was doing.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.exceptions import (
    EmptyPoolError,
    HTTPError,
    InsecureRequestWarning,
    LocationValueError,
    NewConnectionError,
    TimeoutError,
)
from urllib3.util import make_headers

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
CHUNK = 64 * 1024


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

    def cookies(self) -> dict[str, str]:
        """``name: value`` of each Set-Cookie header (attributes such as path ignored)."""
        found = {}
        for header in self.set_cookies:
            name, _, value = header.split(";", 1)[0].partition("=")
            if name.strip():
                found[name.strip()] = value.strip()
        return found


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
        self.base_url, self.timeout = base_url, timeout
        options: dict[str, Any] = {}
        if urlsplit(base_url).scheme == "https":
            options["ssl_context"] = tls_context(verify)
            if verify is False:
                options["cert_reqs"] = "CERT_NONE"
        try:
            self._pool = urllib3.connection_from_url(
                base_url,
                maxsize=size,
                block=True,  # wait for a free connection rather than open extra ones
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,  # the retry layer above decides
                # Compressed answers (decoded by urllib3): the report is large.
                headers={**make_headers(accept_encoding=True), **headers},
                **options,
            )
        except (LocationValueError, ValueError) as exc:
            raise ConfigError(f"{base_url}: {exc}: check {HOST_SETTINGS}") from exc
        self._answered = False  # has the instance ever answered? (for the unreachable hint)

    def close(self) -> None:
        self._pool.close()

    def send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        into: BinaryIO | None = None,
    ) -> Reply:
        """One request, no redirect followed; ``what`` names it in error messages.

        ``into``: a successful (2xx) body is written there in chunks instead of being
        held in memory (``Reply.content`` is then empty); other answers are read whole.
        """
        url = f"{path}?{urlencode(params)}" if params else path
        with self._mapped(what):
            answer = self._pool.urlopen(
                method,
                url,
                body=body,
                headers={**self._pool.headers, **(headers or {})},
                redirect=False,
                retries=False,
                pool_timeout=self.timeout,
                preload_content=False,
            )
            try:
                if into is not None and 200 <= answer.status < 300:
                    _spool(answer.stream(CHUNK), into, what)
                    content = b""
                else:
                    content = answer.read()
            except BaseException:
                answer.close()  # part of the body may still be on the way: never reuse it
                raise
            finally:
                answer.release_conn()
        self._answered = True
        return Reply(
            answer.status, answer.headers, content, tuple(answer.headers.getlist("set-cookie"))
        )

    @contextlib.contextmanager
    def _mapped(self, what: str) -> Iterator[None]:
        """urllib3's exceptions, while sending or reading, as our errors."""
        try:
            yield
        except EmptyPoolError as exc:  # every pooled connection busy (workers > pool size)
            raise SonarRetriableError(
                f"{what}: no free connection within {self.timeout:g} s"
            ) from exc
        except NewConnectionError as exc:  # before TimeoutError: urllib3 derives it from that
            raise self._failure(what, exc) from exc
        except TimeoutError as exc:
            raise SonarRetriableError(
                f"{what}: no answer within {self.timeout:g} s "
                f"({type(exc).__name__}; see SONAR_TIMEOUT)"
            ) from exc
        except HTTPError as exc:
            raise self._failure(what, exc) from exc

    def _failure(self, what: str, exc: HTTPError) -> SonarError:
        reason = _reason(exc)
        if is_certificate_error(exc):
            return SonarConnectionFailed(
                f"TLS certificate verification failed for {self.base_url}: {reason}. If the "
                f"instance uses a private CA, set {CA_BUNDLE_SETTING} to its CA certificate "
                "(PEM file)"
            )
        if isinstance(exc, NewConnectionError) or not self._answered:
            # Nothing ever answered: DNS, a refused port, or http:// to a TLS port.
            return SonarUnreachable(
                f"cannot reach Sonar at {self.base_url} ({what}: {reason}); check {HOST_SETTINGS}"
            )
        return SonarRetriableError(f"{what}: connection failed: {reason}")


def _spool(chunks: Iterator[bytes], into: BinaryIO, what: str) -> None:
    try:
        for chunk in chunks:
            into.write(chunk)
    except OSError as exc:  # a full or read-only temporary directory
        raise ConfigError(
            f"{what}: cannot keep the answer in a temporary file ({exc}): free space in "
            f"{tempfile.gettempdir()} or set TMPDIR to a writable directory"
        ) from exc


def tls_context(verify: bool | str) -> ssl.SSLContext:
    """System CAs (True), the CA bundle at a path, or no verification (False, logged)."""
    if verify is False:
        log.warning("TLS certificate verification is OFF for Sonar")
        urllib3.disable_warnings(InsecureRequestWarning)  # said once, above
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=None if verify is True else verify)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{CA_BUNDLE_SETTING}={verify}: not a readable PEM CA bundle ({exc})"
        ) from exc


def is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__ or getattr(seen, "reason", None)
        if not isinstance(seen, BaseException):
            seen = None
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _reason(exc: HTTPError) -> str:
    """The innermost cause's text: urllib3 wraps the socket error it met."""
    reason = getattr(exc, "reason", None) or exc
    return str(reason) or type(reason).__name__
