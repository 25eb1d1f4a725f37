"""KVM's explainer: a counterexample of the ``kvm`` model told in C terms (a :class:`Story`).

The same shape as Xen's (:mod:`itsrace.xen.explain`), with KVM's objects. For each step:

* the **CPU**: a vCPU runs on its pCPU (``vCPU0`` on ``pCPU1``); an MSI is handed to KVM by a
  VMM thread or irqfd (``msi0``: its own lane, any CPU); the guest's own actions run on its
  vCPU's pCPU;
* the **C location**: :func:`itsrace.kvm.srcmap.locate` (a step annotation, else the function's
  first line at the modelled commit, else the model's own location);
* **what happens**: the model line's comment, else the statement;
* the **changed values decoded**: ``irq@8192#0.refcount = 2``, ``lpi_xa[8192] = &irq@8192#1``,
  ``v0's ap_list_lock: taken by vCPU0 (pCPU1)``, LR states by name; ghosts and program counters
  are left out.

**Provenance**: when the failing step dereferences a ``vgic_irq`` pointer (a local holding
``slot + 1``), the step that obtained it and every later step that changed that object
(``o_*[slot]``) are marked, and the failing step says what was expected. A ``vgic_irq`` is
named by its INTID and slot, ``irq@8192#1``: an INTID may have two objects at once (a dying one
and its replacement, :mod:`itsrace.kvm.consts`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from itsrace.engine.explore.trace import Trace, TraceStep
from itsrace.hyp.properties import PROPERTIES
from itsrace.hyp.srcmap import relative, split_annotation, step_comment
from itsrace.hyp.story import GUEST, Story, StoryStep, mark_undelivered
from itsrace.kvm.srcmap import TREE, locate

LR_STATES = ("invalid", "pending", "active", "pending+active")
GHOSTS = re.compile(r"^(lr_own|ce_snap|trig|msi_v|owed|gv_lpi|gv_col|gv_dev|gv_dirty|dev_gone|msi_left|exits_left|"
                    r"cmd_next)\[|^cmds_left$")
CONTROL = re.compile(r"^(pc_|irqs_off|in_irq)")
LOCK_CALL = re.compile(r"^(spin_lock|spin_unlock|ap_list_lock|ap_list_unlock|local_irq)")
POINTER_DECL = re.compile(r"\b(\w+): range\(NO \+ 1\)")
LABEL = re.compile(r"^(?P<var>[A-Za-z_]\w*)(?P<index>(\[\d+\])*)$")
OBJ_FIELDS = {"o_ref": "refcount", "o_pending": "pending_latch", "o_enabled": "enabled", "o_prio": "priority",
              "o_active": "active"}


def context_of(model: Any) -> dict[str, Any]:
    """What the explainer needs from a built model (a plain dict, it travels with a trace)."""
    from itsrace.engine.lang.process import instances

    consts = dict(model.meta.get("consts", {}))
    names: set[str] = set()
    for fn in [*model.meta.get("procedures", []), *(spec.fn for spec in model.meta.get("processes", []))]:
        try:
            found = set(POINTER_DECL.findall(inspect.getsource(fn)))
        except (OSError, TypeError):
            found = set()
        names.update(f"{fn.__name__}_{name}" for name in found)
    return {
        "consts": {k: (list(v) if isinstance(v, tuple) else v) for k, v in consts.items()},
        "processes": instances(model),
        "pointer_names": sorted(names),
        "locals": sorted(v.name for v in model.vars.values() if v.kind in ("local", "pc")),
        "design": model.meta.get("design", ""),
        "scenario": model.meta.get("scenario", ""),
    }


class Decoder:
    """Decodes variables of one ``kvm`` model (its sizes) into C terms."""

    def __init__(self, ctx: Mapping[str, Any]) -> None:
        K = ctx.get("consts", {})
        self.NC = int(K.get("NC", 1))
        self.NE = int(K.get("NE", 1))
        self.NCOL = int(K.get("NCOL", 1))
        self.NPOOL = int(K.get("NPOOL", 2))
        self.vcpu_pcpus: list[int] = list(K.get("VCPU_PCPU", [1]))
        self.processes: list[str] = list(ctx.get("processes", []))
        self.pointer_names: tuple[str, ...] = tuple(ctx.get("pointer_names", []))
        self.locals: set[str] = set(ctx.get("locals", []))

    def is_local(self, label: str) -> bool:
        m = LABEL.match(label)
        return (m.group("var") if m else label) in self.locals

    def irq(self, o: int) -> str:
        """Slot ``o`` as a C object name: ``irq@8192#0`` (INTID, slot in its pool)."""
        return f"irq@{8192 + o // self.NPOOL}#{o % self.NPOOL}"

    def pointer(self, r: int) -> str:
        return "NULL" if r == 0 else f"&{self.irq(r - 1)}"

    def vcpu(self, v: int) -> str:
        return "NULL" if v >= self.NC else f"v{v}"

    def event(self, q: int) -> str:
        d, e = divmod(q, self.NE)
        return f"dev{d} event{e}"

    def cpu_of(self, process: str) -> str:
        if process.startswith("vCPU"):
            v = int(process[4:])
            return f"pCPU{self.vcpu_pcpus[v]}" if v < len(self.vcpu_pcpus) else process
        return process

    def owner(self, value: int) -> str:
        if value == 0:
            return "free"
        pid = value - 1
        name = self.processes[pid] if pid < len(self.processes) else f"process {pid}"
        return f"taken by {name}" + (f" ({self.cpu_of(name)})" if name.startswith("vCPU") else "")

    def local_pointer(self, label: str) -> str | None:
        """``vgic_its_check_cache_c`` -> ``c`` when it is a ``vgic_irq`` pointer local."""
        if not self.is_local(label):
            return None
        m = LABEL.match(label)
        base = m.group("var") if m else label
        for name in self.pointer_names:
            if base == name or base.endswith("_" + name):
                return name.rsplit("_", 1)[-1]
        return None

    def decode(self, label: str, value: int) -> str | None:
        """``label = value`` in C terms; ``None`` for what a reader of the C does not need."""
        if CONTROL.match(label) or GHOSTS.match(label):
            return None
        m = LABEL.match(label)
        if m is None:
            return f"{label} = {value}"
        var = m.group("var")
        idx = [int(i) for i in re.findall(r"\d+", m.group("index"))]
        i0 = idx[0] if idx else 0
        if var in OBJ_FIELDS:
            return f"{self.irq(i0)}.{OBJ_FIELDS[var]} = {value}"
        if var == "o_alive":
            return f"{self.irq(i0)}: " + ("allocated (kzalloc)" if value else "freed (kfree / kfree_rcu)")
        if var == "o_target":
            return f"{self.irq(i0)}.target_vcpu = {self.vcpu(value)}"
        if var == "o_vcpu":
            return f"{self.irq(i0)}.vcpu = " + (f"v{value - 1} (on its ap_list)" if value else "NULL (on no ap_list)")
        if var == "xa":
            return f"lpi_xa[{8192 + i0}] = " + (self.pointer(value) if value else "(no entry)")
        if var in ("irq_lock", "xa_lock", "cmd_lock", "its_lock", "ap_list_lock0", "ap_list_lock1"):
            name = {"irq_lock": f"{self.irq(i0)}.irq_lock", "xa_lock": "lpi_xa.xa_lock", "cmd_lock": "its->cmd_lock",
                    "its_lock": "its->its_lock", "ap_list_lock0": "v0's ap_list_lock",
                    "ap_list_lock1": "v1's ap_list_lock"}[var]
            return f"{name}: {self.owner(value)}"
        if var == "its_enabled":
            return "its->enabled = " + ("true" if value else "false")
        if var == "dev":
            return f"its_device dev{i0}: " + ("allocated, on device_list" if value else "freed")
        if var == "ite":
            return f"its_ite {self.event(i0)}: " + ("allocated" if value else "freed")
        if var == "ite_irq":
            return f"its_ite {self.event(i0)}.irq = {self.pointer(value)}"
        if var == "ite_col":
            return f"its_ite {self.event(i0)}.collection = " + ("NULL" if value >= self.NCOL else f"collection {value}")
        if var == "col_target":
            return f"collection {i0}.target_addr = " + ("COLLECTION_NOT_MAPPED" if value >= self.NC else f"v{value}")
        if var == "cache":
            return f"translation_cache[{self.event(i0)}] = " + (self.pointer(value) if value else "(no entry)")
        if var == "lpis_en":
            return f"v{i0} GICR_CTLR.EnableLPIs = {value}"
        if var == "lr_intid":
            return f"v{i0} LR{idx[1]}.vINTID = " + (str(8191 + value) if value else "0")
        if var == "lr_state":
            return f"v{i0} LR{idx[1]}.state = {LR_STATES[value] if 0 <= value < 4 else value}"
        if var == "in_guest":
            return f"v{i0}: " + ("back in the guest" if value else "exits to KVM")
        if var == "kick":
            return f"v{i0}: " + ("KVM_REQ_IRQ_PENDING + kvm_vcpu_kick" if value else "request consumed")
        if var == "prop_en":
            return f"property table: LPI {8192 + i0} " + ("enabled" if value else "disabled")
        if var == "prop_prio":
            return f"property table: LPI {8192 + i0} priority {value}"
        ptr = self.local_pointer(label)
        if ptr is not None:
            return f"{ptr} = {self.pointer(value)}"
        if self.is_local(label):
            return None
        return f"{label} = {value}"


