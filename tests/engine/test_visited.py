"""The fingerprint table (``engine/visited.py``) against a plain Python set: the staging array
and the in-place merge must keep exactly the keys inserted, sorted, and report each new state
once, in discovery order."""

from __future__ import annotations

from array import array

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from itsrace.engine.explore.visited import FingerprintSet

batches = st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=300), max_size=12)


@settings(max_examples=80, deadline=None)
@given(batches, st.integers(1, 400), st.booleans())
def test_exact_table_matches_a_python_set(batches: list[list[int]], stage_min: int, as_array: bool) -> None:
    fp = FingerprintSet(64)
    fp._BLOCK = 7  # type: ignore[misc]  # force many merge blocks on small tables
    fp.stage_min = stage_min  # small: the staging array is merged often, at varying points
    fp.stage_fraction = 2
    seen: set[int] = set()
    for batch in batches:
        cand = fp.new_batch()
        assert isinstance(cand, array)  # what the generated code appends to
        cand.extend(batch)
        new = fp.add_new_states(cand if as_array else batch)
        assert isinstance(new, np.ndarray)
        expected = list(dict.fromkeys(t for t in batch if t not in seen))
        assert new.tolist() == expected
        seen.update(batch)
        assert fp.keys.tolist() == sorted(seen)
        assert len(fp) == len(seen)


@settings(max_examples=30, deadline=None)
@given(batches)
def test_wide_states_come_back_as_python_ints(batches: list[list[int]]) -> None:
    fp = FingerprintSet(100)
    seen: set[int] = set()
    for batch in batches:
        wide = [t << 36 | 5 for t in batch]  # 100-bit states
        new = fp.add_new_states(wide)
        assert isinstance(new, list)
        assert new == list(dict.fromkeys(t for t in wide if t not in seen))
        seen.update(wide)
    assert len(fp) == len(seen)  # no collisions among these few keys


def test_lookups_see_staged_keys_and_keys_flushes_them() -> None:
    fp = FingerprintSet(64)
    fp.stage_min = 1000  # everything below stays staged
    assert fp.add_new_states([5, 3, 5]).tolist() == [5, 3]
    assert fp.add_new_states([3, 9]).tolist() == [9]  # 3 is found in the staging array
    assert len(fp) == 3 and fp._n == 0
    assert fp.keys.tolist() == [3, 5, 9]  # reading the keys merges the staging array
    assert fp._n == 3 and fp._stage.size == 0
    assert fp.add_new_states([9, 1]).tolist() == [1]
    assert fp.keys.tolist() == [1, 3, 5, 9]
