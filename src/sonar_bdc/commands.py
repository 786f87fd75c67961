"""One function per command: set up logging, call the library, print the outcome."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from . import stopping
from .errors import ConfigError
from .importer import run_import
from .importer.malloc import limit_arenas
from .importer.summary import Summary
from .logsetup import setup_logging
from .settings import Settings

if TYPE_CHECKING:
    from .simulator.model import Dataset

log = logging.getLogger("sonar_bdc")


def import_command(settings: Settings) -> int:
    settings.require_log_file()
    setup_logging(settings.verbose, settings.log_file)
    log.debug("log file: %s; variables from %s", settings.log_file,
              settings.env_file or "the environment (no .env file found)")  # fmt: skip
    log.debug("settings: %r", settings)
    limit_arenas()  # before the worker threads start
    return _stoppable(lambda: run_import(settings))


def _stoppable(run: Callable[[], Summary]) -> int:
    """``run`` an import with SIGTERM stopping it as Ctrl-C does; print its summary and
    return its exit code (143 when SIGTERM stopped it)."""
    with stopping.stop_signals_as_interrupts():
        summary = run()
        if summary.interrupted and stopping.terminated():
            log.warning("stopped by SIGTERM: completed work was committed; run again to finish")
        _print_summary(summary)
    return stopping.exit_code(summary.exit_code)


def _print_summary(summary: Summary) -> None:
    for line in summary.lines():
        log.info("%s", line)


def demo_command(settings: Settings, accounts: int, seed: int) -> int:
    """Serve a generated Sonar on loopback and import it: the README's first command."""
    settings.require_log_file()
    setup_logging(settings.verbose, settings.log_file)
    limit_arenas()
    code = _stoppable(lambda: _demo_import(settings, accounts, seed))
    _print_psql_hint(settings)
    if code == 0 and not settings.dry_run:
        _demo_files(settings, date.today())
    return code


def _demo_files(settings: Settings, today: date) -> None:
    """The end product of the demo data: its subscription file and its review page, as of
    the last filing date, through the filing's own checks."""
    from .bdc.cli_args import previous_filing_date
    from .bdc.run import SubscriptionOptions, subscription
    from .review.run import ReviewOptions, review

    as_of = previous_filing_date(today)
    filed = subscription(
        settings, SubscriptionOptions(as_of, Path(f"demo_subscription_{as_of}.csv"))
    )
    page = review(settings, ReviewOptions(Path("demo_review.html"), as_of))
    print(
        f"\nThe demo's BDC subscription file as of {as_of} ({filed.connections} connections) "
        f"and its exceptions:\n  {filed.csv_path}\n  {filed.exceptions_path}\n"
        f"See it before you file, on a map (open it in a browser):\n  {page.path.resolve()}"
    )


def _demo_import(settings: Settings, accounts: int, seed: int) -> Summary:
    from .simulator import Simulator, generate
    from .store import parse_prefix
    from .store.demo import claim_for_demo

    # Before anything is generated: a prefix holding real data is refused, untouched.
    dataset_label = f"{accounts} accounts, seed {seed}, api {settings.api}"
    claim_for_demo(
        settings.postgres_conninfo(), parse_prefix(settings.prefix), dataset_label,
        dry_run=settings.dry_run,
    )  # fmt: skip
    log.info("generating a simulated Sonar with %d accounts (seed %d)", accounts, seed)
    dataset = generate(accounts=accounts, seed=seed)
    if settings.api == "v2":
        from .simulator.v2 import GraphQLSimulator

        server: Simulator | GraphQLSimulator = GraphQLSimulator(dataset, token="demo-token")
    else:
        server = Simulator(dataset, username="demo", password="demo-password")
    with server as sim:
        demo = dataclasses.replace(
            settings,
            sonar_protocol="http",
            sonar_host=sim.base_url.removeprefix("http://"),
            sonar_username="demo",
            sonar_password="demo-password",
            sonar_token="demo-token",
        )
        log.info("simulated Sonar at %s; importing into %s", sim.base_url, _db_label(demo))
        return run_import(demo, demo=True)


