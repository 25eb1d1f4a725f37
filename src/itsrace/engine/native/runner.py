"""Run a model's search with the compiled (C) backend and return the Python backend's objects.

``check_native`` generates C from the model's IR, builds it (cached), runs the whole
breadth-first search in C (in a helper thread, so Ctrl-C and progress still work), and turns
the outcome into the same :class:`Result`/:class:`Stats`/:class:`Violation` the Python search
returns. Traces are built by the Python model from the state path the C search recorded, so they
replay on the Python backend by construction.

``check`` picks the backend: ``engine="c"`` or ``"auto"`` use C when the model and options
allow it and a compiler works, and otherwise run the Python search after a one-line notice
(``auto`` falls back silently for options C does not implement).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.explore import checkpoint as _ckpt
from itsrace.engine.explore.search import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Limits,
    Progress,
    Result,
    Stats,
    Violation,
    _peak_rss,
    _Progress,
    _rss_now,
    _spec_dict,
    _violation,
)
from itsrace.engine.explore.search import check as check_python
from itsrace.engine.explore.visited import fingerprint_collision_probability
from itsrace.engine.lang.compile import Compiled, compile_model
from itsrace.engine.lang.model import Model
from itsrace.engine.lang.spec import source_digest
from itsrace.engine.native import ckpt as _native_ckpt
from itsrace.engine.native.build import (
    CompilerUnavailable,
    build,
    find_compiler,
    library_path,
    load,
)
from itsrace.engine.native.codegen import CModel, generate
from itsrace.engine.native.ctrans import Shape, Signatures, Unsupported

ENGINES = ("auto", "c", "python")
ST_DONE, ST_VIOLATION, ST_STATES, ST_TIME, ST_MEMORY, ST_DEPTH, ST_INTERRUPTED, ST_PAUSED, ST_ERROR = (
    0, 1, 2, 3, 4, 5, 6, 7, -1)
KINDS = {0: "invariant", 1: "assertion", 2: "final", 3: "deadlock"}
_HELPER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int64), ctypes.c_int,
                           ctypes.POINTER(ctypes.c_int64), ctypes.c_int)
_run_lock = threading.Lock()  # one search at a time per loaded library (its state is global)


class NativeFallback(Exception):
    """The C backend cannot run this search; the message says why in one line."""


@dataclass
class NativeModel:
    """A model's compiled C search, loaded."""

    cmodel: CModel
    lib: Any
    helper: Any  # the ctypes callback (kept alive with the library)


def _rebuild(shape: Shape, it: Any) -> Any:
    if shape is None:
        return next(it)
    if len(shape) == 2 and isinstance(shape[0], str):  # ("c", constant): a shape never starts with a str
        return shape[1]
    return tuple(_rebuild(s, it) for s in shape)


def _helper_callback(sigs: Signatures) -> Any:
    def call(sig: int, args: Any, nin: int, out: Any, nout: int) -> int:
        try:
            s = sigs.items[sig]
            it = iter(args[:nin])
            result = s.fn(*[_rebuild(sh, it) for sh in s.shapes])
            values = (result,) if nout == 1 else tuple(result)
            if len(values) != nout:
                return 1
            for i, v in enumerate(values):
                if type(v) is not int and type(v) is not bool or not -(2**63) <= v < 2**63:
                    return 1
                out[i] = int(v)
            return 0
        except Exception:  # the Python backend re-runs the search and reports it at the model line
            return 1

    return _HELPER(call)


def native_model(c: Compiled) -> NativeModel:
    """Generate, build (cached) and load ``c``'s C search; cached on the compiled model."""
    cached = c.__dict__.get("_native")
    if cached is not None:
        return cached
    try:
        cmodel = generate(c)
    except Unsupported as exc:
        raise NativeFallback(f"model '{c.model.name}' uses {exc}, which the C backend does not translate") from None
    except ModelError:
        raise
    try:
        lib = load(build(c.model.name, cmodel.source))
    except CompilerUnavailable as exc:
        raise NativeFallback(str(exc)) from None
    if lib.itsrace_words() != cmodel.words:
        raise NativeFallback("the cached library does not match the model (clear the cache directory)")
    helper = _helper_callback(cmodel.sigs)
    lib.itsrace_set_helper(helper)
    lib.itsrace_run.restype = ctypes.c_int
    lib.itsrace_run.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                ctypes.c_double]
    nm = NativeModel(cmodel, lib, helper)
    c.__dict__["_native"] = nm
    return nm


def _words(states: list[int], n: int) -> Any:
    arr = (ctypes.c_uint64 * max(1, len(states) * n))()
    mask = (1 << 64) - 1
    for i, s in enumerate(states):
        for j in range(n):
            arr[i * n + j] = (s >> (64 * j)) & mask
    return arr


