#!/usr/bin/env python3
"""HTTP clients under many threads: httpx, urllib3, and the importer's libcurl pool.

    .venv/bin/python bench/bench_http.py                    # 10 and 32 threads, 30 ms
    .venv/bin/python bench/bench_http.py --threads 1,10,32,64 --requests 6400

Why the Sonar transport is built on libcurl (``sonar/http.py``): every worker shares
one pool in one process, so the CPU each request costs this process, under the GIL,
is what the workers and the writer queue for. Runs the simulator in its own process,
sends ``--requests`` GETs of one account's inventory through each client, and prints
requests per second, the rate the latency allows (threads / latency), and this
process's CPU time per request.
"""

from __future__ import annotations

import argparse
import base64
import threading
import time
from collections.abc import Callable

import httpx
import urllib3

from bench_import import start_simulator
from sonar_bdc.sonar.http import HttpPool

PATH = "/api/v1/accounts/1001/inventory_items?page=1"
AUTH = ("admin", "sonar")


def httpx_get(base: str, threads: int) -> tuple[Callable[[], None], Callable[[], None]]:
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    client = httpx.Client(base_url=base, auth=AUTH, limits=limits, timeout=30)

    def get() -> None:
        answer = client.get(PATH)
        answer.read()
        assert answer.status_code == 200, answer.status_code

    return get, client.close


def urllib3_get(base: str, threads: int) -> tuple[Callable[[], None], Callable[[], None]]:
    headers = urllib3.make_headers(basic_auth=":".join(AUTH))
    pool = urllib3.connection_from_url(base, maxsize=threads, block=True, headers=headers)

    def get() -> None:
        answer = pool.urlopen("GET", PATH, retries=False, timeout=30)
        assert answer.status == 200, answer.status

    return get, pool.close


def libcurl_get(base: str, threads: int) -> tuple[Callable[[], None], Callable[[], None]]:
    auth = {"Authorization": "Basic " + base64.b64encode(":".join(AUTH).encode()).decode()}
    pool = HttpPool(base, timeout=30, verify=True, size=threads, headers=auth)

    def get() -> None:
        answer = pool.send("GET", PATH, "GET inventory")
        assert answer.status == 200, answer.status

    return get, pool.close


CLIENTS = {"httpx": httpx_get, "urllib3": urllib3_get, "libcurl (HttpPool)": libcurl_get}


def measure(get: Callable[[], None], threads: int, requests: int) -> tuple[float, float]:
    """(seconds, CPU seconds of this process) for ``requests`` GETs over ``threads``."""
    per_thread = requests // threads

    def work() -> None:
        for _ in range(per_thread):
            get()

    get()  # connect once before timing
    pool = [threading.Thread(target=work) for _ in range(threads)]
    start, cpu = time.perf_counter(), time.process_time()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="10,32")
    parser.add_argument("--requests", type=int, default=3200)
    parser.add_argument("--latency", type=float, default=0.03)
    args = parser.parse_args()
    sim, port = start_simulator(1000, args.latency, None, "v1")
    base = f"http://127.0.0.1:{port}"
    print("| client | threads | requests/s | latency allows | CPU ms/request |")
    print("|---|---|---|---|---|")
    try:
        for threads in map(int, args.threads.split(",")):
            for name, build in CLIENTS.items():
                get, close = build(base, threads)
                seconds, cpu = measure(get, threads, args.requests)
                close()
                done = args.requests // threads * threads
                rate, allows, cpu_ms = done / seconds, threads / args.latency, 1000 * cpu / done
                print(f"| {name} | {threads} | {rate:.0f} | {allows:.0f} | {cpu_ms:.2f} |")
    finally:
        sim.terminate()
        sim.wait()


if __name__ == "__main__":
    main()
