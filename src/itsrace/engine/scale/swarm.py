"""Swarm search: many small, diversified, bounded searches for models too large to exhaust.

An exhaustive search proves a property; when the state space is too big for that, a *swarm*
(Holzmann, Joshi and Groce, "Swarm Verification", 2008) can still find bugs: run many cheap
searches that each look at a different part of the graph, in parallel, and stop at the first
counterexample. ``check_swarm(spec, workers=N, seconds=60)`` runs N worker processes; each
performs a sequence of *runs*, alternating two kinds:

``walk``
    random walks from a random initial state, up to a depth bound, restarting from scratch at
    the bound or at a terminal state. Half of the walk runs pick successors uniformly; the
    others draw a random *priority* per action and prefer high-priority actions, so some runs
    hammer a few actions and reach corners uniform walks rarely do.
``dfs``
    a depth-bounded depth-first search with successors in random order and a hash-compacted
    visited set (a bit table of ``2**table_bits`` bits indexed by a salted 64-bit hash, as in
    SPIN's bitstate mode): it never revisits a state it has marked, and it may skip states whose
    hash collides with a marked one -- a different salt per run skips different ones.

Every run draws its own seed, depth bound (between a quarter of ``max_depth`` and
``max_depth``) and strategy from the worker's random generator, which is seeded by ``(seed,
worker)``: with a step budget (``max_steps``) a swarm is reproducible.

States are checked exactly as in the exhaustive search (the same generated ``expand`` function
and the same event handling: invariants, failed ``check``s, deadlocks, final properties). A
violation comes back as a path of states; loops are cut out and shortcuts taken (if a later
state of the path is a direct successor of an earlier one, the states between are dropped), then
:func:`~itsrace.engine.explore.trace.path_to_trace` turns it into a trace that replays on the model.

The verdict is ``fail`` with the (shortest found) counterexample, or ``inconclusive`` with
coverage statistics: runs, states expanded, an estimate of the distinct states seen (linear
counting over a merged bit table), the deepest state, per-action firing counts. **A swarm never
reports ``pass``**: not finding a bug is not a proof.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import random
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from itsrace.engine.errors import ModelError
from itsrace.engine.explore.search import (
    FAIL,
    INCONCLUSIVE,
    Result,
    Stats,
    Violation,
    _peak_rss,
    _Progress,
    _Run,
)
from itsrace.engine.explore.trace import path_to_trace
from itsrace.engine.lang.compile import Compiled
from itsrace.engine.lang.model import Model
from itsrace.engine.lang.spec import ModelSpec, require_spec
from itsrace.engine.scale.parallel import (
    _describe,
    _raise_remote,
    default_start_method,
    main_module_guard,
)
from itsrace.engine.scale.partition import StopFlag, WorkerError, _fold64, quiet_send

_M64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15
STRATEGIES = ("walk", "dfs")
_COUNT_BITS = 22  # bit table for the distinct-state estimate: 2**22 bits = 512 KiB per worker


@dataclass
class SwarmConfig:
    """What every swarm worker does. See :func:`check_swarm` for the meaning of each field."""

    seed: int = 0
    max_depth: int = 1000
    seconds: float | None = 10.0
    max_steps: int | None = None  # states expanded, per worker
    strategies: tuple[str, ...] = STRATEGIES
    table_bits: int = 22
    run_steps: int = 50_000  # a dfs run gives way to a new run after this many states
    stop_on_violation: bool = True


@dataclass
class _Found:
    prop: str
    kind: str
    path: list[int]
    action: int  # failing action for an assertion, else -1
    worker: int
    run: int


@dataclass
class _WorkerResult:
    found: list[_Found] = field(default_factory=list)
    runs: int = 0
    steps: int = 0
    transitions: int = 0
    max_depth: int = 0
    fired: list[int] = field(default_factory=list)
    table: bytes = b""
    by_strategy: dict[str, int] = field(default_factory=dict)
    peak_rss: int = 0
    interrupted: bool = False


class _Searcher:
    """One swarm worker: runs walks and bounded DFS until its budget ends or it is told to stop."""

    def __init__(self, c: Compiled, cfg: SwarmConfig, worker: int, should_stop: Any = None) -> None:
        self.c = c
        self.cfg = cfg
        self.worker = worker
        self.rng = random.Random(f"itsrace-swarm:{cfg.seed}:{worker}")
        self.run = _Run(c, cfg.stop_on_violation, None)
        n_actions = len(c.actions)
        self.fired = [0] * n_actions
        self.gained = [0] * n_actions  # unused by a swarm, required by expand
        self.res = _WorkerResult(fired=self.fired)
        self.table = np.zeros(1 << (_COUNT_BITS - 3), dtype=np.uint8)
        self.should_stop = should_stop or (lambda: False)
        self.deadline = None if cfg.seconds is None else time.monotonic() + cfg.seconds
        self.done = False
        self.initial = list(dict.fromkeys(c.initial))
        self.run_no = 0

    # -- budget --------------------------------------------------------------------------------
    def out_of_budget(self) -> bool:
        if self.done:
            return True
        cfg = self.cfg
        if cfg.max_steps is not None and self.res.steps >= cfg.max_steps:
            self.done = True
        elif self.deadline is not None and time.monotonic() >= self.deadline:
            self.done = True
        elif self.should_stop():
            self.done = True
        return self.done

    def note(self, s: int) -> None:
        h = ((_fold64(s) * _MIX) & _M64) >> (64 - _COUNT_BITS)
        self.table[h >> 3] |= 1 << (h & 7)

    def visit(self, s: int, path: list[int], out: list[int]) -> bool:
        """Expand ``s`` (events checked, successors into ``out``). True when the worker must stop."""
        n_found = len(self.run.order)
        r = self.c.expand_collect((s,), None, out, self.run.on_event, self.fired, self.gained)  # type: ignore[attr-defined]
        self.res.steps += 1
        self.res.transitions += r if r >= 0 else ~r
        if len(path) - 1 > self.res.max_depth:
            self.res.max_depth = len(path) - 1
        if len(self.run.order) > n_found:
            for prop in self.run.order[n_found:]:
                kind, state, k = self.run.found[prop]
                assert state == s
                self.res.found.append(_Found(prop, kind, list(path), -1 if k is None else k, self.worker, self.run_no))
            if r < 0:
                self.done = True
                return True
        return r < 0

    # -- runs ----------------------------------------------------------------------------------
    def search(self) -> _WorkerResult:
        cfg = self.cfg
        try:
            while not self.out_of_budget():
                strategy = self.rng.choice(cfg.strategies)
                depth = self.rng.randint(max(1, cfg.max_depth // 4), max(1, cfg.max_depth))
                self.run_no += 1
                self.res.runs += 1
                self.res.by_strategy[strategy] = self.res.by_strategy.get(strategy, 0) + 1
                if strategy == "walk":
                    self.walk(depth, self.rng.random() < 0.5)
                else:
                    self.dfs(depth)
        except KeyboardInterrupt:  # in-process swarm: keep what was found so far
            self.res.interrupted = True
        except ModelError:
            raise
        except (Exception, SystemExit) as exc:  # an exception inside generated code is a bug in the model
            raise self.c.model_error(exc) from exc
        self.res.table = self.table.tobytes()
        self.res.peak_rss = _peak_rss()
        return self.res

    def walk(self, depth: int, biased: bool) -> None:
        """Random walks (restarting at the depth bound or a terminal state) for one run."""
        rng, c = self.rng, self.c
        weights = [rng.random() ** 3 + 1e-6 for _ in c.actions] if biased else None
        budget = self.res.steps + self.cfg.run_steps
        while self.res.steps < budget and not self.out_of_budget():
            s = rng.choice(self.initial)
            path = [s]
            self.note(s)
            for _ in range(depth + 1):
                out: list[int] = []
                if self.visit(s, path, out) or not out or len(path) > depth:
                    break
                if weights is None:
                    s = out[rng.randrange(len(out))]
                else:
                    succ = [(k, t) for k, t in c.successors(s) if t >= 0]
                    s = rng.choices([t for _, t in succ], [weights[k] for k, _ in succ])[0]
                path.append(s)
                self.note(s)
                if (self.res.steps & 1023) == 0 and self.out_of_budget():
                    return

    def dfs(self, depth: int) -> None:
        """One depth-bounded DFS with random successor order and a salted bitstate table."""
        rng = self.rng
        bits = self.cfg.table_bits
        table = bytearray(1 << max(0, bits - 3))
        salt = rng.getrandbits(64) | 1
        shift = 64 - bits

        def mark(s: int) -> bool:
            """Set s's bit; True if it was already set (visited, or a hash collision)."""
            h = (((_fold64(s) ^ salt) * _MIX) & _M64) >> shift
            byte, bit = h >> 3, 1 << (h & 7)
            if table[byte] & bit:
                return True
            table[byte] |= bit
            return False

        budget = self.res.steps + self.cfg.run_steps
        starts = list(self.initial)
        rng.shuffle(starts)
        for s0 in starts:
            if mark(s0):
                continue
            path = [s0]
            self.note(s0)
            out: list[int] = []
            if self.visit(s0, path, out):
                return
            rng.shuffle(out)
            stack = [out]
            while stack:
                succ = stack[-1]
                if not succ or len(path) > depth:
                    stack.pop()
                    path.pop()
                    continue
                t = succ.pop()
                if mark(t):
                    continue
                path.append(t)
                self.note(t)
                out = []
                if self.visit(t, path, out):
                    return
                rng.shuffle(out)
                stack.append(out)
                if (self.res.steps & 1023) == 0 and (self.res.steps >= budget or self.out_of_budget()):
                    return