def _int(words: Any, offset: int, n: int) -> int:
    v = 0
    for j in range(n):
        v |= int(words[offset + j]) << (64 * j)
    return v


@dataclass
class _Found:
    """The first violation of each property, as search._violation expects it."""

    found: dict[str, tuple[str, int, int | None]]


def _reason(status: int, limits: Limits) -> str:
    if status == ST_STATES:
        return f"state limit {limits.max_states:,} reached"
    if status == ST_TIME:
        return f"time limit {limits.max_seconds:g} s reached"
    if status == ST_MEMORY:
        assert limits.max_memory is not None
        return f"memory limit {limits.max_memory / 2**20:,.0f} MiB reached"
    if status == ST_DEPTH:
        return f"depth limit {limits.max_depth} reached"
    if status == ST_INTERRUPTED:
        return "interrupted"
    return ""


def _params(limits: Limits, workers: int, fingerprints: bool, stop_on_violation: bool, chunk: int) -> Any:
    def neg(v: float | int | None) -> int:
        return -1 if v is None else int(v)

    small = os.environ.get("ITSRACE_NATIVE_SMALL_TABLES", "") not in ("", "0")
    return (ctypes.c_int64 * 8)(neg(limits.max_states), neg(limits.max_depth), neg(limits.max_memory), workers,
                                int(fingerprints), int(stop_on_violation), chunk * (4 if fingerprints else 1),
                                int(small))


def _seconds(limits: Limits) -> float:
    return -1.0 if limits.max_seconds is None else float(limits.max_seconds)


def _drive(lib: Any, call: Callable[[], int], prog: _Progress, stop: Any = None) -> int:
    """Run ``call`` (a C search) in a helper thread: the main thread shows progress and turns
    Ctrl-C (or a stop requested by the checkpoint signal handlers) into a stop request."""
    status: list[int] = []
    th = threading.Thread(target=lambda: status.append(call()), name="itsrace-native", daemon=True)
    start = time.monotonic()
    th.start()
    info = (ctypes.c_int64 * 2)()
    try:
        while th.is_alive():
            th.join(0.2)
            if stop is not None and stop.requested:
                lib.itsrace_request_stop()
            if prog.enabled:
                lib.itsrace_progress(info)
                prog.update(int(info[0]), 0, int(info[1]), start)
    except KeyboardInterrupt:
        lib.itsrace_request_stop()
        th.join()
    return status[0] if status else ST_ERROR


def _run(nm: NativeModel, c: Compiled, *, workers: int, fingerprints: bool, limits: Limits,
         stop_on_violation: bool, prog: _Progress, chunk: int, pause: float = -1.0, stop: Any = None) -> int:
    lib, nw = nm.lib, nm.cmodel.words
    initial = list(dict.fromkeys(c.initial))
    init = _words(initial, nw)
    lib.itsrace_set_pause(ctypes.c_double(pause))
    params = _params(limits, workers, fingerprints, stop_on_violation, chunk)
    seconds = _seconds(limits)
    return _drive(lib, lambda: lib.itsrace_run(init, len(initial), params, seconds), prog, stop)