def lane_of(step: TraceStep, dec: Decoder) -> tuple[str, str]:
    """(lane, context) of a step."""
    proc = step.process
    if proc is None:
        m = re.search(r"\(v=(\d+)", step.label)
        if step.label.startswith("guest_") and m:
            v = int(m.group(1))
            return (f"pCPU{dec.vcpu_pcpus[v]}" if v < len(dec.vcpu_pcpus) else GUEST), f"guest on v{v}"
        return GUEST, "guest"
    if proc.startswith("msi"):
        return proc, "VMM / irqfd"
    return dec.cpu_of(proc), proc


def is_internal(step: TraceStep, text: str, rest: str, dec: Decoder) -> bool:
    """A model-internal control step: no C comment, not a lock operation, and it changes no
    state a C reader sees."""
    if text or step.note or step.process is None or LOCK_CALL.match(rest):
        return False
    return all(CONTROL.match(k) or GHOSTS.match(k) or dec.is_local(k) for k in step.changes)


LOCKS_C = [
    (re.compile(r"^spin_lock\(s\.irq_lock\[\w+\]\)"), "raw_spin_lock(&irq->irq_lock)"),
    (re.compile(r"^spin_unlock\(s\.irq_lock\[\w+\]\)"), "raw_spin_unlock(&irq->irq_lock)"),
    (re.compile(r"^spin_lock\(s\.xa_lock\)"), "xa_lock_irqsave(&dist->lpi_xa)"),
    (re.compile(r"^spin_unlock\(s\.xa_lock\)"), "xa_unlock_irqrestore(&dist->lpi_xa)"),
    (re.compile(r"^spin_lock\(s\.(its_lock|cmd_lock)\)"), r"mutex_lock(&its->\1)"),
    (re.compile(r"^spin_unlock\(s\.(its_lock|cmd_lock)\)"), r"mutex_unlock(&its->\1)"),
    (re.compile(r"^spin_lock\(s\.ap_list_lock(\d)\)"), r"raw_spin_lock(&vcpu\1->arch.vgic_cpu.ap_list_lock)"),
    (re.compile(r"^spin_unlock\(s\.ap_list_lock(\d)\)"), r"raw_spin_unlock(&vcpu\1->arch.vgic_cpu.ap_list_lock)"),
]


