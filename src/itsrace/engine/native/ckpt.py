"""Checkpoints of the C backend's exact, single-worker BFS, in the Python backend's format.

The C search keeps its states in discovery order with parent indices, the level being expanded
as one range of that order and the next level as the rest; a snapshot turns that into the
``SearchState`` of ``explore/checkpoint.py`` (so either backend can resume it), and loading puts
any exact BFS checkpoint back into that shape: the visited states that are in neither level
first, then the rest of the current level, then the next level, in their saved order.
"""

from __future__ import annotations

import ctypes
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.explore import checkpoint as _ckpt
from itsrace.engine.lang.compile import Compiled

KIND_CODES = {"invariant": 0, "assertion": 1, "final": 2, "deadlock": 3}


def _ints(buf: Any, n: int, words: int) -> list[int]:
    raw = bytes(buf)
    size = 8 * words
    return [int.from_bytes(raw[i * size:(i + 1) * size], "little") for i in range(n)]


def snapshot(lib: Any, c: Compiled, words: int, found: dict[str, tuple[str, int, int | None, int]],
             seconds: float) -> _ckpt.SearchState:
    info = (ctypes.c_int64 * 5)()
    lib.itsrace_export_info(info)
    n, pos, hi, depth, trans = (int(x) for x in info)
    states = (ctypes.c_uint64 * max(1, n * words))()
    parents = (ctypes.c_int64 * max(1, n))()
    lib.itsrace_export(states, parents)
    visited = _ints(states, n, words)
    fired = (ctypes.c_int64 * len(c.actions))()
    gained = (ctypes.c_int64 * len(c.actions))()
    lib.itsrace_coverage(fired, gained)
    recorded = [(p, kind, s, -1 if k is None else k) for p, (kind, s, k, _) in found.items()]
    return _ckpt.SearchState(
        "bfs", False, depth=depth, frontier=visited[pos:hi], next=visited[hi:n], visited=visited,
        parents=[None if parents[i] < 0 else visited[parents[i]] for i in range(n)], transitions=trans,
        fired=list(fired), gained=list(gained), found=recorded, seconds=seconds)


def load(lib: Any, c: Compiled, words: int, saved: _ckpt.SearchState, params: Any, max_seconds: float) -> None:
    """Put ``saved`` into the C search (then ``itsrace_continue`` runs it on)."""
    if saved.strategy != "bfs" or saved.fingerprints or saved.parents is None:
        raise ModelError("the C backend resumes exact breadth-first checkpoints; use --engine python")
    if len(saved.fired) != len(c.actions):
        raise ModelError("checkpoint does not match this model's actions")
    frontier, nxt = list(saved.frontier), list(saved.next)
    levels = set(frontier) | set(nxt)
    order = [s for s in saved.visited if s not in levels] + frontier + nxt
    index = {s: i for i, s in enumerate(order)}
    parent_of = dict(zip(saved.visited, saved.parents, strict=True))
    n = len(order)
    mask = (1 << 64) - 1
    states = (ctypes.c_uint64 * max(1, n * words))(*[(s >> (64 * j)) & mask for s in order for j in range(words)])
    parents = (ctypes.c_int64 * max(1, n))(*[-1 if parent_of[s] is None else index[parent_of[s]] for s in order])
    fired = (ctypes.c_int64 * len(c.actions))(*saved.fired)
    gained = (ctypes.c_int64 * len(c.actions))(*saved.gained)
    status = lib.itsrace_load(states, parents, ctypes.c_int64(n), ctypes.c_int64(n - len(frontier) - len(nxt)),
                              ctypes.c_int64(n - len(nxt)), ctypes.c_int64(saved.depth),
                              ctypes.c_int64(saved.transitions), fired, gained, params, ctypes.c_double(max_seconds))
    if status != 0:
        raise ModelError("the C backend could not load the checkpoint (out of memory, or duplicate states)")
    for prop, kind, s, k in saved.found:
        p = len(c.properties) if prop == "deadlock" else c.property_index(prop)
        lib.itsrace_add_found(p, KIND_CODES[kind], k, ctypes.c_int64(index[s]), ctypes.c_int64(saved.depth))
