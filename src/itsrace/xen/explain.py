"""Xen's explainer: a counterexample of the Xen model told in C terms (a :class:`Story`).

For each trace step it finds

* the **CPU**: the pCPU lane and the context running there (``vCPU0``, the LPI handler in IRQ
  context, the guest or a device);
* the **C location**: :func:`itsrace.xen.srcmap.locate` from the model function and the
  ``[file.c:LINE]`` annotation in the step's comment;
* **what happens**: the model line's comment (the C it stands for), else the statement;
* the **changed values decoded**: ``p->lpi_vcpu_id = INVALID_VCPU_ID``, ``v0's vgic lock: taken
  by pCPU1 (vCPU0)``, LR states by name; ghost variables and program counters are left out;
* whether it is a **model-internal control step** (a loop or branch test of the model, a step
  that only moves locals): such steps are marked ``internal`` and not shown.

Then **provenance**: when the failing step dereferences a ``pending_irq`` pointer (a local
holding ``1 + 2*slot + generation``, see :mod:`itsrace.xen.consts`), the step where that
pointer's value was obtained is marked, so is every later step that changed that
``pending_irq`` (any ``p_*`` field of its slot), and the failing step says what was expected.

The context (sizes, process names in pid order, pointer locals) comes from the built model:
:func:`context_of`; it is a plain dict, so it travels with a trace into worker results.
"""

from __future__ import annotations

import linecache
import os
import re
from collections.abc import Mapping
from typing import Any

from itsrace.engine.explore.trace import Trace, TraceStep
from itsrace.hyp.properties import PROPERTIES
from itsrace.hyp.story import GUEST, Story, StoryStep, mark_undelivered
from itsrace.xen.srcmap import TREE, locate, split_annotation

LR_STATES = ("invalid", "pending", "active", "pending+active")
# the checker's own records (ghosts) and the scenario's bounds: not Xen state
GHOSTS = re.compile(r"^(lr_own|lr_gen|trig|msi_v|owed|gv_lpi|gv_dev|gv_dirty|dev_gone|dt_cur|dt_old|dt_soon|ce_snap|msi_left|exits_left|"
                    r"cmd_next|rw_left)\[|^(cmds_left|gv_wild)$")
# an LPI handler's process: "pCPU0:irq", or "pCPU0:irq0", "pCPU0:irq1" when handlers nest (lpi_nesting = 2)
HANDLER = re.compile(r":irq\d*$")
CONTROL = re.compile(r"^(pc_|irqs_off|in_irq)")
LOCK_CALL = re.compile(r"^(spin_lock|spin_unlock|read_lock|read_unlock|write_lock|write_unlock|local_irq)")
POINTER_DECL = re.compile(r"\b(\w+): range\(NPTR\)")
LABEL = re.compile(r"^(?P<var>[A-Za-z_]\w*)(?P<index>(\[\d+\])*)$")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def context_of(model: Any) -> dict[str, Any]:
    """What the explainer needs from a built model: sizes, the pCPU of each vCPU, process
    instances in pid order (lock owners are pid + 1) and the names of pointer locals."""
    from itsrace.engine.lang.process import instances

    consts = dict(model.meta.get("consts", {}))
    names: set[str] = set()
    for fn in [*model.meta.get("procedures", []), *(spec.fn for spec in model.meta.get("processes", []))]:
        names.update(f"{fn.__name__}_{name}" for name in _pointer_names(fn))
    from itsrace.engine.lang.process import step_pcs

    waits: dict[str, dict[str, str]] = {}  # instance -> {"pc var": ..., "<pc>": step label}
    for spec in model.meta.get("processes", []):
        for index, ident in enumerate(spec.ids):
            name = spec.instance_name(ident)
            labels = {str(pc): label for label, pc in step_pcs(model, name).items()}
            waits[name] = {"pc": f"pc_{spec.base}[{index}]", **labels}
    return {
        "consts": {k: (list(v) if isinstance(v, tuple) else v) for k, v in consts.items()},
        "steps_at": waits,
        "processes": instances(model),
        "pointer_names": sorted(names),
        "locals": sorted(v.name for v in model.vars.values() if v.kind in ("local", "pc")),
        "design": model.meta.get("design", ""),
        "scenario": model.meta.get("scenario", ""),
    }


