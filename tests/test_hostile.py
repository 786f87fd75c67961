"""Hostile configuration, hostile data, and secrets that must never show.

Configuration mistakes exit 2 with one line naming the culprit and create nothing;
the simulator's nasty records are stored exactly or cleaned and counted, never a
crash and never a wrong point on the map; passwords and authorization headers
never reach the log file, the console or an error message, at any verbosity.
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

import psycopg
import pytest

from sonar_bdc.cli import main
from sonar_bdc.simulator import Simulator, generate
from test_import import env_for

pytestmark = pytest.mark.timeout(120)

FAST_RETRIES = ["--max-retries", "1", "--initial-backoff", "0.01"]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(generate(accounts=60, seed=2)) as simulator:
        yield simulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(argv: list[str]) -> int:
    """``sonar-bdc`` in-process; argparse's usage errors exit through SystemExit."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def database_objects(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """Every schema and relation in the session database (to prove nothing was created)."""
    rows = conn.execute(
        "SELECT n.nspname, coalesce(c.relname, '') FROM pg_namespace n"
        " LEFT JOIN pg_class c ON c.relnamespace = n.oid"
        " WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'"
        " ORDER BY 1, 2"
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


# --- configuration ----------------------------------------------------------------------


class _JsonHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"data": []}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tls_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """An HTTPS server with a throwaway self-signed certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JsonHandler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


CONFIG_CASES = [
    pytest.param(["-p", 'x"; DROP SCHEMA public CASCADE; --'], {}, "prefix", id="prefix-sql"),
    pytest.param(["-p", "sonar.x;drop table y"], {}, "prefix", id="prefix-semicolon"),
    pytest.param(["-p", "Robert'); DROP TABLE customers;--"], {}, "prefix", id="prefix-quote"),
    pytest.param(["-p", "a.b.c"], {}, "prefix", id="prefix-dots"),
    pytest.param(["-p", "sönar."], {}, "prefix", id="prefix-unicode"),
    pytest.param([], {"POSTGRES_PORT": "{free_port}"}, "POSTGRES_", id="database-port-closed"),
    pytest.param(
        [], {"POSTGRES_HOST": "no-such-host.invalid"}, "POSTGRES_HOST", id="database-host-unknown"
    ),
    pytest.param([], {"POSTGRES_DB": "no_such_database"}, "POSTGRES_DB", id="database-missing"),
    pytest.param([], {"SONAR_PASSWORD": "wrong-password"}, "SONAR_PASSWORD", id="sonar-password"),
    pytest.param(
        FAST_RETRIES,
        {"SONAR_HOST": "no-such-host.invalid"},
        "SONAR_HOST",
        id="sonar-host-unknown",
    ),
    pytest.param(
        FAST_RETRIES,
        {"SONAR_HOST": "127.0.0.1:{tls_port}", "SONAR_PROTOCOL": "http"},
        "SONAR_PROTOCOL",
        id="http-to-tls-port",
    ),
    pytest.param(
        FAST_RETRIES,
        {"SONAR_HOST": "127.0.0.1:{free_port}"},
        "SONAR_HOST",
        id="sonar-port-closed",
    ),
    pytest.param(["--env-file", "missing.env"], {}, "missing.env", id="env-file-missing"),
    pytest.param(["-w", "many"], {}, "--workers", id="workers-not-a-number"),
    pytest.param(["-d", "seven"], {}, "--days", id="days-not-a-number"),
    pytest.param(["--rate-limit", "fast"], {}, "--rate-limit", id="rate-limit-not-a-number"),
    pytest.param(["-w", "0"], {}, "--workers", id="workers-zero"),
    pytest.param([], {"POSTGRES_PORT": "fivefourthreetwo"}, "POSTGRES_PORT", id="port-text"),
    pytest.param([], {"SONAR_TIMEOUT": "soon"}, "SONAR_TIMEOUT", id="timeout-text"),
    pytest.param([], {"SONAR_RATE_LIMIT": "1/s"}, "SONAR_RATE_LIMIT", id="rate-limit-env-text"),
    pytest.param([], {"SONAR_PROTOCOL": "ftp"}, "SONAR_PROTOCOL", id="protocol-unknown"),
]


@pytest.mark.parametrize(("argv", "environ", "culprit"), CONFIG_CASES)
def test_configuration_mistakes_exit_2_with_one_line_and_create_nothing(
    request, sim, pg_schema, pg_conn, monkeypatch, tmp_path, capsys, argv, environ, culprit
) -> None:
    db, schema = pg_schema
    placeholders = {"free_port": str(free_port())}
    if any("{tls_port}" in value for value in environ.values()):
        placeholders["tls_port"] = str(request.getfixturevalue("tls_port"))
    environ = {key: value.format(**placeholders) for key, value in environ.items()}
    for key, value in {**env_for(sim, db), **environ}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    before = database_objects(pg_conn)
    code = run_cli(["import", "-p", f"{schema}.", *argv])
    assert code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and culprit in lines[0], lines
    assert "Traceback" not in captured.out + captured.err
    assert database_objects(pg_conn) == before
