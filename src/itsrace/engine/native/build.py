"""Compile generated C with the system compiler, cached by a hash of the source.

The cache directory is ``$ITSRACE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/itsrace/native``,
else ``~/.cache/itsrace/native``. Each model gets ``<name>-<digest>.c`` (kept for reading and
debugging) and ``<name>-<digest>.so``; the digest covers the source, the compiler and its flags,
so a changed model or runtime never loads a stale library.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CFLAGS = ["-std=gnu11", "-shared", "-fPIC", "-pthread", "-w"]
BIG_SOURCE = 400_000  # characters: above this, -O1 (half gcc's -O2 time; these searches are memory-bound)


def cflags(source: str) -> list[str]:
    """``$ITSRACE_CFLAGS`` (e.g. ``-O0 -g`` for debugging) replaces the optimisation flags."""
    extra = os.environ.get("ITSRACE_CFLAGS")
    if extra is not None:
        return extra.split() + CFLAGS
    return (["-O1"] if len(source) > BIG_SOURCE else ["-O2"]) + CFLAGS


class CompilerUnavailable(Exception):
    """No working C compiler, or it rejected the generated source (the message is one line)."""


def cache_dir() -> Path:
    env = os.environ.get("ITSRACE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "itsrace" / "native"


def find_compiler() -> str | None:
    """``$CC`` if set (an empty value disables the C backend), else cc, gcc or clang on PATH."""
    if "CC" in os.environ:
        cc = os.environ["CC"].strip()
        return (shutil.which(cc) or None) if cc else None
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60]


def library_path(name: str, source: str, cc: str) -> Path:
    digest = hashlib.sha256("\0".join([source, cc, *cflags(source)]).encode()).hexdigest()[:16]
    return cache_dir() / f"{_safe(name)}-{digest}.so"


def build(name: str, source: str) -> Path:
    """The shared library for ``source``: from the cache, or compiled now."""
    cc = find_compiler()
    if cc is None:
        raise CompilerUnavailable("no C compiler found (set CC, or install gcc)")
    so = library_path(name, source, cc)
    if so.exists():
        return so
    so.parent.mkdir(parents=True, exist_ok=True)
    c_file = so.with_suffix(".c")
    # atomically: another process (a pytest-xdist worker, a second `itsrace check`) may be
    # compiling the same source from this very file
    fd, c_tmp = tempfile.mkstemp(suffix=".c", dir=so.parent)
    with os.fdopen(fd, "w") as f:
        f.write(source)
    os.replace(c_tmp, c_file)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
    os.close(fd)
    try:
        proc = subprocess.run([cc, *cflags(source), "-o", tmp, str(c_file)], capture_output=True, text=True)
        if proc.returncode != 0:
            first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:200])
            raise CompilerUnavailable(f"{Path(cc).name} failed on {c_file}: {first}")
        os.replace(tmp, so)
    except OSError as exc:
        raise CompilerUnavailable(f"cannot run {cc}: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return so


_loaded: dict[Path, ctypes.CDLL] = {}


def load(path: Path) -> ctypes.CDLL:
    if path not in _loaded:
        _loaded[path] = ctypes.CDLL(str(path))
    return _loaded[path]