def _pointer_names(fn: Any) -> set[str]:
    try:
        import inspect

        return set(POINTER_DECL.findall(inspect.getsource(fn)))
    except (OSError, TypeError):
        return set()


# -- one value in C terms ----------------------------------------------------------------------------
class Decoder:
    """Decodes model variables of one model (its sizes) into C terms."""

    def __init__(self, ctx: Mapping[str, Any]) -> None:
        K = ctx.get("consts", {})
        self.NC = int(K.get("NC", 1))
        self.NL = int(K.get("NL", 1))
        self.NE = int(K.get("NE", 1))
        self.NCOL = int(K.get("NCOL", 1))
        self.vcpu_pcpus: list[int] = list(K.get("VCPU_PCPU", [1]))
        self.processes: list[str] = list(ctx.get("processes", []))
        self.pointer_names: tuple[str, ...] = tuple(ctx.get("pointer_names", []))
        self.locals: set[str] = set(ctx.get("locals", []))
        self.steps_at: dict[str, dict[str, str]] = dict(ctx.get("steps_at", {}))

    def is_local(self, label: str) -> bool:
        m = LABEL.match(label)
        var = m.group("var") if m else label
        return var in self.locals or var.startswith(("vCPU_", "gicv3_do_LPI_"))

    # names
    def pirq(self, q: int) -> str:
        d, e = divmod(q, self.NE)
        return f"dev{d}.pend_irqs[{e}]"

    def vlpi(self, V: int) -> str:
        return "INVALID_LPI" if V == 0 else f"vLPI {8192 + V - 1}"

    def vcpu(self, v: int) -> str:
        return "INVALID_VCPU_ID" if v >= self.NC else f"v{v}"

    def pointer(self, r: int) -> str:
        if r == 0:
            return "NULL"
        q, gen = divmod(r - 1, 2)
        return f"&{self.pirq(q)} (generation {gen})"

    def owner(self, value: int) -> str:
        if value == 0:
            return "free"
        pid = value - 1
        name = self.processes[pid] if pid < len(self.processes) else f"process {pid}"
        return f"taken by {self.cpu_of(name)}" + (f" ({name.split(':')[0]})" if name.startswith("vCPU") else "")

    def cpu_of(self, process: str) -> str:
        if process.startswith("pCPU"):
            return process.split(":")[0]
        if process.startswith("vCPU"):
            v = int(process[4:])
            return f"pCPU{self.vcpu_pcpus[v]}" if v < len(self.vcpu_pcpus) else process
        return process

    def local_pointer(self, label: str) -> str | None:
        """``gicv3_do_LPI_vgic_vcpu_inject_lpi_r[0]`` -> ``r`` when it is a pointer local (a
        local of a function that declares it ``range(NPTR)``)."""
        m = LABEL.match(label)
        base = m.group("var") if m else label
        if not self.is_local(label):
            return None
        for name in self.pointer_names:
            if base.endswith("_" + name):
                return name.rsplit("_", 1)[-1]
        return None

    def decode(self, label: str, value: int) -> str | None:
        """``label = value`` in C terms; ``None`` for what a reader of the C does not need
        (program counters, interrupt-mask bookkeeping, ghosts, non-pointer locals)."""
        if CONTROL.match(label) or GHOSTS.match(label):
            return None
        m = LABEL.match(label)
        if m is None:
            return f"{label} = {value}"
        var = m.group("var")
        idx = [int(i) for i in re.findall(r"\d+", m.group("index"))]
        i0 = idx[0] if idx else 0
        bits = {"p_queued": "GIC_IRQ_GUEST_QUEUED", "p_active": "GIC_IRQ_GUEST_ACTIVE",
                "p_visible": "GIC_IRQ_GUEST_VISIBLE", "p_enabled": "GIC_IRQ_GUEST_ENABLED",
                "p_pristine": "GIC_IRQ_GUEST_PRISTINE_LPI"}
        if var in bits:
            return f"{self.pirq(i0)}: {'set_bit' if value else 'clear_bit'}({bits[var]})"
        if var == "p_irq":
            return f"{self.pirq(i0)}.irq = {self.vlpi(value)}"
        if var == "p_vcpu":
            return f"{self.pirq(i0)}.lpi_vcpu_id = {self.vcpu(value)}"
        if var == "p_lr":
            return f"{self.pirq(i0)}.lr = {'GIC_INVALID_LR' if value >= self.NL else value}"
        if var == "p_prio":
            return f"{self.pirq(i0)}.priority = {value}"
        if var == "p_lpiprio":
            return f"{self.pirq(i0)}.lpi_priority = {value}"
        if var == "p_infl":
            return f"{self.pirq(i0)}.inflight: " + (f"on v{value - 1}'s inflight_irqs" if value else "list_del_init (empty)")
        if var == "p_lrq":
            return f"{self.pirq(i0)}.lr_queue: " + (f"on v{value - 1}'s lr_pending" if value else "list_del_init (empty)")
        if var == "p_alive":
            return f"{self.pirq(i0)}: " + ("allocated (xzalloc)" if value else "freed (xfree(pend_irqs))")
        if var == "p_gen":
            return f"{self.pirq(i0)}: a new identity (generation {value})"
        if var == "p_heads":
            return f"{self.pirq(i0)}: list heads " + ("initialised" if value else "NULL")
        if var == "host_lpi":
            what = {-1: "free {0, DOMID_INVALID}", 0: "{INVALID_LPI, Dom0}"}.get(value, f"{{{self.vlpi(value)}, Dom0}}")
            return f"host_lpis[{i0}] = {what}"
        if var == "host_pend":
            return f"host LPI {i0}: " + ("pending at the redistributor" if value else "acknowledged")
        if var == "host_dev":
            return f"its_device dev{i0}: " + ("in the domain's rbtree" if value else "removed from the rbtree")
        if var == "hits_dev":
            return f"host ITS: dev{i0} " + ("mapped (MSIs become host LPIs)" if value else "unmapped (MAPD V=0)")
        if var == "tree":
            lpi = self.vlpi(i0 + 1)
            return f"pend_lpi_tree[{lpi}] = " + (f"&{self.pirq(value - 1)}" if value else "(deleted)")
        if var in ("vgic_lock", "vcmd_lock", "its_lock", "devs_lock", "tree_lock_w"):
            name = {"vgic_lock": f"v{i0}'s vgic lock", "vcmd_lock": "its->vcmd_lock", "its_lock": "its->its_lock",
                    "devs_lock": "its_devices_lock", "tree_lock_w": "pend_lpi_tree_lock (write)"}[var]
            return f"{name}: {self.owner(value)}"
        if var == "tree_lock_r":
            return f"pend_lpi_tree_lock: {value} reader(s)"
        if var == "its_enabled":
            return "its->enabled = " + ("true" if value else "false (GITS_CTLR.Enabled cleared)")
        if var == "cmd_pend":
            return "its->cwriter " + ("ahead of its->creadr: commands queued" if value else "== its->creadr")
        if var == "tree_wq":
            return "pend_lpi_tree_lock: " + ("a writer is queued (_QW_WAITING): new readers wait" if value
                                             else "no writer queued")
        if var == "lr_virq":
            return f"v{i0} LR{idx[1]}.vINTID = " + (self.vlpi(value) if value else "0")
        if var == "lr_state":
            return f"v{i0} LR{idx[1]}.state = {LR_STATES[value] if 0 <= value < 4 else value}"
        if var == "lr_mask":
            return f"v{i0} lr_mask bit {idx[1]} " + ("set" if value else "cleared")
        if var == "in_guest":
            return f"v{i0}: " + ("back in the guest" if value else "trapped into Xen")
        if var == "kick":
            return f"v{i0}: " + ("EVENT_CHECK SGI pending" if value else "kick taken")
        if var == "uie":
            return f"v{i0}: ICH_HCR.UIE " + ("set" if value else "cleared")
        if var in ("dte", "itte_lpi", "itte_col", "col_vcpu", "prop_en", "prop_prio"):
            return self.guest_table(var, i0, value)
        if var.startswith("p_") and len(idx) == 1 and not self.is_local(label):  # a design's pending_irq field
            return f"{self.pirq(i0)}.{var[2:]} = {value}"
        ptr = self.local_pointer(label)
        if ptr is not None:
            return f"{ptr} = {self.pointer(value)}"
        if self.is_local(label):
            return None  # other locals: in --json and --trace-out
        return f"{label} = {value}"

    def guest_table(self, var: str, i: int, value: int) -> str:
        if var == "dte":
            return f"guest device table: dev{i} " + ("mapped" if value else "unmapped")
        if var == "itte_lpi":
            return f"guest ITT: {self.pirq(i).replace('.pend_irqs', ' event')} -> {self.vlpi(value)}"
        if var == "itte_col":
            return f"guest ITT: {self.pirq(i).replace('.pend_irqs', ' event')} collection " + (
                "UNMAPPED" if value >= self.NCOL else str(value))
        if var == "col_vcpu":
            return f"guest collection {i} -> " + ("unmapped" if value >= self.NC else f"v{value}")
        if var == "prop_en":
            return f"property table: {self.vlpi(i + 1)} " + ("enabled" if value else "disabled")
        return f"property table: {self.vlpi(i + 1)} priority {value}"


