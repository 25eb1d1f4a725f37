"""Which state bits decide a state's worker in the C backend's parallel search.

Hashing the whole state sends (n-1)/n of all successors to another worker's outbox. Hashing
only slots that transitions rarely change keeps most successors with their parent's worker
(the same idea as ``scale/partition.py``, for states of any width). From a breadth-first sample
of the Python model, slots are ranked by how often a transition changes them; the shortest
prefix of that ranking that balances the sampled work within 10% across the workers, takes at
least 4n values and makes fewer than a third of the sampled transitions cross, is chosen;
otherwise the whole state is hashed. Correctness never depends on this choice, only speed.
"""

from __future__ import annotations

import random
from collections import Counter

from itsrace.engine.lang.compile import Compiled


def _sample(c: Compiled, limit: int, seed: int = 0) -> tuple[list[int], list[tuple[int, int]]]:
    """A breadth-first prefix, then random walks below it (a BFS prefix alone only sees the
    shallow states, where the slots that matter deeper rarely vary). Deterministic."""
    rng = random.Random(seed)
    seen = dict.fromkeys(c.initial)
    order = list(seen)
    i = 0
    while i < len(order) and len(order) < limit // 4:
        for _, t in c.successors(order[i]):
            if t >= 0 and t not in seen:
                seen[t] = None
                order.append(t)
        i += 1
    expanded: list[int] = []
    edges: list[tuple[int, int]] = []
    while len(expanded) < limit and order:
        s = rng.choice(order)
        for _ in range(64):
            succ = [t for _, t in c.successors(s) if t >= 0]
            expanded.append(s)
            edges.extend((s, t) for t in succ)
            if not succ:
                break
            s = rng.choice(succ)
    return expanded, edges


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


def choose_mask(c: Compiled, n: int, sample: int = 5_000) -> int | None:
    """A bit mask over the packed state, or None to hash the whole state."""
    if n == 1:
        return None
    expanded, edges = _sample(c, sample)
    if len(expanded) < 64 * n or not edges:
        return None
    slots = c.layout.slots
    masks = [sl.mask << sl.off for sl in slots]
    changes = Counter(k for s, t in edges for k, m in enumerate(masks) if (s ^ t) & m)
    varying = {k for k, m in enumerate(masks) if len({s & m for s in expanded}) > 1}
    ranking = sorted(varying, key=lambda k: (changes[k], k))
    work = Counter(s for s, _ in edges)
    words = max(1, (c.layout.bits + 63) // 64)
    mask = 0
    for k in ranking:
        mask |= masks[k]
        if len({s & mask for s in work}) < 4 * n:
            continue
        load = [0] * n
        for s, w in work.items():
            load[owner(s, mask, words, n)] += w
        if max(load) > 1.10 * sum(load) / n:
            continue
        cross = sum(owner(s, mask, words, n) != owner(t, mask, words, n) for s, t in edges) / len(edges)
        return mask if cross < 1 / 3 else None
    return None
