"""Level 2, part 2: turn one process instance's control-flow graph into level-1 step actions.

Every *head* (the process start, and each boundary node that some step reaches) gets a program
counter value. The step for a head is one :class:`~itsrace.engine.lang.model.ActionDef` whose body
starts with ``require(s.pc_<p>[i] == pc)`` and then runs the head's code and every following
non-boundary node (inlined, with ``if`` for tests), ending each path with the next pc value.

Names are rewritten into the action language here: a local ``h`` becomes ``s.<p>_h[i]``,
``self`` and loop variables become constants, globals go into the action's ``env`` (renamed if
two inlined functions use the same name for different things). ``choose``/``either`` and process
parameters become placeholders, expanded into one action per value (labels say which).
"""

from __future__ import annotations

import ast
import builtins
import copy
import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang.core import ActionDef
from itsrace.engine.lang.process_cfg import (
    AssignNode,
    AtomicNode,
    CfgBuilder,
    FinishNode,
    Node,
    Scope,
    StmtNode,
    TestNode,
    const_eval,
    is_state_attr,
    live_locals,
    lookup,
    node_effects,
    prim_call,
    primitive_of,
    resolve,
)
from itsrace.engine.lang.process_lang import IRQ_PRIMITIVES, LOCK_PRIMITIVES

INLINE_LIMIT = 8  # copies of one node per step before a join point becomes a step of its own
_RESERVED = {"s", "require", "check", "_ix"}
_NOT_PLAIN = object()


def _plain(value: Any) -> Any:
    """``value`` as a literal the generated code can hold, or ``_NOT_PLAIN``."""
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return int(value)  # IntEnum members print as their name otherwise
    if isinstance(value, tuple):
        items = tuple(_plain(v) for v in value)
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else items
    return _NOT_PLAIN


def _s(var: str) -> ast.Attribute:
    return ast.Attribute(ast.Name("s", ast.Load()), var, ast.Load())


def _index(base: ast.expr, indices: Iterable[ast.expr | int]) -> ast.expr:
    for ix in indices:
        base = ast.Subscript(base, ix if isinstance(ix, ast.expr) else ast.Constant(ix), ast.Load())
    return base


def _call(name: str, *args: ast.expr) -> ast.Expr:
    return ast.Expr(ast.Call(ast.Name(name, ast.Load()), list(args), []))


def _require(cond: ast.expr) -> ast.stmt:
    return _call("require", cond)


def _check(cond: ast.expr, prop: str) -> ast.stmt:
    return _call("check", cond, ast.Constant(prop))


def _cmp(left: ast.expr, op: ast.cmpop, right: ast.expr | int) -> ast.Compare:
    return ast.Compare(left, [op], [right if isinstance(right, ast.expr) else ast.Constant(right)])


def _assign(target: ast.expr, value: ast.expr | int) -> ast.Assign:
    return ast.Assign([target], value if isinstance(value, ast.expr) else ast.Constant(value))


def _all(terms: list[ast.expr]) -> ast.expr | None:
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else ast.BoolOp(ast.And(), terms)


def _located(stmts: list[ast.stmt], src: ast.AST | None) -> list[ast.stmt]:
    """Give generated statements the model line of ``src`` (errors and traces point there)."""
    if src is not None and hasattr(src, "lineno"):
        for st in stmts:
            if not hasattr(st, "lineno"):
                ast.copy_location(st, src)
            ast.fix_missing_locations(st)
    return stmts


@dataclass
class Param:
    placeholder: str
    display: str
    values: tuple[int, ...]


@dataclass
class InstanceFacts:
    """What the emitter needs to know about one instance and the model around it."""

    name: str  # "worker0"
    index: int  # position among the process's instances
    pid: int  # global id: lock owner value is pid + 1
    pc_var: str
    cpu: int | None
    irq: bool
    cpu_has_irq: bool  # some irq process runs on this instance's cpu
    restart: bool
    locks: dict[str, tuple[str, tuple[int, ...]]]  # name -> (spin | rw, shape)
    lock_order: list[str]
    reader_bits: dict[str, str]  # rwlock -> this process's reader-bit variable
    local_vars: dict[str, tuple[int, int]]  # every local of the process -> domain
    nests: bool = False  # a handler that may preempt another handler on its CPU
    level_var: str | None = None  # handlers on a CPU where handlers nest: the depth it arrived at
    state_refs: list[tuple[str, str]] = field(default_factory=list)  # (var, where) to validate