def check_native(
    model: Model | Compiled,
    *,
    fingerprints: bool = False,
    limits: Limits | None = None,
    stop_on_violation: bool = True,
    progress: Progress = None,
    workers: int = 1,
    chunk: int = 4096,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: float | None = 60.0,
    resume: str | os.PathLike[str] | None = None,
) -> Result:
    """Breadth-first search of ``model`` in C; same results as :func:`itsrace.engine.check_model`.

    ``checkpoint``/``resume`` work as for ``check_model`` (same file format, either backend can
    resume the other's checkpoint) for exact single-worker searches.

    Raises :class:`NativeFallback` (one line) when the C backend cannot run it: no working
    compiler, a construct the translator does not handle, or a run-time error in the model (the
    Python backend then reports that error at its model line)."""
    c = model if isinstance(model, Compiled) else compile_model(model)
    limits = limits or Limits()
    if not 1 <= workers <= 64:
        raise ModelError("the C backend runs 1 to 64 workers")
    if (checkpoint is not None or resume is not None) and (workers > 1 or fingerprints):
        raise ModelError("the C backend checkpoints exact single-worker searches; "
                         "drop --workers/--fingerprints or use --engine python")
    nm = native_model(c)
    lib, nw = nm.lib, nm.cmodel.words
    prog = _Progress(progress)
    rss0 = _rss_now()
    opts = _ckpt.options_key("bfs", fingerprints, stop_on_violation, False)
    header = _ckpt.Header(c.model.name, source_digest(c), c.layout.bits, _spec_dict(c), opts)
    writer = _ckpt.Writer(checkpoint, header, checkpoint_every) if checkpoint is not None else None
    pause = writer.interval if writer is not None and writer.interval != float("inf") else -1.0
    prior = 0.0
    with _run_lock, _ckpt.maybe_stop_signals(writer is not None) as stop:
        t0 = time.monotonic()
        try:
            if resume is not None:
                saved_header, saved = _ckpt.load(resume)
                _ckpt.verify(resume, saved_header, model=c.model.name, digest=header.digest, options=opts)
                prior = saved.seconds
                _native_ckpt.load(lib, c, nw, saved, _params(limits, 1, False, stop_on_violation, chunk),
                                  _seconds(limits))
                status = _drive(lib, lambda: lib.itsrace_continue(ctypes.c_double(pause)), prog, stop)
            else:
                status = _run(nm, c, workers=workers, fingerprints=fingerprints, limits=limits,
                              stop_on_violation=stop_on_violation, prog=prog, chunk=chunk, pause=pause, stop=stop)
            while status == ST_PAUSED and writer is not None:
                writer.save(_snapshot(lib, c, nw, prior + time.monotonic() - t0))
                status = _drive(lib, functools.partial(lib.itsrace_continue, ctypes.c_double(writer.interval)),
                                prog, stop)
        finally:
            prog.done()
        elapsed = time.monotonic() - t0
        try:
            out = (ctypes.c_int64 * 6)()
            lib.itsrace_results(out)
            if status == ST_ERROR:
                raise NativeFallback(f"the C search stopped on a run-time error in model '{c.model.name}' "
                                     f"(code {int(out[4])}); the Python backend reports it")
            stats = Stats(distinct_states=int(out[0]), transitions=int(out[1]), depth=int(out[2]),
                          queue=int(out[3]), engine="c")
            fired = (ctypes.c_int64 * len(c.actions))()
            gained = (ctypes.c_int64 * len(c.actions))()
            lib.itsrace_coverage(fired, gained)
            found = _collect_found(lib, c, int(out[5]), nw)
            paths = None if fingerprints else {p: _path(lib, i, nw) for i, p in enumerate(found)}
            reason = _reason(status, limits)
            if status == ST_INTERRUPTED and stop is not None and stop.requested:
                reason = stop.requested
            if writer is not None and reason:
                writer.save(_snapshot(lib, c, nw, prior + elapsed))
                reason += f" (checkpoint saved to {writer.path})"
        finally:
            lib.itsrace_free()
    stats.seconds = prior + elapsed
    stats.states_per_second = stats.distinct_states / stats.seconds if stats.seconds > 0 else 0.0
    stats.peak_rss_bytes = _peak_rss()
    stats.bytes_per_state = max(0, _peak_rss() - rss0) / max(1, stats.distinct_states)
    stats.coverage = {inst.name: [int(fired[inst.index]), int(gained[inst.index])] for inst in c.actions}
    stats.never_fired = [inst.name for inst in c.actions if fired[inst.index] == 0]
    if fingerprints:
        stats.collision_probability = fingerprint_collision_probability(c.layout.bits, stats.distinct_states)
        paths, found = _paths_by_exact_search(c, found)
    assert paths is not None
    violations = [_to_violation(c, prop, found, paths[prop]) for prop in found]
    verdict = FAIL if violations else (INCONCLUSIVE if reason else PASS)
    return Result(verdict, violations, stats, reason, c.model.name)


def _snapshot(lib: Any, c: Compiled, nw: int, seconds: float) -> _ckpt.SearchState:
    out = (ctypes.c_int64 * 6)()
    lib.itsrace_results(out)
    found = _collect_found(lib, c, int(out[5]), nw)
    return _native_ckpt.snapshot(lib, c, nw, found, seconds)


def _collect_found(lib: Any, c: Compiled, n: int, nw: int) -> dict[str, tuple[str, int, int | None, int]]:
    """property -> (kind, state, action or None, depth), in the order they were found."""
    found: dict[str, tuple[str, int, int | None, int]] = {}
    info = (ctypes.c_int64 * 4)()
    state = (ctypes.c_uint64 * nw)()
    for i in range(n):
        lib.itsrace_found(i, info, state)
        p, kind, k, depth = (int(x) for x in info)
        name = "deadlock" if p == len(c.properties) else c.properties[p].name
        found[name] = (KINDS[kind], _int(state, 0, nw), None if k < 0 else k, depth)
    return found


def _path(lib: Any, i: int, nw: int) -> list[int]:
    n = lib.itsrace_path(i, None)
    buf = (ctypes.c_uint64 * max(1, n * nw))()
    lib.itsrace_path(i, buf)
    return [_int(buf, j * nw, nw) for j in range(n)]


