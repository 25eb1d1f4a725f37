"""Compact visited sets for fingerprint mode.

States whose packed form fits in 64 bits are stored *as themselves*: the table is then exact.
Wider states are reduced to 64-bit keys by multiply-shift hashing with a fixed odd multiplier;
two distinct states share a key with probability about 2**-64 per pair, so a search of ``n``
states misses one with probability at most ``n*(n-1)/2 * 2**-64`` (reported with the result).

Keys live in one sorted ``numpy.uint64`` array (8 bytes per state). Each batch of candidate
successors is de-duplicated with ``numpy.unique`` and merged with ``searchsorted``/``insert``,
so per-state work stays in C.
"""

from __future__ import annotations

import numpy as np

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
    """A set of 64-bit keys of packed states, in a sorted numpy array."""

    def __init__(self, bits: int) -> None:
        self.exact = bits <= 64
        self.bits = bits
        self.mult = _multiplier(bits)
        self.keys = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return int(self.keys.size)

    def key_array(self, states: list[int]) -> np.ndarray:
        if self.exact:
            return np.fromiter(states, dtype=np.uint64, count=len(states))
        shift, mult = self.bits, self.mult
        return np.fromiter(
            (((t * mult) >> shift) & _MASK64 for t in states), dtype=np.uint64, count=len(states)
        )

    def add_new_states(self, states: list[int]) -> list[int]:
        """Insert the keys of ``states``; return the states whose keys were not present (each once)."""
        if not states:
            return []
        keys = self.key_array(states)
        uniq, first = np.unique(keys, return_index=True)
        table = self.keys
        if table.size:
            pos = np.searchsorted(table, uniq)
            hit = pos < table.size
            hit[hit] = table[pos[hit]] == uniq[hit]
            new = ~hit
            self.keys = np.insert(table, pos[new], uniq[new])
            chosen = first[new]
        else:
            self.keys = uniq
            chosen = first
        chosen.sort()  # keep discovery order for deterministic search
        return [states[i] for i in chosen.tolist()]