# -- a step --------------------------------------------------------------------------------------------
def _comment(step: TraceStep) -> str:
    path, _, line = step.where.rpartition(":")
    if not line.isdigit():
        return ""
    text = linecache.getline(path, int(line))
    return text.split("#", 1)[1].strip() if "#" in text else ""


def _rel(where: str) -> str:
    path, sep, line = where.rpartition(":")
    if sep and os.path.isabs(path) and path.startswith(REPO + os.sep):
        return f"{os.path.relpath(path, REPO)}:{line}"
    return where


LOCKS_C = [(re.compile(r"\bs\.vgic_lock\[(\w+)\]"), r"&\1->arch.vgic.lock"),
           (re.compile(r"\bs\.vcmd_lock\b"), "&its->vcmd_lock"), (re.compile(r"\bs\.its_lock\b"), "&its->its_lock"),
           (re.compile(r"\bs\.devs_lock\b"), "&d->arch.vgic.its_devices_lock"),
           (re.compile(r"\bs\.tree_lock\b"), "&d->arch.vgic.pend_lpi_tree_lock")]


def c_statement(rest: str) -> str:
    """A step label's statement in C spelling where the model's differs only in names
    (``spin_lock(s.vcmd_lock)`` -> ``spin_lock(&its->vcmd_lock)``)."""
    for pattern, repl in LOCKS_C:
        rest = pattern.sub(repl, rest)
    rest = re.sub(r"\bs\.", "", rest)
    return re.sub(r"\s*#\d+$", "", rest)


