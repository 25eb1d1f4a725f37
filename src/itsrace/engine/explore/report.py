"""Render counterexample traces for people: a per-process timeline, a step list, a compact list.

A :class:`~itsrace.engine.explore.trace.Trace` records, for every step, the process that took it, the
action or step label, the model's ``file:line``, the values the step read and the variables it
changed. This module turns that into text a kernel developer can follow without knowing the
engine:

``format_timeline``
    one column per process, time running downwards; each step sits in the column of the
    process that took it, so interleavings ("pCPU1 ran here, between pCPU0's read and its
    write") are visible at a glance. Meant for level-2 (process) models.
``format_steps``
    one block per step: what ran, where, what it read, what it changed. The natural view of a
    level-1 model, whose actions belong to no process.
``format_compact``
    one line per step, for logs and for long traces.

``format_trace`` picks the timeline when the trace has processes and the step list otherwise.
Every format starts with a header naming the violated property and the initial state, and ends
with the state in which the property fails. Only ASCII is used, so output survives any terminal.

No line is unbounded: a step's label (for a level-2 step, the whole statement of an atomic
block) is cut at :data:`MAX_LABEL` characters, and ``width`` (default 120) bounds the lines of
the step list (wrapped) and of the compact list (cut, one line per step).
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterable, Mapping

from itsrace.engine.explore.search import Violation
from itsrace.engine.explore.trace import Trace, TraceStep

STYLES = ("auto", "timeline", "steps", "compact")
MAX_LABEL = 160  # characters of a step label shown (the full label is in the JSON trace)
WIDTH = 120
_LABEL = re.compile(r"^(?P<var>[^\[]+)(?P<index>(\[\d+\])*)$")
_MODEL_COLUMN = "(model)"  # column of level-1 steps inside a timeline


# -- small pieces --------------------------------------------------------------------------------
def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def _wrap_block(lines: list[str], width: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [""])
    return out


def short_where(where: str, cwd: str | None = None) -> str:
    """``file:line`` with the file relative to ``cwd`` when it lies below it (shorter to read,
    still clickable in most terminals and editors)."""
    path, sep, line = where.rpartition(":")
    if not sep or not line.isdigit() or not os.path.isabs(path):
        return where
    base = cwd if cwd is not None else os.getcwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return where
    return f"{rel}:{line}" if not rel.startswith("..") else where


def format_changes(changes: Mapping[str, list[int]]) -> str:
    """``lr[0]=2->0 lrst[0]=0->1`` (old value, arrow, new value; no spaces inside an item, so
    wrapped lines never split one)."""
    return " ".join(f"{label}={old}->{new}" for label, (old, new) in changes.items())


def format_reads(reads: Mapping[str, int]) -> str:
    """``pend[0]=1 target[0]=0``."""
    return " ".join(f"{label}={value}" for label, value in reads.items())


def format_state(flat: Mapping[str, int]) -> str:
    """A whole state, one ``var=value`` per variable, arrays as (nested) lists:
    ``{"pend[0]": 0, "pend[1]": 1, "x": 3}`` becomes ``pend=[0, 1] x=3``."""
    groups: dict[str, list[tuple[tuple[int, ...], int]]] = {}
    for label, value in flat.items():
        match = _LABEL.match(label)
        if match is None:  # not a slot label we know how to group: show it as it is
            groups.setdefault(label, []).append(((), value))
            continue
        index = tuple(int(i) for i in re.findall(r"\d+", match.group("index")))
        groups.setdefault(match.group("var"), []).append((index, value))
    return " ".join(f"{var}={_nested(items)}" for var, items in groups.items())


def _nested(items: list[tuple[tuple[int, ...], int]]) -> str:
    if len(items) == 1 and items[0][0] == ():
        return str(items[0][1])
    rows: dict[int, list[tuple[tuple[int, ...], int]]] = {}
    for index, value in items:
        rows.setdefault(index[0], []).append((index[1:], value))
    return "[" + ", ".join(_nested(rows[i]) for i in sorted(rows)) + "]"


def header(trace: Trace) -> list[str]:
    """Two lines: which property fails after how many steps, and the initial state."""
    n = len(trace.steps)
    return [
        f"{trace.kind} '{trace.property}' violated in model {trace.model} after {n} step{'s' * (n != 1)}",
        f"initial: {format_state(trace.initial)}",
    ]


def footer(trace: Trace) -> list[str]:
    """The state the trace ends in (where the property fails)."""
    last = trace.steps[-1] if trace.steps else None
    if last is not None and last.note:
        return [f"=> {last.note} (in the state before that step: {format_state(trace.final)})"]
    return [f"=> {trace.kind} '{trace.property}' fails in: {format_state(trace.final)}"]


def step_lines(step: TraceStep, cwd: str | None = None) -> list[str]:
    """The body of one step: label and location, then what it read and what it changed."""
    lines = [f"{clip(step.label, MAX_LABEL)}  @ {short_where(step.where, cwd)}"]
    if step.reads:
        lines.append(f"  read  {format_reads(step.reads)}")
    if step.changes:
        lines.append(f"  set   {format_changes(step.changes)}")
    elif not step.note:
        lines.append("  set   (nothing)")
    if step.note:
        lines.append(f"  !! {step.note}")
    return lines


# -- the three formats ------------------------------------------------------------------------------
def format_steps(trace: Trace, cwd: str | None = None, width: int = WIDTH) -> str:
    """One block per step, numbered from 1; level-2 steps are prefixed with their process.
    Lines longer than ``width`` are wrapped."""
    out = header(trace)
    num = len(str(len(trace.steps)))
    for n, step in enumerate(trace.steps, start=1):
        body = step_lines(step, cwd)
        who = f"[{step.process}] " if step.process else ""
        out.append(f"{n:>{num}}. {who}{body[0]}")
        out.extend(" " * (num + 2) + line for line in body[1:])
    out.extend(footer(trace))
    return "\n".join(_wrap_block(out, width))


def format_compact(trace: Trace, cwd: str | None = None, width: int = WIDTH) -> str:
    """One line per step: ``3. [pCPU0] label | changes | file:line``, cut to ``width``
    (the header and footer are wrapped)."""
    out = _wrap_block(header(trace), width)
    num = len(str(len(trace.steps)))
    for n, step in enumerate(trace.steps, start=1):
        who = f"[{step.process}] " if step.process else ""
        effect = step.note or format_changes(step.changes) or "no change"
        where = short_where(step.where, cwd)
        head = f"{n:>{num}}. {who}{clip(step.label, max(20, width // 2))} | "
        room = max(10, width - len(head) - len(where) - 3)
        out.append(clip(f"{head}{clip(effect, room)} | {where}", width))
    out.extend(_wrap_block(footer(trace), width))
    return "\n".join(out)


def format_timeline(trace: Trace, cwd: str | None = None, max_column: int | None = None,
                    width: int = WIDTH) -> str:
    """One column per process (level-1 steps go to a ``(model)`` column), time downwards.

    Each step occupies a few rows in the column of the process that took it: the step number
    and label, then ``@ file:line``, ``read ...`` and ``set ...``. Long texts wrap inside the
    column (at most ``max_column`` characters wide; by default the columns share ~120). The
    header and footer (initial and final state) are wrapped at ``width``.
    """
    columns = _process_columns(trace.steps)
    if max_column is None:
        max_column = max(32, 120 // max(1, len(columns)) - 3)
    cells = [_cell(n, step, cwd) for n, step in enumerate(trace.steps, start=1)]
    widths = {name: len(name) for name in columns}
    for step, cell in zip(trace.steps, cells, strict=True):
        col = step.process or _MODEL_COLUMN
        widths[col] = min(max_column, max(widths[col], *(len(line) for line in cell)))
    out = _wrap_block(header(trace), width)
    out.append(_row(columns, widths, {c: c for c in columns}))
    out.append(_row(columns, widths, {c: "-" * widths[c] for c in columns}, fill="-", sep="-+-"))
    for step, cell in zip(trace.steps, cells, strict=True):
        col = step.process or _MODEL_COLUMN
        for line in _wrap(cell, widths[col]):
            out.append(_row(columns, widths, {col: line}))
    out.extend(_wrap_block(footer(trace), width))
    return "\n".join(out)


def format_trace(trace: Trace, style: str = "auto", cwd: str | None = None, width: int = WIDTH) -> str:
    """Render ``trace`` in ``style`` (``auto``: timeline if any step belongs to a process),
    its lines fitting ``width`` characters."""
    if style == "auto":
        style = "timeline" if any(step.process for step in trace.steps) else "steps"
    if style == "timeline":
        columns = max(1, len(_process_columns(trace.steps)))
        fit = max(24, (width - 3 * (columns - 1)) // columns)  # columns and separators fill the width
        return format_timeline(trace, cwd, max_column=min(max(32, width // columns - 3), fit), width=width)
    if style == "steps":
        return format_steps(trace, cwd, width)
    if style == "compact":
        return format_compact(trace, cwd, width)
    raise ValueError(f"unknown trace style {style!r}: use one of {', '.join(STYLES)}")


def format_violation(violation: Violation, style: str = "auto", cwd: str | None = None, width: int = WIDTH) -> str:
    """A :class:`~itsrace.engine.explore.search.Violation`: its property's documentation, then the trace."""
    doc = f"  ({violation.doc.strip().splitlines()[0]})" if violation.doc.strip() else ""
    return f"VIOLATION {violation.property}{doc}\n" + format_trace(violation.trace, style, cwd, width)


# -- timeline helpers ------------------------------------------------------------------------------
def _process_columns(steps: Iterable[TraceStep]) -> list[str]:
    """Column names in order of first appearance."""
    return list(dict.fromkeys(step.process or _MODEL_COLUMN for step in steps))


def _cell(n: int, step: TraceStep, cwd: str | None) -> list[str]:
    body = step_lines(step, cwd)
    label, _, where = body[0].partition("  @ ")
    return [f"{n}. {label}", f"  @ {where}", *body[1:]]


def _wrap(lines: list[str], width: int) -> list[str]:
    out: list[str] = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False) or [""])
    return out


def _row(columns: list[str], widths: dict[str, int], text: dict[str, str], fill: str = " ", sep: str = " | ") -> str:
    return sep.join(text.get(c, "").ljust(widths[c], fill) for c in columns).rstrip()
