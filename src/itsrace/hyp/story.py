"""A counterexample told in C terms: the data every view renders (text timeline, HTML swimlanes).

A base model's *explainer* (for Xen: :mod:`itsrace.xen.explain`) turns an engine
:class:`~itsrace.engine.explore.trace.Trace` into a :class:`Story`: for every step the CPU lane
and context (pCPU, vCPU or interrupt), the C function and ``file:line`` in the modelled tree,
one line of what happens in C terms, the changed values decoded to their C meaning, whether the
step is model-internal control flow (not shown), and the provenance marks of the failure (where
the failing pointer was obtained, which steps changed its object since).

Step numbers are the trace's own (1-based), so they match ``--trace-out``/``replay`` even when
internal steps are hidden or other CPUs' steps are folded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

GUEST = "guest / devices"


@dataclass
class StoryStep:
    n: int  # 1-based step number in the trace
    lane: str  # "pCPU1" or GUEST
    context: str  # "vCPU0", "LPI handler (IRQ)", "" for the guest lane
    function: str  # the C function (or the model function when the map does not know it)
    c_where: str  # "vgic-v3-its.c:607", "" when unknown
    url: str  # link to the C line, "" when none
    model_where: str  # model file:line, relative to the repository when possible
    text: str  # one line: what happens, in C terms
    changes: list[str] = field(default_factory=list)  # decoded changes
    internal: bool = False  # model-internal control step: not shown
    marks: list[str] = field(default_factory=list)  # provenance: "pointer p obtained here", ...
    failing: bool = False
    note: str = ""  # on the failing step: what failed and what was expected
    objects: dict[str, str] = field(default_factory=dict)  # involved objects' state after the step


@dataclass
class Story:
    property: str
    kind: str
    summary: str  # one line: what the property demands
    model: str
    tree: str  # "Xen RELEASE-4.10.0"
    lanes: list[str]  # lane names, in column order
    headings: dict[str, str]  # lane -> heading ("pCPU1 (vCPU0)")
    steps: list[StoryStep]
    involved: list[str] = field(default_factory=list)  # lanes involved in the failure
    expected: str = ""  # what the failing step expected (also in its note)
    objects: list[str] = field(default_factory=list)  # names of the involved objects

    def shown(self) -> list[StoryStep]:
        """The steps a reader sees (model-internal control steps left out)."""
        return [st for st in self.steps if not st.internal]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mark_undelivered(trace: Any, story: Story, event_name: Any) -> None:
    """For ``msi-delivered`` (a final property): name each event whose MSI is still owed to the
    guest at the end (the checker's ghost ``owed[q]``, shared by every hypervisor model) and
    mark the step where it became owed, the MSI's sending; ``event_name(q)`` names event ``q``."""
    if trace.property != "msi-delivered" or not trace.steps:
        return
    owed = sorted(int(k[5:-1]) for k, v in trace.final.items() if k.startswith("owed[") and v)
    lines = []
    for q in owed:
        at = next((i for i in range(len(trace.steps) - 1, -1, -1)
                   if trace.steps[i].changes.get(f"owed[{q}]", [0, 0])[1] == 1), None)
        name = event_name(q)
        if at is None:
            lines.append(f"the MSI of {name} was never delivered")
            continue
        story.steps[at].marks.append(f"the MSI of {name} is sent here: it is never delivered")
        story.involved.append(story.steps[at].lane)
        lines.append(f"the MSI of {name} sent at step {at + 1} was never delivered")
    if lines:
        story.expected = "; ".join([story.expected, *lines]) if story.expected else "; ".join(lines)
        story.involved = list(dict.fromkeys(story.involved))


__all__ = ["GUEST", "Story", "StoryStep", "mark_undelivered"]