# -- worker processes ----------------------------------------------------------------------------
def _swarm_worker(conn: Any, spec: dict[str, Any], worker: int, cfg: SwarmConfig, stop_event: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # a stop, not a crash: no traceback
    try:
        c = ModelSpec.from_dict(spec).compile()
        res = _Searcher(c, cfg, worker, stop_event.is_set).search()
        quiet_send(conn, ("ok", res))
    except BaseException as exc:
        quiet_send(conn, ("error", _describe(exc)))
    finally:
        conn.close()


def shorten(c: Compiled, path: list[int], max_len: int = 20000) -> list[int]:
    """Cut loops out of a path and take shortcuts: the result is a path of actual transitions
    from ``path[0]`` to ``path[-1]`` that is no longer than ``path``."""
    # 1. remove cycles: keep the last occurrence of each state
    last = {s: i for i, s in enumerate(path)}
    out: list[int] = []
    i = 0
    while i < len(path):
        out.append(path[i])
        i = last[path[i]] + 1
    if len(out) > max_len:
        return out
    # 2. greedy shortcuts: from each state, jump to the furthest later state that is a successor
    pos = {s: i for i, s in enumerate(out)}
    short = [out[0]]
    i = 0
    while i < len(out) - 1:
        succ = {t for _, t in c.successors(out[i]) if t >= 0}
        j = max((pos[t] for t in succ if t in pos and pos[t] > i), default=i + 1)
        short.append(out[j])
        i = j
    return short


def check_swarm(
    model: ModelSpec | Model | Compiled,
    *,
    workers: int = 2,
    seconds: float | None = 10.0,
    max_steps: int | None = None,
    max_depth: int = 1000,
    seed: int = 0,
    strategies: tuple[str, ...] | list[str] = STRATEGIES,
    table_bits: int = 22,
    stop_on_violation: bool = True,
    progress: bool | None = None,
    start_method: str | None = None,
) -> Result:
    """Hunt for violations with ``workers`` diversified bounded searches; never returns ``pass``.

    Each worker runs until ``seconds`` have passed or it has expanded ``max_steps`` states
    (whichever comes first; give at least one), or until some worker found a violation
    (``stop_on_violation``; otherwise each worker keeps hunting and the shortest trace per
    property is reported). ``max_depth`` bounds walks and DFS runs, ``strategies`` chooses
    among ``"walk"`` and ``"dfs"``, ``table_bits`` sizes the DFS bit table, ``seed`` makes
    step-bounded swarms reproducible. ``workers=1`` runs in this process (no model spec needed
    then); more workers rebuild the model from its :class:`~itsrace.engine.lang.spec.ModelSpec`.

    Result: verdict ``fail`` with counterexamples that replay on the model, or
    ``inconclusive`` with ``stats`` (``distinct_states`` is an estimate, ``depth`` the deepest
    state reached, ``coverage`` per action ``[fired, 0]``) and a ``reason`` that says so.
    """
    if workers < 1:
        raise ModelError(f"workers must be at least 1, got {workers}")
    if seconds is None and max_steps is None:
        raise ModelError("a swarm search needs a budget: give seconds= or max_steps=")
    strategies = tuple(strategies)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise ModelError(f"unknown swarm strategy {bad[0] if bad else '(none)'!r}: use 'walk' and/or 'dfs'")
    if not 3 <= table_bits <= 36:
        raise ModelError(f"table_bits must be between 3 and 36, got {table_bits}")
    if max_depth < 1:
        raise ModelError(f"max_depth must be at least 1, got {max_depth}")
    cfg = SwarmConfig(seed, max_depth, seconds, max_steps, strategies, table_bits, stop_on_violation=stop_on_violation)
    if isinstance(model, Compiled):
        c = model
    elif isinstance(model, ModelSpec):
        c = model.compile()
    else:
        from itsrace.engine.lang.compile import compile_model

        c = compile_model(model)
    if c.canonical:
        raise ModelError("swarm search does not support symmetry reduction (canon)")
    prog = _Progress(progress)
    start = time.monotonic()
    interrupted = False
    results: list[_WorkerResult] = []
    if workers == 1:
        results.append(_Searcher(c, cfg, 0).search())
        interrupted = results[0].interrupted
    else:
        spec = require_spec(model, "a swarm search with workers > 1")
        results, interrupted = _run_processes(spec, workers, cfg, start_method, prog, start)
    prog.done()
    return _merge(c, cfg, results, time.monotonic() - start, interrupted)


def _run_processes(spec: ModelSpec, workers: int, cfg: SwarmConfig, start_method: str | None,
                   prog: _Progress, start: float) -> tuple[list[_WorkerResult], bool]:
    method = start_method or default_start_method()
    ctx: Any = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["itsrace.engine.scale.swarm"])
    stop = StopFlag(ctx)
    conns: list[Connection] = []
    procs: list[Any] = []
    results: list[_WorkerResult] = []
    interrupted = False
    try:
        for i in range(workers):
            here, there = ctx.Pipe(duplex=False)
            p = ctx.Process(target=_swarm_worker, args=(there, spec.to_dict(), i, cfg, stop),
                            name=f"itsrace-swarm-{i}", daemon=True)
            with main_module_guard():
                p.start()
            there.close()
            conns.append(here)
            procs.append(p)
        pending = dict(enumerate(conns))
        error: BaseException | None = None
        while pending:
            try:
                ready = wait(list(pending.values()), timeout=1.0)
            except KeyboardInterrupt:
                interrupted = True
                stop.set()
                continue
            for ready_conn in ready:
                i = next(k for k, v in pending.items() if v is ready_conn)
                conn = pending[i]
                del pending[i]
                try:
                    status, payload = conn.recv()
                except (EOFError, OSError):
                    error = error or WorkerError(f"swarm worker {i} died (exit code {procs[i].exitcode})")
                    stop.set()
                    continue
                if status == "error":
                    try:
                        _raise_remote(i, payload)
                    except (ModelError, WorkerError) as exc:
                        error = error or exc
                    stop.set()
                    continue
                results.append(payload)
                if payload.found and cfg.stop_on_violation:
                    stop.set()  # the others finish their current step and report
            prog.update(sum(r.steps for r in results), len(pending), 0, start)
        if error is not None:
            raise error
    finally:
        stop.set()
        for p in procs:
            p.join(5.0)
            if p.is_alive():
                p.terminate()
                p.join(1.0)
        for conn in conns:
            conn.close()
    return results, interrupted


