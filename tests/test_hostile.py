"""Hostile configuration, hostile data, and secrets that must never show.

Configuration mistakes exit 2 with one line naming the culprit and create nothing;
the simulator's nasty records are stored exactly or cleaned and counted, never a
crash and never a wrong point on the map; passwords and authorization headers
never reach the log file, the console or an error message, at any verbosity.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote_plus

import psycopg
import pytest

import dbcompare
from sonar_bdc.cli import main
from sonar_bdc.importer import run_import
from sonar_bdc.simulator import Faults, Simulator, generate
from sonar_bdc.simulator.nasty import BAD_COORDINATES
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


# --- data -------------------------------------------------------------------------------

NASTY_TEXT = {
    "quotes": ("'", '"'),
    "sql": ("DROP TABLE", "OR '1'='1", "DELETE FROM"),
    "copy markers": ("\\N", "\\."),
    "control characters": ("\t", "\n", "\r"),
    "NUL characters": ("\x00",),
}


def coordinate_kind(raw: tuple[object, object], kind: tuple[float, object, object]) -> bool:
    """Whether an account's rendered (lat, lon) is of this broken kind ("VALID": a number)."""
    _, lat, lon = kind
    return all(
        isinstance(got, str) and got not in ("", "0", "N/A", "NaN", "unknown")
        if want == "VALID"
        else (got == want and type(got) is type(want))
        for got, want in zip(raw, (lat, lon), strict=True)
    )


@pytest.fixture(scope="module")
def nasty_import(pg_database: dict, settings) -> Iterator[tuple[Simulator, str, object]]:
    """A 1,200-account nasty dataset imported once: (simulator, schema, summary)."""
    schema = "t_nasty"
    with Simulator(generate(accounts=1200, seed=5)) as nasty_sim:
        config = settings(nasty_sim, schema, workers=8)
        summary = run_import(config, show_progress=False)
        yield nasty_sim, schema, summary
    with psycopg.connect(**pg_database, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_the_dataset_holds_every_nasty_kind(nasty_import) -> None:
    ds = nasty_import[0].dataset
    texts = [a.name for a in ds.accounts.values()] + [a.address.line1 for a in ds.accounts.values()]
    for kind, needles in NASTY_TEXT.items():
        assert any(n in t for t in texts for n in needles), kind
    assert any(not t.isascii() for t in texts), "unicode"
    assert any(len(t) >= 2000 for t in texts), "2 KB fields"
    raws = [(a.address.lat_raw, a.address.lon_raw) for a in ds.accounts.values()]
    for name, kind in BAD_COORDINATES.items():
        assert any(coordinate_kind(raw, kind) for raw in raws), f"coordinates: {name}"
    assert any(a.contacts > 1 for a in ds.accounts.values()), "an account listed twice"
    assert ds.deleted_ids(), "an account deleted between report and detail"
    orphans = [i for i in ds.items.values() if i.model_id not in ds.models]
    assert any(i.assignee_type == "accounts" for i in orphans), "an item of an unknown model"


def test_nasty_records_are_stored_exactly_without_a_crash(nasty_import, pg_conn) -> None:
    sim, schema, summary = nasty_import
    assert summary.exit_code == 0 and summary.failed == []
    problems = dbcompare.mismatches(pg_conn, schema, sim.dataset)
    problems += dbcompare.integrity_problems(pg_conn, schema)
    assert problems == [], problems[:10]
    tables = pg_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", [schema]
    ).fetchone()[0]
    assert tables >= 9  # the names with SQL in them dropped nothing


def test_text_is_kept_verbatim_and_nul_characters_are_cleaned_and_counted(
    nasty_import, pg_conn
) -> None:
    sim, schema, summary = nasty_import
    ds = sim.dataset
    stored = dict(
        pg_conn.execute(f"SELECT id, name || '|' || coalesce(address, '') FROM {schema}.customers")
    )
    for account in ds.accounts.values():
        want = f"{account.name}|{account.address.line1}".replace("\x00", "")
        assert stored[account.id] == want
    with_nul = sum(
        "\x00" in account.name or "\x00" in account.address.line1
        for account in ds.accounts.values()
    )
    assert with_nul > 0 and summary.nul_cleaned >= with_nul


def test_no_wrong_point_on_the_map(nasty_import, pg_conn) -> None:
    sim, schema, summary = nasty_import
    ds = sim.dataset
    points = {
        row[0]: (row[1], row[2])
        for row in pg_conn.execute(
            f"SELECT id, ST_Y(geom), ST_X(geom) FROM {schema}.customers WHERE geom IS NOT NULL"
        )
    }
    truth = {a.id: (a.address.lat, a.address.lon) for a in ds.accounts.values()}
    assert points == {cid: point for cid, point in truth.items() if point[0] is not None}
    invalid = sum(point[0] is None for point in truth.values())
    assert summary.invalid_coordinates == invalid > 0
    for name, kind in BAD_COORDINATES.items():
        broken = [
            a.id
            for a in ds.accounts.values()
            if coordinate_kind((a.address.lat_raw, a.address.lon_raw), kind)
        ]
        assert broken and not set(broken) & set(points), name


def test_an_account_listed_twice_is_one_row_and_counted(nasty_import, pg_conn) -> None:
    sim, schema, summary = nasty_import
    ds = sim.dataset
    assert summary.duplicate_rows == ds.report_row_count() - len(ds.accounts) > 0
    rows = pg_conn.execute(f"SELECT count(*), count(DISTINCT id) FROM {schema}.customers")
    assert rows.fetchone() == (len(ds.accounts), len(ds.accounts))


