"""The fingerprint table (``engine/visited.py``) against a plain Python set: the in-place merge
must keep exactly the keys inserted, sorted, and report each new state once, in discovery order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from itsrace.engine.visited import FingerprintSet

batches = st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=300), max_size=12)


@settings(max_examples=60, deadline=None)
@given(batches)
def test_exact_table_matches_a_python_set(batches: list[list[int]]) -> None:
    fp = FingerprintSet(64)
    fp._BLOCK = 7  # type: ignore[misc]  # force many merge blocks on small tables
    seen: set[int] = set()
    for batch in batches:
        new = fp.add_new_states(batch)
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