def lane_of(step: TraceStep, dec: Decoder) -> tuple[str, str]:
    """(lane, context) of a step."""
    proc = step.process
    if proc is None:
        m = re.search(r"\(v=(\d+)", step.label)
        if step.label.startswith("guest_") and m:
            v = int(m.group(1))
            return (f"pCPU{dec.vcpu_pcpus[v]}" if v < len(dec.vcpu_pcpus) else GUEST), f"guest on v{v}"
        return GUEST, "device" if step.label.startswith("device_") else "guest"
    if HANDLER.search(proc):
        nested = proc[-1].isdigit() and proc[-1] != "0"
        return proc.split(":")[0], "nested LPI handler (IRQ)" if nested else "LPI handler (IRQ)"
    return dec.cpu_of(proc), proc


def _text_of(comment: str) -> str:
    """A step comment without its ``[file.c:LINE]`` / ``[patch]`` annotation."""
    return split_annotation(comment)[1]


def is_internal(step: TraceStep, comment: str, rest: str, dec: Decoder) -> bool:
    """A model-internal control step: no C comment (an annotation alone does not count), not a lock operation, and it changes no
    state a C reader sees (only program counters, interrupt bookkeeping and locals)."""
    if comment or step.note or step.process is None:
        return False
    if LOCK_CALL.match(rest):
        return False
    return all(CONTROL.match(k) or GHOSTS.match(k) or dec.is_local(k) for k in step.changes)