def test_accounts_gone_before_their_detail_are_marked_deleted(nasty_import, pg_conn) -> None:
    sim, schema, summary = nasty_import
    deleted = sim.dataset.deleted_ids()
    assert sorted(summary.deleted) == deleted
    marked = [
        row[0]
        for row in pg_conn.execute(
            f"SELECT id FROM {schema}.customers WHERE deleted_at IS NOT NULL ORDER BY id"
        )
    ]
    assert marked == deleted


def test_items_of_an_unknown_model_are_kept_without_a_model(nasty_import, pg_conn) -> None:
    sim, schema, _ = nasty_import
    ds = sim.dataset
    orphans = {
        i.id: i.model_id
        for i in ds.items.values()
        if i.model_id not in ds.models
        and i.assignee_type == "accounts"
        and not ds.accounts[i.assignee_id].deleted
    }
    stored = {
        row[0]: row[1:]
        for row in pg_conn.execute(
            f"SELECT id, inventory_model_id, model_name, manufacturer_name, mac_address"
            f" FROM {schema}.inventory_items WHERE id = ANY(%s)",
            [list(orphans)],
        )
    }
    assert stored == {iid: (model, None, None, None) for iid, model in orphans.items()}


def test_a_live_account_deleted_in_sonar_loses_its_children(pg_schema, pg_conn, settings) -> None:
    _, schema = pg_schema
    with Simulator(generate(accounts=200, seed=8)) as own:
        assert run_import(settings(own, schema), show_progress=False).exit_code == 0
        ds = own.dataset
        live = [ds.accounts[i] for i in ds.live_ids()]
        rich = [a for a in live if a.services and a.group_ids and a.item_ids][:3]
        assert len(rich) == 3
        for account in rich:  # deleted in Sonar; its equipment goes back to the warehouse
            for item_id in account.item_ids:
                item = ds.items[item_id]
                item.assignee_type, item.assignee_id = "inventory_locations", 1
            account.item_ids, account.deleted = [], True
        ds.version += 1
        summary = run_import(settings(own, schema, days=0), show_progress=False)
    assert summary.exit_code == 0
    assert {a.id for a in rich} <= set(summary.deleted)
    assert dbcompare.mismatches(pg_conn, schema, ds) == []
    assert dbcompare.integrity_problems(pg_conn, schema) == []


# --- secrets ------------------------------------------------------------------------------

SONAR_SECRET = "Sonar-pw-7f3k!"
PG_SECRET = "Pg-pw-9q2x!"


def leaked(text: str) -> list[str]:
    """The secrets, or any encoding of them, or an authorization header, found in ``text``."""
    basic = base64.b64encode(f"admin:{SONAR_SECRET}".encode()).decode()
    needles = [SONAR_SECRET, PG_SECRET, quote_plus(SONAR_SECRET), quote_plus(PG_SECRET), basic]
    found = [needle for needle in needles if needle in text]
    lowered = text.lower()
    found += [h for h in ("authorization:", "'authorization'", "basic ") if h in lowered]
    return found


SECRET_CASES = [
    pytest.param([], {}, 1, id="faults-and-failed-accounts"),
    pytest.param([], {"SONAR_PASSWORD": "wrong-" + SONAR_SECRET}, 2, id="wrong-sonar-password"),
    pytest.param([], {"POSTGRES_PORT": "{free_port}"}, 2, id="database-unreachable"),
    pytest.param([], {"POSTGRES_DB": "no_such_database"}, 2, id="database-missing"),
    pytest.param(FAST_RETRIES, {"SONAR_HOST": "no-such-host.invalid"}, 2, id="sonar-host-unknown"),
]


@pytest.mark.parametrize("verbosity", [[], ["-v"]], ids=["quiet", "verbose"])
@pytest.mark.parametrize(("argv", "environ", "code"), SECRET_CASES)
def test_no_secret_in_the_log_file_console_or_error_messages(
    pg_schema, monkeypatch, tmp_path, capsys, caplog, verbosity, argv, environ, code
) -> None:
    db, schema = pg_schema
    caplog.set_level(logging.DEBUG)  # libraries' own log records too
    faults = Faults(error_rate=0.2, session_expiry_every=20, seed=1)
    with Simulator(generate(accounts=40, seed=4), password=SONAR_SECRET, faults=faults) as own:
        own.faults = Faults(**{**vars(faults), "fail_accounts": own.dataset.live_ids()[:2]})
        environ = {k: v.format(free_port=free_port()) for k, v in environ.items()}
        base = {**env_for(own, db), "SONAR_PASSWORD": SONAR_SECRET, "POSTGRES_PASSWORD": PG_SECRET}
        for key, value in {**base, **environ}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        argv = ["import", "-p", f"{schema}.", "--max-retries", "2", "--initial-backoff", "0.01",
                "--log-file", "import.log", *verbosity, *argv]  # fmt: skip
        assert run_cli(argv) == code
    captured = capsys.readouterr()
    log_file = tmp_path / "import.log"
    log_text = log_file.read_text() if log_file.exists() else ""
    if code == 1:
        assert "retry" in log_text and "logged in" in log_text  # the log had things to say
    for where, text in [("log file", log_text), ("stderr", captured.err),
                        ("stdout", captured.out), ("log records", caplog.text)]:  # fmt: skip
        assert leaked(text) == [], f"{where}: {leaked(text)}"
