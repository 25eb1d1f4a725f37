"""Compact visited sets for fingerprint mode.

States whose packed form fits in 64 bits are stored *as themselves*: the table is then exact.
Wider states are reduced to 64-bit keys by multiply-shift hashing with a fixed odd multiplier;
two distinct states share a key with probability about 2**-64 per pair, so a search of ``n``
states misses one with probability at most ``n*(n-1)/2 * 2**-64`` (reported with the result).

Keys live in one sorted ``numpy.uint64`` array (8 bytes per state, grown in place) and a small
sorted staging array of recent keys. Each batch of candidate successors (an ``array('Q')`` of
raw states when they fit in 64 bits) is de-duplicated with ``numpy.unique``, looked up in both
with ``searchsorted``, and its new keys go to the staging array; that is merged into the table
only when it reaches a sixteenth of it. Per-state work stays in C, the O(table) merge runs a few
dozen times per search, and no temporary is ever the size of the table.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use (the C backend's searches never need it)
    from itsrace.engine.lang.lazy import numpy as np

_MASK64 = (1 << 64) - 1


def _multiplier(bits: int) -> int:
    # A fixed pseudo-random odd multiplier of bits+64 bits (deterministic across runs).
    rng = np.random.default_rng(0x1275ACE)
    words = (bits + 64 + 63) // 64
    value = 0
    for w in rng.integers(0, 2**63, size=words, dtype=np.int64).tolist():
        value = (value << 64) | (int(w) << 1) | 1
    return value | 1


def fingerprint_collision_probability(bits: int, states: int) -> float:
    """Upper bound on the chance that fingerprinting merged two of ``states`` states."""
    if bits <= 64:
        return 0.0
    return min(1.0, states * (states - 1) / 2 / 2.0**64)


class FingerprintSet:
    """A set of 64-bit keys of packed states: a large sorted table grown in place, plus a small
    sorted staging array of recent keys.

    New keys go to the staging array; it is merged into the table only when it reaches
    :attr:`stage_fraction` of the table, so the O(table) in-place merge runs a few dozen times
    in a search instead of once per batch. A lookup searches both.

    When states fit in 64 bits the new states of a batch come back as a ``uint64`` array (8
    bytes each instead of a Python int's 32 plus a list slot), so BFS levels stay compact too.
    """

    _BLOCK = 1 << 16  # elements moved per step of the in-place merge (its temporaries scale with it)
    stage_fraction = 16  # merge the staging array once it holds table/stage_fraction keys
    stage_min = 1 << 17  # ... or this many, on a small table

    def __init__(self, bits: int) -> None:
        self.exact = bits <= 64
        self.bits = bits
        self.mult = _multiplier(bits)
        self._buf = np.empty(0, dtype=np.uint64)
        self._n = 0
        self._stage = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return self._n + int(self._stage.size)

    @property
    def keys(self) -> np.ndarray:
        """All keys, sorted (a view; copy it before the set changes if you keep it)."""
        self._flush()
        return self._buf[: self._n]

    @keys.setter
    def keys(self, value: np.ndarray) -> None:
        self._buf = np.array(value, dtype=np.uint64)
        self._n = int(self._buf.size)
        self._stage = np.empty(0, dtype=np.uint64)

    def empty(self) -> list[int] | np.ndarray:
        """An empty BFS level of the kind :meth:`add_new_states` returns."""
        return np.empty(0, dtype=np.uint64) if self.exact else []

    def new_batch(self) -> list[int] | array:
        """An empty container for a batch of candidate successors: ``array('Q')`` (8 bytes a
        state, no Python int kept alive) when states fit in 64 bits, else a list."""
        return array("Q") if self.exact else []

    def key_array(self, states: list[int] | array) -> np.ndarray:
        if self.exact:
            if isinstance(states, array):
                return np.frombuffer(states, dtype=np.uint64)
            return np.fromiter(states, dtype=np.uint64, count=len(states))
        shift, mult = self.bits, self.mult
        return np.fromiter(
            (((t * mult) >> shift) & _MASK64 for t in states), dtype=np.uint64, count=len(states)
        )

    def add_new_states(self, states: list[int] | array) -> list[int] | np.ndarray:
        """Insert the keys of ``states``; return the states whose keys were not present (each
        once, in discovery order): a ``uint64`` array when states fit in 64 bits, else a list."""
        if not len(states):
            return self.empty()
        keys = self.key_array(states)
        uniq, first = np.unique(keys, return_index=True)
        new = ~(_member(self._buf[: self._n], uniq) | _member(self._stage, uniq))
        fresh, chosen = uniq[new], first[new]
        if fresh.size:
            self._stage = np.insert(self._stage, np.searchsorted(self._stage, fresh), fresh)
            if self._stage.size >= max(self.stage_min, self._n // self.stage_fraction):
                self._flush()
        order = np.argsort(chosen, kind="stable")  # keep discovery order: deterministic search
        if self.exact:
            return fresh[order]
        return [states[i] for i in chosen[order].tolist()]

    def _flush(self) -> None:
        """Merge the staging array into the table."""
        if self._stage.size:
            stage, self._stage = self._stage, np.empty(0, dtype=np.uint64)
            self._merge(stage, np.searchsorted(self._buf[: self._n], stage))

    def _merge(self, fresh: np.ndarray, pos: np.ndarray) -> None:
        """Merge sorted ``fresh`` keys (absent from the table; ``pos`` = their insertion points)
        into the table in place. Growing uses ``resize`` (realloc, which moves large blocks by
        remapping pages), and the old keys move right block by block from the end, so no second
        copy of the table ever exists."""
        n, m = self._n, int(fresh.size)
        if m == 0:
            return
        if self._buf.size < n + m:
            # small growth steps: resize zero-fills the slack, so slack is resident memory
            self._buf.resize(n + m + max(n // 16, 4096), refcheck=False)
        buf = self._buf
        lo = int(pos[0])  # old keys before the first insertion point stay put
        end = n
        while end > lo:
            start = max(lo, end - self._BLOCK)
            block = buf[start:end].copy()
            idx = np.arange(start, end)
            idx += np.searchsorted(pos, idx, side="right")  # shifted right by the fresh keys before each
            buf[idx] = block
            end = start
        buf[pos + np.arange(m)] = fresh
        self._n = n + m


def _member(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which of ``keys`` are in the sorted ``table``."""
    if not table.size:
        return np.zeros(keys.size, dtype=bool)
    pos = np.searchsorted(table, keys)
    hit = pos < table.size
    hit[hit] = table[pos[hit]] == keys[hit]
    return hit