OBJECT_FIELD = re.compile(r"^(?P<obj>dev\d+\.pend_irqs\[\d+\])(?:\.|: )(?P<what>.*)$")


def group_by_object(changes: list[str]) -> list[str]:
    """``dev0.pend_irqs[0].irq = X`` and ``dev0.pend_irqs[0].lpi_vcpu_id = Y`` become one
    ``dev0.pend_irqs[0]: irq = X; lpi_vcpu_id = Y`` (in the order of the first)."""
    groups: dict[str, list[str]] = {}
    out: list[str] = []
    for text in changes:
        m = OBJECT_FIELD.match(text)
        if m is None:
            out.append(text)
            continue
        if m.group("obj") not in groups:
            groups[m.group("obj")] = []
            out.append("\0" + m.group("obj"))
        groups[m.group("obj")].append(m.group("what"))
    return [f"{t[1:]}: {'; '.join(groups[t[1:]])}" if t.startswith("\0") else t for t in out]


def explain_step(n: int, step: TraceStep, dec: Decoder) -> StoryStep:
    lane, context = lane_of(step, dec)
    func, _, rest = step.label.partition(": ")
    rest = rest.removeprefix("atomic: ")
    comment = _comment(step) if step.process is not None else ""
    _ann, text = split_annotation(comment)
    base_func = re.sub(r"\(.*$", "", func).strip()
    loc = locate(base_func, comment, step.where)
    if step.process is None:
        text = step.label
    elif not text:
        text = c_statement(rest)
    params = re.search(r"\(((?:[a-zA-Z_]+=-?\d+(?:, )?)+)\)$", step.action)
    if params and step.process is not None and "=" in params.group(1):
        text += f" [{params.group(1)}]"
    changes: list[str] = []
    # one pointer local per step: the one this step's own function sets (a pointer handed to a
    # callee as its parameter is shown where the callee uses it), and only when it is set
    own = [k for k, (_o, new) in step.changes.items()
           if new != 0 and dec.local_pointer(k) and re.search(rf"_{re.escape(base_func)}_[A-Za-z]\w*(\[|$)", k)]
    freed = any(k.startswith("p_alive[") and new == 0 for k, (_old, new) in step.changes.items())
    for k, (_old, new) in step.changes.items():
        if dec.local_pointer(k) and k not in own[:1]:
            continue
        if freed and k.startswith("p_gen["):
            continue
        decoded = dec.decode(k, new)
        if decoded and decoded not in changes:
            changes.append(decoded)
    changes = group_by_object(changes)
    return StoryStep(
        n=n, lane=lane, context=context,
        function=loc.function if loc else base_func,
        c_where=str(loc) if loc else "", url=loc.url if loc else "",
        model_where=_rel(step.where), text=text, changes=changes,
        internal=is_internal(step, _text_of(comment), rest, dec), failing=bool(step.note),
        note=step.note,
    )


