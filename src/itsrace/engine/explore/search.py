"""Exhaustive explicit-state search over a compiled model.

Breadth-first by default, so the first counterexample found is a shortest one (invariants are
checked when a state is expanded, level by level). Depth-first is available for memory-light
hunting. The visited set is exact (a dict from state to parent, so traces are instant) or, with
``fingerprints=True``, a compact sorted table of 64-bit keys (see :mod:`itsrace.engine.explore.visited`).

Limits (states, seconds, memory, depth) end the search with verdict ``inconclusive`` and the
statistics so far, never with a wrong ``pass``. So does Ctrl-C. With ``checkpoint=`` the search
state is saved periodically and when stopped, and ``resume=`` continues it exactly (see
:mod:`itsrace.engine.explore.checkpoint`); checkpoints are taken between chunks, never in the hot loop.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from itsrace.engine.errors import ModelError
from itsrace.engine.explore import checkpoint as _ckpt
from itsrace.engine.explore.trace import Trace, decanonicalise, path_to_trace
from itsrace.engine.explore.visited import FingerprintSet, fingerprint_collision_probability
from itsrace.engine.lang.compile import (
    EV_ASSERTION,
    EV_INVARIANT,
    EV_QUIESCENT,
    EV_TERMINAL,
    Compiled,
    compile_model,
)

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use (the C backend's searches never need it)
    from itsrace.engine.lang.lazy import numpy as np
from itsrace.engine.lang.model import Model
from itsrace.engine.lang.spec import source_digest, spec_of

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass
class Limits:
    """Bounds on a search. ``None`` means unbounded."""

    max_states: int | None = None
    max_seconds: float | None = None
    max_memory: int | None = None  # bytes of resident memory
    max_depth: int | None = None


@dataclass
class Stats:
    distinct_states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    states_per_second: float = 0.0
    peak_rss_bytes: int = 0
    bytes_per_state: float = 0.0
    queue: int = 0
    coverage: dict[str, list[int]] = field(default_factory=dict)  # action -> [fired, new states]
    never_fired: list[str] = field(default_factory=list)
    collision_probability: float | None = None  # fingerprint mode only
    engine: str = "python"  # which backend ran the search: python | c

    def as_dict(self) -> dict[str, Any]:
        return {
            "distinct_states": self.distinct_states,
            "transitions": self.transitions,
            "depth": self.depth,
            "seconds": round(self.seconds, 3),
            "states_per_second": round(self.states_per_second),
            "peak_rss_bytes": self.peak_rss_bytes,
            "bytes_per_state": round(self.bytes_per_state, 1),
            "never_fired": self.never_fired,
            "collision_probability": self.collision_probability,
            "engine": self.engine,
        }


@dataclass
class Violation:
    property: str
    kind: str  # invariant | assertion | final | deadlock
    doc: str
    trace: Trace


@dataclass
class Result:
    verdict: str  # pass | fail | inconclusive
    violations: list[Violation]
    stats: Stats
    reason: str = ""  # why inconclusive
    model: str = ""

    @property
    def violated(self) -> set[str]:
        return {v.property for v in self.violations}


def _rss_now() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass(frozen=True)
class ProgressInfo:
    """What a search reports while it runs (at most once a second, and once when it ends)."""

    states: int  # distinct states so far
    queue: int  # states waiting to be expanded (0 where the backend does not know)
    depth: int  # BFS level (DFS: stack depth)
    elapsed: float  # seconds since the search started
    rate: float  # states per second
    memory: int  # resident set size, bytes
    final: bool = False  # the search has ended: the last report


#: ``progress=`` of a search: ``None`` shows the default line on a terminal, ``False`` nothing,
#: ``True`` the line anywhere, a callable receives a :class:`ProgressInfo` instead of any line.
ProgressCallback = Callable[[ProgressInfo], None]
Progress = bool | None | ProgressCallback


class _Progress:
    """A one-line progress display on a terminal, silent otherwise; or, given a callback, a
    :class:`ProgressInfo` to the callback (at most once a second, and a final one)."""

    def __init__(self, enabled: Progress) -> None:
        self.callback: ProgressCallback | None = enabled if callable(enabled) else None
        if self.callback is not None:
            self.enabled = True
        else:
            self.enabled = sys.stderr.isatty() if enabled is None else bool(enabled)
        self.last = 0.0
        self.shown = False
        self.latest: ProgressInfo | None = None
        self.start: float | None = None

    def update(self, states: int, queue: int, depth: int, start: float, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        self.start = start
        if not force and now - self.last < 1.0:
            self.latest = ProgressInfo(states, max(queue, 0), depth, now - start, states / max(now - start, 1e-9), 0)
            return
        self.last = now
        rate = states / max(now - start, 1e-9)
        if self.callback is not None:
            self.latest = ProgressInfo(states, max(queue, 0), depth, now - start, rate, _rss_now())
            self.callback(self.latest)
            self.shown = True
            return
        mem = _rss_now() / 2**20
        sys.stderr.write(
            f"\r  states {states:>12,}  queue {queue:>10,}  depth {depth:>4}  "
            f"{rate:>10,.0f} st/s  mem {mem:>7,.0f} MiB "
        )
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.callback is not None:
            if self.latest is not None and self.start is not None:
                info, elapsed = self.latest, time.monotonic() - self.start
                self.callback(ProgressInfo(info.states, info.queue, info.depth, elapsed,
                                           info.states / max(elapsed, 1e-9), _rss_now(), final=True))
            return
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _Run:
    """State shared between the driver and the ``on_event`` callback."""

    def __init__(self, c: Compiled, stop_on_violation: bool, canon: Callable[[int], int] | None) -> None:
        self.c = c
        self.stop_on_violation = stop_on_violation
        self.canon = canon
        self.found: dict[str, tuple[str, int, int | None]] = {}  # prop -> (kind, state, action)
        self.order: list[str] = []
        n_props = len(c.properties)
        self.targets = n_props + (1 if c.model.check_deadlock else 0)

    def record(self, prop: str, kind: str, s: int, k: int | None) -> bool:
        if prop not in self.found:
            self.found[prop] = (kind, s, k)
            self.order.append(prop)
        return self.stop_on_violation or len(self.found) >= self.targets

    def on_event(self, kind: int, idx: int, s: int, k: int) -> bool:
        c = self.c
        if kind == EV_INVARIANT:
            return self.record(c.properties[idx].name, "invariant", s, None)
        if kind == EV_ASSERTION:
            return self.record(c.properties[idx].name, "assertion", s, k)
        stop = False
        if kind == EV_TERMINAL and c.model.check_deadlock and not any(f(s) for f in c.rest_fns):
            # A deadlock is still a terminal state: final properties are checked there too, so
            # that stop_on_violation=False reports every property a terminal state violates.
            stop = self.record("deadlock", "deadlock", s, None)
            if stop:
                return True
        if kind in (EV_TERMINAL, EV_QUIESCENT):
            for i, fn in c.final_fns:
                if not fn(s):
                    stop = self.record(c.properties[i].name, "final", s, None) or stop
            return stop
        return stop


def check(
    model: Model | Compiled,
    *,
    strategy: str = "bfs",
    fingerprints: bool = False,
    limits: Limits | None = None,
    stop_on_violation: bool = True,
    progress: Progress = None,
    canon: Callable[[int], int] | None = None,
    chunk: int = 4096,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: float | None = 60.0,
    resume: str | os.PathLike[str] | None = None,
) -> Result:
    """Explore every reachable state of ``model`` and check its properties.

    ``strategy`` is ``"bfs"`` (shortest counterexamples) or ``"dfs"``. ``fingerprints=True``
    stores 64-bit keys instead of states; when the packed state has more than 64 bits two
    different states can in principle share a key, which could hide states (the result's
    ``stats.collision_probability`` bounds that chance). ``stop_on_violation=False`` keeps
    going and reports the first (shortest, with BFS) counterexample for every violated property.
    ``canon`` maps states to a canonical representative (symmetry reduction). ``progress``:
    ``None`` draws a live line on stderr when it is a terminal, ``False`` nothing, or a callable
    that receives a :class:`ProgressInfo` (states, states/s, depth, elapsed) about once a second
    and, if it received any, a last one with ``final=True`` (the C backend feeds the same
    callback; the parallel, swarm and reduced searches draw their own line).

    ``checkpoint`` names a file to which the search state is saved every ``checkpoint_every``
    seconds (``None``: only when stopped) and whenever a limit, Ctrl-C or ``SIGTERM`` stops
    the search; while it runs, the first Ctrl-C/``SIGTERM`` only *requests* a stop, honoured at
    the next chunk boundary. ``resume`` names a checkpoint to continue from (same model and
    options, see :mod:`itsrace.engine.explore.checkpoint`); the finished run reports the counts and
    verdict of an uninterrupted one, and ``stats.seconds`` includes the earlier runs' time.
    """
    if strategy not in ("bfs", "dfs"):
        raise ModelError(f"unknown strategy {strategy!r}: use 'bfs' or 'dfs'")
    if strategy == "dfs" and fingerprints:
        raise ModelError("fingerprint mode searches breadth-first; drop fingerprints or use strategy='bfs'")
    c = model if isinstance(model, Compiled) else compile_model(model, canon=canon)
    if canon is None and c.canonical:
        raise ModelError("this compiled model canonicalises states; pass the same canon to check()")
    limits = limits or Limits()
    run = _Run(c, stop_on_violation, canon)
    prog = _Progress(progress)
    stats = Stats()
    n_actions = len(c.actions)
    fired = [0] * n_actions
    gained = [0] * n_actions
    rss0 = _rss_now()
    start = time.monotonic()
    reason = ""
    parents: dict[int, int | None] | None = None
    fpset: FingerprintSet | None = None
    initial = list(dict.fromkeys(c.initial))
    depth = 0
    frontier: list[int] = []  # bfs: the rest of the level being expanded; dfs: the stack
    nxt: list[int] = []  # bfs: states of the next level found so far
    pos = 0  # bfs: index in frontier of the next chunk
    hard_stop = False  # KeyboardInterrupt inside a chunk: the state is not consistent

    opts = _ckpt.options_key(strategy if not fingerprints else "bfs", fingerprints, stop_on_violation, canon is not None)
    writer: _ckpt.Writer | None = None
    if checkpoint is not None or resume is not None:
        header = _ckpt.Header(c.model.name, source_digest(c), c.layout.bits, _spec_dict(c), opts)
        if checkpoint is not None:
            writer = _ckpt.Writer(checkpoint, header, checkpoint_every)
    prior_seconds = 0.0
    if resume is not None:
        saved_header, saved = _ckpt.load(resume)
        _ckpt.verify(resume, saved_header, model=c.model.name, digest=header.digest, options=opts)
        if len(saved.fired) != n_actions:
            raise ModelError(f"checkpoint '{os.fspath(resume)}' does not match this model's actions")
        depth, frontier, nxt = saved.depth, list(saved.frontier), list(saved.next)
        if not frontier and nxt:  # stopped after the last chunk of a level: start the next one
            frontier, nxt, depth = nxt, [], depth + 1
        stats.transitions = saved.transitions
        fired[:], gained[:] = saved.fired, saved.gained
        prior_seconds = saved.seconds
        for prop, kind, s, k in saved.found:
            run.found[prop] = (kind, s, None if k < 0 else k)
            run.order.append(prop)
        if fingerprints:
            fpset = FingerprintSet(c.layout.bits)
            fpset.keys = np.asarray(saved.visited, dtype=np.uint64)
            if fpset.exact:  # BFS levels are uint64 arrays in exact fingerprint mode
                frontier = np.asarray(frontier, dtype=np.uint64)  # type: ignore[assignment]
                nxt = np.asarray(nxt, dtype=np.uint64)  # type: ignore[assignment]
        else:
            assert isinstance(saved.parents, list)
            parents = dict(zip(saved.visited, saved.parents, strict=True))
    elif fingerprints:
        fpset = FingerprintSet(c.layout.bits)
        frontier = fpset.add_new_states(initial)  # type: ignore[assignment]
        nxt = fpset.empty()  # type: ignore[assignment]
    else:
        parents = {s: None for s in initial}
        frontier = list(parents) if strategy == "bfs" else list(reversed(initial))

    def over_limits(distinct: int, depth: int) -> str:
        if stop is not None and stop.requested:
            return stop.requested
        if limits.max_states is not None and distinct >= limits.max_states:
            return f"state limit {limits.max_states:,} reached"
        if limits.max_seconds is not None and time.monotonic() - start >= limits.max_seconds:
            return f"time limit {limits.max_seconds:g} s reached"
        if limits.max_memory is not None and _rss_now() >= limits.max_memory:
            return f"memory limit {limits.max_memory / 2**20:,.0f} MiB reached"
        return ""

    def snapshot() -> _ckpt.SearchState:
        """The search state at the current chunk boundary (for a checkpoint)."""
        found = [(p, run.found[p][0], run.found[p][1], _k(run.found[p][2])) for p in run.order]
        common = dict(depth=depth, transitions=stats.transitions, fired=fired, gained=gained, found=found,
                      seconds=prior_seconds + time.monotonic() - start)
        if fpset is not None:
            return _ckpt.SearchState("bfs", True, frontier=frontier[pos:], next=nxt, visited=fpset.keys,
                                     parents=None, **common)  # type: ignore[arg-type]
        assert parents is not None
        rest = frontier[pos:] if strategy == "bfs" else frontier
        return _ckpt.SearchState(strategy, False, frontier=rest, next=nxt, visited=list(parents),
                                 parents=list(parents.values()), **common)  # type: ignore[arg-type]

    with _ckpt.maybe_stop_signals(writer is not None) as stop:
        try:
            if fpset is not None:
                expand_collect = c.expand_collect  # type: ignore[attr-defined]
                while len(frontier):
                    if limits.max_depth is not None and depth >= limits.max_depth:
                        reason = f"depth limit {limits.max_depth} reached"
                        break
                    stop_now = False
                    while pos < len(frontier):
                        cand = fpset.new_batch()  # array('Q') when states fit in 64 bits
                        part = frontier[pos:pos + chunk * 4]
                        if isinstance(part, np.ndarray):
                            part = part.tolist()  # generated code works on Python ints
                        r = expand_collect(part, None, cand, run.on_event, fired, gained)
                        if r < 0:
                            stats.transitions += ~r
                            stop_now = True
                            break
                        stats.transitions += r
                        new = fpset.add_new_states(cand)
                        if isinstance(new, np.ndarray):
                            nxt = np.concatenate((nxt, new))  # type: ignore[assignment]
                        else:
                            nxt.extend(new)
                        pos += chunk * 4
                        reason = over_limits(len(fpset), depth)
                        if reason:
                            break
                        if writer is not None and writer.due():
                            writer.save(snapshot())
                        prog.update(len(fpset), len(frontier) - pos + len(nxt), depth, start)
                    stats.queue = max(0, len(frontier) - pos) + len(nxt)
                    if stop_now or reason:
                        break
                    frontier, nxt, pos = nxt, fpset.empty(), 0  # type: ignore[assignment]
                    if len(frontier):
                        depth += 1
                stats.distinct_states = len(fpset)
            elif strategy == "bfs":
                assert parents is not None
                expand = c.expand
                while frontier:
                    if limits.max_depth is not None and depth >= limits.max_depth:
                        reason = f"depth limit {limits.max_depth} reached"
                        break
                    stop_now = False
                    while pos < len(frontier):
                        r = expand(frontier[pos:pos + chunk], parents, nxt, run.on_event, fired, gained)
                        if r < 0:
                            stats.transitions += ~r
                            stop_now = True
                            break
                        stats.transitions += r
                        pos += chunk
                        reason = over_limits(len(parents), depth)
                        if reason:
                            break
                        if writer is not None and writer.due():
                            writer.save(snapshot())
                        prog.update(len(parents), len(frontier) - pos + len(nxt), depth, start)
                    stats.queue = max(0, len(frontier) - pos) + len(nxt)
                    if stop_now or reason:
                        break
                    frontier, nxt, pos = nxt, [], 0
                    if frontier:
                        depth += 1
                stats.distinct_states = len(parents)
            else:  # dfs
                assert parents is not None
                stack = frontier
                # depth of each stacked state (its discovery path's length), for stats and max_depth
                depths = [_path_length(parents, t) for t in stack]
                expand = c.expand
                since = 0
                max_depth = limits.max_depth
                while stack:
                    s = stack.pop()
                    d = depths.pop()
                    if max_depth is not None and d >= max_depth:
                        reason = f"depth limit {max_depth} reached"
                        continue  # keep going: other branches may still be shallower
                    before = len(stack)
                    r = expand((s,), parents, stack, run.on_event, fired, gained)
                    if r < 0:
                        stats.transitions += ~r
                        break
                    stats.transitions += r
                    if len(stack) > before:
                        depths.extend([d + 1] * (len(stack) - before))
                        if d + 1 > depth:
                            depth = d + 1
                    since += 1
                    if since >= chunk:
                        since = 0
                        limit = over_limits(len(parents), 0)
                        if limit:
                            reason = limit
                            break
                        if writer is not None and writer.due():
                            writer.save(snapshot())
                        prog.update(len(parents), len(stack), depth, start)
                stats.queue = len(stack)
                stats.distinct_states = len(parents)
        except KeyboardInterrupt:  # no handler installed, or a second Ctrl-C: no consistent checkpoint
            reason, hard_stop = "interrupted", True
            stats.distinct_states = len(parents) if parents is not None else (len(fpset) if fpset else 0)
        except MemoryError:  # a limit like the others: inconclusive, with what was explored so far
            nxt = []
            reason, hard_stop = "out of memory (set --max-memory below what the machine has)", True
            stats.distinct_states = len(parents) if parents is not None else (len(fpset) if fpset else 0)
        except ModelError:
            raise
        except (Exception, SystemExit) as exc:  # an exception inside generated code is a bug in the model
            raise c.model_error(exc) from exc
        finally:
            prog.done()
        if writer is not None and reason and not hard_stop:
            writer.save(snapshot())

    elapsed = time.monotonic() - start
    stats.depth = depth
    stats.seconds = prior_seconds + elapsed
    stats.states_per_second = stats.distinct_states / stats.seconds if stats.seconds > 0 else 0.0
    stats.peak_rss_bytes = _peak_rss()
    stats.bytes_per_state = max(0, _peak_rss() - rss0) / max(1, stats.distinct_states)
    stats.coverage = {inst.name: [fired[inst.index], gained[inst.index]] for inst in c.actions}
    stats.never_fired = [inst.name for inst in c.actions if fired[inst.index] == 0]
    if fpset is not None:
        stats.collision_probability = fingerprint_collision_probability(c.layout.bits, stats.distinct_states)

    violations = [_violation(c, run, prop, parents, canon) for prop in run.order]
    if violations:
        verdict = FAIL
    elif reason:
        verdict = INCONCLUSIVE
    else:
        verdict = PASS
    if writer is not None and reason and not hard_stop:
        reason += f" (checkpoint saved to {writer.path})"
    return Result(verdict, violations, stats, reason, c.model.name)


def _k(k: int | None) -> int:
    return -1 if k is None else k


def _spec_dict(c: Compiled) -> dict[str, Any] | None:
    spec = spec_of(c)
    return spec.to_dict() if spec is not None else None


class _FoundMap(Protocol):
    """What trace building needs from a search: the first state violating each property."""

    found: dict[str, tuple[str, int, int | None]]


def _violation(
    c: Compiled, run: _FoundMap, prop: str, parents: dict[int, int | None] | None, canon: Callable[[int], int] | None
) -> Violation:
    kind, s, k = run.found[prop]
    if parents is not None and s in parents:
        path = [s]
        p = parents[s]
        while p is not None:
            path.append(p)
            p = parents[p]
        path.reverse()
    else:
        path = find_path(c, s, canon)
    if canon is not None:
        path = decanonicalise(c, path, canon)
        if kind == "assertion":  # the real run ends in a permutation of s: find its failing action
            idx = c.property_index(prop)
            k = next((kk for kk, t in c.successors(path[-1]) if t == ~idx), k)
    note = f"check failed: {prop}" if kind == "assertion" else ""
    trace = path_to_trace(c, path, prop, kind, k if kind == "assertion" else None, note)
    doc = next((p.doc for p in c.properties if p.name == prop), "")
    if kind == "deadlock":
        doc = "Some process is blocked and no action is enabled."
    return Violation(prop, kind, doc, trace)


def _path_length(parents: dict[int, int | None], s: int) -> int:
    n = 0
    p = parents.get(s)
    while p is not None:
        n += 1
        p = parents.get(p)
    return n


def find_path(c: Compiled, target: int, canon: Callable[[int], int] | None = None) -> list[int]:
    """Shortest path from an initial state to ``target`` by a fresh exact BFS (fingerprint mode
    keeps no parents, so traces are rebuilt this way; the search stops at ``target``'s depth)."""
    parents: dict[int, int | None] = {s: None for s in c.initial}
    frontier = list(parents)
    while frontier and target not in parents:
        nxt: list[int] = []
        for s in frontier:
            for _, t in c.successors(s):
                if t < 0:
                    continue
                if canon is not None:
                    t = canon(t)
                if t not in parents:
                    parents[t] = s
                    nxt.append(t)
        frontier = nxt
    if target not in parents:
        raise ModelError("internal error: violating state not reachable on re-search")
    path = [target]
    p = parents[target]
    while p is not None:
        path.append(p)
        p = parents[p]
    path.reverse()
    return path
