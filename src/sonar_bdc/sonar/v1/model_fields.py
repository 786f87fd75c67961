"""Each inventory model's MAC field ids, fetched when an item first needs them.

One ``GET /inventory/models/{id}/fields`` per model, and only for the models the
items of this run use. The fetches happen in the worker threads that meet those
items, so they share the pool, the retry policy and the rate limiter with every
other request. A thread takes one unclaimed model at a time and fetches it itself;
when every model it needs is claimed, it waits for the threads fetching them (which
are running, never queued, so this cannot deadlock). N threads needing the same 80
models fetch them N at a time, each model once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping

from ...errors import SonarAuthError, SonarError

log = logging.getLogger("sonar_bdc.importer")


class ModelFields(Mapping[int, frozenset[int]]):
    """Model id -> its MAC field ids, for the models resolved so far (thread-safe).

    ``known``: what an earlier run stored, trusted as it is. ``fetched`` and ``failed``
    say what this run asked Sonar; a failed model stays out of the mapping (its items
    get no MAC address this run) and is not asked again until the next run.
    """

    def __init__(
        self, fetch: Callable[[int], frozenset[int]], known: Mapping[int, frozenset[int]] = {}
    ) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._resolved: dict[int, frozenset[int]] = dict(known)
        self._running: dict[int, threading.Event] = {}
        self.fetched: dict[int, frozenset[int]] = {}
        self.failed: set[int] = set()

    def ensure(self, model_ids: Iterable[int]) -> None:
        """Resolve every one of ``model_ids``: fetch the unclaimed, wait for the others."""
        wanted = set(model_ids)
        while True:
            with self._lock:
                missing = [m for m in wanted if m not in self._resolved and m not in self.failed]
                claim = next((m for m in missing if m not in self._running), None)
                if claim is None:
                    waits = [self._running[m] for m in missing]
                else:
                    done = self._running[claim] = threading.Event()
            if claim is None:
                for event in waits:
                    event.wait()
                return
            self._resolve(claim, done)

    def _resolve(self, model_id: int, done: threading.Event) -> None:
        try:
            ids = self._fetch(model_id)
        except SonarAuthError:  # credentials refused mid-run: the run stops, as for any request
            with self._lock:
                self.failed.add(model_id)
            raise
        except SonarError as exc:
            with self._lock:
                self.failed.add(model_id)
            log.warning(
                "inventory model %d: its field list could not be fetched (%s); its items "
                "get no MAC address this run, and the next run asks again", model_id, exc,
            )  # fmt: skip
        else:
            with self._lock:
                self._resolved[model_id] = self.fetched[model_id] = ids
        finally:
            with self._lock:
                del self._running[model_id]
            done.set()

    def __getitem__(self, model_id: int) -> frozenset[int]:
        return self._resolved[model_id]

    def __iter__(self) -> Iterator[int]:
        with self._lock:
            return iter(list(self._resolved))

    def __len__(self) -> int:
        return len(self._resolved)
