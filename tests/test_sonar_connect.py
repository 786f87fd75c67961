"""Reaching the host at all: TLS verification, CA bundles, wrong scheme, refused port.

These need an HTTPS server, which the simulator is not, so a tiny stdlib server
with a throwaway self-signed certificate stands in (openssl makes the certificate).
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sonar_bdc.errors import ConfigError, SonarError, SonarRetriableError, SonarRetriesExhausted
from sonar_bdc.sonar.v1 import SonarClient, SonarConfig

pytestmark = pytest.mark.timeout(60)


class JsonHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": 1}], "paginator": {"total_pages": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def tls_port(certificate: tuple[Path, Path]) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), JsonHandler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def config(url: str, **over: object) -> SonarConfig:
    settings = {"max_retries": 2, "initial_backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0}
    return SonarConfig(url, "admin", "sonar-secret", **{**settings, **over})  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tls_verification_failure_is_fatal_and_names_ca_bundle(tls_port: int) -> None:
    with SonarClient(config(f"https://127.0.0.1:{tls_port}")) as client:
        with pytest.raises(SonarError, match="SONAR_CA_BUNDLE") as info:
            list(client.iter_pages("system/account_groups"))
        assert not isinstance(info.value, SonarRetriableError)
        assert info.value.exit_code == 2  # a setting to fix, not a passing fault
        assert "verif" in str(info.value) and client.stats.retries == 0


def test_custom_ca_bundle_is_trusted(tls_port: int, certificate: tuple[Path, Path]) -> None:
    cfg = config(f"https://127.0.0.1:{tls_port}", verify=str(certificate[0]))
    with SonarClient(cfg) as client:
        assert list(client.iter_pages("system/account_groups")) == [{"id": 1}]


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SONAR_CA_BUNDLE"):
        SonarClient(config("https://127.0.0.1:1", verify=str(tmp_path / "missing.pem")))


def test_http_to_a_tls_port_names_host_and_protocol(tls_port: int) -> None:
    with SonarClient(config(f"http://127.0.0.1:{tls_port}")) as client:
        with pytest.raises(SonarRetriesExhausted, match="SONAR_HOST and SONAR_PROTOCOL") as info:
            list(client.iter_pages("system/account_groups"))
        assert client.stats.retries == 2
        assert info.value.exit_code == 2


def test_refused_connection_names_host_and_protocol() -> None:
    port = free_port()
    with (
        SonarClient(config(f"http://127.0.0.1:{port}")) as client,
        pytest.raises(SonarRetriesExhausted) as info,
    ):
        client.login()
    message = str(info.value)
    assert "cannot reach Sonar at http://127.0.0.1" in message
    assert "SONAR_HOST and SONAR_PROTOCOL" in message and "gave up after 2 retries" in message
    assert "\n" not in message and "sonar-secret" not in message


@pytest.mark.parametrize(
    ("url", "names"),
    [("ftp://host", "SONAR_PROTOCOL"), ("http://", "SONAR_HOST"),
     ("http://u:pw@host", "SONAR_USERNAME"), ("http://host:port", "SONAR_HOST")],
)  # fmt: skip
def test_bad_base_url_is_a_config_error(url: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names) as info:
        config(url)
    assert "pw" not in str(info.value)


def test_password_not_in_repr() -> None:
    assert "sonar-secret" not in repr(config("http://127.0.0.1:1"))
