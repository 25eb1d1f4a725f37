"""Which state bits decide a state's worker in the C backend's parallel search.

Hashing the whole state sends (n-1)/n of all successors to another worker's outbox. Hashing
only slots that transitions rarely change keeps most successors with their parent's worker
(the same idea as ``scale/partition.py``, for states of any width). From random walks run by
the compiled model, slots are ranked by how often a transition changes them; the shortest
prefix of that ranking that balances the sampled work within 10% across the workers, takes at
least 4n values and makes fewer than a third of the sampled transitions cross, is chosen;
otherwise the whole state is hashed. Correctness never depends on this choice, only speed.
"""

from __future__ import annotations

import ctypes
from collections import Counter
from typing import Any

from itsrace.engine.lang.compile import Compiled

_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """rt_head.c's mix64 (splitmix64's finaliser)."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def owner(s: int, mask: int, words: int, n: int) -> int:
    """rt_search.c's owner_of_state with a partition mask: the same worker for the same state."""
    h = 0x243F6A8885A308D3
    for i in range(words):
        h = _mix64(h ^ ((s & mask) >> (64 * i) & _M64))
    return ((h >> 24) & 0xFF) % n


def choose_mask(c: Compiled, lib: Any, n: int, sample: int = 5_000) -> int | None:
    """A bit mask over the packed state, or None to hash the whole state. ``lib`` is the
    model's loaded C library: its random walks provide the sample (``itsrace_sample``)."""
    if n == 1:
        return None
    words = max(1, (c.layout.bits + 63) // 64)
    initial = list(dict.fromkeys(c.initial))
    init = (ctypes.c_uint64 * (len(initial) * words))(
        *[(s >> (64 * j)) & _M64 for s in initial for j in range(words)])
    buf = (ctypes.c_uint64 * (sample * words))()
    weights = (ctypes.c_int64 * sample)()
    changes = (ctypes.c_int64 * max(1, len(c.layout.slots)))()
    edges = ctypes.c_int64()
    got = lib.itsrace_sample(init, len(initial), sample, 64, ctypes.c_uint64(0x1275ACE), buf, weights, changes,
                             ctypes.byref(edges))
    if got < 64 * n or edges.value == 0:
        return None
    work: Counter[int] = Counter()
    for i in range(got):
        s = 0
        for j in range(words):
            s |= int(buf[i * words + j]) << (64 * j)
        work[s] += int(weights[i])
    slots = c.layout.slots
    masks = [sl.mask << sl.off for sl in slots]
    varying = [k for k, m in enumerate(masks) if len({s & m for s in work}) > 1]
    ranking = sorted(varying, key=lambda k: (changes[k], k))
    mask, changed = 0, 0
    for k in ranking:
        mask |= masks[k]
        changed += changes[k]
        if changed / edges.value * (n - 1) / n >= 1 / 3:  # an upper bound on the crossing share
            return None
        if len({s & mask for s in work}) < 4 * n:
            continue
        load = [0] * n
        for s, w in work.items():
            load[owner(s, mask, words, n)] += w
        if max(load) <= 1.10 * sum(load) / n:
            return mask
    return None
