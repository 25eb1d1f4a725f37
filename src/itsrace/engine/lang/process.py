"""Level 2: sequential processes, translated into level-1 step actions (like PlusCal into TLA+).

Write the concurrent code you model as ordinary-looking sequential functions with locals, loops,
helper calls and locks; the engine gives every process instance a program counter and turns
each *step* (a statement that touches shared state, and the local work that follows it) into a
guarded atomic action. See ``docs/processes.md`` for the guide. In short::

    from itsrace.engine import Model
    from itsrace.engine.lang.process import spin_lock, spin_unlock

    m = Model("counter")
    m.var("count", range(3))
    m.spinlock("lock")

    @m.process(instances=2, restart=False)
    def worker(self, s):
        spin_lock(s.lock)
        tmp: range(3) = s.count      # a local: declared by annotating its first assignment
        s.count = tmp + 1
        spin_unlock(s.lock)

The translation happens once, when the model is first compiled (:func:`finalize`), so that
processes may call procedures defined after them. How it works:

* :mod:`itsrace.engine.lang.process_cfg` parses each function and builds, per instance, a graph of
  statements and tests (procedures inlined, ``for`` over constants unrolled), marking where
  steps must begin;
* :mod:`itsrace.engine.lang.process_emit` numbers those step heads (the pc values) and writes one
  level-1 action per step (and per value of its non-deterministic choices).

Built-in properties: ``lock-discipline`` (releasing a lock one does not hold, finishing a run
while holding one, enabling interrupts that were not disabled), ``lock-order`` (taking locks
against :meth:`Model.set_lock_order`) and ``deadlock`` (no step enabled while some process is
not at rest).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError, known_hint
from itsrace.engine.lang.core import ModelCore, PropertyDef, VarDecl, check, lockfree
from itsrace.engine.lang.process_cfg import CfgBuilder, FuncInfo, LocalRegistry, parse_func
from itsrace.engine.lang.process_emit import InstanceFacts, InstanceGen
from itsrace.engine.lang.process_lang import (
    atomic,
    await_,
    choose,
    either,
    label,
    local_irq_disable,
    local_irq_enable,
    read_lock,
    read_unlock,
    skip,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
    write_lock,
    write_unlock,
)

__all__ = [
    "ProcessSpec", "add_procedure", "add_process", "atomic", "await_", "check", "choose",
    "declare_rwlock", "declare_spinlock", "either", "finalize", "instances", "label",
    "local_irq_disable", "local_irq_enable", "lockfree", "read_lock", "read_unlock", "skip", "spin_lock",
    "spin_lock_irqsave", "spin_unlock", "spin_unlock_irqrestore", "step_pcs", "write_lock",
    "write_unlock",
]

LOCK_DISCIPLINE_DOC = (
    "A process released a lock it does not hold, finished a run (returned to its start or "
    "stopped) while holding a lock, or enabled interrupts it had not disabled."
)
LOCK_ORDER_DOC = (
    "A process acquired a lock while holding one that comes later in the declared lock order "
    "(or another element of the same lock array), as Linux lockdep would report."
)


@dataclass
class ProcessSpec:
    """One ``@m.process`` declaration (its instances are numbered when the model is finalised)."""

    fn: Callable[..., Any]
    name_format: str
    base: str  # prefix of its variables: pc_<base>, <base>_<local>
    ids: list[int]
    cpus: list[int | None]
    irq: bool
    restart: bool
    merge_local: bool
    info: FuncInfo
    reset_dead: bool = True
    nests: bool = False  # an interrupt handler that may preempt another handler on its CPU
    # filled in by finalize: instance name -> {step label: pc}
    steps: dict[str, dict[str, int]] = field(default_factory=dict)

    def instance_name(self, ident: int) -> str:
        return self.name_format.format(ident)


def _meta_list(model: ModelCore, key: str) -> list[Any]:
    return model.meta.setdefault(key, [])


def _not_final(model: ModelCore, what: str) -> None:
    if model.meta.get("processes_finalized"):
        raise ModelError(f"cannot add {what} after the model was compiled")


def add_process(
    model: ModelCore,
    fn: Callable[..., Any],
    *,
    instances: int | Iterable[int] = 1,
    name: str | None = None,
    cpu: int | Callable[[int], int] | None = None,
    irq: bool = False,
    restart: bool = True,
    merge_local: bool = True,
    reset_dead: bool = True,
    nests: bool = False,
) -> ProcessSpec:
    """Register ``fn(self, s, p1: DOMAIN, ...)`` as a process (what ``@m.process`` does).

    ``instances``: a count or the instance ids; ``name``: a format string for instance names
    (default ``"<fn>{}"``); ``cpu``: the CPU of each instance (int, or ``id -> int``);
    ``irq=True``: an interrupt handler on that CPU; ``restart``: run again after finishing
    (``False``: stop for good); ``merge_local``: merge statements touching only locals into the
    step before them; ``reset_dead``: reset a local to its low end as soon as no path reads it
    again before overwriting it (fewer states; locals named in properties are never reset early).
    ``nests=True`` (with ``irq=True``): the handler may also arrive while another handler runs on
    its CPU with interrupts enabled, and preempts it (nested interrupts; the number of instances
    bounds the nesting depth).
    """
    _not_final(model, "processes")
    info = parse_func(fn, "process")
    ids = list(range(instances)) if isinstance(instances, int) else [int(i) for i in instances]
    if not ids or len(set(ids)) != len(ids):
        raise info.err(f"process {fn.__name__}: instances must be a positive count or distinct ids")
    fmt = name if name is not None else fn.__name__ + "{}"
    if "{}" not in fmt and len(ids) > 1:
        raise info.err(f"process {fn.__name__}: name={fmt!r} needs '{{}}' for the instance id")
    base = fmt.replace("{}", "").strip("_") or fn.__name__
    if not base.isidentifier() or "__" in base:
        base = fn.__name__
    if irq and cpu is None:
        raise info.err(f"process {fn.__name__}: an interrupt handler (irq=True) needs cpu=")
    if nests and not irq:
        raise info.err(f"process {fn.__name__}: nests=True is for interrupt handlers (irq=True)")
    cpus = [cpu(i) if callable(cpu) else cpu for i in ids]
    if any(c is not None and (not isinstance(c, int) or c < 0) for c in cpus):
        raise info.err(f"process {fn.__name__}: cpu must be a non-negative int (or id -> int)")
    specs: list[ProcessSpec] = _meta_list(model, "processes")
    if any(sp.base == base for sp in specs):
        raise info.err(f"two processes would both be called '{base}': pass name= to tell them apart")
    spec = ProcessSpec(fn, fmt, base, ids, cpus, irq, restart, merge_local, info, reset_dead, nests=bool(nests))
    specs.append(spec)
    return spec


def add_procedure(model: ModelCore, fn: Callable[..., Any]) -> FuncInfo:
    """Register ``fn(self, s, a: DOMAIN, ...)`` as a procedure, inlined at each call site."""
    _not_final(model, "procedures")
    info = parse_func(fn, "procedure")
    _meta_list(model, "procedures").append(fn)
    return info


def _declare_lock(model: ModelCore, name: str, kind: str, shape: int | Sequence[int], sym: str | None,
                  doc: str) -> VarDecl:
    _not_final(model, "locks")
    locks: dict[str, tuple[str, tuple[int, ...]]] = model.meta.setdefault("locks", {})
    if name in locks:
        raise ModelError(f"lock '{name}' declared twice")
    shp = (shape,) if isinstance(shape, int) else tuple(shape)
    # The owner domain (pid + 1) is widened to the number of instances in finalize().
    if kind == "spin":
        decl = model.var(name, range(2), shp, kind="lock", sym=sym, doc=doc or "spinlock: 0 free, else owner pid + 1")
    else:
        decl = model.var(name + "_w", range(2), shp, kind="lock", sym=sym, doc=doc or "rwlock writer: owner pid + 1")
        model.var(name + "_r", range(2), shp, kind="lock", sym=sym, doc="rwlock: number of readers")
    locks[name] = (kind, shp)
    return decl


def declare_spinlock(model: ModelCore, name: str, shape: int | Sequence[int] = (), *, sym: str | None = None,
                     doc: str = "") -> VarDecl:
    """A spinlock (array): ``0`` when free, ``pid + 1`` of the holder otherwise."""
    return _declare_lock(model, name, "spin", shape, sym, doc)


def declare_rwlock(model: ModelCore, name: str, shape: int | Sequence[int] = (), *, sym: str | None = None,
                   doc: str = "") -> VarDecl:
    """A reader-writer lock (array): variables ``<name>_w`` (writer pid + 1) and ``<name>_r``
    (reader count). Returns the ``_w`` declaration."""
    return _declare_lock(model, name, "rw", shape, sym, doc)


# -- finalize ----------------------------------------------------------------------------------------


def finalize(model: ModelCore) -> None:
    """Translate the model's processes into step actions (once; later calls do nothing)."""
    if model.meta.get("processes_finalized"):
        return
    specs: list[ProcessSpec] = model.meta.get("processes", [])
    locks: dict[str, tuple[str, tuple[int, ...]]] = model.meta.get("locks", {})
    # Re-read the functions now: globals and closures defined after the decorators are bound.
    procedures = {id(fn): parse_func(fn, "procedure") for fn in model.meta.get("procedures", [])}
    for spec in specs:
        spec.info = parse_func(spec.fn, "process")
    n_instances = sum(len(spec.ids) for spec in specs)
    _widen_locks(model, locks, n_instances)

    # Graphs first (they tell which locks, reader holds and IRQ operations each instance uses).
    built: list[tuple[ProcessSpec, LocalRegistry, list[tuple[CfgBuilder, Any]]]] = []
    for spec in specs:
        registry = LocalRegistry(spec.base)
        items = []
        for ident in spec.ids:
            builder = CfgBuilder(spec.info, ident, procedures, locks, registry, spec.merge_local)
            items.append((builder, builder.build()))
        built.append((spec, registry, items))

    irq_cpus = {c for spec in specs if spec.irq for c in spec.cpus if c is not None}
    # CPUs where handlers nest: in_irq[c] counts the active handlers, each handler instance
    # records the depth it arrived at and steps only while it is the innermost one
    nest_cpus = {c for spec in specs if spec.irq and spec.nests for c in spec.cpus if c is not None}
    handlers_on = {c: sum(1 for spec in specs if spec.irq for x in spec.cpus if x == c) for c in irq_cpus}
    max_depth = max((handlers_on[c] for c in nest_cpus), default=1)
    irq_depth: dict[int, int] = {}
    for spec, _registry, items in built:
        for (builder, _first), c in zip(items, spec.cpus, strict=True):
            if builder.uses_irq and c is None:
                raise spec.info.err(f"process {spec.info.name} uses interrupt primitives: give it cpu=")
            if c is not None:
                irq_depth[c] = irq_depth.get(c, 0) + builder.irq_ops
    n_cpus = max((c for spec in specs for c in spec.cpus if c is not None), default=-1) + 1

    pinned = _observed_vars(model, specs, procedures.values())
    actions = []
    state_refs: list[tuple[str, str]] = []
    new_vars: list[tuple[str, Any, tuple[int, ...], str, str]] = []  # name, domain, shape, owner, doc
    pid = 0
    for spec, registry, items in built:
        n = len(spec.ids)
        readers = sorted({name for builder, _ in items for name in builder.readers})
        reader_bits = {name: f"{spec.base}_rd_{name}" for name in readers}
        level_var = f"irqlvl_{spec.base}" if spec.irq and any(c in nest_cpus for c in spec.cpus) else None
        max_pc = 0
        for index, ((builder, first), ident, c) in enumerate(zip(items, spec.ids, spec.cpus, strict=True)):
            facts = InstanceFacts(
                name=spec.instance_name(ident), index=index, pid=pid, pc_var=f"pc_{spec.base}", cpu=c,
                irq=spec.irq, cpu_has_irq=c in irq_cpus, restart=spec.restart, locks=locks,
                lock_order=list(model.lock_order), reader_bits=reader_bits, local_vars=registry.domains,
                nests=spec.nests, level_var=level_var if c in nest_cpus else None,
            )
            gen = InstanceGen(builder, facts, first, pinned, spec.reset_dead)
            actions.extend(gen.generate())
            spec.steps[facts.name] = dict(gen.steps)
            state_refs.extend(facts.state_refs)
            max_pc = max(max_pc, gen.done if not spec.restart else gen.done - 1)  # done is unused when restarting
            pid += 1
        new_vars.append((f"pc_{spec.base}", range(max_pc + 1), (n,), spec.base, f"program counter of {spec.info.name}"))
        for var, (lo, hi) in registry.domains.items():
            new_vars.append((var, (lo, hi), (n,), spec.base, f"local of {spec.info.name}"))
        for name, var in reader_bits.items():
            new_vars.append((var, bool, (n, *locks[name][1]), spec.base, f"{spec.info.name} holds {name} for reading"))
        if level_var:
            new_vars.append((level_var, range(max_depth + 1), (n,), spec.base,
                             f"nesting depth {spec.info.name} arrived at (0: not running)"))
    if n_cpus > 0 and (irq_cpus or any(irq_depth.values())):
        new_vars.append(("irqs_off", range(max(1, max(irq_depth.values(), default=0)) + 1), (n_cpus,), "",
                         "per CPU: interrupt-disable depth (spin_lock_irqsave / local_irq_disable)"))
    if irq_cpus:
        if nest_cpus:
            new_vars.append(("in_irq", range(max_depth + 1), (n_cpus,), "", "per CPU: interrupt handlers running (nested)"))
        else:
            new_vars.append(("in_irq", bool, (n_cpus,), "", "per CPU: an interrupt handler is running"))
    for name, domain, shape, owner, doc in new_vars:
        if name in model.vars:
            raise ModelError(f"the variable '{name}' that level 2 generates clashes with a declared variable; rename it")
        kind = "pc" if name.startswith("pc_") else "local" if owner else "shared"  # irqs_off/in_irq: per CPU
        model.var(name, domain, shape, kind=kind, owner=owner or None, doc=doc)
    for var, where in state_refs:
        if var not in model.vars:
            raise ModelError(f"unknown variable '{var}'{known_hint(var, model.vars)}", where)

    for action in actions:
        model.add_action(action)
    _register_properties(model, built, specs)
    model.meta["processes_finalized"] = True


