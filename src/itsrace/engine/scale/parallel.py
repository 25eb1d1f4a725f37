"""Parallel exhaustive search: N worker processes, states partitioned by hash, level-synchronous BFS.

One process runs the generated successor code at a few hundred thousand states per second;
``check_parallel(spec, workers=N)`` runs N of them. The design, in the order a state meets it:

**Owners.** Every state has an *owner*, ``owner(s) = mix(s & key) % N`` (a multiplicative hash,
:func:`owner_of`). Worker *w* keeps the visited set of the states it owns (a dict from state to
parent, exactly as the single-process search) and expands only those. ``key`` selects the bits
that decide ownership: all of them (``partition="hash"``), or by default (``"auto"``) only
slots that transitions rarely change, chosen from a sample by :func:`choose_partition`, so that
most successors stay with their parent's owner and each worker's states stay close together in
its memory (whole-state hashing makes the generated code 20-30% slower per transition).

**Rounds.** Expanding a worker's frontier produces successors; those it owns and has not seen
go straight into its next frontier, the others are sent to their owners, who de-duplicate them
against their own visited sets. Each worker also remembers the foreign successors it has sent
(``cache=True``, the default), so it sends each one at most once: the generated ``expand``
function de-duplicates against one dict holding both, and outside it there is no per-state
Python code but a list comprehension on the receiving side. A *round* is: every worker expands
for up to ``round_seconds`` (or until its frontier is done), the coordinator routes the
batches, every owner merges what it received. Rounds bound the latency of limits, Ctrl-C and
checkpoints, and the size of the batches in flight.

**Levels.** When every worker's frontier is exhausted the level is complete and all of them
move to the next one together (a barrier). So the search is a breadth-first search and the
first violation found is at the smallest depth: counterexamples stay shortest. Distinct states
and transitions are exactly those of the single-process search (each state is expanded once, by
its owner); the counts depend neither on N nor on the partition.

**Batches.** States of up to 64 bits travel as ``uint64`` byte strings (NumPy computes owners
and splits, in C); wider states as lists of ints. With the cache on, a state's parent stays in
the sender's cache and the owner records the sender's number instead; without it, parents
travel with the states. Either way a counterexample is rebuilt exactly by asking each state's
owner (and, for a tag, the sender) for its parent: one round trip per step, no re-search.

**Processes.** Workers are started with the ``forkserver`` (or ``spawn``) method and rebuild
the model from its :class:`~itsrace.engine.lang.spec.ModelSpec`: generated code cannot be pickled.
Each checks that it generated the same source as the coordinator. Workers ignore SIGINT; the
coordinator turns the first Ctrl-C (or SIGTERM, when checkpointing) into a stop at the end of
the current round, and a second Ctrl-C into an immediate stop.

The same coordinator drives Ray actors (:mod:`itsrace.engine.scale.ray_backend`); only the transport
differs (:class:`Cluster`).

Memory: with ``cache=True`` each worker's dict also holds the foreign states it generated: up
to N times the single-process memory in total (less with an ``auto`` partition, whose
successors mostly stay home). ``cache=False`` forgets foreign states at the end of every round
(memory divided across workers, at the price of more traffic and speed) -- use it when the
point of distributing is memory.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from itsrace.engine.errors import ModelError
from itsrace.engine.explore import checkpoint as _ckpt
from itsrace.engine.explore.search import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Limits,
    Result,
    Stats,
    Violation,
    _peak_rss,
    _Progress,
    _rss_now,
)
from itsrace.engine.explore.trace import path_to_trace
from itsrace.engine.lang.compile import Compiled, compile_model
from itsrace.engine.lang.model import Model
from itsrace.engine.lang.spec import ModelSpec, require_spec, source_digest
from itsrace.engine.scale.partition import (
    Batch,
    Cluster,
    Partition,
    PartitionChoice,
    StopFlag,
    WorkerError,
    _split_array,
    choose_partition,
    owner_of,
    owners_array,
    quiet_send,
    split_by_owner,
)
from itsrace.engine.scale.ray_backend import RayCluster

#: Diagnostics of the last :func:`check_parallel` in this process: rounds, and per worker the
#: CPU seconds (in all, and per phase: expand, route, receive), owned states, dict sizes
#: (owned + cached) and peak RSS. For benchmarks.
LAST_RUN: dict[str, Any] = {}


def _worker_main(conn: Connection, spec: dict[str, Any], index: int, n: int, options: dict[str, Any],
                 stop_event: Any) -> None:
    """Body of a worker process: build the partition, then serve method calls until 'close'."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # a stop, not a crash: no traceback
    try:
        part = Partition(spec, index, n, options)
        part.should_stop = stop_event.is_set
    except BaseException as exc:
        quiet_send(conn, ("error", _describe(exc)))
        return
    if not quiet_send(conn, ("ok", None)):
        return
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):
            return  # the coordinator went away
        if method == "close":
            quiet_send(conn, ("ok", None))
            return
        try:
            result = getattr(part, method)(*args)
        except BaseException as exc:
            reply = ("error", _describe(exc))
        else:
            reply = ("ok", result)
        if not quiet_send(conn, reply):
            return  # the coordinator went away while we worked