def _estimate_distinct(tables: list[bytes]) -> tuple[int, bool]:
    """Linear counting over the OR of the workers' bit tables: (estimate, saturated)."""
    if not tables:
        return 0, False
    acc = np.zeros(len(tables[0]), dtype=np.uint8)
    for t in tables:
        acc |= np.frombuffer(t, dtype=np.uint8)
    m = acc.size * 8
    zeros = m - int(np.unpackbits(acc).sum())
    if zeros == 0:
        return int(m * math.log(m)), True
    return round(-m * math.log(zeros / m)), zeros < m * 0.01


def _merge(c: Compiled, cfg: SwarmConfig, results: list[_WorkerResult], elapsed: float, interrupted: bool) -> Result:
    stats = Stats()
    n_actions = len(c.actions)
    fired = [0] * n_actions
    best: dict[str, _Found] = {}
    for r in results:
        fired = [a + b for a, b in zip(fired, r.fired, strict=True)]
        stats.transitions += r.transitions
        stats.depth = max(stats.depth, r.max_depth)
        for f in r.found:
            f.path = shorten(c, f.path)
            cur = best.get(f.prop)
            if cur is None or (len(f.path), f.worker, f.run) < (len(cur.path), cur.worker, cur.run):
                best[f.prop] = f
    steps = sum(r.steps for r in results)
    runs = sum(r.runs for r in results)
    distinct, saturated = _estimate_distinct([r.table for r in results])
    stats.distinct_states = distinct
    stats.seconds = elapsed
    stats.states_per_second = steps / elapsed if elapsed > 0 else 0.0
    stats.peak_rss_bytes = max([r.peak_rss for r in results] + [_peak_rss()])
    stats.coverage = {inst.name: [fired[inst.index], 0] for inst in c.actions}
    stats.never_fired = [inst.name for inst in c.actions if fired[inst.index] == 0]
    order = sorted(best, key=lambda p: (len(best[p].path), p))
    if cfg.stop_on_violation:
        order = order[:1]
    violations = [_violation(c, best[p]) for p in order]
    kinds: dict[str, int] = {}
    for r in results:
        for k, v in r.by_strategy.items():
            kinds[k] = kinds.get(k, 0) + v
    about = "≥" if saturated else "≈"
    reason = (
        f"swarm search ({len(results)} worker{'' if len(results) == 1 else 's'}, {runs:,} runs: "
        + ", ".join(f"{v:,} {k}" for k, v in sorted(kinds.items()))
        + f"; {steps:,} states expanded, {about}{distinct:,} distinct, depth ≤ {stats.depth}) "
        + ("was interrupted and " if interrupted else "")
        + "found no violation; a swarm search never proves a property"
    )
    if violations:
        return Result(FAIL, violations, stats, "", c.model.name)
    return Result(INCONCLUSIVE, [], stats, reason, c.model.name)


def _violation(c: Compiled, f: _Found) -> Violation:
    note = f"check failed: {f.prop}" if f.kind == "assertion" else ""
    trace = path_to_trace(c, f.path, f.prop, f.kind, f.action if f.kind == "assertion" else None, note)
    doc = next((p.doc for p in c.properties if p.name == f.prop), "")
    if f.kind == "deadlock":
        doc = "Some process is blocked and no action is enabled."
    return Violation(f.prop, f.kind, doc, trace)


__all__ = ["STRATEGIES", "SwarmConfig", "check_swarm", "shorten"]
