"""The worker side of the parallel search: who owns a state, and one worker's partition.

:func:`owner_of` hashes a state to its owner; :func:`choose_partition` picks the state bits that
decide ownership; :class:`Partition` holds one worker's visited set and frontier and runs its
expansions and merges. :mod:`itsrace.engine.scale.parallel` drives N partitions in worker
processes, :mod:`itsrace.engine.scale.ray_backend` in Ray actors; both speak :class:`Cluster`.
"""


from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any, Protocol, cast

import numpy as np

from itsrace.engine.errors import ModelError
from itsrace.engine.explore import checkpoint as _ckpt
from itsrace.engine.explore.search import (
    _peak_rss,
    _rss_now,
    _Run,
)
from itsrace.engine.lang.compile import Compiled
from itsrace.engine.lang.spec import ModelSpec, source_digest

_M64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd: a multiplicative hash
_MIX_U64 = np.uint64(_MIX)
_SHIFT_U64 = np.uint64(32)

# (sender, states, parents): uint64 bytes when states fit in 64 bits, else lists of ints;
# parents None when they stay in the sender's cache.
Batch = tuple[int, bytes | list[int], bytes | list[int] | None]



# -- ownership -------------------------------------------------------------------------------------
def _fold64(t: int) -> int:
    x = t & _M64
    t >>= 64
    while t:
        x ^= t & _M64
        t >>= 64
    return x


def owner_of(t: int, n: int, mask: int | None = None) -> int:
    """The worker (0..n-1) owning state ``t``: ``((fold64(t & mask) * MIX mod 2**64) >> 32) % n``.

    ``mask`` selects the bits (slots) that decide ownership; ``None`` means all of them."""
    if mask is not None:
        t &= mask
    return (((_fold64(t) * _MIX) & _M64) >> 32) % n


def owners_array(states: np.ndarray, n: int, mask: int | None = None) -> np.ndarray:
    """:func:`owner_of` for a ``uint64`` array (wrapping multiplication, computed in C)."""
    if mask is not None:
        states = states & np.uint64(mask)
    return ((states * _MIX_U64) >> _SHIFT_U64) % np.uint64(n)


def split_by_owner(states: Sequence[int], bits: int, n: int, mask: int | None = None) -> list[list[int]]:
    """Partition ``states`` into ``n`` lists by owner, keeping their order."""
    if bits <= 64 and len(states) > 64:
        arr = np.fromiter(states, dtype=np.uint64, count=len(states))
        own = owners_array(arr, n, mask)
        return [arr[own == np.uint64(d)].tolist() for d in range(n)]
    parts: list[list[int]] = [[] for _ in range(n)]
    for t in states:
        parts[owner_of(t, n, mask)].append(t)
    return parts


