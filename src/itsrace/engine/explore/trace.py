"""Counterexample traces: build them from a search, save and load them as JSON, replay them.

A trace is the sequence of actions from an initial state. Each step names the process (for
level-2 models), the action or step label with its model file and line, the values the step
read, and the variables it changed. ``replay`` re-executes a saved trace against the model and
says whether it reproduces the violation, or at which step it diverges.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.files import MIB, InputFileError, read_text_file
from itsrace.engine.lang.compile import Compiled

TRACE_FORMAT = "itsrace-trace/1"
TRACE_SCHEMA_VERSION = 1  # src/itsrace/schemas/trace.schema.json


@dataclass
class TraceStep:
    action: str  # action instance name, e.g. "Arrive(l=0)" or "pCPU0 gicv3_do_LPI: h = ..."
    process: str | None
    label: str
    where: str
    reads: dict[str, int]
    changes: dict[str, list[int]]  # slot label -> [old, new]
    note: str = ""  # e.g. "check failed: use-after-free"


@dataclass
class Trace:
    model: str
    property: str
    kind: str  # invariant | assertion | final | deadlock
    initial: dict[str, int]
    steps: list[TraceStep] = field(default_factory=list)
    final: dict[str, int] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # how to rebuild the model (CLI fills it)

    def __len__(self) -> int:
        return len(self.steps)

    def to_json(self) -> str:
        data = {"format": TRACE_FORMAT, "schema_version": TRACE_SCHEMA_VERSION, **asdict(self)}
        return json.dumps(data, indent=2)

    def save(self, path: str) -> None:
        with open(path, "w") as fh:
            fh.write(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> Trace:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"trace is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
            raise ModelError(f"not an itsrace trace (expected format {TRACE_FORMAT!r})")
        try:
            steps = [TraceStep(**st) for st in data["steps"]]
            trace = cls(
                model=data["model"], property=data["property"], kind=data["kind"],
                initial=data["initial"], steps=steps, final=data.get("final", {}),
                params=data.get("params", {}),
            )
        except (KeyError, TypeError) as exc:
            raise ModelError(f"trace file is missing or has a malformed field: {exc}") from exc
        _validate(trace)
        return trace

    @classmethod
    def load(cls, path: str) -> Trace:
        try:
            text = read_text_file(path, "trace", limit=256 * MIB)
        except InputFileError as exc:
            raise ModelError(str(exc)) from None
        return cls.from_json(text)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _validate(trace: Trace) -> None:
    """Reject a loaded trace whose fields have the wrong types (so replay never crashes on one)."""
    def bad(what: str) -> ModelError:
        return ModelError(f"trace file has a malformed field: {what}")

    for name in ("model", "property", "kind"):
        if not isinstance(getattr(trace, name), str):
            raise bad(f"'{name}' must be a string")
    for name in ("initial", "final"):
        values = getattr(trace, name)
        if not isinstance(values, dict) or not all(_is_int(v) for v in values.values()):
            raise bad(f"'{name}' must map variables to integers")
    if not isinstance(trace.params, dict):
        raise bad("'params' must be an object")
    for n, st in enumerate(trace.steps, start=1):
        if not isinstance(st.action, str):
            raise bad(f"step {n}: 'action' must be a string")
        if not isinstance(st.changes, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v) for v in st.changes.values()
        ):
            raise bad(f"step {n}: 'changes' must map variables to [old, new]")
        if not isinstance(st.reads, dict):
            raise bad(f"step {n}: 'reads' must be an object")


def make_step(c: Compiled, k: int, before: int, after: int | None, note: str = "") -> TraceStep:
    inst = c.actions[k]
    layout = c.layout
    vals_before = layout.slot_values(before)
    reads = {layout.slots[i].label: vals_before[i] for i in sorted(inst.reads)}
    changes: dict[str, list[int]] = {}
    if after is not None:
        vals_after = layout.slot_values(after)
        for i, (a, b) in enumerate(zip(vals_before, vals_after, strict=True)):
            if a != b:
                changes[layout.slots[i].label] = [a, b]
    act = inst.action
    return TraceStep(
        action=inst.name,
        process=act.process,
        label=inst.label,
        where=act.where(act.body[0] if act.body else None),
        reads=reads,
        changes=changes,
        note=note,
    )


def path_to_trace(
    c: Compiled, path: list[int], prop: str, kind: str, last_action: int | None = None, note: str = ""
) -> Trace:
    """Turn a path of *actual* (non-canonical) states into a trace. ``last_action`` adds a final
    step that failed a ``check`` in ``path[-1]``."""
    steps: list[TraceStep] = []
    for a, b in zip(path, path[1:], strict=False):
        k = next((k for k, t in c.successors(a) if t == b), None)
        if k is None:  # cannot happen for paths the search built
            raise ModelError("internal error: trace step has no action")
        steps.append(make_step(c, k, a, b))
    if last_action is not None:
        steps.append(make_step(c, last_action, path[-1], None, note))
    return Trace(
        model=c.model.name, property=prop, kind=kind,
        initial=c.layout.flat(path[0]), steps=steps, final=c.layout.flat(path[-1]),
    )


def model_initial_states(c: Compiled) -> list[int]:
    """The model's own initial states (``c.initial`` holds canonical ones under symmetry)."""
    return [c.layout.encode(ov) for ov in c.model.initial_overrides or [{}]]


