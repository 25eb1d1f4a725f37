"""Counterexamples as per-CPU timelines a kernel developer reads without the docs.

One column per physical CPU (pCPU0 also runs the host LPI handler) plus one for the guest's own
actions and the devices; time runs downwards. Each shown step is one cell in the column of the
CPU that ran it::

    12. its_discard_event  vgic-v3-its.c:607  [vCPU0]
        spin_lock_irqsave(&vcpu->arch.vgic.lock)
        = v0's vgic lock: taken by pCPU1 (vCPU0)
        * p = &dev0.pend_irqs[0] obtained here

the step number (the trace's own, so it matches ``--trace-out`` and ``replay``), the C function
and its ``file:line`` in the modelled tree, the context in brackets, one line of what happens,
``=`` the changed values decoded to their C meaning, ``*`` the provenance marks, ``!!`` the
failure and what was expected. Model-internal control steps are not shown (their numbers are
skipped); with ``fold=True`` runs of steps on CPUs not involved in the failure become one line
and a CPU none of whose steps is involved loses its column.

The columns share the terminal's width (``width``; at least 24 characters each). Colour, when
asked for, marks the failing step (red) and provenance (yellow); the plain text is the same.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

from rich.text import Text

from itsrace.hyp.story import Story, StoryStep

MIN_COLUMN = 24
SEP = " | "


def _cell(st: StoryStep, width: int) -> list[tuple[str, str]]:
    """The lines of one step's cell, each with a style name ('' plain)."""
    def wrap(text: str, first: str, rest: str, style: str = "") -> list[tuple[str, str]]:
        lines = textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
                              break_on_hyphens=False, break_long_words=True) or [first.rstrip()]
        return [(line, style) for line in lines]

    head = f"{st.n}. {st.function}"
    if st.c_where:
        head += f"  {st.c_where}"
    elif st.model_where:  # a function the source map does not know (a design's own): its model line
        head += f"  ({st.model_where})"
    if st.context:
        head += f"  [{st.context}]"
    style = "fail" if st.failing else ("mark" if st.marks else "")
    out = wrap(head, "", "    ", "head-" + style if style else "head")
    out += wrap(st.text, "    ", "      ")
    for c in st.changes:
        out += wrap(c, "    = ", "      ")
    for m in st.marks:
        out += wrap(m, "    * ", "      ", "mark")
    if st.note:
        out += wrap(st.note, "    !! ", "       ", "fail")
    return out


def _rows(story: Story, fold: bool) -> Iterator[StoryStep | tuple[str, int]]:
    """Shown steps, and with ``fold`` ``(lane, count)`` for each run of uninvolved steps."""
    run_lane, run = "", 0
    for st in story.shown():
        if fold and st.lane not in story.involved and not st.marks and not st.failing:
            if run and run_lane != st.lane:
                yield (run_lane, run)
                run = 0
            run_lane, run = st.lane, run + 1
            continue
        if run:
            yield (run_lane, run)
            run = 0
        yield st
    if run:
        yield (run_lane, run)


def render(story: Story, width: int = 120, fold: bool = False) -> list[Text]:
    """The timeline as lines of rich ``Text`` (styles: fail, mark); see :func:`format_timeline`."""
    rows = list(_rows(story, fold))
    lanes = story.lanes
    if fold:  # a lane whose every step is folded gets no column
        lanes = [lane for lane in lanes if any(isinstance(r, StoryStep) and r.lane == lane for r in rows)] or lanes
    n = len(lanes)
    col = max(MIN_COLUMN, (width - (n - 1) * len(SEP)) // n)
    styles = {"fail": "bold red", "mark": "yellow", "head": "bold", "head-fail": "bold red", "head-mark": "bold yellow"}
    hidden = len(story.steps) - len(story.shown())
    title = f"VIOLATION {story.property} ({story.kind})" + (f": {story.summary}" if story.summary else "")
    about = (f"model {story.model}, {story.tree}: shortest counterexample, {len(story.steps)} steps"
             + (f" ({hidden} model-internal step{'s' * (hidden != 1)} not shown)" if hidden else ""))
    out = [Text(line, style="bold red") for line in textwrap.wrap(title, width, subsequent_indent="  ")]
    out += [Text(line) for line in textwrap.wrap(about, width, subsequent_indent="  ")]
    out.append(Text(""))

    def line(cells: dict[str, tuple[str, str]]) -> Text:
        t = Text()
        for i, lane in enumerate(lanes):
            text, style = cells.get(lane, ("", ""))
            if i:
                t.append(SEP)
            t.append(text.ljust(col) if i < n - 1 else text, style=styles.get(style, ""))
        t.rstrip()
        return t

    out.append(line({lane: (story.headings[lane][:col], "head") for lane in lanes}))
    out.append(Text("-+-".join("-" * col for _ in lanes)))
    for row in rows:
        if isinstance(row, tuple):
            lane, count = row
            out.append(Text(f"   ... {count} step{'s' * (count != 1)} of {lane} folded (not involved in the failure)",
                            style="dim"))
            continue
        for text, style in _cell(row, col):
            out.append(line({row.lane: (text, style)}))
    if story.expected and story.steps and not story.steps[-1].note:
        out += [Text(line, style="red") for line in textwrap.wrap(story.expected, max(width, MIN_COLUMN),
                                                                 subsequent_indent="   ")]
    return out


def format_timeline(story: Story, width: int = 120, fold: bool = False) -> str:
    """The timeline as plain text, every line at most ``width`` characters (unless the
    columns are at their minimum of 24)."""
    return "\n".join(t.plain for t in render(story, width, fold))


__all__ = ["format_timeline", "render"]