def _observed_vars(model: ModelCore, specs: list[ProcessSpec], procedures: Iterable[FuncInfo]) -> frozenset[str]:
    """Variables that something other than their own process's translation may read: every
    ``s.<name>`` in properties, level-1 actions and process or procedure source. A local named
    there is never reset early (its value is observable), only when its process finishes."""
    found: set[str] = set()

    def scan(body: list[ast.stmt], state: str) -> None:
        for stmt in body:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == state:
                    found.add(n.attr)

    for prop in [*model.properties, *model.at_rest_defs, *model.quiescent_defs]:
        scan(prop.body, prop.state_name)
    for action in model.actions:
        scan(action.body, action.state_name)
    for info in [*(sp.info for sp in specs), *procedures]:
        scan(info.body, info.state_name)
    return frozenset(found)


def _widen_locks(model: ModelCore, locks: dict[str, tuple[str, tuple[int, ...]]], n_instances: int) -> None:
    """Owner values go up to the number of instances (pid + 1), reader counts too."""
    hi = max(1, n_instances)
    for name, (kind, _shape) in locks.items():
        for var in ([name] if kind == "spin" else [name + "_w", name + "_r"]):
            model.vars[var] = dataclasses.replace(model.vars[var], hi=hi)


def _register_properties(model: ModelCore, built: list[Any], specs: list[ProcessSpec]) -> None:
    uses_locks = any(b.acquired or b.uses_irq for _s, _r, items in built for b, _f in items)
    if uses_locks or model.meta.get("locks"):
        model.assertion("lock-discipline", LOCK_DISCIPLINE_DOC)
    acquired = {name for _s, _r, items in built for b, _f in items for name in b.acquired}
    if acquired & set(model.lock_order):
        model.assertion("lock-order", LOCK_ORDER_DOC)
    if not specs:
        return
    terms: list[ast.expr] = []
    for spec in specs:
        pc = ast.Attribute(ast.Name("s", ast.Load()), f"pc_{spec.base}", ast.Load())
        done = max(max(steps.values(), default=0) for steps in spec.steps.values()) + 1
        for index in range(len(spec.ids)):
            at = ast.Subscript(pc, ast.Constant(index), ast.Load())
            rest = (0,) if spec.restart else (0, _done_of(model, spec, index, done))
            values = ast.Tuple([ast.Constant(v) for v in rest], ast.Load())
            terms.append(ast.Compare(at, [ast.In()], [values]))
    expr: ast.expr = terms[0] if len(terms) == 1 else ast.BoolOp(ast.And(), terms)
    body: list[ast.stmt] = [ast.fix_missing_locations(ast.Return(expr, lineno=1, col_offset=0))]
    first = specs[0].info
    model.at_rest_defs.append(PropertyDef(
        "processes at rest", "at_rest", "Every process is at its start or done.", body, "s", {},
        first.filename, first.def_line - 1,
    ))


def _done_of(model: ModelCore, spec: ProcessSpec, index: int, fallback: int) -> int:
    """The 'done' pc of one instance: one past its last step."""
    name = spec.instance_name(spec.ids[index])
    steps = spec.steps.get(name, {})
    return max(steps.values(), default=0) + 1 if steps else fallback


# -- introspection -----------------------------------------------------------------------------------


def instances(model: ModelCore) -> list[str]:
    """Names of all process instances, in pid order (finalises the model)."""
    finalize(model)
    return [sp.instance_name(i) for sp in model.meta.get("processes", []) for i in sp.ids]


def step_pcs(model: ModelCore, instance: str) -> dict[str, int]:
    """``{step label: pc value}`` for one process instance (finalises the model). The start is
    pc 0; a process with ``restart=False`` is done at ``max(pc) + 1``."""
    finalize(model)
    for spec in model.meta.get("processes", []):
        if instance in spec.steps:
            return dict(spec.steps[instance])
    raise KeyError(instance)