def decanonicalise(c: Compiled, canon_path: list[int], canon: Any) -> list[int]:
    """Follow a path of canonical states with actual successors, so the trace is a real run."""
    start = next((s for s in model_initial_states(c) if canon(s) == canon_path[0]), canon_path[0])
    actual = [start]
    for target in canon_path[1:]:
        nxt = next((t for _, t in c.successors(actual[-1]) if t >= 0 and canon(t) == target), None)
        if nxt is None:
            raise ModelError("internal error: canonical trace cannot be followed")
        actual.append(nxt)
    return actual


@dataclass
class ReplayResult:
    reproduces: bool
    message: str
    diverged_at: int | None = None  # 1-based step number


def replay(c: Compiled, trace: Trace) -> ReplayResult:
    """Re-execute ``trace`` on the compiled model; report reproduction or the divergence."""
    layout = c.layout
    by_label = {sl.label: sl for sl in layout.slots}
    unknown = set(trace.initial) - set(by_label)
    if unknown:
        return ReplayResult(False, f"trace names variables the model does not have: {sorted(unknown)[:5]}", 0)
    missing = [label for label in by_label if label not in trace.initial]
    if missing:
        return ReplayResult(False, f"the trace's initial state lacks {missing[:5]}", 0)
    s = 0
    for label, value in trace.initial.items():
        sl = by_label[label]
        if not sl.lo <= value <= sl.hi:
            return ReplayResult(False, f"initial {label} = {value} outside its domain", 0)
        s |= (value - sl.lo) << sl.off
    starts = model_initial_states(c)
    if s not in starts:
        nearest = layout.flat(starts[0])
        diff = [f"{lbl}={v} (model: {nearest[lbl]})" for lbl, v in layout.flat(s).items() if v != nearest[lbl]]
        return ReplayResult(False, f"the trace does not start in an initial state of the model: {', '.join(diff[:4])}", 0)
    names = {inst.name: inst.index for inst in c.actions}
    for n, step in enumerate(trace.steps, start=1):
        k = names.get(step.action)
        if k is None:
            return ReplayResult(False, f"step {n}: the model has no action '{step.action}'", n)
        succ = [t for kk, t in c.successors(s) if kk == k]
        if not succ:
            return ReplayResult(False, f"step {n}: '{step.action}' is not enabled here", n)
        t = succ[0]
        if t < 0:  # a failed check: the violation itself
            prop = c.properties[~t].name
            ok = prop == trace.property and n == len(trace.steps)
            return ReplayResult(ok, f"step {n}: check '{prop}' fails" + ("" if ok else " (unexpected here)"), None if ok else n)
        expected = layout.flat(s)
        for label, (old, new) in step.changes.items():
            if label not in expected:
                return ReplayResult(False, f"step {n}: unknown variable {label}", n)
            if expected[label] != old:
                return ReplayResult(False, f"step {n}: {label} is {expected[label]} before the step (trace: {old})", n)
            expected[label] = new
        got = layout.flat(t)
        if got != expected:
            diff = [f"{lbl}={got[lbl]} (trace: {expected[lbl]})" for lbl in got if got[lbl] != expected[lbl]]
            return ReplayResult(False, f"step {n}: '{step.action}' gives {', '.join(diff[:4])}", n)
        s = t
    # the end state must violate the property
    idx = next((i for i, p in enumerate(c.properties) if p.name == trace.property), None)
    if trace.kind == "deadlock":
        stuck = not c.successors(s) and not any(f(s) for f in c.rest_fns)
        return ReplayResult(stuck, "ends in a deadlock" if stuck else "the final state is not a deadlock")
    if idx is None:
        return ReplayResult(False, f"the model has no property '{trace.property}'")
    if trace.kind == "invariant":
        inv = c.invariant_fns[[i for i, p in enumerate(c.properties) if p.kind == "invariant"].index(idx)]
        bad = not inv(s)
        return ReplayResult(bad, f"invariant '{trace.property}' " + ("is violated" if bad else "holds at the end"))
    if trace.kind == "final":
        fn = dict(c.final_fns)[idx]
        bad = not fn(s)
        return ReplayResult(bad, f"final property '{trace.property}' " + ("is violated" if bad else "holds at the end"))
    return ReplayResult(False, f"the trace ends without the '{trace.property}' check failing")