class StepWriter:
    """Writes the body of one step: rewritten statements, the env they need, their parameters."""

    def __init__(self, gen: InstanceGen) -> None:
        self.gen = gen
        self.f = gen.f
        self.env: dict[str, Any] = {}
        self.params: list[Param] = []
        self.chosen: dict[str, str] = {}  # process parameter variable -> placeholder (start step)
        self.inlined: Counter[int] = Counter()
        self.head_live: frozenset[str] = frozenset()  # locals live where this step starts

    # -- names and expressions -----------------------------------------------------------------
    def new_param(self, display: str, values: tuple[int, ...]) -> str:
        ph = f"_itsrace_p{len(self.params)}"
        shown = display
        taken = {p.display for p in self.params}
        n = 2
        while shown in taken:
            shown = f"{display}#{n}"
            n += 1
        self.params.append(Param(ph, shown, values))
        return ph

    def alias(self, value: Any, hint: str) -> str:
        name, n = hint, 2
        while name in _RESERVED or name.startswith("_itsrace") or hasattr(builtins, name) \
                or (name in self.env and self.env[name] is not value):
            name = f"{hint}_{n}"
            n += 1
        self.env[name] = value
        return name

    def const(self, value: Any, hint: str) -> ast.expr:
        plain = _plain(value)
        if plain is not _NOT_PLAIN:
            return ast.Constant(plain)
        return ast.Name(self.alias(value, hint), ast.Load())

    def local(self, var: str) -> ast.expr:
        if var in self.chosen:
            return ast.Name(self.chosen[var], ast.Load())
        return _index(_s(var), [self.f.index])

    def expr(self, e: ast.expr, scope: Scope, shadow: frozenset[str] = frozenset()) -> ast.expr:
        fi = scope.fi
        if isinstance(e, ast.Name):
            return self.name(e, scope, shadow)
        if is_state_attr(e, scope):
            assert isinstance(e, ast.Attribute)
            return self.state_attr(e, scope)
        if isinstance(e, ast.Call) and not (isinstance(e.func, ast.Name) and e.func.id in shadow):
            prim = primitive_of(e, scope)
            if prim is not None:
                raise fi.err(f"{prim}() cannot be used inside an expression here", e)
            if self.gen.builder.procedure_of(e, scope) is not None:
                raise fi.err("a procedure call must be a statement of its own: v = g(self, s, ...)", e)
        if isinstance(e, (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
            return self.comprehension(e, scope, shadow)
        if isinstance(e, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            raise fi.err(f"{type(e).__name__} is not supported in processes", e)
        new = copy.copy(e)
        for fname, value in ast.iter_fields(e):
            if isinstance(value, ast.expr):
                setattr(new, fname, self.expr(value, scope, shadow))
            elif isinstance(value, list):
                setattr(new, fname, [self.child(v, scope, shadow) for v in value])
        return new

    def child(self, v: Any, scope: Scope, shadow: frozenset[str]) -> Any:
        if isinstance(v, ast.expr):
            return self.expr(v, scope, shadow)
        if isinstance(v, ast.keyword):
            return ast.keyword(v.arg, self.expr(v.value, scope, shadow))
        return v

    def name(self, e: ast.Name, scope: Scope, shadow: frozenset[str]) -> ast.expr:
        fi, ident = scope.fi, e.id
        if ident in shadow:
            return ast.Name(ident, ast.Load())
        if ident in scope.consts:
            return self.const(scope.consts[ident], ident)
        if ident in scope.locals:
            return self.local(scope.locals[ident])
        if ident == fi.state_name:
            raise fi.err(f"the state '{ident}' can only be used as {ident}.<variable>", e)
        value = lookup(scope, ident)
        if ident in fi.env:
            if self.gen.builder.procedures.get(id(value)) is not None:
                raise fi.err(f"procedure {ident} can only be called as a statement: {ident}(self, s, ...)", e)
            return self.const(value, ident)
        if hasattr(builtins, ident):
            return ast.Name(ident, ast.Load())
        raise fi.err(f"unknown name '{ident}' (not a local, parameter, constant or global)", e)

    def state_attr(self, e: ast.Attribute, scope: Scope) -> ast.expr:
        lock = self.f.locks.get(e.attr)
        if lock is not None and lock[0] == "rw":
            raise scope.fi.err(f"'{e.attr}' is a rwlock: read its state as s.{e.attr}_w (writer) / s.{e.attr}_r (readers)", e)
        self.f.state_refs.append((e.attr, scope.fi.where(e)))
        return ast.copy_location(_s(e.attr), e)

    def comprehension(self, e: ast.expr, scope: Scope, shadow: frozenset[str]) -> ast.expr:
        new = copy.copy(e)
        gens: list[ast.comprehension] = []
        inner = set(shadow)
        for g in e.generators:  # type: ignore[attr-defined]
            it = self.expr(g.iter, scope, frozenset(inner))
            inner |= {n.id for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            ifs = [self.expr(c, scope, frozenset(inner)) for c in g.ifs]
            gens.append(ast.comprehension(copy.deepcopy(g.target), it, ifs, g.is_async))
        new.generators = gens  # type: ignore[attr-defined]
        sh = frozenset(inner)
        if isinstance(e, ast.DictComp):
            new.key = self.expr(e.key, scope, sh)  # type: ignore[attr-defined]
            new.value = self.expr(e.value, scope, sh)  # type: ignore[attr-defined]
        else:
            new.elt = self.expr(e.elt, scope, sh)  # type: ignore[attr-defined]
        return new

    def target(self, t: ast.expr, scope: Scope) -> ast.expr:
        if isinstance(t, ast.Name):
            return _index(_s(scope.locals[t.id]), [self.f.index])
        return self.expr(t, scope)

    # -- simple statements ---------------------------------------------------------------------
    def simple(self, stmt: ast.stmt, scope: Scope, prim: str | None) -> list[ast.stmt]:
        fi = scope.fi
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            tgt = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            assert stmt.value is not None
            target = self.target(tgt, scope)
            if prim in ("choose", "either"):
                value: ast.expr = ast.Name(self.choice(stmt.value, scope, prim, tgt), ast.Load())
            else:
                value = self.expr(stmt.value, scope)
            if isinstance(stmt, ast.AugAssign):
                assert isinstance(target, (ast.Attribute, ast.Subscript))
                return _located([ast.AugAssign(target, stmt.op, value)], stmt)
            return _located([_assign(target, value)], stmt)
        if isinstance(stmt, ast.Assert):
            if not (isinstance(stmt.msg, ast.Constant) and isinstance(stmt.msg.value, str)):
                raise fi.err('assert needs a property name: assert cond, "name"', stmt)
            return _located([_check(self.expr(stmt.test, scope), stmt.msg.value)], stmt)
        assert isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
        call = stmt.value
        if prim == "check":
            args = call.args
            if len(args) != 2 or not isinstance(args[1], ast.Constant) or not isinstance(args[1].value, str):
                raise fi.err('check() takes a condition and a property name: check(cond, "name")', stmt)
            return _located([_check(self.expr(args[0], scope), args[1].value)], stmt)
        if prim == "await_":
            return _located([_require(self.expr(call.args[0], scope))], stmt)
        if prim == "skip":
            return []
        if prim in LOCK_PRIMITIVES:
            return _located(self.lock_op(prim, call, scope), stmt)
        if prim in IRQ_PRIMITIVES:
            return _located(self.irq_change(+1 if prim == "local_irq_disable" else -1, scope, call), stmt)
        raise fi.err(f"unsupported statement in a process: {fi.text(stmt)}", stmt)  # pragma: no cover

    def choice(self, value: ast.expr, scope: Scope, prim: str, tgt: ast.expr) -> str:
        fi = scope.fi
        assert isinstance(value, ast.Call)
        display = tgt.id if isinstance(tgt, ast.Name) else prim
        if prim == "either":
            if value.args:
                raise fi.err("either() takes no arguments", value)
            return self.new_param(display, (0, 1))
        if len(value.args) != 1:
            raise fi.err("choose() takes one constant collection: choose(range(N))", value)
        ok, dom = const_eval(value.args[0], scope)
        if not ok:
            raise fi.err("choose() needs constants: choose(range(N)) or choose((1, 4, 7))", value)
        try:
            values = (0, 1) if dom is bool else tuple(int(v) for v in dom)
        except (TypeError, ValueError) as exc:
            raise fi.err("choose() needs a collection of integers", value) from exc
        if not values:
            raise fi.err("choose() from an empty collection", value)
        return self.new_param(display, values)

    # -- locks and interrupts ------------------------------------------------------------------
    def lock_parts(self, call: ast.Call, scope: Scope) -> tuple[str, list[ast.expr]]:
        arg = call.args[0]
        indices: list[ast.expr] = []
        while isinstance(arg, ast.Subscript):
            sl = arg.slice
            indices = (list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]) + indices
            arg = arg.value
        assert isinstance(arg, ast.Attribute)
        return arg.attr, [self.expr(ix, scope) for ix in indices]

    def lock_op(self, prim: str, call: ast.Call, scope: Scope) -> list[ast.stmt]:
        """The statements of a lock primitive (acquire as a leading require, so it blocks)."""
        name, ix = self.lock_parts(call, scope)
        owner = self.f.pid + 1
        if prim in ("spin_lock", "spin_lock_irqsave"):
            held = _index(_s(name), ix)
            out = [_require(_cmp(held, ast.Eq(), 0)), *self.lock_order_check(name), _assign(copy.deepcopy(held), owner)]
            if prim == "spin_lock_irqsave":
                out += self.irq_change(+1, scope, call)
            return out
        if prim in ("spin_unlock", "spin_unlock_irqrestore"):
            held = _index(_s(name), ix)
            out = [_check(_cmp(held, ast.Eq(), owner), "lock-discipline"), _assign(copy.deepcopy(held), 0)]
            if prim == "spin_unlock_irqrestore":
                out += self.irq_change(-1, scope, call)
            return out
        w, r = _index(_s(name + "_w"), ix), _index(_s(name + "_r"), ix)
        bit = _index(_s(self.f.reader_bits.get(name, "")), [self.f.index, *ix])
        if prim == "read_lock":
            return [_require(_cmp(w, ast.Eq(), 0)), *self.lock_order_check(name),
                    _assign(copy.deepcopy(r), ast.BinOp(copy.deepcopy(r), ast.Add(), ast.Constant(1))),
                    _assign(bit, 1)]
        if prim == "read_unlock":
            if name not in self.f.reader_bits:
                return [_check(ast.Constant(False), "lock-discipline")]
            return [_check(_cmp(bit, ast.Eq(), 1), "lock-discipline"),
                    _assign(copy.deepcopy(r), ast.BinOp(copy.deepcopy(r), ast.Sub(), ast.Constant(1))),
                    _assign(copy.deepcopy(bit), 0)]
        if prim == "write_lock":
            free = ast.BoolOp(ast.And(), [_cmp(w, ast.Eq(), 0), _cmp(r, ast.Eq(), 0)])
            return [_require(free), *self.lock_order_check(name), _assign(copy.deepcopy(w), owner)]
        assert prim == "write_unlock"
        return [_check(_cmp(w, ast.Eq(), owner), "lock-discipline"), _assign(copy.deepcopy(w), 0)]

    def lock_order_check(self, name: str) -> list[ast.stmt]:
        order = self.f.lock_order
        if name not in order:
            return []
        later = [lk for lk in order[order.index(name):] if lk in self.gen.builder.acquired]
        cond = _all(self.gen.holds_none(later))
        return [_check(cond, "lock-order")] if cond is not None else []

    def irq_change(self, delta: int, scope: Scope, node: ast.AST) -> list[ast.stmt]:
        cpu = self.f.cpu
        if cpu is None:
            raise scope.fi.err("interrupt primitives need the process to run on a CPU: @m.process(cpu=...)", node)
        off = _index(_s("irqs_off"), [cpu])
        new = ast.BinOp(copy.deepcopy(off), ast.Add() if delta > 0 else ast.Sub(), ast.Constant(1))
        out: list[ast.stmt] = []
        if delta < 0:
            out.append(_check(_cmp(copy.deepcopy(off), ast.Gt(), 0), "lock-discipline"))
        out.append(_assign(off, new))
        return out

    # -- control flow within a step ------------------------------------------------------------
    def cont(self, node: Node | None, path: frozenset[int], defs: frozenset[str]) -> list[ast.stmt]:
        """Continue into ``node``: inline it, or end the step with a jump to its pc.
        ``path``: nodes inlined so far on this path; ``defs``: locals they may have written."""
        target = resolve(node)
        if isinstance(target, FinishNode):
            return self.gen.finish_code(self)
        key = id(target)
        if target.boundary or key in path or self.inlined[key] >= INLINE_LIMIT:
            return self.jump(target, defs)
        self.inlined[key] += 1
        return self.emit(target, path | {key}, defs)

    def jump(self, target: Node, defs: frozenset[str]) -> list[ast.stmt]:
        """End the step at ``target``'s pc, resetting the locals that die on the way: those
        possibly set (live at this step's start, or written in it) but not live at ``target``.
        By induction every local that is not live at a head holds its reset value there."""
        out: list[ast.stmt] = []
        gen = self.gen
        if gen.reset_dead:
            dead = (self.head_live | defs) - gen.live.get(id(target), frozenset()) - gen.pinned
            for var in sorted(dead):
                out.append(_assign(_index(_s(var), [self.f.index]), self.f.local_vars[var][0]))
        out.append(gen.set_pc(gen.head(target)))
        return out

    def emit(self, node: Node, path: frozenset[int], defs: frozenset[str]) -> list[ast.stmt]:
        if isinstance(node, FinishNode):
            return self.gen.finish_code(self)
        if isinstance(node, StmtNode):
            if node.prim == "spin_lock_irqsave":
                return self.irqsave_step(node, path, defs)
            if node.prim in LOCK_PRIMITIVES:
                assert isinstance(node.stmt, ast.Expr) and isinstance(node.stmt.value, ast.Call)
                code = _located(self.lock_op(node.prim, node.stmt.value, node.scope), node.stmt)
            else:
                code = self.simple(node.stmt, node.scope, node.prim)
            return code + self.cont(node.next, path, defs | node_effects(node)[2])
        if isinstance(node, AssignNode):
            code = []
            for tscope, tgt, vscope, value in node.pairs:
                code.append(_assign(self.target(tgt, tscope), self.expr(value, vscope)))
            return _located(code, node.src) + self.cont(node.next, path, defs | node_effects(node)[2])
        if isinstance(node, TestNode):
            if prim_call(node.test, node.scope) == "either":
                test: ast.expr = ast.Name(self.new_param("either", (0, 1)), ast.Load())
            else:
                test = self.expr(node.test, node.scope)
            branch = ast.If(test, self.cont(node.yes, path, defs), self.cont(node.no, path, defs))
            return _located([branch], node.src)
        if isinstance(node, AtomicNode):
            return self.block(node.stmts, node.scope) + self.cont(node.next, path, defs | node_effects(node)[2])
        raise ModelError(f"internal error: unknown node {node!r}")  # pragma: no cover

    def irqsave_step(self, node: StmtNode, path: frozenset[int], defs: frozenset[str]) -> list[ast.stmt]:
        """``spin_lock_irqsave``: if the lock is free, disable interrupts and take it in one step;
        otherwise disable interrupts and go spin (with them disabled) at ``node.spin``."""
        assert isinstance(node.stmt, ast.Expr) and isinstance(node.stmt.value, ast.Call) and node.spin
        call, scope = node.stmt.value, node.scope
        take = self.lock_op("spin_lock_irqsave", call, scope)
        free = take[0]  # require(lock == 0)
        assert isinstance(free, ast.Expr) and isinstance(free.value, ast.Call)
        cond = free.value.args[0]
        busy = self.irq_change(+1, scope, call) + self.jump(node.spin, defs)
        branch = ast.If(cond, take[1:] + self.cont(node.next, path, defs), busy)
        return _located([branch], node.stmt)

    def block(self, stmts: list[ast.stmt], scope: Scope) -> list[ast.stmt]:
        """The statements of a ``with atomic():`` block, all in this step."""
        out: list[ast.stmt] = []
        for stmt in stmts:
            if isinstance(stmt, ast.Pass) or isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            if isinstance(stmt, ast.If):
                ok, value = const_eval(stmt.test, scope)
                if ok:
                    out += self.block(stmt.body if value else stmt.orelse, scope)
                    continue
                if prim_call(stmt.test, scope) == "either":
                    test: ast.expr = ast.Name(self.new_param("either", (0, 1)), ast.Load())
                else:
                    test = self.expr(stmt.test, scope)
                body = self.block(stmt.body, scope) or [ast.Pass()]
                out += _located([ast.If(test, body, self.block(stmt.orelse, scope))], stmt)
            elif isinstance(stmt, ast.For):
                ok, values = const_eval(stmt.iter, scope)
                if not ok:
                    raise scope.fi.err("for loops must iterate over constants", stmt)
                for v in values:
                    names = {n.id: None for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
                    bound = dict(zip(names, v if len(names) > 1 else (v,), strict=True))
                    out += self.block(stmt.body, scope.with_consts(bound))
            elif isinstance(stmt, ast.With):
                out += self.block(stmt.body, scope)
            else:
                out += self.simple(stmt, scope, _prim_of_stmt(stmt, scope))
        return out


def _prim_of_stmt(stmt: ast.stmt, scope: Scope) -> str | None:
    if isinstance(stmt, ast.Assert):
        return "check"
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        prim = prim_call(stmt.value, scope)
        return prim if prim in ("choose", "either") else None
    if isinstance(stmt, ast.AugAssign):
        return None
    if isinstance(stmt, ast.Expr):
        prim = prim_call(stmt.value, scope)
        if prim is None:
            raise scope.fi.err("a plain call as a statement has no effect", stmt)
        return prim
    raise scope.fi.err(f"'{type(stmt).__name__}' is not supported inside 'with atomic()'", stmt)


class InstanceGen:
    """Generates the step actions of one process instance from its built graph."""

    def __init__(self, builder: CfgBuilder, facts: InstanceFacts, first: Node,
                 pinned: frozenset[str] = frozenset(), reset_dead: bool = True) -> None:
        self.builder = builder
        self.f = facts
        self.first = first
        self.live = live_locals(first)
        self.pinned = pinned  # locals read outside this process's code: never reset early
        self.reset_dead = reset_dead
        self.heads: dict[int, tuple[int, Node]] = {}  # id(node) -> (pc, node)
        self.queue: list[Node] = []
        self.done_consts: list[ast.Constant] = []
        self.labels: Counter[str] = Counter()
        self.steps: dict[str, int] = {}  # label -> pc (for tests and tools)
        self.pending: list[tuple[int, str, list[ast.stmt], StepWriter, str]] = []

    # -- pcs -----------------------------------------------------------------------------------
    def head(self, node: Node) -> int:
        key = id(node)
        if key not in self.heads:
            self.heads[key] = (len(self.heads) + 1, node)
            self.queue.append(node)
        return self.heads[key][0]

    def pc(self) -> ast.expr:
        return _index(_s(self.f.pc_var), [self.f.index])

    def set_pc(self, value: int | None) -> ast.stmt:
        const = ast.Constant(value)
        if value is None:  # done: its number is known once all steps exist
            self.done_consts.append(const)
        return _assign(self.pc(), const)

    @property
    def done(self) -> int:
        return len(self.heads) + 1

    # -- lock bookkeeping ----------------------------------------------------------------------
    def holds_none(self, names: Iterable[str]) -> list[ast.expr]:
        """Terms saying this instance holds none of the locks ``names`` (all their elements)."""
        owner = self.f.pid + 1
        terms: list[ast.expr] = []
        for name in names:
            kind, shape = self.f.locks[name]
            for idx in itertools.product(*(range(n) for n in shape)):
                if kind == "spin":
                    terms.append(_cmp(_index(_s(name), idx), ast.NotEq(), owner))
                else:
                    terms.append(_cmp(_index(_s(name + "_w"), idx), ast.NotEq(), owner))
                    if name in self.f.reader_bits:
                        bit = _index(_s(self.f.reader_bits[name]), [self.f.index, *idx])
                        terms.append(_cmp(bit, ast.Eq(), 0))
        return terms

    def finish_code(self, w: StepWriter) -> list[ast.stmt]:
        """End of a run: no lock may be held; locals reset; back to the start (or done)."""
        out: list[ast.stmt] = []
        cond = _all(self.holds_none(sorted(self.builder.acquired)))
        if cond is not None:
            out.append(_check(cond, "lock-discipline"))
        if self.f.irq and self.f.level_var:
            depth = _index(_s("in_irq"), [self.f.cpu or 0])
            out.append(_assign(depth, ast.BinOp(copy.deepcopy(depth), ast.Sub(), ast.Constant(1))))
            out.append(_assign(_index(_s(self.f.level_var), [self.f.index]), 0))
        elif self.f.irq:
            out.append(_assign(_index(_s("in_irq"), [self.f.cpu or 0]), 0))
        for var, (lo, _hi) in self.f.local_vars.items():
            out.append(_assign(_index(_s(var), [self.f.index]), lo))
        out.append(self.set_pc(0 if self.f.restart else None))
        return out

    # -- steps ---------------------------------------------------------------------------------
    def guards(self) -> list[ast.stmt]:
        out = [_require(_cmp(self.pc(), ast.Eq(), 0))]
        if self.f.cpu_has_irq and not self.f.irq:
            # an interrupt handler running on this CPU preempts the task until it returns
            out.append(_require(_cmp(_index(_s("in_irq"), [self.f.cpu or 0]), ast.Eq(), 0)))
        return out

    def nested_guard(self) -> list[ast.stmt]:
        """A running handler on a CPU where handlers nest steps only while it is the innermost."""
        if not (self.f.irq and self.f.level_var):
            return []
        return [_require(_cmp(_index(_s("in_irq"), [self.f.cpu or 0]), ast.Eq(),
                              _index(_s(self.f.level_var), [self.f.index])))]

    def generate(self) -> list[ActionDef]:
        fi = self.builder.proc
        first = self.first
        w = StepWriter(self)
        body = self.guards()
        entry: list[ast.stmt] = []
        if self.f.irq:
            cpu = self.f.cpu or 0
            if not self.f.nests:
                body.append(_require(_cmp(_index(_s("in_irq"), [cpu]), ast.Eq(), 0)))
            body.append(_require(_cmp(_index(_s("irqs_off"), [cpu]), ast.Eq(), 0)))
            if self.f.level_var:  # arrive one level deeper than whatever runs on the CPU
                depth = _index(_s("in_irq"), [cpu])
                entry.append(_assign(_index(_s(self.f.level_var), [self.f.index]),
                                     ast.BinOp(copy.deepcopy(depth), ast.Add(), ast.Constant(1))))
                entry.append(_assign(copy.deepcopy(depth), ast.BinOp(copy.deepcopy(depth), ast.Add(), ast.Constant(1))))
            else:
                entry.append(_assign(_index(_s("in_irq"), [cpu]), 1))
        for pname, var, values in self.builder.params:
            ph = w.new_param(pname, values)
            entry.append(_assign(_index(_s(var), [self.f.index]), ast.Name(ph, ast.Load())))
            w.chosen[var] = ph
        params = frozenset(var for _, var, _ in self.builder.params)
        guarded = self.f.irq and _awaits_first(resolve(first))
        if self.f.irq and not guarded:
            code = w.cont(first, frozenset(), params)
            start_label = f"{fi.name}: <interrupt>"
        else:
            # an interrupt handler that starts with await_(...) is taken only when that holds
            # (its source is pending): the await guards the interrupt's first step
            code = w.emit(resolve(first), frozenset({id(resolve(first))}), params)
            start_label = self.auto_label(resolve(first))
        # The first statement's guard (await/lock) stays a leading require, ahead of the entry
        # writes (it reads parameters through their placeholders, not their variables).
        lead = 0
        while lead < len(code) and _is_require(code[lead]):
            lead += 1
        body += code[:lead] + entry + code[lead:]
        src = resolve(first).src if not self.f.irq or guarded else None
        self.add_step(0, start_label, body, w, src or _def_node(fi.def_line), fi.filename)
        while self.queue:
            node = self.queue.pop(0)
            k = self.heads[id(node)][0]
            w = StepWriter(self)
            w.head_live = self.live.get(id(node), frozenset())
            body = self.guards() + self.nested_guard()
            body[0] = _require(_cmp(self.pc(), ast.Eq(), k))
            body += w.emit(node, frozenset({id(node)}), frozenset())
            self.add_step(k, self.auto_label(node), body, w, node.src, node.scope.fi.filename)
        for const in self.done_consts:
            const.value = self.done
        return [a for step in self.pending for a in self.actions_of(*step)]

    def auto_label(self, node: Node) -> str:
        if node.label is not None:
            return node.label
        fi = node.scope.fi
        if isinstance(node, TestNode):
            return f"{fi.name}: {node.keyword} {fi.text(node.test)}"
        if isinstance(node, AtomicNode):
            first = node.stmts[0]
            more = " ..." if len(node.stmts) > 1 else ""
            return f"{fi.name}: atomic: {fi.text(first)}{more}"
        if isinstance(node, FinishNode):
            return f"{fi.name}: return"
        assert node.src is not None
        return f"{fi.name}: {fi.text(node.src)}"

    def add_step(self, k: int, label: str, body: list[ast.stmt], w: StepWriter,
                 src: ast.AST | None, filename: str) -> None:
        self.labels[label] += 1
        if self.labels[label] > 1:
            label = f"{label} #{self.labels[label]}"
        self.steps[label] = k
        self.pending.append((k, label, _located(body, src), w, filename))

    def actions_of(self, k: int, label: str, body: list[ast.stmt], w: StepWriter, filename: str) -> list[ActionDef]:
        """One action per value of the step's parameters (process parameters, choose, either)."""
        out: list[ActionDef] = []
        for combo in itertools.product(*(p.values for p in w.params)):
            binding = {p.placeholder: v for p, v in zip(w.params, combo, strict=True)}
            shown = ", ".join(f"{p.display}={v}" for p, v in zip(w.params, combo, strict=True))
            text = f"{label} ({shown})" if shown else label
            out.append(ActionDef(
                name=text, params={}, body=_substitute(body, binding), state_name="s", env=w.env,
                filename=filename, line_offset=0, process=self.f.name, label=text, lock_owner=self.f.pid + 1,
                pc=(self.f.pc_var, (self.f.index,), k), doc=self.builder.proc.doc,
            ))
        return out


def _is_require(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) \
        and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "require"


def _awaits_first(node: Node) -> bool:
    """True if ``node`` is ``await_(...)`` or a ``with atomic():`` block starting with one."""
    stmt: ast.stmt | None = node.stmt if isinstance(node, StmtNode) else None
    if isinstance(node, AtomicNode) and node.stmts:
        stmt = node.stmts[0]
    return isinstance(stmt, ast.Expr) and prim_call(stmt.value, node.scope) == "await_"


def _def_node(line: int) -> ast.AST:
    node = ast.Pass()
    node.lineno, node.col_offset, node.end_lineno, node.end_col_offset = line, 0, line, 0
    return node


class _Subst(ast.NodeTransformer):
    def __init__(self, binding: dict[str, int]) -> None:
        self.binding = binding

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.binding:
            return ast.copy_location(ast.Constant(self.binding[node.id]), node)
        return node


def _substitute(body: list[ast.stmt], binding: dict[str, int]) -> list[ast.stmt]:
    copied = copy.deepcopy(body)
    if not binding:
        return copied
    sub = _Subst(binding)
    return [sub.visit(st) for st in copied]