def _db_label(s: Settings) -> str:
    return f"postgresql://{s.postgres_user}@{s.postgres_host}:{s.postgres_port}/{s.postgres_db}"


def _print_psql_hint(s: Settings) -> None:
    schema, _, table_prefix = s.prefix.rpartition(".")
    table = f"{schema + '.' if schema else ''}{table_prefix}customers"
    query = (
        f"SELECT id, name, status, city, state, ST_AsText(geom) FROM {table} ORDER BY id LIMIT 10;"
    )
    cmd = (
        f"psql -h {shlex.quote(s.postgres_host)} -p {s.postgres_port} "
        f"-U {shlex.quote(s.postgres_user)} -d {shlex.quote(s.postgres_db)} "
        f"-c {shlex.quote(query)}"
    )
    print(
        f"\nThe simulated customers are at prefix {s.prefix} (the demo's own tables, apart "
        f"from a real import's), in {_db_label(s)}. See them:\n  {cmd}"
    )


def _write_fabric(args: argparse.Namespace, dataset: Dataset) -> None:
    """``simulate --write-fabric``: the look-alike Fabric of ``dataset``, one ZIP a release."""
    from .simulator.fabric import make_fabric
    from .simulator.fabric_files import write_fabric, write_truth
    from .simulator.fabric_model import DEFAULT_RELEASE

    directory = Path(args.write_fabric)
    for release in args.fabric_release or [DEFAULT_RELEASE]:
        fabric = make_fabric(dataset, seed=args.seed, release=release)
        path = write_fabric(fabric, directory, args.fabric_layout, filler=args.fabric_filler)
        print(f"wrote {path}: {len(fabric.locations) + args.fabric_filler} locations, "
              f"{len(fabric.addresses)} secondary addresses")  # fmt: skip
        if args.fabric_truth:
            truth = Path(args.fabric_truth)
            if len(args.fabric_release or ()) > 1:  # one truth file per release
                truth = truth.with_name(f"{truth.stem}_{release}{truth.suffix}")
            print(f"wrote {write_truth(fabric, truth)} (for testing: the right answers)")


def _write_coverage(args: argparse.Namespace, dataset: Dataset) -> None:
    """``simulate --write-coverage``: coverage polygons of ``dataset`` (gaps and holes)."""
    from .simulator.coverage import write_coverage

    try:
        plan = write_coverage(dataset, Path(args.write_coverage))
    except OSError as exc:
        raise ConfigError(
            f"cannot write {args.write_coverage}: {exc.strerror or exc}; choose a writable file"
        ) from exc
    print(f"wrote {plan.path}: covers {len(plan.inside)} accounts, "
          f"{len(plan.outside)} in its gaps and holes")  # fmt: skip


def simulate_command(args: argparse.Namespace) -> int:
    from .simulator import Faults, Simulator, generate

    setup_logging(False, None)
    faults = Faults(
        latency=args.latency,
        jitter=args.jitter,
        rate_limit=args.rate_limit,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        session_expiry_every=args.session_expiry,
    )
    dataset = generate(accounts=args.accounts, seed=args.seed, models=args.models)
    if args.write_fabric is not None or args.write_coverage is not None:  # files, no server
        if args.write_fabric is not None:
            _write_fabric(args, dataset)
        if args.write_coverage is not None:
            _write_coverage(args, dataset)
        return 0
    if args.api == "v2":
        from .simulator.v2 import GraphQLSimulator

        GraphQLSimulator(
            dataset,
            token=args.token,
            faults=faults,
            host=args.host,
            port=args.port,
            nested_limit=args.nested_limit,
            unknown_technology=args.unknown_technology,
        ).serve_until_interrupted()
        return 0
    Simulator(
        dataset,
        layout=args.layout,
        username=args.username,
        password=args.password,
        faults=faults,
        host=args.host,
        port=args.port,
    ).serve_until_interrupted()
    return 0
