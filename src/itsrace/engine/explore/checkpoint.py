"""Checkpoints: save a search in progress, resume it later, lose nothing.

A long search can end early (Ctrl-C, ``SIGTERM`` from a job scheduler, a time/state/memory
limit). With ``check(..., checkpoint="run.ckpt")`` the search writes its complete state to that
file periodically (``checkpoint_every`` seconds) and when it is interrupted; ``check(...,
resume="run.ckpt")`` continues from the file and ends with exactly the counts and verdict an
uninterrupted run would have produced. :func:`itsrace.engine.scale.resume.resume` rebuilds the model from the spec recorded
in the file, so a checkpoint is all you need::

    from itsrace.engine.scale.resume import resume
    result = resume("run.ckpt")                     # same options, no limits

What a checkpoint holds (:class:`SearchState`):

* the model: its :class:`~itsrace.engine.lang.spec.ModelSpec` (when known), name and the digest of
  the generated source, so resuming against a different model is refused;
* the options that change the state graph or the result (strategy, fingerprints,
  stop-on-violation, symmetry); limits may differ between runs, that is the point;
* the search position: the rest of the BFS level being expanded (``frontier``), the states of
  the next level found so far (``next``) -- or the DFS stack --, and the depth;
* the visited set (with parent pointers in exact mode, so traces stay exact);
* counters: transitions, per-action coverage, elapsed seconds, and the violations found so far.

The file is a NumPy ``.npz`` archive (a zip whose members carry CRC-32 checksums) with a JSON
header; states up to 64 bits are stored as ``uint64`` arrays, wider ones as fixed-width
little-endian byte rows. It is written to a temporary file in the same directory and renamed
over the target, so a crash while writing leaves the previous checkpoint intact. Loading never
unpickles anything. A damaged, truncated or mismatching file gives a one-line
:class:`~itsrace.engine.errors.ModelError`.

Checkpoints are only taken at chunk boundaries (between two calls of the generated expand
function), which is why interruption is *requested* (a flag set by the signal handler, see
:class:`StopSignals`) rather than raised in the middle of the hot loop.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from itsrace.engine.errors import ModelError

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use (the C backend's searches never need it)
    from itsrace.engine.lang.lazy import numpy as np

FORMAT = "itsrace-checkpoint"
VERSION = 1


# -- state of a search ---------------------------------------------------------------------------
@dataclass
class SearchState:
    """Everything needed to continue a search exactly where it stopped.

    ``frontier`` is the unexpanded rest of the current BFS level (depth ``depth``), ``next`` the
    states of level ``depth + 1`` already discovered; for DFS, ``frontier`` is the stack and
    ``next`` is empty. ``visited`` lists every visited state; ``parents`` (exact mode) is aligned
    with it, ``None`` marking initial states. In fingerprint mode ``visited`` holds the 64-bit
    keys and ``parents`` is ``None``. ``found`` holds ``(property, kind, state, action)``
    for each violation already found, in discovery order (``action`` -1 when none).

    The state lists may also be given (and, with ``load(raw=True)``, are returned) already
    encoded by :func:`ints_to_array`; ``parents`` then marks initial states by ``parent ==
    state``. The parallel backends use that form to move partitions without Python loops.
    """

    strategy: str
    fingerprints: bool
    depth: int
    frontier: list[int] | np.ndarray
    next: list[int] | np.ndarray
    visited: list[int] | np.ndarray
    parents: list[int | None] | np.ndarray | None
    transitions: int
    fired: list[int]
    gained: list[int]
    found: list[tuple[str, str, int, int]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Header:
    """The JSON part of a checkpoint: identity of the model and of the search options."""

    model: str
    digest: str
    bits: int
    spec: dict[str, Any] | None
    options: dict[str, Any]
    created: float = 0.0
    writer: str = "search"  # who wrote it: search | processes | ray
    version: int = VERSION

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **self.__dict__}, sort_keys=True)


def options_key(strategy: str, fingerprints: bool, stop_on_violation: bool, canon: bool) -> dict[str, Any]:
    """The options a checkpoint must agree on with the run that resumes it."""
    return {
        "strategy": strategy,
        "fingerprints": bool(fingerprints),
        "stop_on_violation": bool(stop_on_violation),
        "symmetry": bool(canon),
    }


# -- integer arrays --------------------------------------------------------------------------------
def ints_to_array(values: Sequence[int] | np.ndarray, bits: int) -> np.ndarray:
    """Pack non-negative ints: ``uint64`` when ``bits <= 64``, else rows of little-endian bytes."""
    if isinstance(values, np.ndarray):
        return values
    if bits <= 64:
        return np.fromiter(values, dtype=np.uint64, count=len(values))
    width = (bits + 7) // 8
    buf = b"".join(v.to_bytes(width, "little") for v in values)
    return np.frombuffer(buf, dtype=np.uint8).reshape(len(values), width)


def array_to_ints(arr: np.ndarray) -> list[int]:
    """Inverse of :func:`ints_to_array`."""
    if arr.ndim == 1:
        return list(arr.astype(np.uint64, copy=False).tolist())  # Python ints
    return [int.from_bytes(row, "little") for row in (bytes(r) for r in arr)]


def parents_array(keys: Sequence[int], parents: Sequence[int | None], bits: int) -> np.ndarray:
    # A state is never its own parent, so "parent == self" encodes "initial state".
    return ints_to_array([k if p is None else p for k, p in zip(keys, parents, strict=True)], bits)


def parents_list(keys: list[int], arr: np.ndarray) -> list[int | None]:
    return [None if p == k else p for k, p in zip(keys, array_to_ints(arr), strict=True)]


# -- writing and reading -----------------------------------------------------------------------
def save(path: str | os.PathLike[str], header: Header, st: SearchState) -> float:
    """Write ``st`` atomically to ``path`` (temporary file + rename). Returns the seconds taken."""
    t0 = time.monotonic()
    path = os.fspath(path)
    bits = header.bits
    meta = {
        "header": json.loads(header.to_json()),
        "strategy": st.strategy,
        "fingerprints": st.fingerprints,
        "depth": st.depth,
        "transitions": st.transitions,
        "fired": list(st.fired),
        "gained": list(st.gained),
        "found": [[p, k, str(s), a] for p, k, s, a in st.found],  # states as decimal strings
        "seconds": st.seconds,
        "has_parents": st.parents is not None,
    }
    if st.fingerprints:
        visited = np.asarray(st.visited, dtype=np.uint64)
    else:
        visited = ints_to_array(st.visited, bits)
    arrays: dict[str, np.ndarray] = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "visited": visited,
        "frontier": ints_to_array(st.frontier, bits),
        "next": ints_to_array(st.next, bits),
    }
    if isinstance(st.parents, np.ndarray):
        arrays["parents"] = st.parents
    elif st.parents is not None:
        assert not isinstance(st.visited, np.ndarray)
        arrays["parents"] = parents_array(st.visited, st.parents, bits)
    check_target(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".itsrace-ckpt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return time.monotonic() - t0


def check_target(path: str | os.PathLike[str]) -> None:
    """Refuse a checkpoint path that saving would harm or fail on: anything that exists and is
    not a regular file (a directory, a device node, a FIFO, a symbolic link, which the atomic
    rename would replace), or a directory that does not exist or cannot be written."""
    where = os.fspath(path)
    try:
        st = os.lstat(where)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ModelError(f"checkpoint '{where}': {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a directory" if stat.S_ISDIR(st.st_mode)
                else "not a regular file")
        raise ModelError(f"checkpoint '{where}' is {kind}: name a new file or an existing checkpoint")
    directory = os.path.dirname(os.path.abspath(where))
    if not os.path.isdir(directory):
        raise ModelError(f"checkpoint '{where}': directory '{directory}' does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ModelError(f"checkpoint '{where}': directory '{directory}' is not writable")


def load(path: str | os.PathLike[str], raw: bool = False) -> tuple[Header, SearchState]:
    """Read a checkpoint; a missing, corrupt or foreign file gives a one-line ``ModelError``.

    With ``raw=True`` the state lists stay encoded arrays (see :class:`SearchState`)."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(bytes(npz["meta"]).decode())
            if not isinstance(meta, dict) or not isinstance(meta.get("header"), dict):
                raise ModelError(f"checkpoint '{path}' is corrupt or not an itsrace checkpoint (its header is not an object)")
            hd = meta["header"]
            if hd.get("format") != FORMAT:
                raise ModelError(f"'{path}' is not an itsrace checkpoint")
            if hd.get("version") != VERSION:
                raise ModelError(
                    f"checkpoint '{path}' has format version {hd.get('version')}, this itsrace reads version {VERSION}"
                )
            header = Header(
                model=str(hd["model"]), digest=str(hd["digest"]), bits=int(hd["bits"]), spec=hd.get("spec"),
                options=dict(hd["options"]), created=float(hd.get("created", 0.0)),
                writer=str(hd.get("writer", "search")), version=int(hd["version"]),
            )
            fingerprints = bool(meta["fingerprints"])
            parents: list[int | None] | np.ndarray | None = None
            if fingerprints:
                visited: list[int] | np.ndarray = np.array(npz["visited"], dtype=np.uint64)
            elif raw:
                visited = np.array(npz["visited"])
                parents = np.array(npz["parents"]) if meta["has_parents"] else None
            else:
                visited = array_to_ints(npz["visited"])
                parents = parents_list(visited, npz["parents"]) if meta["has_parents"] else None
            conv = np.array if raw else array_to_ints
            st = SearchState(
                strategy=str(meta["strategy"]),
                fingerprints=fingerprints,
                depth=int(meta["depth"]),
                frontier=conv(npz["frontier"]),
                next=conv(npz["next"]),
                visited=visited,
                parents=parents,
                transitions=int(meta["transitions"]),
                fired=[int(v) for v in meta["fired"]],
                gained=[int(v) for v in meta["gained"]],
                found=[(str(p), str(k), int(s), int(a)) for p, k, s, a in meta["found"]],
                seconds=float(meta.get("seconds", 0.0)),
            )
            return header, st
    except ModelError:
        raise
    except FileNotFoundError:
        raise ModelError(f"checkpoint '{path}' does not exist") from None
    except OSError as exc:
        raise ModelError(f"cannot read checkpoint '{path}': {exc.strerror or exc}") from None
    except (zipfile.BadZipFile, ValueError, KeyError, TypeError, AttributeError, EOFError, UnicodeDecodeError) as exc:
        kind = type(exc).__name__
        raise ModelError(f"checkpoint '{path}' is corrupt or not an itsrace checkpoint ({kind}: {exc})") from None