# -- the story -----------------------------------------------------------------------------------------
def explain(trace: Trace, ctx: Mapping[str, Any]) -> Story:
    """The whole trace in C terms, with the failure's provenance marked."""
    dec = Decoder(ctx)
    steps = [explain_step(n, st, dec) for n, st in enumerate(trace.steps, start=1)]
    lanes = sorted({f"pCPU{p}" for p in (0, *dec.vcpu_pcpus)}, key=lambda s: int(s[4:]))
    for st in steps:
        if st.lane not in lanes and st.lane != GUEST:
            lanes.append(st.lane)
    lanes.append(GUEST)
    headings = {}
    for lane in lanes:
        who = [f"vCPU{v}" for v, p in enumerate(dec.vcpu_pcpus) if lane == f"pCPU{p}"]
        extra = who + (["LPI handler"] if lane == "pCPU0" else [])
        headings[lane] = f"{lane} ({', '.join(extra)})" if extra else lane
    prop = PROPERTIES.get(trace.property)
    story = Story(property=trace.property, kind=trace.kind, summary=prop.summary if prop else "",
                  model=trace.model, tree=TREE, lanes=lanes, headings=headings, steps=steps)
    provenance(trace, story, dec)
    if not story.involved and steps:
        story.involved = [steps[-1].lane]
    return story


def provenance(trace: Trace, story: Story, dec: Decoder) -> None:
    """Mark where the failing step's pointer came from and every step that changed its object."""
    if not trace.steps:
        return
    last = trace.steps[-1]
    failing = story.steps[-1]
    ptrs = [(k, v) for k, v in last.reads.items() if dec.local_pointer(k) and v > 0]
    if not ptrs or not last.note:
        _expected_without_pointer(trace, story, dec)
        return
    label, r = ptrs[0]
    name = dec.local_pointer(label) or "p"
    q, gen = divmod(r - 1, 2)
    obj = dec.pirq(q)
    story.objects = [obj]
    origin = None
    for i in range(len(trace.steps) - 2, -1, -1):
        ch = trace.steps[i].changes.get(label)
        if ch is not None and ch[1] == r:
            origin = i
            break
    involved = [failing.lane]
    start = origin if origin is not None else -1
    if origin is not None:
        st = story.steps[origin]
        st.marks.append(f"{name} = &{obj} obtained here (generation {gen})")
        involved.append(st.lane)
    freed_at = reinit_at = None
    fields = re.compile(rf"^p_\w+\[{q}\]$")
    for i in range(start + 1, len(trace.steps) - 1):
        touched = [k for k in trace.steps[i].changes if fields.match(k)]
        if not touched:
            continue
        changed = trace.steps[i].changes
        if f"p_alive[{q}]" in changed and changed[f"p_alive[{q}]"][1] == 0:
            freed_at = i + 1
        elif f"p_gen[{q}]" in changed:
            reinit_at = i + 1
        story.steps[i].marks.append(f"changes {obj}, the object {name} points to")
        involved.append(story.steps[i].lane)
    # what was expected
    got = ""
    if trace.property == "use-after-free":
        got = f"; it was freed at step {freed_at}" if freed_at else "; it is not allocated"
        expected = f"{name} (&{obj}, obtained at step {origin + 1 if origin is not None else '?'}) to point to allocated memory"
    elif trace.property == "use-after-reinit":
        got = f"; it was re-initialised for another mapping at step {reinit_at}" if reinit_at else ""
        expected = f"{name} (&{obj}) to still be the pending_irq it was looked up as (generation {gen})"
    else:
        expected = f"{name} (&{obj}) to satisfy '{trace.property}'"
    story.expected = "expected " + expected + got
    failing.note = f"{last.note}: {story.expected}"
    failing.marks.append(f"dereferences {name} = &{obj}")
    story.involved = list(dict.fromkeys(involved))
    _object_states(trace, story, dec, q)


