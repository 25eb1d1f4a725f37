"""Counterexamples as per-CPU timelines a Xen developer can read.

One column per physical CPU (pCPU0 also runs the host LPI handler) plus one for the guest's own
actions and the devices; time runs downwards, one numbered line per step. Each step shows the
Xen function it models and what it does (the comment on the model's line, else the statement),
then the shared state it changed (program counters, locals and interrupt counters are left
out: they are in ``--json`` and ``--trace-out``).

For the engine's generic views (every read, every local) use :mod:`itsrace.engine.explore.report`.
"""

from __future__ import annotations

import linecache
import re
import textwrap
from collections.abc import Sequence

from itsrace.engine.explore.trace import Trace, TraceStep

GUEST = "guest / devices"
_HIDDEN = re.compile(r"^(pc_|irqs_off|in_irq|vCPU_|gicv3_do_LPI_)")


def column_of(step: TraceStep, vcpu_pcpus: Sequence[int]) -> str:
    """The column a step belongs to: the pCPU that executes it, or the guest/devices."""
    proc = step.process
    if proc is None:
        if step.label.startswith("guest_") and "(v=" in step.label:
            v = int(step.label.split("(v=")[1].split(",")[0].rstrip(")"))
            return f"pCPU{vcpu_pcpus[v]}" if v < len(vcpu_pcpus) else GUEST
        return GUEST
    if proc.startswith("pCPU"):
        return proc.split(":")[0]
    if proc.startswith("vCPU"):
        v = int(proc[4:])
        return f"pCPU{vcpu_pcpus[v]}" if v < len(vcpu_pcpus) else proc
    return proc


def describe(step: TraceStep) -> str:
    """``function: what it does``, from the step's label and its model line's comment."""
    label = step.label
    if step.process is None:  # a level-1 action: its name and parameters
        return label
    func, _, rest = label.partition(": ")
    comment = ""
    path, _, line = step.where.rpartition(":")
    if line.isdigit():
        text = linecache.getline(path, int(line))
        if "#" in text:
            comment = text.split("#", 1)[1].strip()
    params = ""
    m = re.search(r"\(((?:[a-z_]+=\d+(?:, )?)+)\)$", rest)
    if m:
        params = f" [{m.group(1)}]"
    if comment:
        return f"{func}: {comment}{params}"
    rest = rest.removeprefix("atomic: ")
    return f"{func}: {rest}"


def changes(step: TraceStep) -> str:
    shown = [f"{k}={new}" for k, (_old, new) in step.changes.items() if not _HIDDEN.match(k)]
    return " ".join(shown)


def format_timeline(trace: Trace, vcpu_pcpus: Sequence[int], summary: str = "", width: int = 40) -> str:
    """The trace as a per-CPU timeline (plain ASCII)."""
    cols = sorted({f"pCPU{p}" for p in (0, *vcpu_pcpus)}) + [GUEST]
    for st in trace.steps:
        col = column_of(st, vcpu_pcpus)
        if col not in cols:
            cols.insert(len(cols) - 1, col)
    heads = []
    for c in cols:
        who = [f"vCPU{v}" for v, p in enumerate(vcpu_pcpus) if c == f"pCPU{p}"]
        extra = ([", ".join(who)] if who else []) + (["LPI handler"] if c == "pCPU0" else [])
        heads.append(f"{c} ({', '.join(extra)})" if extra else c)
    out = [f"VIOLATION {trace.property} ({trace.kind})" + (f": {summary}" if summary else ""),
           f"model {trace.model}: shortest counterexample, {len(trace.steps)} steps", ""]
    num_w = len(str(len(trace.steps))) + 1
    sep = " | "

    def row(cells: list[list[str]], num: str) -> list[str]:
        height = max(len(c) for c in cells)
        lines = []
        for i in range(height):
            parts = [(c[i] if i < len(c) else "").ljust(width) for c in cells]
            lines.append((num if i == 0 else "").rjust(num_w) + " " + sep.join(parts).rstrip())
        return lines

    out += row([[h[:width]] for h in heads], "")
    out.append("-" * (num_w + 1 + len(cols) * (width + len(sep)) - len(sep)))
    for n, st in enumerate(trace.steps, start=1):
        col = column_of(st, vcpu_pcpus)
        text = describe(st)
        ch = changes(st)
        cell = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
        if ch:
            cell += textwrap.wrap("-> " + ch, width, subsequent_indent="   ", break_on_hyphens=False)
        if st.note:
            cell += textwrap.wrap("!! " + st.note, width, break_on_hyphens=False)
        cells = [cell if c == col else [] for c in cols]
        out += row(cells, f"{n}.")
    return "\n".join(out)
