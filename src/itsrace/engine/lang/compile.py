"""Compile a :class:`~itsrace.engine.lang.model.Model` into specialised Python successor code.

The output is the source of a small module with two functions:

``expand_exact(chunk, seen, out, on_event, F, G) -> int``
    the search's inner loop: for every packed state in ``chunk`` it unpacks the slots it needs
    into locals, checks invariants, evaluates every action instance's guard inline, builds each
    successor with one mask-and-or, and visits it (exact mode: ``seen`` dict with parents;
    collect mode: append to ``out``). ``on_event`` is called for violations, terminal and
    quiescent states; it returns True to stop. ``F[k]``/``G[k]`` count transitions and new
    states per action instance (coverage). Returns the number of transitions, or its bitwise
    complement when ``on_event`` asked to stop. ``expand_collect`` appends every successor to
    ``out`` and leaves de-duplication to the caller (fingerprint mode).
``successors(s) -> list[(action_index, t)]``
    the same code with labels, for traces, replay, random walks and partial-order reduction;
    ``t < 0`` marks a failed ``check`` (``~property_index``).

Nothing walks a description of the model per state; that is where the speed comes from.
Level-2 step actions carry a program counter, so their guards are dispatched through a binary
decision tree on that pc instead of being tested one by one.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang import process as _process
from itsrace.engine.lang.core import ActionDef, ModelCore, PropertyDef
from itsrace.engine.lang.layout import Layout, Slot
from itsrace.engine.lang.translate import (
    CheckFailed,
    Disabled,
    DomainError,
    Namespace,
    Translated,
    Translator,
    translate_action,
    translate_predicate,
)

EV_INVARIANT = 0
EV_ASSERTION = 1
EV_TERMINAL = 2
EV_QUIESCENT = 3


@dataclass
class ActionInstance:
    """One action with its parameters bound: the unit the search fires."""

    index: int
    action: ActionDef
    binding: dict[str, Any]
    name: str  # "Arrive(l=0)" or "pCPU0 gicv3_do_LPI"
    reads: frozenset[int]  # slot numbers
    writes: frozenset[int]

    @property
    def process(self) -> str | None:
        return self.action.process

    @property
    def label(self) -> str:
        return self.action.label or self.name


@dataclass
class Compiled:
    """A compiled model: layout, initial states, generated functions and their metadata."""

    model: ModelCore
    layout: Layout
    initial: list[int]
    actions: list[ActionInstance]
    properties: list[PropertyDef]
    source: str
    expand: Callable[..., int]
    successors: Callable[[int], list[tuple[int, int]]]
    invariant_fns: list[Callable[[int], bool]]
    final_fns: list[tuple[int, Callable[[int], bool]]]  # (property index, fn)
    rest_fns: list[Callable[[int], bool]]
    quiescent_fn: Callable[[int], bool] | None
    line_map: dict[int, str] = field(default_factory=dict)
    filename: str = "<itsrace>"
    canonical: bool = False
    ir: ModelIR | None = None  # the translated bodies, for other backends (engine.native)

    def property_index(self, name: str) -> int:
        for i, p in enumerate(self.properties):
            if p.name == name:
                return i
        raise KeyError(name)

    def model_error(self, exc: BaseException) -> ModelError:
        """Turn an exception raised by generated code into a ModelError naming the model line."""
        if isinstance(exc, ModelError):
            return exc
        if isinstance(exc, DomainError):
            label, value, lo, hi, where = exc.args
            return ModelError(f"{label} = {value!r} is outside its domain [{lo}, {hi}]", where)
        where = None
        tb = exc.__traceback__
        last = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                where = self.line_map.get(tb.tb_lineno, where)
            last = tb
            tb = tb.tb_next
        if last is not None:  # raised inside a helper the model calls: name the helper's line
            name = last.tb_frame.f_code.co_filename
            if name != self.filename and os.sep + os.path.join("itsrace", "engine") + os.sep not in name:
                where = f"{name}:{last.tb_lineno}"
        if isinstance(exc, SystemExit):
            return ModelError(f"sys.exit({exc.code!r}) called by the model", where)
        return ModelError(f"{type(exc).__name__}: {exc}", where)


def _ix(i: int, n: int) -> int:
    if type(i) is not int and type(i) is not bool:
        raise TypeError(f"index {i!r} is not an integer")
    if not 0 <= i < n:
        raise IndexError(f"index {i} out of range 0..{n - 1}")
    return i


def _ixp(i: int, n: int, null: int, k: int) -> int:
    """``_ix`` for the pointer index of an object array: ``null`` (what a NULL pointer maps to)
    fails property ``k`` (``null-deref``) instead of being a model error."""
    if i == null and type(i) is int:
        raise CheckFailed(k)
    return _ix(i, n)


def _lk(value: Any, held: bool, k: int) -> Any:
    """A field read that needs a lock (``lockset``): ``value`` if the lock is held, else a
    violation of property ``k``. The value is computed first, as in the C backend."""
    if not held:
        raise CheckFailed(k)
    return value


@dataclass
class PredicateIR:
    """One translated predicate: ``expr`` (a Python expression) or the ``lines`` of a body."""

    expr: str | None
    lines: list[str]
    reads: set[int]
    where: str


@dataclass
class ModelIR:
    """What the Python code is generated from, kept for other backends (the C one).

    ``free`` are the instances without a pc, in firing order; ``groups`` maps a pc slot to its
    instances (dispatch order: the free ones, then each group in this order, each in index
    order). ``props[i]`` is set for invariants and finals, ``rest``/``quiet`` for the at-rest and
    quiescence predicates."""

    translated: list[Translated]
    free: list[int]
    groups: dict[int, list[int]]
    props: dict[int, PredicateIR]
    rest: list[PredicateIR]
    quiet: list[PredicateIR]
    names: dict[str, Any] = field(default_factory=dict)  # the generated module's G<n>_ objects


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line_map: dict[int, str] = {}

    def emit(self, indent: int, text: str, where: str | None = None) -> None:
        self.lines.append("    " * indent + text)
        if where is not None:
            self.line_map[len(self.lines)] = where

    def block(self, indent: int, lines: list[str], line_of: dict[int, str], default: str) -> None:
        for i, text in enumerate(lines):
            self.emit(indent, text, line_of.get(i, default))


def _extract(slot: Slot) -> str:
    expr = f"(s >> {slot.off}) & {slot.mask}" if slot.off else f"s & {slot.mask}"
    if slot.lo:
        expr = f"({expr}) + {slot.lo}"
    return f"S_{slot.ident} = {expr}"


def _pack(layout: Layout, writes: set[int]) -> str:
    if not writes:
        return "t = s"
    keep = (1 << layout.bits) - 1
    parts = []
    for k in sorted(writes):
        sl = layout.slots[k]
        keep &= ~(sl.mask << sl.off)
        val = f"W_{sl.ident}" if not sl.lo else f"(W_{sl.ident} - {sl.lo})"
        parts.append(f"({val} << {sl.off})" if sl.off else val)
    return f"t = (s & {keep}) | " + " | ".join(parts)


class _Builder:
    def __init__(self, model: ModelCore, canon: Callable[[int], int] | None) -> None:
        self.model = model
        self.layout = Layout(model)
        self.ns = Namespace()
        self.properties: list[PropertyDef] = list(model.properties)
        self.canon = canon
        self.instances: list[ActionInstance] = []
        self.translated: list[Translated] = []

    # -- translation -----------------------------------------------------------------------------
    def property_index(self, name: str, node: ast.AST | None = None) -> int:
        for i, p in enumerate(self.properties):
            if p.name == name:
                return i
        self.properties.append(PropertyDef(name, "assertion"))
        return len(self.properties) - 1

    def translator(self, action: ActionDef | PropertyDef, binding: dict[str, Any], prefix: str) -> Translator:
        filename = action.filename
        offset = action.line_offset

        def where(node: ast.AST | None) -> str:
            line = getattr(node, "lineno", None) if node is not None else None
            if line is None:
                body = action.body
                line = body[0].lineno if body else 1
            return f"{filename}:{line + offset}"

        return Translator(self.layout, self.ns, action.state_name, action.env, binding, where, prefix, self.property_index,
                          lock_owner=getattr(action, "lock_owner", None))

    def translate_actions(self) -> None:
        for action in self.model.actions:
            for binding in action.instances():
                k = len(self.instances)
                tr = translate_action(self._translator_factory(action, binding, f"T{k}_"), action.body)
                shown = {p: binding[p] for p in action.params}
                if action.process:
                    name = f"{action.process} {action.label or action.name}"
                else:
                    name = action.name + ("(" + ", ".join(f"{p}={v}" for p, v in shown.items()) + ")" if shown else "")
                self.instances.append(
                    ActionInstance(k, action, binding, name, frozenset(tr.reads), frozenset(tr.writes))
                )
                self.translated.append(tr)

    def _translator_factory(self, action: ActionDef, binding: dict[str, Any], prefix: str) -> Callable[[], Translator]:
        return lambda: self.translator(action, binding, prefix)

    def predicate(self, prop: PropertyDef, prefix: str) -> tuple[str | None, list[str], set[int], str]:
        tr = self.translator(prop, {}, prefix)
        expr, lines = translate_predicate(tr, prop.body)
        where = f"{prop.filename}:{(prop.body[0].lineno if prop.body else 1) + prop.line_offset}"
        return expr, lines, set(tr.reads), where

    # -- emission --------------------------------------------------------------------------------
    def emit_action(self, em: _Emitter, indent: int, k: int, hot: set[int], mode: str) -> None:
        inst = self.instances[k]
        tr = self.translated[k]
        layout = self.layout
        act = inst.action
        where = act.where(act.body[0] if act.body else None)
        em.emit(indent, f"# [{k}] {inst.name}   ({where})")
        if tr.guard_expr == "False":
            return
        extracted = set(hot)
        for slot_no in sorted(tr.guard_reads - extracted):
            em.emit(indent, _extract(layout.slots[slot_no]), where)
            extracted.add(slot_no)
        em.emit(indent, f"if {tr.guard_expr}:", where)
        ind = indent + 1
        for slot_no in sorted((tr.reads | tr.writes) - extracted - tr.fresh):
            em.emit(ind, _extract(layout.slots[slot_no]), where)
        for slot_no in sorted(tr.writes - tr.fresh):
            ident = layout.slots[slot_no].ident
            em.emit(ind, f"W_{ident} = S_{ident}")
        visit = self.visit_lines(mode, k)
        if tr.needs_try:
            em.emit(ind, "try:")
            em.block(ind + 1, tr.body, tr.line_of, where)
            em.emit(ind + 1, _pack(layout, tr.writes))
            em.emit(ind, "except _Disabled:")
            em.emit(ind + 1, "pass")
            em.emit(ind, "except _CheckFailed as _e:")
            if mode == "list":
                em.emit(ind + 1, f"out.append(({k}, ~_e.args[0]))")
            else:
                em.emit(ind + 1, f"if on_event({EV_ASSERTION}, _e.args[0], s, {k}): return ~total")
                em.emit(ind + 1, "n += 1")
            em.emit(ind, "else:")
            for line in visit:
                em.emit(ind + 1, line)
        else:
            em.block(ind, tr.body, tr.line_of, where)
            em.emit(ind, _pack(layout, tr.writes))
            for line in visit:
                em.emit(ind, line)

    def visit_lines(self, mode: str, k: int) -> list[str]:
        canon = ["t = canon(t)"] if self.canon is not None else []
        if mode == "exact":
            return ["n += 1", f"F[{k}] += 1", *canon, "if t not in seen:", "    seen[t] = s",
                    "    out_append(t)", f"    G[{k}] += 1"]
        if mode == "collect":
            return ["n += 1", f"F[{k}] += 1", *canon, "out_append(t)"]
        return [f"out.append(({k}, t))"]  # raw successors: callers canonicalise if they need to

    def emit_dispatch(self, em: _Emitter, indent: int, group: list[int], pc_slot: int, hot: set[int], mode: str) -> None:
        slot = self.layout.slots[pc_slot]
        by_value: dict[int, list[int]] = {}
        for k in group:
            pc = self.instances[k].action.pc
            assert pc is not None
            by_value.setdefault(pc[2], []).append(k)
        values = sorted(by_value)
        pcname = f"P_{slot.ident}"
        expr = _extract(slot).split(" = ", 1)[1]
        em.emit(indent, f"{pcname} = {expr}")
        hot_here = set(hot)

        def tree(lo: int, hi: int, ind: int) -> None:
            if hi - lo <= 2:
                first = True
                for v in values[lo:hi]:
                    em.emit(ind, f"{'if' if first else 'elif'} {pcname} == {v}:")
                    first = False
                    for k in by_value[v]:
                        self.emit_action(em, ind + 1, k, hot_here, mode)
                    em.emit(ind + 1, "pass")
                return
            mid = (lo + hi) // 2
            em.emit(ind, f"if {pcname} < {values[mid]}:")
            tree(lo, mid, ind + 1)
            em.emit(ind, "else:")
            tree(mid, hi, ind + 1)

        tree(0, len(values), indent)

    def emit_state_body(self, em: _Emitter, indent: int, hot: set[int], mode: str,
                        free: list[int], groups: dict[int, list[int]]) -> None:
        for k in free:
            self.emit_action(em, indent, k, hot, mode)
        for pc_slot, group in groups.items():
            self.emit_dispatch(em, indent, group, pc_slot, hot, mode)

    def build(self) -> Compiled:
        self.translate_actions()
        layout = self.layout
        slot_no = {sl.ident: i for i, sl in enumerate(layout.slots)}
        free: list[int] = []
        groups: dict[int, list[int]] = {}
        for inst in self.instances:
            pc = inst.action.pc
            if pc is None:
                free.append(inst.index)
            else:
                var, index, _ = pc
                ident = var + "".join(f"__{i}" for i in index)
                groups.setdefault(slot_no[ident], []).append(inst.index)

        em = _Emitter()
        em.emit(0, f"# Generated by itsrace from model {self.model.name!r}. Do not edit.")
        # -- predicates: invariants, finals, at-rest, quiescence ---------------------------------
        inv_inline: list[tuple[int, str, str]] = []  # (property index, expression, model line)
        hot: set[int] = set()
        for k in free:
            hot |= self.translated[k].guard_reads
        pred_fns: dict[str, str] = {}
        ir = ModelIR(self.translated, free, groups, {}, [], [])
        n_props = len(self.properties)
        for i, prop in enumerate(list(self.properties[:n_props])):
            if prop.kind not in ("invariant", "final"):
                continue
            expr, lines, reads, where = self.predicate(prop, f"Q{i}_")
            ir.props[i] = PredicateIR(expr, lines, reads, where)
            fname = f"_prop_{i}"
            self.emit_pred_fn(em, fname, expr, lines, reads, where)
            pred_fns[f"prop{i}"] = fname
            if prop.kind == "invariant" and expr is not None:
                inv_inline.append((i, expr, where))
                hot |= reads
            elif prop.kind == "invariant":
                inv_inline.append((i, f"{fname}(s)", where))
        rest_names: list[str] = []
        for j, prop in enumerate(self.model.at_rest_defs):
            expr, lines, reads, where = self.predicate(prop, f"R{j}_")
            ir.rest.append(PredicateIR(expr, lines, reads, where))
            fname = f"_rest_{j}"
            self.emit_pred_fn(em, fname, expr, lines, reads, where)
            rest_names.append(fname)
        quiescent_expr: str | None = None
        qnames: list[str] = []
        for j, prop in enumerate(self.model.quiescent_defs):
            expr, lines, reads, where = self.predicate(prop, f"Z{j}_")
            ir.quiet.append(PredicateIR(expr, lines, reads, where))
            fname = f"_quiet_{j}"
            self.emit_pred_fn(em, fname, expr, lines, reads, where)
            qnames.append(fname)
        if qnames:
            quiescent_expr = " or ".join(f"{q}(s)" for q in qnames)

        for pc_slot in groups:
            hot.discard(pc_slot)
        hot_sorted = sorted(hot)

        # -- expand ------------------------------------------------------------------------------
        for mode in ("exact", "collect"):
            em.emit(0, "")
            em.emit(0, f"def expand_{mode}(chunk, seen, out, on_event, F, G):")
            em.emit(1, "out_append = out.append")
            em.emit(1, "total = 0")
            em.emit(1, "for s in chunk:")
            for k in hot_sorted:
                em.emit(2, _extract(layout.slots[k]))
            for i, expr, where in inv_inline:
                em.emit(2, f"if not ({expr}):", where)
                em.emit(3, f"if on_event({EV_INVARIANT}, {i}, s, -1): return ~total")
            em.emit(2, "n = 0")
            self.emit_state_body(em, 2, set(hot_sorted), mode, free, groups)
            em.emit(2, "total += n")
            em.emit(2, "if n == 0:")
            em.emit(3, f"if on_event({EV_TERMINAL}, 0, s, -1): return ~total")
            if quiescent_expr:
                em.emit(2, f"elif {quiescent_expr}:")
                em.emit(3, f"if on_event({EV_QUIESCENT}, 0, s, -1): return ~total")
            em.emit(1, "return total")

        # -- successors (labelled) ---------------------------------------------------------------
        em.emit(0, "")
        em.emit(0, "def successors(s):")
        em.emit(1, "out = []")
        for k in hot_sorted:
            em.emit(1, _extract(layout.slots[k]))
        self.emit_state_body(em, 1, set(hot_sorted), "list", free, groups)
        em.emit(1, "return out")

        source = "\n".join(em.lines) + "\n"
        digest = hashlib.sha1(source.encode()).hexdigest()[:12]
        filename = f"<itsrace:{self.model.name}:{digest}>"
        namespace: dict[str, Any] = dict(self.ns.values)
        ir.names = dict(self.ns.values)
        namespace.update(
            _Disabled=Disabled, _CheckFailed=CheckFailed, _DomainError=DomainError, _ix=_ix, _ixp=_ixp, _lk=_lk,
            canon=self.canon, __name__=f"itsrace_generated_{digest}",
        )
        code = compile(source, filename, "exec")
        module = types.ModuleType(namespace["__name__"])
        module.__dict__.update(namespace)
        exec(code, module.__dict__)  # noqa: S102 - our own generated source
        # keep the source reachable for tracebacks and for users who want to read it
        import linecache

        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        _dump_source(self.model.name, digest, source)

        g = module.__dict__
        inv_fns = [g[f"_prop_{i}"] for i, p in enumerate(self.properties[:n_props]) if p.kind == "invariant"]
        final_fns = [(i, g[f"_prop_{i}"]) for i, p in enumerate(self.properties[:n_props]) if p.kind == "final"]
        initial = self.initial_states()
        compiled = Compiled(
            model=self.model,
            layout=layout,
            initial=initial,
            actions=self.instances,
            properties=self.properties,
            source=source,
            expand=g["expand_exact"],
            successors=g["successors"],
            invariant_fns=inv_fns,
            final_fns=final_fns,
            rest_fns=[g[n] for n in rest_names],
            quiescent_fn=_any_of([g[q] for q in qnames]) if qnames else None,
            line_map=em.line_map,
            filename=filename,
            canonical=self.canon is not None,
            ir=ir,
        )
        compiled.expand_collect = g["expand_collect"]  # type: ignore[attr-defined]
        return compiled

    def emit_pred_fn(self, em: _Emitter, fname: str, expr: str | None, lines: list[str], reads: set[int], where: str) -> None:
        em.emit(0, "")
        em.emit(0, f"def {fname}(s):", where)
        for k in sorted(reads):
            em.emit(1, _extract(self.layout.slots[k]), where)
        if expr is not None:
            em.emit(1, f"return bool({expr})", where)
        else:
            for line in lines:
                em.emit(1, line, where)
            em.emit(1, "return True", where)

    def initial_states(self) -> list[int]:
        overrides = self.model.initial_overrides or [{}]
        states: list[int] = []
        seen: set[int] = set()
        for ov in overrides:
            s = self.layout.encode(ov)
            if self.canon is not None:
                s = self.canon(s)
            if s not in seen:
                seen.add(s)
                states.append(s)
        return states


def _any_of(fns: list[Callable[[int], bool]]) -> Callable[[int], bool]:
    return lambda s: any(f(s) for f in fns)


def _dump_source(name: str, digest: str, source: str) -> None:
    target = os.environ.get("ITSRACE_DUMP_DIR")
    if not target:
        return
    os.makedirs(target, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    with open(os.path.join(target, f"{safe}-{digest}.py"), "w") as fh:
        fh.write(source)


def compile_model(model: ModelCore, canon: Callable[[int], int] | None = None) -> Compiled:
    """Compile ``model`` (cached on the model object per canonicaliser).

    ``canon`` (optional) maps every successor to a canonical representative before it is
    visited; symmetry reduction passes one. Set ``ITSRACE_DUMP_DIR`` to keep the generated
    source on disk.
    """
    cache: dict[Any, Compiled] = model.__dict__.setdefault("_compiled_cache", {})
    if model.meta.get("processes"):
        _process.finalize(model)  # translate level-2 processes into step actions (once)
    key = (id(canon) if canon is not None else None, _shape_key(model))
    if key in cache:
        return cache[key]
    if not model.actions:
        raise ModelError(f"model '{model.name}' has no actions")
    compiled = _Builder(model, canon).build()
    _check_determinism(compiled)
    cache[key] = compiled
    return compiled


def _shape_key(model: ModelCore) -> tuple[int, ...]:
    """What a model has been given so far: the cache must not serve a compilation made before
    the model gained a variable, action, property, initial state or at-rest/quiescence predicate."""
    return (
        len(model.vars), len(model.actions), len(model.properties), len(model.initial_overrides),
        len(model.at_rest_defs), len(model.quiescent_defs),
    )


def _check_determinism(c: Compiled) -> None:
    """Successors of the initial states must be the same when computed twice."""
    for s in c.initial[:4]:
        try:
            a = c.successors(s)
            b = c.successors(s)
        except (Exception, SystemExit) as exc:  # a model bug shows up here first; name its line
            raise c.model_error(exc) from exc
        if a != b:
            raise ModelError(
                f"model '{c.model.name}' is non-deterministic: the same state gave different successors "
                "(does an action use random, time, or the iteration order of a set?)"
            )


def generated_source(model: ModelCore) -> str:
    """The Python source the engine generated for ``model`` (for reading and debugging)."""
    return compile_model(model).source


__all__ = ["ActionInstance", "Compiled", "compile_model", "generated_source", "sys"]