def _describe(exc: BaseException) -> tuple[str, str, str | None, str]:
    return (type(exc).__name__, str(exc), getattr(exc, "where", None), traceback.format_exc())


def _raise_remote(i: int, info: tuple[str, str, str | None, str]) -> None:
    kind, message, where, tb = info
    if kind == "ModelError":
        err = ModelError(message)  # the message already names the model line
        err.where = where
        raise err
    raise WorkerError(f"worker {i} failed: {kind}: {message}\n{tb}")


@contextmanager
def main_module_guard() -> Iterator[None]:
    """Start processes without re-running an unloadable ``__main__``.

    ``spawn``/``forkserver`` children re-run the parent's main script so that functions
    defined there can be unpickled. Workers never need it (their code lives in itsrace and the
    model comes from its spec), and for ``python - <<EOF`` or ``python -c`` the "script" does
    not exist as a file, which would kill every worker. So hide such a ``__main__.__file__``
    while children start."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = main is not None and path is not None and getattr(main, "__spec__", None) is None and not os.path.exists(path)
    if hide:
        del main.__file__  # type: ignore[union-attr]
    try:
        yield
    finally:
        if hide:
            main.__file__ = path  # type: ignore[union-attr]


def default_start_method() -> str:
    """``forkserver`` where available (fast starts, no inherited state), else ``spawn``."""
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


class ProcessCluster:
    """N worker processes on this machine, talking to the coordinator through pipes."""

    def __init__(self, spec: ModelSpec, n: int, options: dict[str, Any], start_method: str | None = None) -> None:
        method = start_method or default_start_method()
        ctx: Any = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["itsrace.engine.scale.parallel"])
        self.n = n
        self.stop_event = StopFlag(ctx)
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        try:
            for i in range(n):
                here, there = ctx.Pipe()
                p = ctx.Process(target=_worker_main, args=(there, spec.to_dict(), i, n, options, self.stop_event),
                                name=f"itsrace-worker-{i}", daemon=True)
                with main_module_guard():
                    p.start()
                there.close()
                self.conns.append(here)
                self.procs.append(p)
            for i in range(n):
                self._recv(i)
        except BaseException:
            self.close()
            raise

    def _recv(self, i: int) -> Any:
        try:
            status, payload = self.conns[i].recv()
        except (EOFError, OSError):
            p = self.procs[i]
            p.join(1.0)
            code = p.exitcode
            hint = " (killed: out of memory?)" if code == -signal.SIGKILL else ""
            raise WorkerError(f"worker {i} died (exit code {code}){hint}") from None
        if status == "error":
            _raise_remote(i, payload)
        return payload

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        for conn, a in zip(self.conns, args, strict=True):
            conn.send((method, a))
        results: list[Any] = []
        error: BaseException | None = None
        for i in range(self.n):  # always drain every answer, so the pipes stay in step
            try:
                results.append(self._recv(i))
            except (ModelError, WorkerError) as exc:
                error = error or exc
                results.append(None)
        if error is not None:
            raise error
        return results

    def call_one(self, i: int, method: str, *args: Any) -> Any:
        self.conns[i].send((method, args))
        return self._recv(i)

    def round(self, seconds: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        n = self.n
        res = self.call("expand", [(seconds,)] * n)
        inbox: list[list[Batch]] = [[] for _ in range(n)]
        for w, (batches, _) in enumerate(res):
            for d, b in enumerate(batches):
                if b is not None and d != w:
                    inbox[d].append(b)
        reports = [r for _, r in res]
        if any(r["stopped"] for r in reports):
            return reports, []
        recv = self.call("receive", [tuple(box) for box in inbox])
        return reports, recv

    def request_stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", ()))
                if conn.poll(5.0):
                    conn.recv()
            except (OSError, EOFError, BrokenPipeError):
                pass
            finally:
                conn.close()
        for p in self.procs:
            p.join(5.0)
            if p.is_alive():
                p.terminate()
                p.join(1.0)
        self.conns, self.procs = [], []


# -- the coordinator -----------------------------------------------------------------------------
@dataclass
class _Found:
    kind: str
    state: int
    action: int
    depth: int


@dataclass
class _Coordinator:
    c: Compiled
    cluster: Cluster
    limits: Limits
    stop_on_violation: bool
    progress: _Progress
    round_seconds: float
    writer: _ckpt.Writer | None
    depth: int = 0
    transitions: int = 0
    base_fired: list[int] = field(default_factory=list)
    base_gained: list[int] = field(default_factory=list)
    prior_seconds: float = 0.0
    start_time: float = 0.0
    rounds: int = 0
    found: dict[str, _Found] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def targets(self) -> int:
        return len(self.c.properties) + (1 if self.c.model.check_deadlock else 0)

    def record(self, reports: list[dict[str, Any]]) -> None:
        """Merge the violations found this round (earliest level wins; then smallest state)."""
        new: dict[str, _Found] = {}
        for r in reports:
            for prop, kind, s, k in r["found"]:
                f = _Found(kind, s, k, self.depth)
                if prop not in self.found and (prop not in new or s < new[prop].state):
                    new[prop] = f
        if self.stop_on_violation and new:
            first = min(new, key=lambda p: (p, new[p].state))  # deterministic choice among equals
            new = {first: new[first]}
        for prop in sorted(new):
            self.found[prop] = new[prop]
            self.order.append(prop)

    def run(self, stop: _ckpt.StopSignals | None, start: float) -> tuple[str, int, int]:
        """The level loop. Returns (reason, distinct states, queue)."""
        cluster, limits = self.cluster, self.limits
        own = sum(r["own"] for r in cluster.call("totals", [()] * cluster.n))
        remaining = sum(r["remaining"] for r in cluster.call("status", [()] * cluster.n))
        queued = 0
        if remaining == 0:  # e.g. a checkpoint taken after the last chunk of a level
            remaining = sum(cluster.call("advance", [()] * cluster.n))
            if remaining:
                self.depth += 1
        reason = ""
        while remaining:
            if limits.max_depth is not None and self.depth >= limits.max_depth:
                reason = f"depth limit {limits.max_depth} reached"
                break
            reports, recv = cluster.round(self.round_seconds)
            self.rounds += 1
            self.transitions += sum(r["transitions"] for r in reports)
            self.record(reports)
            if any(r["stopped"] for r in reports):
                break  # a violation ended the search (or every property is violated)
            if not self.stop_on_violation and len(self.found) >= self.targets():
                break
            own = sum(r["own"] for r in recv)
            remaining = sum(r["remaining"] for r in recv)
            queued = remaining + sum(r["next"] for r in recv)
            rss = sum(r["rss"] for r in recv) + _rss_now()
            reason = self.over_limits(own, rss, stop, start)
            if reason:
                break
            if self.writer is not None and self.writer.due():
                self.save()
            self.progress.update(own, queued, self.depth, start)
            if remaining == 0:
                remaining = sum(cluster.call("advance", [()] * cluster.n))
                if remaining:
                    self.depth += 1
        return reason, own, queued

    def over_limits(self, distinct: int, rss: int, stop: _ckpt.StopSignals | None, start: float) -> str:
        limits = self.limits
        if stop is not None and stop.requested:
            return stop.requested
        if limits.max_states is not None and distinct >= limits.max_states:
            return f"state limit {limits.max_states:,} reached"
        if limits.max_seconds is not None and time.monotonic() - start >= limits.max_seconds:
            return f"time limit {limits.max_seconds:g} s reached"
        if limits.max_memory is not None and rss >= limits.max_memory:
            return f"memory limit {limits.max_memory / 2**20:,.0f} MiB reached (all workers)"
        return ""

    def save(self) -> None:
        """Gather every partition's share and write one checkpoint (partition-independent)."""
        assert self.writer is not None
        parts = self.cluster.call("dump", [()] * self.cluster.n)
        for part in parts:  # parents that stayed with the workers that sent the states
            part["parents"] = np.array(part["parents"])  # writable (Ray hands out read-only views)
            for sender, (pos, states) in part["tagged"].items():
                real = self.cluster.call_one(sender, "cached_parents", states)
                part["parents"][np.asarray(pos, dtype=np.int64)] = _ckpt.ints_to_array(real, self.c.layout.bits)
        totals = self.cluster.call("totals", [()] * self.cluster.n)
        fired, gained = self.coverage(totals)
        cat = _concat
        st = _ckpt.SearchState(
            "bfs", False, self.depth,
            frontier=cat([p["frontier"] for p in parts]), next=cat([p["next"] for p in parts]),
            visited=cat([p["visited"] for p in parts]), parents=cat([p["parents"] for p in parts]),
            transitions=self.transitions, fired=fired, gained=gained,
            found=[(p, f.kind, f.state, f.action) for p, f in ((p, self.found[p]) for p in self.order)],
            seconds=self.prior_seconds + time.monotonic() - self.start_time,
        )
        self.writer.save(st)

    def coverage(self, totals: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
        fired = list(self.base_fired)
        gained = list(self.base_gained)
        for t in totals:
            fired = [a + b for a, b in zip(fired, t["fired"], strict=True)]
            gained = [a + b for a, b in zip(gained, t["gained"], strict=True)]
        return fired, gained


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    nonempty = [a for a in arrays if a.size]
    if not nonempty:
        return arrays[0]
    return np.concatenate(nonempty)


def check_parallel(
    model: ModelSpec | Model | Compiled,
    *,
    workers: int = 2,
    backend: str = "processes",
    address: str | None = None,
    limits: Limits | None = None,
    stop_on_violation: bool = True,
    progress: bool | None = None,
    chunk: int = 4096,
    cache: bool = True,
    round_seconds: float = 1.0,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: float | None = 60.0,
    resume: str | os.PathLike[str] | None = None,
    start_method: str | None = None,
    ray_options: dict[str, Any] | None = None,
    partition: str = "auto",
) -> Result:
    """Exhaustive breadth-first search with ``workers`` partitions; same results as ``check``.

    ``model`` is a :class:`~itsrace.engine.lang.spec.ModelSpec`, or a model built by
    ``ModelSpec.build()`` (workers rebuild it from the spec). ``backend`` is ``"processes"``
    (this machine) or ``"ray"`` (Ray actors; ``address`` as for ``ray.init``: ``None`` starts
    a local instance, ``"auto"`` or ``"ray://head:10001"`` joins a cluster; ``ray_options``
    go to ``ray.init``). Verdicts, distinct states and transitions equal the single-process
    exact BFS; counterexamples are shortest (which one of several shortest is reported may
    differ). Per-action "new states" coverage counts states first generated by a worker, so it
    can exceed the single-process figure; "fired" counts are exact.

    ``checkpoint``/``checkpoint_every``/``resume`` work as in :func:`itsrace.engine.explore.search.check`
    and the files are interchangeable with its exact-BFS checkpoints (any number of workers can
    resume any of them). ``round_seconds`` bounds how long workers run between two exchanges
    (and so the reaction time to limits, Ctrl-C and SIGTERM); ``cache=False`` trades speed
    for memory (see the module documentation).
    """
    if workers < 1:
        raise ModelError(f"workers must be at least 1, got {workers}")
    if backend not in ("processes", "ray"):
        raise ModelError(f"unknown backend {backend!r}: use 'processes' or 'ray'")
    if partition not in ("auto", "hash"):
        raise ModelError(f"unknown partition {partition!r}: use 'auto' or 'hash'")
    spec = require_spec(model, "a parallel search")
    c = model if isinstance(model, Compiled) else spec.compile() if isinstance(model, ModelSpec) else None
    if c is None:
        assert isinstance(model, Model)
        c = compile_model(model)
    if c.canonical:
        raise ModelError("parallel search does not support symmetry reduction (canon) yet")
    limits = limits or Limits()
    digest = source_digest(c)
    opts = _ckpt.options_key("bfs", False, stop_on_violation, False)
    header = _ckpt.Header(c.model.name, digest, c.layout.bits, spec.to_dict(), opts, writer=backend)
    writer = _ckpt.Writer(checkpoint, header, checkpoint_every) if checkpoint is not None else None
    try:
        choice = choose_partition(c, workers) if partition == "auto" else PartitionChoice(None, [], 0.0, 1.0, 0)
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:  # the sample ran the model's code: a model bug shows up here first
        raise c.model_error(exc) from exc
    mask = choice.mask
    options = {"stop_on_violation": stop_on_violation, "chunk": chunk, "cache": cache, "mask": mask}
    start = time.monotonic()
    rss0 = _rss_now()

    saved: _ckpt.SearchState | None = None
    if resume is not None:
        saved_header, saved = _ckpt.load(resume, raw=True)
        _ckpt.verify(resume, saved_header, model=c.model.name, digest=digest, options=opts)
        if saved.strategy != "bfs" or saved.fingerprints or saved.parents is None:
            raise ModelError(f"checkpoint '{os.fspath(resume)}' is not an exact breadth-first search")
        if len(saved.fired) != len(c.actions):
            raise ModelError(f"checkpoint '{os.fspath(resume)}' does not match this model's actions")

    cluster: Cluster
    if backend == "ray":
        cluster = RayCluster(spec, workers, options, address=address, ray_options=ray_options)
    else:
        cluster = ProcessCluster(spec, workers, options, start_method)
    prog = _Progress(progress)
    try:
        hello = cluster.call("hello", [()] * workers)
        for i, h in enumerate(hello):
            if h["digest"] != digest:
                raise ModelError(
                    f"worker {i} built a different model from {spec.describe()} (is the builder deterministic, "
                    "and do all workers run the same itsrace and model code?)"
                )
        co = _Coordinator(c, cluster, limits, stop_on_violation, prog, round_seconds, writer)
        co.start_time = start
        n_actions = len(c.actions)
        co.base_fired, co.base_gained = [0] * n_actions, [0] * n_actions
        if saved is None:
            initial = list(dict.fromkeys(c.initial))
            parts = split_by_owner(initial, c.layout.bits, workers, mask)
            cluster.call("load", [(p, [None] * len(p), p, []) for p in parts])
        else:
            co.depth, co.transitions, co.prior_seconds = saved.depth, saved.transitions, saved.seconds
            co.base_fired, co.base_gained = list(saved.fired), list(saved.gained)
            for prop, kind, s, k in saved.found:
                co.found[prop] = _Found(kind, s, k, saved.depth)
                co.order.append(prop)
            assert isinstance(saved.visited, np.ndarray) and isinstance(saved.parents, np.ndarray)
            assert isinstance(saved.frontier, np.ndarray) and isinstance(saved.next, np.ndarray)
            vis = _split_array(saved.visited, workers, mask, saved.parents)
            front = _split_array(saved.frontier, workers, mask)
            nxt = _split_array(saved.next, workers, mask)
            cluster.call("load", [(vis[i][0], vis[i][1], front[i][0], nxt[i][0], saved.found) for i in range(workers)])
            del saved, vis, front, nxt

        sigterm = writer is not None
        with _ckpt.StopSignals(sigint=True, sigterm=sigterm) as stop:
            stop.on_request.append(cluster.request_stop)
            try:
                reason, distinct, queued = co.run(stop, start)
            except KeyboardInterrupt:  # second Ctrl-C: stop now, no checkpoint
                prog.done()
                raise
        prog.done()
        if writer is not None and reason:
            co.save()
            reason += f" (checkpoint saved to {writer.path})"
        totals = cluster.call("totals", [()] * workers)
        LAST_RUN.clear()
        LAST_RUN.update(workers=workers, backend=backend, rounds=co.rounds, depth=co.depth, partition=choice,
                        worker_cpu=[t["cpu"] for t in totals], worker_phases=[t["phases"] for t in totals],
                        worker_seen=[t["seen"] for t in totals],
                        worker_states=[t["own"] for t in totals], worker_peak_rss=[t["peak"] for t in totals])
        fired, gained = co.coverage(totals)
        distinct = sum(t["own"] for t in totals)
        violations = [_violation(c, cluster, mask, prop, co.found[prop]) for prop in co.order]
    finally:
        cluster.close()

    elapsed = time.monotonic() - start
    stats = Stats()
    stats.distinct_states = distinct
    stats.transitions = co.transitions
    stats.depth = co.depth
    stats.seconds = co.prior_seconds + elapsed
    stats.states_per_second = distinct / stats.seconds if stats.seconds > 0 else 0.0
    stats.queue = queued if reason else 0
    stats.peak_rss_bytes = sum(t["peak"] for t in totals) + _peak_rss()
    grown = sum(max(0, t["peak"] - t["rss0"]) for t in totals) + max(0, _peak_rss() - rss0)
    stats.bytes_per_state = grown / max(1, distinct)
    stats.coverage = {inst.name: [fired[inst.index], gained[inst.index]] for inst in c.actions}
    stats.never_fired = [inst.name for inst in c.actions if fired[inst.index] == 0]
    verdict = FAIL if violations else INCONCLUSIVE if reason else PASS
    return Result(verdict, violations, stats, reason, c.model.name)


def _violation(c: Compiled, cluster: Cluster, mask: int | None, prop: str, f: _Found) -> Violation:
    """Rebuild the shortest path to a violating state by asking each state's owner for its parent."""
    path = [f.state]
    while True:
        s = path[-1]
        p = cluster.call_one(owner_of(s, cluster.n, mask), "parents_of", [s])[0]
        if p is not None and p < 0:  # the parent stayed with the worker that sent s
            p = cluster.call_one(-p - 1, "cached_parents", [s])[0]
        if p is None:
            break
        path.append(p)
    path.reverse()
    kind = f.kind
    note = f"check failed: {prop}" if kind == "assertion" else ""
    trace = path_to_trace(c, path, prop, kind, f.action if kind == "assertion" else None, note)
    doc = next((d.doc for d in c.properties if d.name == prop), "")
    if kind == "deadlock":
        doc = "Some process is blocked and no action is enabled."
    return Violation(prop, kind, doc, trace)


__all__ = [
    "Cluster", "Partition", "PartitionChoice", "ProcessCluster", "WorkerError", "check_parallel",
    "choose_partition", "default_start_method",
    "owner_of", "owners_array", "split_by_owner",
]