def verify(path: str | os.PathLike[str], header: Header, *, model: str, digest: str, options: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint taken on another model or with other options."""
    where = os.fspath(path)
    if header.digest != digest:
        raise ModelError(
            f"checkpoint '{where}' was taken on model '{header.model}' "
            f"({_spec_text(header.spec)}), which differs from model '{model}' being checked"
        )
    diff = [f"{k}={header.options.get(k)!r} (now {v!r})" for k, v in options.items() if header.options.get(k) != v]
    if diff:
        raise ModelError(f"checkpoint '{where}' was taken with other options: {', '.join(diff)}")


def _spec_text(spec: dict[str, Any] | None) -> str:
    if not spec:
        return "no spec recorded"
    args = ", ".join(f"{k}={v!r}" for k, v in sorted((spec.get("kwargs") or {}).items()))
    return f"{spec.get('module')}:{spec.get('function')}({args})"


class Writer:
    """Writes checkpoints of one run: at most every ``every`` seconds, and never so often that
    writing takes more than about a tenth of the run (the interval grows with the write time)."""

    def __init__(self, path: str | os.PathLike[str], header: Header, every: float | None) -> None:
        check_target(path)  # at the start of the run, not at its first save
        self.path = os.fspath(path)
        self.header = header
        self.every = every
        self.interval = every if every is not None else float("inf")
        self.next_at = time.monotonic() + self.interval
        self.writes = 0
        self.last_seconds = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self.next_at

    def save(self, st: SearchState) -> None:
        self.header.created = time.time()
        self.last_seconds = save(self.path, self.header, st)
        self.writes += 1
        if self.every is not None:
            self.interval = max(self.every, 10 * self.last_seconds)
        self.next_at = time.monotonic() + self.interval


def read_header(path: str | os.PathLike[str]) -> Header:
    """The header of a checkpoint (loads the whole file; use for inspection and resume)."""
    return load(path)[0]


# -- interruption --------------------------------------------------------------------------------
class StopSignals:
    """Turn SIGINT/SIGTERM into a *request* to stop, checked between chunks.

    Used as a context manager around a search: while active, the first Ctrl-C or ``SIGTERM``
    sets :attr:`requested` (the reason) and the search stops at the next chunk boundary, writes
    its checkpoint and returns an ``inconclusive`` result. A second Ctrl-C raises
    ``KeyboardInterrupt`` at once (no checkpoint beyond the last periodic one). Handlers are
    only installed in the main thread (Python delivers signals there only) and the previous
    handlers are always restored on exit.
    """

    def __init__(self, sigint: bool = True, sigterm: bool = True) -> None:
        self.requested = ""
        self._want = [s for s, on in ((signal.SIGINT, sigint), (signal.SIGTERM, sigterm)) if on]
        self._old: dict[int, Any] = {}
        self.on_request: list[Any] = []  # callbacks run on the first request (e.g. set an Event)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and self.requested:
            raise KeyboardInterrupt
        if not self.requested:
            self.requested = "interrupted" if signum == signal.SIGINT else "terminated (SIGTERM)"
            for cb in self.on_request:
                cb()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self._want:
                self._old[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old.clear()


@contextmanager
def maybe_stop_signals(active: bool, sigint: bool = True, sigterm: bool = True) -> Iterator[StopSignals | None]:
    """``StopSignals`` when ``active``, else nothing (default signal behaviour untouched)."""
    if not active:
        yield None
        return
    with StopSignals(sigint, sigterm) as stop:
        yield stop


__all__ = [
    "FORMAT", "VERSION", "Header", "SearchState", "StopSignals", "Writer", "array_to_ints", "ints_to_array", "load",
    "parents_array", "parents_list",
    "check_target", "maybe_stop_signals", "options_key", "read_header", "save", "verify",
]