def _expected_without_pointer(trace: Trace, story: Story, dec: Decoder) -> None:
    """No pointer to follow: the failing step (an assertion) says what was expected; for an
    invariant, a final property or a deadlock, which hold of a *state*, the story ends with it."""
    prop = PROPERTIES.get(trace.property)
    last = story.steps[-1]
    expected = f"expected: {prop.summary}" if prop else ""
    if last.note:
        last.note = f"{last.note}: {expected}" if expected else last.note
        story.expected = expected
    else:
        story.expected = f"=> {trace.kind} '{trace.property}' fails in the state after step {last.n}" + (
            f"; {expected}" if expected else "")
    story.involved = [last.lane]
    mark_undelivered(trace, story, lambda q: dec.pirq(q).replace(".pend_irqs", " event"))
    if trace.kind == "deadlock" or trace.property.startswith("lock-"):
        _lock_states(trace, story, dec)
    if trace.kind == "deadlock":
        _deadlock_provenance(trace, story, dec)


LOCK_IN_LABEL = re.compile(r"\bs\.(vgic_lock|vcmd_lock|its_lock|devs_lock|tree_lock)(?:_w|_r)?\b")


def _deadlock_provenance(trace: Trace, story: Story, dec: Decoder) -> None:
    """Who waits for which lock, and the step where its holder took it (marked)."""
    lines = []
    for name, at in dec.steps_at.items():
        label = at.get(str(trace.final.get(at.get("pc", ""), -1)), "")
        m = LOCK_IN_LABEL.search(label)
        if not label or m is None:
            continue
        lock = m.group(1)
        held = [k for k in trace.final if (k == lock or k.startswith(lock + "[") or k == lock + "_w") and trace.final[k]]
        if not held:
            continue
        k = held[0]
        holder = trace.final[k]
        taken = next((i for i in range(len(trace.steps) - 1, -1, -1)
                      if trace.steps[i].changes.get(k, [0, 0])[1] == holder), None)
        what = (dec.decode(k, holder) or k).split(":")[0]
        who = dec.cpu_of(name) + (" (LPI handler)" if HANDLER.search(name) else f" ({name})")
        func = label.split(":", 1)[0]
        line = f"{who} waits in {func} for {what}, {dec.owner(holder)}"
        if taken is not None:
            line += f" since step {taken + 1}"
            story.steps[taken].marks.append(f"takes {what}: never released before {who} waits for it")
            story.involved.append(story.steps[taken].lane)
        lines.append(line)
        story.involved.append(dec.cpu_of(name))
    if lines:
        story.expected = story.expected + "; " + "; ".join(lines) if story.expected else "; ".join(lines)
    story.involved = list(dict.fromkeys(story.involved))


def _lock_states(trace: Trace, story: Story, dec: Decoder) -> None:
    """For a deadlock or a lock rule: every lock's holder after each step (the HTML view)."""
    locks = [k for k in trace.initial if re.match(r"^(vgic_lock|vcmd_lock|its_lock|devs_lock|tree_lock_[wr])\b", k)]
    if not locks:
        return
    story.objects = ["locks"]
    cur = {k: trace.initial[k] for k in locks}
    for st, raw in zip(story.steps, trace.steps, strict=True):
        for k, (_old, new) in raw.changes.items():
            if k in cur:
                cur[k] = new
        st.objects = {"locks": "; ".join(c for c in (dec.decode(k, v) for k, v in cur.items()) if c)}


def _object_states(trace: Trace, story: Story, dec: Decoder, q: int) -> None:
    """The state of the involved pending_irq after every step (the HTML view shows it)."""
    fields = [f"p_{f}[{q}]" for f in ("alive", "gen", "irq", "vcpu", "queued", "visible", "enabled",
                                        "pristine", "lr", "infl", "lrq")]
    cur = {k: trace.initial.get(k, 0) for k in fields}
    for st, raw in zip(story.steps, trace.steps, strict=True):
        for k, (_old, new) in raw.changes.items():
            if k in cur:
                cur[k] = new
        st.objects = {dec.pirq(q): "; ".join(c for c in (dec.decode(k, v) for k, v in cur.items()) if c)}


__all__ = ["Decoder", "context_of", "explain", "explain_step", "lane_of"]
