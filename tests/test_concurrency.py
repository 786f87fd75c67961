"""The bounded concurrent map: a window of calls in flight, the order asked for, and
the calls not yet started cancelled when the caller stops early."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sonar_bdc.concurrency import PoolMapper, bounded_map, in_order, serial


def test_completion_order_keeps_the_window_and_pairs_items_with_results() -> None:
    called: list[int] = []
    with ThreadPoolExecutor(4) as pool:
        pairs = bounded_map(pool, lambda n: called.append(n) or n * 10, range(1, 21), 3)
        for seen, (item, future) in enumerate(pairs, start=1):
            assert future.done() and future.result() == item * 10
            assert len(called) <= seen + 2  # the window (3) includes the item being yielded
    assert sorted(called) == list(range(1, 21))


def test_item_order_when_asked() -> None:
    with ThreadPoolExecutor(4) as pool:
        items = [item for item, _ in bounded_map(pool, str, range(50), 5, ordered=True)]
    assert items == list(range(50))


def test_closing_early_cancels_the_calls_not_started() -> None:
    release = threading.Event()
    called: list[int] = []

    def work(n: int) -> int:
        called.append(n)
        if n == 1:
            release.wait()
        return n

    with ThreadPoolExecutor(1) as pool:  # 1 blocks the only thread: 2 waits in the queue
        pairs = bounded_map(pool, work, range(10), 3, ordered=True)
        assert next(pairs)[0] == 0
        pairs.close()
        release.set()
    assert 2 not in called and max(called) <= 1


def test_in_order_raises_an_error_in_its_turn_and_submits_no_more() -> None:
    release = threading.Event()
    called: list[int] = []

    def work(n: int) -> int:
        called.append(n)
        if n == 1:
            release.wait()
            raise ValueError("item 1")
        return n

    with ThreadPoolExecutor(1) as pool:
        results = in_order(pool, work, range(10), 3)
        assert next(results) == 0
        release.set()
        with pytest.raises(ValueError, match="item 1"):
            next(results)
    assert max(called) <= 3  # none past the window: 3 was submitted when 0 was taken


def test_the_mappers_keep_item_order_on_the_callers_thread_or_the_owners_pool() -> None:
    threads: set[str] = set()

    def work(n: int) -> int:
        threads.add(threading.current_thread().name)
        return n * 2

    assert list(serial(work, range(5))) == [0, 2, 4, 6, 8]
    assert threads == {threading.current_thread().name}  # serial opens no thread
    threads.clear()
    with ThreadPoolExecutor(3, thread_name_prefix="owner") as pool:
        assert list(PoolMapper(pool, 4)(work, range(20))) == [n * 2 for n in range(20)]
    assert threads and all(name.startswith("owner") for name in threads)