def c_statement(rest: str) -> str:
    """A step label's statement in C spelling where the model's differs only in names
    (``spin_lock(s.irq_lock[o])`` -> ``raw_spin_lock(&irq->irq_lock)``; the ITS locks are
    mutexes, ``lpi_xa``'s is the xarray's own)."""
    rest = re.sub(r"\s*#\d+$", "", rest)
    for pattern, repl in LOCKS_C:
        if pattern.match(rest):
            return pattern.sub(repl, rest)
    return re.sub(r"\bs\.", "", rest)


def explain_step(n: int, step: TraceStep, dec: Decoder) -> StoryStep:
    lane, context = lane_of(step, dec)
    func, _, rest = step.label.partition(": ")
    rest = rest.removeprefix("atomic: ")
    comment = step_comment(step.where) if step.process is not None else ""
    _ann, text = split_annotation(comment)
    base_func = re.sub(r"\(.*$", "", func).strip()
    loc = locate(base_func, comment, step.where)
    internal = is_internal(step, text, rest, dec)
    if step.process is None:
        text = step.label
    elif not text:
        text = c_statement(rest)
    params = re.search(r"\(((?:[a-zA-Z_]+=-?\d+(?:, )?)+)\)$", step.action)
    if params and step.process is not None:
        text += f" [{params.group(1)}]"
    changes: list[str] = []
    # one pointer local per step: the one this step's own function sets, when it is set (a
    # pointer handed to a callee as its parameter is shown where the callee uses it)
    own = [k for k, (_o, new) in step.changes.items()
           if new != 0 and dec.local_pointer(k) and re.search(rf"(^|_){re.escape(base_func)}_[A-Za-z]\w*(\[|$)", k)]
    for k, (_old, new) in step.changes.items():
        if dec.local_pointer(k) and k not in own[:1]:
            continue
        decoded = dec.decode(k, new)
        if decoded and decoded not in changes:
            changes.append(decoded)
    return StoryStep(
        n=n, lane=lane, context=context,
        function=loc.function if loc else base_func,
        c_where=str(loc) if loc else "", url=loc.url if loc else "",
        model_where=relative(step.where), text=text, changes=changes,
        internal=internal, failing=bool(step.note), note=step.note,
    )


