"""Terminal output shared by the commands: counterexamples in C terms, colour, width, HTML files.

* :func:`story_of` tells a hypervisor-model trace in C terms (:mod:`itsrace.xen.explain`, :mod:`itsrace.kvm.explain`),
  given the model it was found in.
* :func:`print_lines` prints rich ``Text`` lines: coloured on a terminal, plain when piped or
  when ``NO_COLOR`` is set (rich's own rules).
* :func:`text_width` is the terminal's width, or ``$COLUMNS``, or 120 when piped.
* :func:`check_writable` and :func:`write_file` make a bad ``--html`` path one line and exit 2.
* :func:`with_elapsed` adds the elapsed time to the search's live progress line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from itsrace.cli.common import UsageError
from itsrace.engine.explore.trace import Trace
from itsrace.hyp.story import Story


def console(file: TextIO | None = None) -> Console:
    """A rich console on ``file`` (stdout): colour only on a terminal and without NO_COLOR."""
    out = file or sys.stdout
    return Console(file=out, highlight=False, soft_wrap=True, emoji=False, markup=False,
                   no_color=bool(os.environ.get("NO_COLOR")) or None)


def text_width(file: TextIO | None = None) -> int:
    """Columns to fill: the terminal's width when ``file`` is one, else ``$COLUMNS`` or 120."""
    out = file or sys.stdout
    try:
        if out.isatty():
            return max(40, shutil.get_terminal_size((120, 24)).columns)
    except (AttributeError, ValueError):
        pass
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 120


class ElapsedStderr:
    """A stand-in for ``sys.stderr`` that adds the elapsed time to the search's progress line.

    The engine's progress display (``progress=`` of the search) redraws one line on a terminal
    with ``\\r  states ...  depth ...  st/s ...``; it has no elapsed time and no hook to add one.
    While a search runs, :func:`with_elapsed` puts this object in ``sys.stderr``: every redraw
    (a write starting with ``\\r``) gets ``elapsed N s`` appended; everything else passes
    through unchanged. ``isatty`` is the real stream's, so piped output still gets no line.
    """

    def __init__(self, real: TextIO, start: float) -> None:
        self.real, self.start = real, start

    def write(self, text: str) -> int:
        if text.startswith("\r"):
            text = f"{text.rstrip()}  elapsed {time.monotonic() - self.start:,.0f} s "
        return self.real.write(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextlib.contextmanager
def with_elapsed() -> Iterator[None]:
    """Run a search with :class:`ElapsedStderr` in place (only when stderr is a terminal)."""
    real = sys.stderr
    if not real.isatty():
        yield
        return
    sys.stderr = ElapsedStderr(real, time.monotonic())
    try:
        yield
    finally:
        sys.stderr = real


def print_lines(lines: Iterable[Text], file: TextIO | None = None) -> None:
    con = console(file)
    for line in lines:
        con.print(line, crop=False, overflow="ignore", no_wrap=True)


def story_of(trace: Trace, model: Any) -> Story:
    """``trace`` of ``model`` (a hypervisor model) told in C terms, by the explainer of the
    model's base (:mod:`itsrace.kvm.explain` for ``kvm`` and its designs, else
    :mod:`itsrace.xen.explain`)."""
    if model.meta.get("base") == "kvm":
        from itsrace.kvm import explain as kvm

        return kvm.explain(trace, kvm.context_of(model))
    from itsrace.xen import explain as xen

    return xen.explain(trace, xen.context_of(model))


def print_story(story: Story, fold: bool = False, file: TextIO | None = None) -> None:
    from itsrace.hyp.timeline import render

    print_lines(render(story, text_width(file), fold), file)


def check_writable(path: str, flag: str = "--html") -> None:
    """Refuse, before any work, a path that cannot be written (one line, exit 2)."""
    if os.path.isdir(path):
        raise UsageError(f"cannot write {flag} '{path}': it is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"cannot write {flag} '{path}': no directory '{parent}'")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {flag} '{path}': permission denied")


def write_file(path: str, text: str, flag: str = "--html") -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {flag} '{path}': {exc.strerror}") from None


__all__ = ["ElapsedStderr", "check_writable", "console", "print_lines", "print_story", "story_of", "text_width",
           "with_elapsed", "write_file"]
