"""IdSet: a compact set of account ids (sorted array, settled when asked)."""

from __future__ import annotations

import random

from sonar_bdc.importer.idset import IdSet


def test_behaves_like_a_set_of_ints() -> None:
    rnd = random.Random(3)
    values = [rnd.randint(-(2**63), 2**63 - 1) for _ in range(500)] + [0, 7, 7, 7]
    ids, reference = IdSet(values[:200]), set(values[:200])
    ids.update(values[200:])
    reference.update(values[200:])
    assert len(ids) == len(reference)
    assert list(ids) == sorted(reference)
    assert all(value in ids for value in reference)
    assert 8 not in ids and "7" not in ids and None not in ids


def test_update_after_a_question_is_seen_by_the_next_one() -> None:
    ids = IdSet([5, 3])
    assert 4 not in ids
    ids.update([4, 4])
    assert 4 in ids and list(ids) == [3, 4, 5] and len(ids) == 3


def test_difference() -> None:
    left, right = IdSet([1, 2, 3, 9, 9]), IdSet([2, 9, 10])
    assert list(left - right) == [1, 3]
    assert list(IdSet() - right) == [] and list(left - IdSet()) == [1, 2, 3, 9]


def test_takes_eight_bytes_an_id() -> None:
    ids = IdSet(range(100_000))
    assert len(ids) == 100_000
    assert ids._settle().itemsize * len(ids) == 800_000  # a set of ints: about 7 MB