def explain(trace: Trace, ctx: Mapping[str, Any]) -> Story:
    """The whole trace in C terms, with the failure's provenance marked."""
    dec = Decoder(ctx)
    steps = [explain_step(n, st, dec) for n, st in enumerate(trace.steps, start=1)]
    lanes = sorted({f"pCPU{p}" for p in dec.vcpu_pcpus}, key=lambda s: int(s[4:]))
    for name in dec.processes:
        if name.startswith("msi") and name not in lanes:
            lanes.append(name)
    for st in steps:
        if st.lane not in lanes and st.lane != GUEST:
            lanes.append(st.lane)
    lanes.append(GUEST)
    headings = {}
    for lane in lanes:
        who = [f"vCPU{v}" for v, p in enumerate(dec.vcpu_pcpus) if lane == f"pCPU{p}"]
        headings[lane] = f"{lane} ({', '.join(who)})" if who else (f"{lane} (VMM)" if lane.startswith("msi") else lane)
    prop = PROPERTIES.get(trace.property)
    story = Story(property=trace.property, kind=trace.kind, summary=prop.summary if prop else "",
                  model=trace.model, tree=TREE, lanes=lanes, headings=headings, steps=steps)
    provenance(trace, story, dec)
    if not story.involved and steps:
        story.involved = [steps[-1].lane]
    return story


def provenance(trace: Trace, story: Story, dec: Decoder) -> None:
    """Mark where the failing step's pointer came from and every step that changed its object;
    without a pointer, say what was expected of the failing state."""
    if not trace.steps:
        return
    last, failing = trace.steps[-1], story.steps[-1]
    prop = PROPERTIES.get(trace.property)
    summary = f"expected: {prop.summary}" if prop else ""
    ptrs = [(k, v) for k, v in last.reads.items() if dec.local_pointer(k) and v > 0]
    if not ptrs or not last.note:
        if last.note:
            failing.note = f"{last.note}: {summary}" if summary else last.note
            story.expected = summary
        else:
            story.expected = f"=> {trace.kind} '{trace.property}' fails in the state after step {failing.n}" + (
                f"; {summary}" if summary else "")
        story.involved = [failing.lane]
        mark_undelivered(trace, story, dec.event)
        return
    label, r = ptrs[0]
    name = dec.local_pointer(label) or "irq"
    o = r - 1
    obj = dec.irq(o)
    story.objects = [obj]
    origin = next((i for i in range(len(trace.steps) - 2, -1, -1)
                   if (trace.steps[i].changes.get(label) or [0, 0])[1] == r), None)
    involved = [failing.lane]
    if origin is not None:
        story.steps[origin].marks.append(f"{name} = &{obj} obtained here")
        involved.append(story.steps[origin].lane)
    freed_at = None
    fields = re.compile(rf"^o_\w+\[{o}\]$")
    for i in range((origin if origin is not None else -1) + 1, len(trace.steps) - 1):
        changed = trace.steps[i].changes
        if not any(fields.match(k) for k in changed):
            continue
        if changed.get(f"o_alive[{o}]", [1, 1])[1] == 0:
            freed_at = i + 1
        story.steps[i].marks.append(f"changes {obj}, the object {name} points to")
        involved.append(story.steps[i].lane)
    where = f", obtained at step {origin + 1}" if origin is not None else ""
    if trace.property == "use-after-free":
        expected = f"expected {name} (&{obj}{where}) to point to allocated memory" + (
            f"; it was freed at step {freed_at}" if freed_at else "")
    else:
        expected = f"expected {name} (&{obj}{where}) to satisfy '{trace.property}'" + (
            f" ({prop.summary})" if prop else "")
    story.expected = expected
    failing.note = f"{last.note}: {expected}"
    failing.marks.append(f"dereferences {name} = &{obj}")
    story.involved = list(dict.fromkeys(involved))
    fields_of = [f"o_{f}[{o}]" for f in ("alive", "ref", "pending", "enabled", "target", "vcpu")]
    cur = {k: trace.initial.get(k, 0) for k in fields_of}
    for st, raw in zip(story.steps, trace.steps, strict=True):
        for k, (_old, new) in raw.changes.items():
            if k in cur:
                cur[k] = new
        st.objects = {obj: "; ".join(c for c in (dec.decode(k, v) for k, v in cur.items()) if c)}


__all__ = ["Decoder", "context_of", "explain", "explain_step", "lane_of"]