def _split_array(arr: np.ndarray, n: int, mask: int | None, *others: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Split encoded arrays (see :func:`itsrace.engine.explore.checkpoint.ints_to_array`) by owner of ``arr``."""
    if arr.ndim == 1:
        own = owners_array(arr, n, mask)
    else:
        own = np.array([owner_of(int.from_bytes(bytes(r), "little"), n, mask) for r in arr], dtype=np.uint64)
    out = []
    for d in range(n):
        sel = own == np.uint64(d)
        out.append((arr[sel], *(o[sel] for o in others)))
    return out


# -- choosing what decides ownership -------------------------------------------------------------
@dataclass
class PartitionChoice:
    """The ownership key chosen by :func:`choose_partition`: which slots, and what the sample
    predicts (fraction of transitions crossing workers, heaviest worker's share of the work)."""

    mask: int | None  # None: hash of the whole state
    slots: list[str]
    cross: float
    balance: float  # heaviest worker's sampled work / the average (1.0 = perfect)
    sampled: int

    def describe(self) -> str:
        key = "whole state" if self.mask is None else "slots " + ", ".join(self.slots)
        return (f"owner = hash({key}); sampled {self.sampled:,} states: {self.cross:.0%} of transitions cross "
                f"workers, heaviest worker {self.balance:.2f}x the average")


def _sample(c: Compiled, n_states: int, seed: int) -> tuple[list[int], list[int], list[int]]:
    """States from a BFS prefix and from random walks below it, with their successors:
    ``(states, sources, targets)``, ``sources[i] -> targets[i]`` being sampled transitions."""
    import random

    rng = random.Random(seed)
    fired = [0] * len(c.actions)
    gained = [0] * len(c.actions)
    expand_collect = c.expand_collect  # type: ignore[attr-defined]

    def quiet(kind: int, idx: int, s: int, k: int) -> bool:
        return False

    seen: dict[int, None] = dict.fromkeys(c.initial)
    frontier = list(seen)
    states: list[int] = []
    src: list[int] = []
    dst: list[int] = []
    while frontier and len(states) < n_states // 2:
        nxt = []
        for s in frontier[: n_states // 2 - len(states)]:
            out: list[int] = []
            expand_collect((s,), None, out, quiet, fired, gained)
            states.append(s)
            src.extend([s] * len(out))
            dst.extend(out)
            for t in out:
                if t not in seen:
                    seen[t] = None
                    nxt.append(t)
        frontier = nxt
    depth_hint = 50 + 4 * max(1, len(states).bit_length())
    starts = frontier or states
    while len(states) < n_states and starts:  # random walks go deeper than the BFS prefix
        s = rng.choice(starts)
        for _ in range(rng.randint(1, depth_hint)):
            out = []
            expand_collect((s,), None, out, quiet, fired, gained)
            states.append(s)
            src.extend([s] * len(out))
            dst.extend(out)
            if not out or len(states) >= n_states:
                break
            s = rng.choice(out)
    return states, src, dst


def choose_partition(c: Compiled, n: int, sample: int = 20_000, seed: int = 0) -> PartitionChoice:
    """Pick the slots whose values decide a state's owner, for locality.

    Hashing the whole state spreads every state's successors over all workers: (n-1)/n of them
    cross, and each worker's dict holds states scattered all over the graph. Hashing only slots
    that transitions rarely change keeps most successors with their parent's owner. From a
    sample (a BFS prefix plus random walks below it), slots are ranked by how often a transition
    changes them; the shortest prefix of that ranking whose owners balance the sampled work
    within 10% across the workers (and takes at least 4n values) is chosen, if it makes fewer
    than a third of the sampled transitions cross; otherwise the whole state is hashed.
    Correctness never depends on this choice, only speed."""
    layout = c.layout
    if n == 1 or layout.bits > 64:
        return PartitionChoice(None, [], 0.0, 1.0, 0)
    states, src, dst = _sample(c, sample, seed)
    whole = PartitionChoice(None, [], (n - 1) / n, 1.0, len(states))
    if len(states) < 64 * n or not src:
        return whole
    st = np.fromiter(states, dtype=np.uint64, count=len(states))
    a = np.fromiter(src, dtype=np.uint64, count=len(src))
    b = np.fromiter(dst, dtype=np.uint64, count=len(dst))
    diff = a ^ b
    freq: list[tuple[float, int]] = []
    for i, sl in enumerate(layout.slots):
        m = np.uint64(sl.mask << sl.off)
        if np.unique(st & m).size < 2:
            continue  # constant in the sample: cannot spread states
        freq.append((float(np.count_nonzero(diff & m)) / diff.size, i))
    freq.sort()
    # work per sampled state = its number of successors
    uniq, counts = np.unique(a, return_counts=True)
    mask = 0
    chosen: list[int] = []
    for _, i in freq:
        sl = layout.slots[i]
        mask |= sl.mask << sl.off
        chosen.append(i)
        own = owners_array(uniq, n, mask)
        load = np.bincount(own.astype(np.int64), weights=counts, minlength=n)
        balance = float(load.max() / (load.sum() / n))
        if balance <= 1.10 and np.unique(uniq & np.uint64(mask)).size >= 4 * n:
            cross = float(np.count_nonzero(owners_array(a, n, mask) != owners_array(b, n, mask))) / a.size
            if cross < 1 / 3:
                return PartitionChoice(mask, [layout.slots[j].label for j in chosen], cross, balance, len(states))
            return whole
    return whole


# -- the worker side -------------------------------------------------------------------------------
class Partition:
    """One worker's share of the search: the visited set and frontier of the states it owns.

    Transport-neutral: the process backend calls these methods through a pipe, the Ray backend
    as actor methods. ``options``: ``stop_on_violation``, ``chunk`` (states per call of the
    generated expand function), ``cache`` (remember foreign successors, see module docs).
    """

    def __init__(self, spec: dict[str, Any], index: int, n: int, options: dict[str, Any]) -> None:
        self.spec = ModelSpec.from_dict(spec)
        self.c: Compiled = self.spec.compile()
        self.index, self.n = index, n
        self.chunk = int(options.get("chunk", 4096))
        self.cache = bool(options.get("cache", True))
        self.mask: int | None = options.get("mask")
        self.run = _Run(self.c, bool(options.get("stop_on_violation", True)), None)
        self.bits = self.c.layout.bits
        self.narrow = self.bits <= 64
        self.seen: dict[int, int | None] = {}
        self.own = 0  # number of owned visited states (seen also caches foreign ones)
        self.frontier: list[int] = []
        self.pos = 0
        self.nxt: list[int] = []
        self.transitions = 0
        n_actions = len(self.c.actions)
        self.fired = [0] * n_actions
        self.gained = [0] * n_actions
        self.reported = 0  # violations already reported to the coordinator
        self.should_stop: Callable[[], bool] = lambda: False
        self.rss0 = _rss_now()
        self.cpu = {"expand": 0.0, "route": 0.0, "receive": 0.0}  # CPU seconds per phase

    # -- setup ---------------------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        return {"digest": source_digest(self.c), "pid": os.getpid(), "bits": self.bits}

    def load(self, visited: np.ndarray | list[int], parents: np.ndarray | list[int | None],
             frontier: np.ndarray | list[int], nxt: np.ndarray | list[int],
             found: Sequence[tuple[str, str, int, int]] = ()) -> int:
        """Add owned states (initial states, or a checkpoint's share). ``parents`` as encoded by
        :mod:`itsrace.engine.explore.checkpoint` when arrays (``parent == state`` marks an initial state)."""
        if isinstance(visited, np.ndarray):
            keys = _ckpt.array_to_ints(visited)
            assert isinstance(parents, np.ndarray)
            pars = _ckpt.parents_list(keys, parents)
        else:
            keys, pars = list(visited), list(parents)
        seen = self.seen
        for k, p in zip(keys, pars, strict=True):
            if k not in seen:
                seen[k] = p
                self.own += 1
        self.frontier.extend(_ckpt.array_to_ints(frontier) if isinstance(frontier, np.ndarray) else frontier)
        self.nxt.extend(_ckpt.array_to_ints(nxt) if isinstance(nxt, np.ndarray) else nxt)
        for prop, kind, s, k in found:
            if prop not in self.run.found:
                self.run.found[prop] = (kind, s, None if k < 0 else k)
                self.run.order.append(prop)
        self.reported = len(self.run.order)
        return len(self.frontier)

    # -- one round -----------------------------------------------------------------------------
    def expand(self, seconds: float) -> tuple[list[Batch | None], dict[str, Any]]:
        """Expand owned frontier states for about ``seconds`` (at least one chunk, at most the
        rest of the level). Returns the batches for the other workers (``None`` for self and
        for nobody) and a report."""
        c = self.c
        expand = c.expand
        seen, frontier, chunk = self.seen, self.frontier, self.chunk
        on_event, fired, gained = self.run.on_event, self.fired, self.gained
        should_stop = self.should_stop
        out: list[int] = []
        total = 0
        stopped = False
        pos = self.pos
        deadline = time.monotonic() + seconds
        cpu0 = time.process_time()
        try:
            while pos < len(frontier):
                r = expand(frontier[pos:pos + chunk], seen, out, on_event, fired, gained)
                if r < 0:
                    total += ~r
                    stopped = True
                    break
                total += r
                pos += chunk
                if time.monotonic() >= deadline or should_stop():
                    break
        except ModelError:
            raise
        except (Exception, SystemExit) as exc:  # an exception inside generated code is a bug in the model
            raise c.model_error(exc) from exc
        self.pos = pos
        self.transitions += total
        found = [(p, *self._found(p)) for p in self.run.order[self.reported:]]
        self.reported = len(self.run.order)
        batches: list[Batch | None] = [None] * self.n
        cpu1 = time.process_time()
        if not stopped:
            batches = self._route(out)
        self.cpu["expand"] += cpu1 - cpu0
        self.cpu["route"] += time.process_time() - cpu1
        return batches, {
            "transitions": total, "found": found, "stopped": stopped,
            "remaining": max(0, len(frontier) - pos), "rss": _rss_now(),
        }

    def _found(self, prop: str) -> tuple[str, int, int]:
        kind, s, k = self.run.found[prop]
        return kind, s, -1 if k is None else k

    def _route(self, out: list[int]) -> list[Batch | None]:
        """Keep owned new states, make batches of foreign ones.

        With the cache on, a foreign state's parent stays in this worker's cache and the owner
        only records *who* sent it (a negative tag, see :meth:`receive`); without it the
        parents travel with the states."""
        n, me, seen, cache = self.n, self.index, self.seen, self.cache
        batches: list[Batch | None] = [None] * n
        if not out:
            return batches
        if self.narrow:
            arr = np.fromiter(out, dtype=np.uint64, count=len(out))
            own = owners_array(arr, n, self.mask)
            for d in range(n):
                mask = own == np.uint64(d)
                if d == me:  # keep the very int objects that are the dict's keys: less memory
                    before = len(self.nxt)
                    self.nxt.extend(compress(out, mask.tolist()))
                    self.own += len(self.nxt) - before
                    continue
                sel = arr[mask]
                if sel.size and cache:
                    batches[d] = (me, sel.tobytes(), None)
                elif sel.size:
                    states = sel.tolist()
                    parents = np.fromiter((seen.pop(t) for t in states), dtype=np.uint64, count=len(states))
                    batches[d] = (me, sel.tobytes(), parents.tobytes())
        else:
            parts: list[list[int]] = [[] for _ in range(n)]
            for t in out:
                parts[owner_of(t, n, self.mask)].append(t)
            for d in range(n):
                if d == me:
                    self.nxt.extend(parts[d])
                    self.own += len(parts[d])
                elif parts[d] and cache:
                    batches[d] = (me, parts[d], None)
                elif parts[d]:
                    batches[d] = (me, parts[d], [cast(int, seen.pop(t)) for t in parts[d]])
        return batches

    def receive(self, *batches: Batch | None) -> dict[str, Any]:
        """Merge states sent by other workers into the next frontier (new ones only).

        A state whose parent stayed with its sender is recorded with the tag ``-(sender + 1)``
        instead of a parent (states are never negative); :meth:`parents_of` returns it as is
        and the coordinator asks the sender (:meth:`cached_parents`)."""
        cpu0 = time.process_time()
        seen = self.seen
        nxt = self.nxt
        new = 0
        for b in batches:
            if b is None:
                continue
            sender, states, parents = b
            ts: list[int] = np.frombuffer(states, dtype=np.uint64).tolist() if isinstance(states, bytes) else states
            if parents is None:
                fresh = [t for t in ts if t not in seen]
                seen.update(dict.fromkeys(fresh, -(sender + 1)))
            else:
                ps: list[int] = (np.frombuffer(parents, dtype=np.uint64).tolist() if isinstance(parents, bytes)
                                 else parents)
                fresh = []
                for t, p in zip(ts, ps, strict=True):
                    if t not in seen:
                        seen[t] = p
                        fresh.append(t)
            nxt.extend(fresh)
            new += len(fresh)
        self.own += new
        self.cpu["receive"] += time.process_time() - cpu0
        return {"own": self.own, "next": len(self.nxt), "remaining": max(0, len(self.frontier) - self.pos),
                "rss": _rss_now()}

    def status(self) -> dict[str, Any]:
        return self.receive()

    def advance(self) -> int:
        """Start the next level (call only when every worker finished the current one)."""
        self.frontier, self.nxt, self.pos = self.nxt, [], 0
        return len(self.frontier)

    # -- queries -------------------------------------------------------------------------------
    def parents_of(self, states: list[int]) -> list[int | None]:
        """Parents of owned states: a state, ``None`` (initial) or a sender tag (negative)."""
        return [self.seen[s] for s in states]

    def cached_parents(self, states: list[int]) -> list[int]:
        """Parents of foreign states this worker generated and sent (from its cache)."""
        return [cast(int, self.seen[s]) for s in states]

    def totals(self) -> dict[str, Any]:
        return {"fired": self.fired, "gained": self.gained, "own": self.own, "transitions": self.transitions,
                "rss": _rss_now(), "peak": _peak_rss(), "rss0": self.rss0, "cpu": time.process_time(),
                "phases": dict(self.cpu), "seen": len(self.seen)}

    def dump(self) -> dict[str, Any]:
        """This partition's share of a checkpoint, as encoded arrays. Parents held by other
        workers are listed in ``tagged`` ({sender: (positions, states)}) for the coordinator
        to resolve; their slots in ``parents`` are placeholders."""
        keys = list(self.seen)
        if self.cache and self.n > 1:  # drop cached foreign states
            if self.narrow:
                arr = np.fromiter(keys, dtype=np.uint64, count=len(keys))
                keys = arr[owners_array(arr, self.n, self.mask) == np.uint64(self.index)].tolist()
            else:
                keys = [k for k in keys if owner_of(k, self.n, self.mask) == self.index]
        seen = self.seen
        values = [seen[k] for k in keys]
        tagged: dict[int, tuple[list[int], list[int]]] = {}
        for i, v in enumerate(values):
            if v is not None and v < 0:
                pos, states = tagged.setdefault(-v - 1, ([], []))
                pos.append(i)
                states.append(keys[i])
                values[i] = 0
        return {
            "visited": _ckpt.ints_to_array(keys, self.bits),
            "parents": _ckpt.parents_array(keys, values, self.bits),
            "tagged": tagged,
            "frontier": _ckpt.ints_to_array(self.frontier[self.pos:], self.bits),
            "next": _ckpt.ints_to_array(self.nxt, self.bits),
        }


# -- transports ----------------------------------------------------------------------------------
class Cluster(Protocol):
    """What the coordinator needs from a backend: N partitions it can call."""

    n: int

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        """Call ``method`` on every partition (``args[i]`` for partition i); gather results."""
        ...

    def call_one(self, i: int, method: str, *args: Any) -> Any: ...

    def round(self, seconds: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Expand on every partition, route batches to owners, merge: (expand, receive) reports."""
        ...

    def request_stop(self) -> None:
        """Ask partitions to end the current round early (best effort)."""
        ...

    def close(self) -> None: ...


class StopFlag:
    """A flag the coordinator sets and workers poll, in anonymous shared memory: unlike a
    ``multiprocessing.Event`` it holds no named semaphore, so a coordinator that is killed
    leaves nothing behind for the resource tracker to warn about."""

    def __init__(self, ctx: Any) -> None:
        self._value = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._value.value = 1

    def is_set(self) -> bool:
        return bool(self._value.value)


def quiet_send(conn: Any, message: Any) -> bool:
    """Send to the coordinator; False (and no traceback) if it has gone away."""
    try:
        conn.send(message)
        return True
    except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
        return False


class WorkerError(RuntimeError):
    """A worker process died or raised something other than a model error."""



__all__ = ["Batch", "Cluster", "Partition", "PartitionChoice", "StopFlag", "WorkerError", "choose_partition",
           "owner_of", "quiet_send",
           "owners_array", "split_by_owner"]
