"""Terminal output shared by the commands: counterexamples in C terms, colour, width, HTML files.

* :func:`story_of` tells a hypervisor-model trace in C terms (:mod:`itsrace.xen.explain`, :mod:`itsrace.kvm.explain`),
  given the model it was found in.
* :func:`print_lines` prints rich ``Text`` lines: coloured on a terminal, plain when piped or
  when ``NO_COLOR`` is set (rich's own rules).
* :func:`text_width` is the terminal's width, or ``$COLUMNS``, or 120 when piped.
* :func:`check_writable` and :func:`write_file` make a bad ``--html`` path one line and exit 2.
* :class:`ProgressLine` draws a search's progress callback (states, states/s, depth, elapsed) as
  the live line of ``check`` and ``matrix`` on a terminal.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from itsrace.cli.common import UsageError
from itsrace.engine.explore.search import ProgressInfo
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


class ProgressLine:
    """The live progress line of ``check`` and ``matrix``: a search's progress callback
    (:class:`itsrace.engine.explore.search.ProgressInfo`) drawn as one line on ``out``
    (stderr), redrawn in place; ended with a newline when the search ends. ``prefix`` goes
    before it (``matrix``: the cells done). Only used when ``out`` is a terminal: piped output
    gets nothing (:func:`progress_for`)."""

    def __init__(self, out: TextIO | None = None, prefix: Callable[[], str] | None = None,
                 end_line: bool = True) -> None:
        self.out = out if out is not None else sys.stderr
        self.prefix = prefix
        self.end_line = end_line
        self.shown = False

    def text(self, info: ProgressInfo) -> str:
        head = self.prefix() if self.prefix is not None else ""
        return (f"{head}states {info.states:>12,}  depth {info.depth:>4}  {info.rate:>10,.0f} st/s  "
                f"elapsed {info.elapsed:>6,.0f} s  mem {info.memory / 2**20:>6,.0f} MiB")

    def __call__(self, info: ProgressInfo) -> None:
        if info.final:
            if self.shown and self.end_line:
                self.out.write("\n")
                self.out.flush()
                self.shown = False
            return
        self.out.write(f"\r  {self.text(info)} \x1b[K")
        self.out.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the line (before other output goes to the same terminal)."""
        if self.shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self.shown = False


def progress_for(enabled: bool, out: TextIO | None = None) -> ProgressLine | bool:
    """The ``progress=`` to give a search: a :class:`ProgressLine` when ``enabled`` and ``out``
    (stderr) is a terminal, else ``False`` (nothing printed when piped)."""
    out = out if out is not None else sys.stderr
    return ProgressLine(out) if enabled and out.isatty() else False


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


def without_locals(trace: Trace, model: Any) -> Trace:
    """``trace`` with the model's locals and program counters left out of its initial and final
    states: for the engine's generic views (``--trace-style timeline|steps|compact``) of a
    hypervisor model, whose locals (every inlined function's, all 0 at the start) would
    otherwise fill dozens of lines before the first step. The steps are unchanged."""
    hidden = {v.name for v in model.vars.values() if v.kind in ("local", "pc")}

    def keep(state: dict[str, int]) -> dict[str, int]:
        return {k: v for k, v in state.items() if k.split("[", 1)[0] not in hidden}

    return dataclasses.replace(trace, initial=keep(trace.initial), final=keep(trace.final))


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


__all__ = ["ProgressLine", "check_writable", "console", "print_lines", "print_story", "progress_for", "story_of",
           "text_width", "without_locals", "write_file"]