Found = dict[str, tuple[str, int, int | None, int]]


def _paths_by_exact_search(c: Compiled, found: Found) -> tuple[dict[str, list[int]], Found]:
    """Fingerprint mode keeps no parents: an exact one-worker C search to the deepest
    violation's level gives the paths, and the violations (state, action) they end in. One
    worker meets the same states in the same order; threads may have met another state of the
    same level violating the same property, so the re-search's are the ones reported."""
    if not found:
        return {}, found
    depth = max(d for _, _, _, d in found.values())
    nm = native_model(c)
    lib, nw = nm.lib, nm.cmodel.words
    try:
        status = _run(nm, c, workers=1, fingerprints=False, limits=Limits(max_depth=depth + 1),
                      stop_on_violation=False, prog=_Progress(False), chunk=4096)
        if status == ST_ERROR:
            raise NativeFallback("the exact re-search for traces stopped on an error")
        out = (ctypes.c_int64 * 6)()
        lib.itsrace_results(out)
        again = _collect_found(lib, c, int(out[5]), nw)
        order = list(again)
        paths = {p: _path(lib, order.index(p), nw) for p in found if p in again}
    finally:
        lib.itsrace_free()
    missing = [p for p in found if p not in paths]
    if missing:
        raise NativeFallback(f"the exact re-search did not meet {missing[0]}")
    return paths, {p: again[p] for p in found}


def _to_violation(c: Compiled, prop: str, found: dict[str, tuple[str, int, int | None, int]],
                  path: list[int]) -> Violation:
    kind, _, k, _ = found[prop]
    s = path[-1]
    parents: dict[int, int | None] = {path[0]: None}
    for a, b in zip(path, path[1:], strict=False):
        parents[b] = a
    return _violation(c, _Found({prop: (kind, s, k)}), prop, parents, None)


def notice(message: str) -> None:
    print(f"itsrace: {message}; using the Python backend", file=sys.stderr)


TRIAL_SECONDS = 0.5  # engine="auto": a search the Python backend finishes this fast never waits for gcc


def check(
    model: Model | Compiled,
    *,
    engine: str = "auto",
    fingerprints: bool = False,
    limits: Limits | None = None,
    stop_on_violation: bool = True,
    progress: Progress = None,
    workers: int = 1,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: float | None = 60.0,
    resume: str | os.PathLike[str] | None = None,
    fallback: bool = True,
) -> Result:
    """Breadth-first search with the C backend when it can run, else the Python one (with a
    one-line notice on stderr saying why; ``fallback=False`` raises :class:`NativeFallback`
    instead, for callers that run Python workers themselves).

    ``engine="auto"`` (without checkpoints) first gives the single-process Python search
    ``TRIAL_SECONDS`` unless the model's library is already built: small models (most
    scenarios, most tests) are done before a compiler would have started, and anything bigger
    is compiled and searched in C from the start. Both backends give the same results."""
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    limits = limits or Limits()
    c = model if isinstance(model, Compiled) else compile_model(model)
    plain = checkpoint is None and resume is None  # the trial is one process; same counts as N workers
    if engine == "auto" and plain and not _library_ready(c):
        trial_limit = limits.max_seconds is not None and limits.max_seconds <= TRIAL_SECONDS
        trial = Limits(limits.max_states, TRIAL_SECONDS if not trial_limit else limits.max_seconds,
                       limits.max_memory, limits.max_depth)
        r = check_python(c, fingerprints=fingerprints, limits=trial, stop_on_violation=stop_on_violation,
                         progress=progress)
        # a trial cut short by its time limit is incomplete whatever its verdict (a search that
        # goes on after a violation has found some, not all): redo it in C
        if trial_limit or not r.reason.startswith("time limit"):
            return r
    if engine != "python":
        try:
            return check_native(c, fingerprints=fingerprints, limits=limits, stop_on_violation=stop_on_violation,
                                progress=progress, workers=workers, checkpoint=checkpoint,
                                checkpoint_every=checkpoint_every, resume=resume)
        except NativeFallback as exc:
            if not fallback:
                raise
            notice(str(exc))
    if workers > 1:
        raise ModelError("the Python backend runs workers through itsrace.engine.scale.parallel")
    return check_python(c, fingerprints=fingerprints, limits=limits, stop_on_violation=stop_on_violation,
                        progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume)


def _library_ready(c: Compiled) -> bool:
    """The model's C library is loaded or in the cache (so C costs no compile time)."""
    if "_native" in c.__dict__:
        return True
    try:
        cmodel = generate(c)
    except Unsupported:
        return True  # nothing to compile: check_native falls back with its notice at once
    cc = find_compiler()
    return cc is None or library_path(c.model.name, cmodel.source, cc).exists()
