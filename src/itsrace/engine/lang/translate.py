"""Translate one action instance (or property) from the action language into Python source.

The action language is a small subset of Python (see ``docs/modelling.md``):

* ``s.x``, ``s.a[i]``, ``s.m[i][j]`` read or assign state variables (``s`` = the state name);
* leading ``require(cond)`` statements are the guard; later ones disable the action when false;
* ``check(cond, "name")`` (or ``assert cond, "name"``) reports a violation of ``name``;
* temporaries, ``if``/``elif``/``else``, ``for`` over constant iterables (unrolled), ``while``,
  ``any``/``all``/``sum``/``min``/``max`` over generator expressions with constant iterables,
  calls of ordinary (pure, deterministic) Python functions.

Parameters are constants in each instance, so ``s.pend[l]`` becomes one local variable
``S_pend__2``; the generated code reads slots into locals, assigns copies (``W_...``), and packs
the successor with one mask-and-or.
"""

from __future__ import annotations

import ast
import builtins
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError, known_hint
from itsrace.engine.lang.core import lockfree as _lockfree_marker
from itsrace.engine.lang.layout import Layout, Slot

_SAFE_FOLD = {
    "len": len, "min": min, "max": max, "abs": abs, "range": range, "int": int, "bool": bool,
    "tuple": tuple, "sum": sum, "any": any, "all": all, "sorted": sorted, "divmod": divmod,
}
_NONDETERMINISTIC = {"random", "time", "id", "hash", "os", "uuid", "secrets", "input", "open", "datetime"}
_CONST_TYPES = (int, bool, str, float, type(None))


def _is_const_value(v: Any) -> bool:
    if isinstance(v, _CONST_TYPES):
        return True
    if isinstance(v, (tuple, frozenset)):
        return all(_is_const_value(x) for x in v)
    return isinstance(v, range)


class Disabled(Exception):
    """Raised by a non-leading ``require`` whose condition is false."""


class CheckFailed(Exception):
    """Raised by ``check(cond, name)``; ``args[0]`` is the property index."""


class DomainError(Exception):
    """Raised when an assignment puts a value outside a variable's domain."""


@dataclass
class Translated:
    """Source lines for one action instance or property."""

    guard: list[str]  # statements run before the guard test (slot extraction)
    guard_expr: str  # "True" if no leading require
    body: list[str]  # statements after the guard, ending with "t = ..." (actions only)
    reads: set[int] = field(default_factory=set)  # slot numbers read (guard + body)
    guard_reads: set[int] = field(default_factory=set)
    writes: set[int] = field(default_factory=set)
    needs_try: bool = False  # body may raise Disabled or CheckFailed
    line_of: dict[int, str] = field(default_factory=dict)  # body line index -> model "file:line"
    fresh: set[int] = field(default_factory=set)  # written slots assigned before any read: no W_ = S_ copy


class Namespace:
    """Objects the generated module needs (functions, tuples, ...), under unique names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._ids: dict[int, str] = {}

    def add(self, value: Any, hint: str) -> str:
        key = id(value)
        if key in self._ids:
            return self._ids[key]
        name = f"G{len(self.values)}_{hint}"
        self.values[name] = value
        self._ids[key] = name
        return name


class Translator:
    """Translates one body (action instance or property) against a layout."""

    def __init__(
        self,
        layout: Layout,
        ns: Namespace,
        state_name: str,
        env: dict[str, Any],
        binding: dict[str, Any],
        where: Callable[[ast.AST | None], str],
        prefix: str,
        property_index: Callable[[str, ast.AST], int],
        lock_owner: int | None = None,
    ) -> None:
        self.layout = layout
        self.ns = ns
        self.state = state_name
        self.env = env
        self.binding = dict(binding)
        self.where = where
        self.prefix = prefix
        self.property_index = property_index
        self.temps: set[str] = set()
        self.reads: set[int] = set()
        self.writes: set[int] = set()
        self.const_writes: set[int] = set()
        self.written: set[int] = set()  # slots that use W_ names in the body (known after pass 1)
        self.in_body = False
        self.needs_try = False
        self.tmp_counter = 0
        self.allow_return = False  # properties may return; actions may not
        self.null_checks = 0  # checks a guard must not contain: null-deref and lockset (moved to the body)
        self.lock_owner = lock_owner  # a process step: what its process writes into a lock it holds
        self.lockfree = 0  # > 0 inside lockfree(...): accesses marked lock-free by the model

    # -- helpers --------------------------------------------------------------------------------
    def err(self, message: str, node: ast.AST | None) -> ModelError:
        return ModelError(message, self.where(node))

    def fresh(self, hint: str) -> str:
        self.tmp_counter += 1
        return f"{self.prefix}x{self.tmp_counter}_{hint}"

    def slot_name(self, slot: Slot, store: bool) -> str:
        k = self._slot_no(slot)
        if store:
            self.writes.add(k)
            return "W_" + slot.ident
        self.reads.add(k)
        if self.in_body and k in self.written:
            return "W_" + slot.ident
        return "S_" + slot.ident

    def _slot_no(self, slot: Slot) -> int:
        return self.slot_index[slot.ident]

    @property
    def slot_index(self) -> dict[str, int]:
        cache = getattr(self.layout, "_slot_index", None)
        if cache is None:
            cache = {sl.ident: i for i, sl in enumerate(self.layout.slots)}
            self.layout._slot_index = cache  # type: ignore[attr-defined]
        return cache

    # -- constants ------------------------------------------------------------------------------
    def const_node(self, value: Any, hint: str) -> ast.expr:
        if isinstance(value, _CONST_TYPES):
            return ast.Constant(value)
        if isinstance(value, tuple) and all(isinstance(v, _CONST_TYPES) for v in value):
            return ast.Constant(value)  # type: ignore[arg-type]  # tuples of constants are valid
        return ast.Name(self.ns.add(value, hint), ast.Load())

    def try_fold(self, node: ast.expr) -> ast.expr:
        """Replace ``node`` by a constant if it depends on no state and no temporaries."""
        if isinstance(node, ast.Constant):
            return node
        ok, value = self._evaluate(node)
        if ok and not isinstance(value, (range, frozenset)):
            return ast.copy_location(ast.Constant(value), node)
        return node

    def _evaluate(self, node: ast.expr) -> tuple[bool, Any]:
        if not self._foldable(node):
            return False, None
        try:
            value = eval(  # noqa: S307 - model code, constant subexpression
                compile(ast.fix_missing_locations(ast.Expression(node)), "<fold>", "eval"),
                {"__builtins__": _SAFE_FOLD},
                dict(self.ns.values),
            )
        except Exception:
            return False, None
        return (True, value) if _is_const_value(value) else (False, None)

    def _foldable(self, node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                if sub.id.startswith("S_") or sub.id.startswith("W_") or sub.id.startswith(self.prefix):
                    return False
                if sub.id in _SAFE_FOLD:
                    continue
                if sub.id in self.ns.values and _is_const_value(self.ns.values[sub.id]):
                    continue
                return False
            if isinstance(sub, ast.Call):
                if not (isinstance(sub.func, ast.Name) and sub.func.id in _SAFE_FOLD):
                    return False
            if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
                return False
        return True

    def const_value(self, node: ast.expr) -> tuple[bool, Any]:
        if isinstance(node, ast.Constant):
            return True, node.value
        return self._evaluate(node)

    # -- expressions ----------------------------------------------------------------------------
    def expr(self, node: ast.expr) -> ast.expr:
        return self.try_fold(self._expr(node))

    def _expr(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, (ast.Attribute, ast.Subscript)) and self.is_state_access(node):
            return self.state_read(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
            elems = self.unroll_comprehension(node.elt, node.generators, node)
            return ast.Tuple(elems, ast.Load())
        if isinstance(node, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom, ast.DictComp)):
            raise self.err(f"{type(node).__name__} is not supported in the model language", node)
        if isinstance(node, ast.Attribute):
            node.value = self.expr(node.value)
            return node
        # generic: transform children
        for fname, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                setattr(node, fname, self.expr(value))
            elif isinstance(value, list):
                setattr(node, fname, [self.expr(v) if isinstance(v, ast.expr) else v for v in value])
        return node

    def name(self, node: ast.Name) -> ast.expr:
        ident = node.id
        if ident == self.state:
            raise self.err(
                f"the state '{ident}' can only be used as {ident}.<variable>; pass the values you need",
                node,
            )
        if ident in self.binding:
            return ast.copy_location(self.const_node(self.binding[ident], ident), node)
        if ident in self.temps:
            return ast.copy_location(ast.Name(self.prefix + ident, ast.Load()), node)
        if ident in _NONDETERMINISTIC and ident not in self.env:
            raise self.err(f"'{ident}' is non-deterministic; a model must compute the same successors every time", node)
        if ident in self.env:
            value = self.env[ident]
            mod = getattr(value, "__name__", "")
            if ident in _NONDETERMINISTIC or mod in ("random", "time", "secrets", "uuid"):
                raise self.err(
                    f"'{ident}' is non-deterministic; a model must compute the same successors every time", node
                )
            return ast.copy_location(self.const_node(value, ident), node)
        if hasattr(builtins, ident):
            return node
        raise self.err(f"unknown name '{ident}'", node)

    def is_state_access(self, node: ast.expr) -> bool:
        while isinstance(node, ast.Subscript):
            node = node.value
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == self.state
        )

    def split_access(self, node: ast.expr) -> tuple[str, list[ast.expr], ast.expr]:
        indices: list[ast.expr] = []
        cur = node
        while isinstance(cur, ast.Subscript):
            sl = cur.slice
            if isinstance(sl, ast.Tuple):
                indices = list(sl.elts) + indices
            else:
                indices = [sl] + indices
            cur = cur.value
        assert isinstance(cur, ast.Attribute)
        var = cur.attr
        if var not in self.layout.vars:
            raise self.err(f"unknown variable '{var}'{known_hint(var, self.layout.vars)}", node)
        return var, indices, node

    def resolve_indices(self, var: str, indices: list[ast.expr], node: ast.AST) -> tuple[list[Any], list[ast.expr]]:
        decl = self.layout.vars[var]
        if len(indices) > len(decl.shape):
            raise self.err(f"'{var}' has {len(decl.shape)} dimension(s); {len(indices)} index(es) given", node)
        consts: list[Any] = []
        exprs: list[ast.expr] = []
        for dim, ix in enumerate(indices):
            folded = self.expr(ix)
            ok, value = self.const_value(folded)
            if ok and dim == 0 and value == self.null_of(var) and not self.allow_return:
                ok = False  # a constant NULL dereference: checked when the step runs
            if ok:
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < decl.shape[dim]:
                    raise self.err(f"index {value!r} out of range for '{var}' dimension {dim} (size {decl.shape[dim]})", node)
                consts.append(value)
            else:
                consts.append(None)
            exprs.append(folded)
        return consts, exprs

    def state_read(self, node: ast.expr) -> ast.expr:
        orig = copy.deepcopy(node)  # translating rewrites the node in place
        result = self._state_read(node)
        var, indices, _ = self.split_access(orig)
        if len(indices) == len(self.layout.vars[var].shape):  # one element (whole rows encode list heads)
            cond = self.lock_held(var, orig)
            if cond is not None:
                k = self.lockset_index(node)
                return ast.copy_location(
                    ast.Call(ast.Name("_lk", ast.Load()), [result, cond, ast.Constant(k)], []), node)
        return result

    def lock_held(self, var: str, node: ast.AST) -> ast.expr | None:
        """The condition "the lock protecting this access of ``var`` is held by this process", or
        None when the access is not checked (no declared lock, not a process step, marked
        lock-free, or a property). The index is re-read from ``node`` (pure)."""
        locks = getattr(self.layout, "field_locks", {})
        if var not in locks or self.lock_owner is None or self.lockfree or self.allow_return:
            return None
        lock, how = locks[var]
        ldecl = self.layout.vars[lock]
        owner = ast.Constant(self.lock_owner)
        if how == "any":
            slots = [self.layout.by_key[(lock, ix)] for ix in ldecl.indices()]
            terms: list[ast.expr] = [ast.Compare(ast.Name(self.slot_name(sl, store=False), ast.Load()), [ast.Eq()],
                                                 [copy.deepcopy(owner)]) for sl in slots]
            return terms[0] if len(terms) == 1 else ast.BoolOp(ast.Or(), terms)
        _, indices, _ = self.split_access(node)  # type: ignore[arg-type]
        first = copy.deepcopy(indices[0])
        saved, self.lockfree = self.lockfree, 1  # the index expression is not a field access of its own
        try:
            held = self._state_read(ast.Subscript(ast.Attribute(ast.Name(self.state, ast.Load()), lock, ast.Load()),
                                                  first, ast.Load()))
        finally:
            self.lockfree = saved
        return ast.Compare(held, [ast.Eq()], [owner])

    def lockset_index(self, node: ast.AST) -> int:
        self.needs_try = True
        self.null_checks += 1
        return self.property_index("lockset", node)

    def _state_read(self, node: ast.expr) -> ast.expr:
        var, indices, _ = self.split_access(node)
        decl = self.layout.vars[var]
        consts, exprs = self.resolve_indices(var, indices, node)
        if all(c is not None for c in consts):
            return self.subtree(var, tuple(consts), node)
        # dynamic index: select from the tuple of candidate slots
        dims = list(decl.shape)
        base: list[int] = []
        for c in consts:
            if c is None:
                break
            base.append(c)
        k = len(base)
        sub = self.subtree(var, tuple(base), node)
        result: ast.expr = sub
        for dim in range(k, len(consts)):
            idx = exprs[dim]
            if consts[dim] is not None:
                idx = ast.Constant(consts[dim])
            checked = self.index_check(var, dim, idx, dims[dim], node)
            result = ast.Subscript(result, checked, ast.Load())
        return ast.copy_location(result, node)

    def null_of(self, var: str) -> int | None:
        """The index a NULL pointer maps to in ``var`` (an object array), else None."""
        return self.layout.null_index.get(var) if hasattr(self.layout, "null_index") else None

    def null_deref_index(self, node: ast.AST) -> int:
        self.needs_try = True
        self.null_checks += 1
        return self.property_index("null-deref", node)

    def index_check(self, var: str, dim: int, idx: ast.expr, size: int, node: ast.AST) -> ast.expr:
        """``_ix(i, n)``; for the pointer dimension of an object array in a step,
        ``_ixp(i, n, null, k)``: the NULL index fails property ``k`` (``null-deref``)."""
        null = self.null_of(var)
        if dim == 0 and null is not None and not self.allow_return:
            k = self.null_deref_index(node)
            return ast.Call(ast.Name("_ixp", ast.Load()),
                            [idx, ast.Constant(size), ast.Constant(null), ast.Constant(k)], [])
        return ast.Call(ast.Name("_ix", ast.Load()), [idx, ast.Constant(size)], [])

    def subtree(self, var: str, prefix: tuple[int, ...], node: ast.AST) -> ast.expr:
        decl = self.layout.vars[var]
        if len(prefix) == len(decl.shape):
            slot = self.layout.by_key[(var, prefix)]
            return ast.Name(self.slot_name(slot, store=False), ast.Load())
        dim = len(prefix)
        return ast.Tuple([self.subtree(var, prefix + (i,), node) for i in range(decl.shape[dim])], ast.Load())

    def call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("require", "check") and func.id not in self.temps:
            raise self.err(f"{func.id}() must be a statement of its own", node)
        if isinstance(func, ast.Name) and func.id in ("any", "all", "sum", "min", "max") and len(node.args) == 1 \
                and isinstance(node.args[0], ast.GeneratorExp) and not node.keywords:
            gen = node.args[0]
            elems = self.unroll_comprehension(gen.elt, gen.generators, gen)
            return self.reduce(func.id, elems, node)
        if isinstance(func, ast.Name) and func.id == "len" and len(node.args) == 1 and self.is_state_access(node.args[0]):
            var, indices, _ = self.split_access(node.args[0])
            decl = self.layout.vars[var]
            if len(indices) >= len(decl.shape):
                raise self.err(f"len() of a scalar element of '{var}'", node)
            return ast.Constant(decl.shape[len(indices)])
        if self.is_lockfree(node):
            self.lockfree += 1
            try:
                return self.expr(node.args[0])
            finally:
                self.lockfree -= 1
        node.func = self.expr(func)
        node.args = [self.expr(a) for a in node.args]
        for kw in node.keywords:
            kw.value = self.expr(kw.value)
        return node

    def is_lockfree(self, node: ast.expr) -> bool:
        """``lockfree(value, "why")``: the model marks a lock-free access (see core.lockfree)."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return False
        ident = node.func.id
        if ident in self.temps or self.env.get(ident) is not _lockfree_marker:
            return False
        if len(node.args) != 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)) \
                or not node.args[1].value.strip():
            raise self.err('lockfree() takes the value and the C construct that makes it safe: lockfree(x, "why")', node)
        return True

    def reduce(self, fname: str, elems: list[ast.expr], node: ast.AST) -> ast.expr:
        if fname in ("any", "all"):
            if not elems:
                return ast.Constant(fname == "all")
            folded = []
            for e in elems:
                ok, v = self.const_value(e)
                if ok:
                    if fname == "any" and v:
                        return ast.Constant(True)
                    if fname == "all" and not v:
                        return ast.Constant(False)
                    continue
                folded.append(e)
            if not folded:
                return ast.Constant(fname == "all")
            if len(folded) == 1:
                return ast.Call(ast.Name("bool", ast.Load()), [folded[0]], [])
            return ast.BoolOp(ast.Or() if fname == "any" else ast.And(), folded)
        if fname == "sum":
            if not elems:
                return ast.Constant(0)
            acc = elems[0]
            for e in elems[1:]:
                acc = ast.BinOp(acc, ast.Add(), e)
            return acc
        if not elems:
            raise self.err(f"{fname}() of an empty sequence", node)
        return ast.Call(ast.Name(fname, ast.Load()), [ast.Tuple(elems, ast.Load())], [])

    def const_iter(self, iter_node: ast.expr) -> tuple[bool, list[Any]]:
        if self.is_state_access(iter_node):
            return False, []
        folded = self.expr(copy.deepcopy(iter_node))
        ok, value = self.const_value(folded)
        if not ok:
            return False, []
        try:
            return True, list(value)
        except TypeError:
            return False, []

    def bind_target(self, target: ast.expr, value: Any, node: ast.AST) -> dict[str, Any]:
        if isinstance(target, ast.Name):
            return {target.id: value}
        if isinstance(target, ast.Tuple):
            vals = list(value)
            if len(vals) != len(target.elts):
                raise self.err("cannot unpack loop value", node)
            out: dict[str, Any] = {}
            for t, v in zip(target.elts, vals, strict=True):
                out.update(self.bind_target(t, v, node))
            return out
        raise self.err("loop targets must be names", node)

    def unroll_comprehension(self, elt: ast.expr, gens: list[ast.comprehension], node: ast.AST) -> list[ast.expr]:
        if not gens:
            return [self.expr(copy.deepcopy(elt))]
        gen = gens[0]
        ok, values = self.const_iter(gen.iter)
        if not ok:
            raise self.err(
                "comprehensions in models must iterate over constants (e.g. range(N)); "
                "iterate over indices and read s.<var>[i] inside",
                node,
            )
        out: list[ast.expr] = []
        saved = dict(self.binding)
        try:
            for v in values:
                self.binding.update(self.bind_target(gen.target, v, node))
                keep = True
                cond_nodes: list[ast.expr] = []
                for cond in gen.ifs:
                    c = self.expr(copy.deepcopy(cond))
                    okc, cv = self.const_value(c)
                    if okc:
                        if not cv:
                            keep = False
                            break
                    else:
                        cond_nodes.append(c)
                if not keep:
                    continue
                inner = self.unroll_comprehension(elt, gens[1:], node)
                if cond_nodes:
                    raise self.err("comprehension filters must be constant (depend only on loop indices)", node)
                out.extend(inner)
        finally:
            self.binding = saved
        return out

    # -- statements -----------------------------------------------------------------------------
    def collect_temps(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    self.temps.add(sub.id)
        self.temps -= set(self.binding)

    def stmts(self, body: list[ast.stmt], top: bool = False) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            # A non-leading require disables the whole action (raises _Disabled), wherever it
            # stands; it must not let the statements before it produce a partial successor.
            out.extend(self.stmt(stmt))
        return out

    @staticmethod
    def is_require(stmt: ast.stmt) -> bool:
        return (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name)
            and stmt.value.func.id == "require"
        )

    def stmt(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name):
            fname = stmt.value.func.id
            if fname == "require":
                if len(stmt.value.args) != 1:
                    raise self.err("require() takes one condition", stmt)
                self.needs_try = True
                cond = self.expr(stmt.value.args[0])
                return [self.loc(ast.If(ast.UnaryOp(ast.Not(), cond), [self.raise_("_Disabled", [])], []), stmt)]
            if fname == "check":
                args = stmt.value.args
                if len(args) != 2 or not isinstance(args[1], ast.Constant) or not isinstance(args[1].value, str):
                    raise self.err('check() takes a condition and a property name string: check(cond, "name")', stmt)
                return self.check_stmt(args[0], args[1].value, stmt)
        if isinstance(stmt, ast.Assert):
            if not (isinstance(stmt.msg, ast.Constant) and isinstance(stmt.msg.value, str)):
                raise self.err('assert needs a property name: assert cond, "name"', stmt)
            return self.check_stmt(stmt.test, stmt.msg.value, stmt)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self.assign(stmt)
        if isinstance(stmt, ast.If):
            test = self.expr(stmt.test)
            ok, value = self.const_value(test)
            if ok:
                return self.stmts(stmt.body if value else stmt.orelse)
            body = self.stmts(stmt.body) or [ast.Pass()]
            orelse = self.stmts(stmt.orelse)
            return [self.loc(ast.If(test, body, orelse), stmt)]
        if isinstance(stmt, ast.For):
            return self.for_stmt(stmt)
        if isinstance(stmt, ast.While):
            test = self.expr(stmt.test)
            return [self.loc(ast.While(test, self.stmts(stmt.body) or [ast.Pass()], self.stmts(stmt.orelse)), stmt)]
        if isinstance(stmt, (ast.Pass, ast.Break, ast.Continue)):
            return [stmt]
        if isinstance(stmt, ast.Expr):
            return [self.loc(ast.Expr(self.expr(stmt.value)), stmt)]
        if isinstance(stmt, ast.Return):
            if self.allow_return:
                value = self.expr(stmt.value) if stmt.value is not None else ast.Constant(None)
                return [self.loc(ast.Return(value), stmt)]
            raise self.err("actions cannot 'return'; use require(cond) to disable an action", stmt)
        raise self.err(f"'{type(stmt).__name__}' statements are not supported in the model language", stmt)

    def loc(self, new: ast.stmt, old: ast.stmt) -> ast.stmt:
        return ast.copy_location(new, old)

    def raise_(self, exc: str, args: list[ast.expr]) -> ast.stmt:
        return ast.Raise(ast.Call(ast.Name(exc, ast.Load()), args, []), None)

    def check_stmt(self, cond: ast.expr, name: str, stmt: ast.stmt) -> list[ast.stmt]:
        self.needs_try = True
        k = self.property_index(name, stmt)
        test = self.expr(cond)
        return [self.loc(ast.If(ast.UnaryOp(ast.Not(), test), [self.raise_("_CheckFailed", [ast.Constant(k)])], []), stmt)]

    def assign(self, stmt: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[ast.stmt]:
        targets: list[ast.expr]
        if isinstance(stmt, ast.AugAssign):
            target: ast.expr = stmt.target
            current = self._as_load(copy.deepcopy(target))
            value: ast.expr = ast.BinOp(current, stmt.op, stmt.value)
            targets = [target]
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is None:
                return []
            targets, value = [stmt.target], stmt.value
        else:
            targets, value = list(stmt.targets), stmt.value
        if len(targets) != 1:
            raise self.err("chained assignment (a = b = ...) is not supported", stmt)
        if self.is_lockfree(value):
            self.lockfree += 1
            try:
                return self._assign(targets[0], value, stmt)
            finally:
                self.lockfree -= 1
        return self._assign(targets[0], value, stmt)

    def _assign(self, target: ast.expr, value: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        new_value = self.expr(value)
        if isinstance(target, ast.Name):
            if target.id in self.binding:
                raise self.err(f"cannot assign to parameter '{target.id}'", stmt)
            return [self.loc(ast.Assign([ast.Name(self.prefix + target.id, ast.Store())], new_value), stmt)]
        if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
            names = [ast.Name(self.prefix + e.id, ast.Store()) for e in target.elts]  # type: ignore[attr-defined]
            return [self.loc(ast.Assign([ast.Tuple(names, ast.Store())], new_value), stmt)]  # type: ignore[arg-type]
        if self.is_state_access(target):
            return self.state_write(target, new_value, stmt)
        raise self.err("can only assign to temporaries and state variables (s.x, s.a[i])", stmt)

    @staticmethod
    def _as_load(node: ast.expr) -> ast.expr:
        for sub in ast.walk(node):
            if hasattr(sub, "ctx"):
                sub.ctx = ast.Load()
        return node

    def state_write(self, target: ast.expr, value: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        if self.allow_return:  # a property: its writes would silently go nowhere
            raise self.err("properties only read the state; they cannot assign state variables", stmt)
        var, indices, _ = self.split_access(target)
        decl = self.layout.vars[var]
        cond = self.lock_held(var, target)
        guard: list[ast.stmt] = []
        if cond is not None:
            k = self.lockset_index(stmt)
            guard = [self.loc(ast.If(ast.UnaryOp(ast.Not(), cond), [self.raise_("_CheckFailed", [ast.Constant(k)])], []),
                              stmt)]
        consts, exprs = self.resolve_indices(var, indices, target)
        if len(indices) != len(decl.shape):
            raise self.err(f"assign to single elements of '{var}' (it has shape {decl.shape})", stmt)
        if all(c is not None for c in consts):
            slot = self.layout.by_key[(var, tuple(consts))]
            return guard + self.slot_assign(slot, value, stmt)
        return guard + self._dynamic_write(var, decl, consts, exprs, value, stmt)

    def _dynamic_write(self, var: str, decl: Any, consts: list[Any], exprs: list[ast.expr], value: ast.expr,
                       stmt: ast.stmt) -> list[ast.stmt]:
        # dynamic index: evaluate value and index once, then an if-chain over candidates
        vtmp = self.fresh("v")
        out: list[ast.stmt] = [self.loc(ast.Assign([ast.Name(vtmp, ast.Store())], value), stmt)]
        out.extend(self.range_check(decl.lo, decl.hi, ast.Name(vtmp, ast.Load()), var, stmt))
        fixed: list[tuple[int, ...]] = [()]
        idx_names: list[tuple[int, str | None]] = []
        for dim, c in enumerate(consts):
            if c is None:
                itmp = self.fresh("i")
                out.append(self.loc(ast.Assign([ast.Name(itmp, ast.Store())], exprs[dim]), stmt))
                idx_names.append((dim, itmp))
            else:
                idx_names.append((dim, None))
        candidates: list[tuple[int, ...]] = [()]
        for dim, c in enumerate(consts):
            if c is None:
                candidates = [p + (i,) for p in candidates for i in range(decl.shape[dim])]
            else:
                candidates = [p + (c,) for p in candidates]
        del fixed
        null = self.null_of(var)
        if null is not None and idx_names[0][1] is not None:
            k = self.null_deref_index(stmt)
            test0 = ast.Compare(ast.Name(idx_names[0][1], ast.Load()), [ast.Eq()], [ast.Constant(null)])
            out.append(self.loc(ast.If(test0, [self.raise_("_CheckFailed", [ast.Constant(k)])], []), stmt))
        chain: list[ast.stmt] = [self.raise_("IndexError", [ast.Constant(f"index out of range for '{var}'")])]
        for cand in reversed(candidates):
            tests = [
                ast.Compare(ast.Name(name, ast.Load()), [ast.Eq()], [ast.Constant(cand[dim])])
                for dim, name in idx_names if name is not None
            ]
            slot = self.layout.by_key[(var, cand)]
            store = ast.Assign([ast.Name(self.slot_name(slot, store=True), ast.Store())], ast.Name(vtmp, ast.Load()))
            test: ast.expr = tests[0] if len(tests) == 1 else ast.BoolOp(ast.And(), tests)  # type: ignore[arg-type]
            chain = [ast.If(test, [store], chain)]
        return out + [self.loc(s, stmt) for s in chain]

    def slot_assign(self, slot: Slot, value: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        name = self.slot_name(slot, store=True)
        out: list[ast.stmt] = [self.loc(ast.Assign([ast.Name(name, ast.Store())], value), stmt)]
        ok, v = self.const_value(value)
        if ok and isinstance(v, (int, bool)) and slot.lo <= int(v) <= slot.hi:
            self.const_writes.add(self._slot_no(slot))
            return out
        out.extend(self.range_check(slot.lo, slot.hi, ast.Name(name, ast.Load()), slot.label, stmt))
        return out

    def range_check(self, lo: int, hi: int, value: ast.expr, label: str, stmt: ast.stmt) -> list[ast.stmt]:
        test = ast.UnaryOp(ast.Not(), ast.Compare(ast.Constant(lo), [ast.LtE(), ast.LtE()], [value, ast.Constant(hi)]))
        err = self.raise_("_DomainError", [ast.Constant(label), value, ast.Constant(lo), ast.Constant(hi), ast.Constant(self.where(stmt))])
        return [self.loc(ast.If(test, [err], []), stmt)]

    def for_stmt(self, stmt: ast.For) -> list[ast.stmt]:
        ok, values = self.const_iter(stmt.iter)
        has_jump = any(isinstance(n, (ast.Break, ast.Continue)) for n in ast.walk(stmt))
        if ok and not has_jump and not stmt.orelse:
            out: list[ast.stmt] = []
            saved = dict(self.binding)
            saved_temps = set(self.temps)
            loop_names = {n.id for n in ast.walk(stmt.target) if isinstance(n, ast.Name)}
            self.temps -= loop_names
            try:
                for v in values:
                    self.binding.update(self.bind_target(stmt.target, v, stmt))
                    out.extend(self.stmts(copy.deepcopy(stmt.body)))
            finally:
                self.binding = saved
                self.temps = saved_temps
            return out
        target = stmt.target
        if not isinstance(target, ast.Name):
            raise self.err("loop variables must be plain names", stmt)
        it = self.expr(stmt.iter)
        new_target = ast.Name(self.prefix + target.id, ast.Store())
        return [self.loc(ast.For(new_target, it, self.stmts(stmt.body) or [ast.Pass()], self.stmts(stmt.orelse)), stmt)]


def translate_action(
    tr_factory: Callable[[], Translator],
    body: list[ast.stmt],
) -> Translated:
    """Two passes: the first learns the write set, the second names reads of written slots W_."""
    first = tr_factory()
    first.collect_temps(body)
    lead, rest = _split_leading_requires(body)
    for stmt in lead:
        first.expr(copy.deepcopy(stmt.value.args[0]))  # type: ignore[attr-defined]
    if first.null_checks:
        # a guard that dereferences a pointer: evaluated in the body, where a NULL pointer is a
        # null-deref violation (a require there disables the action just the same)
        lead, rest = [], body
    first.in_body = True
    first.stmts(copy.deepcopy(rest), top=True)
    written = set(first.writes)

    tr = tr_factory()
    tr.collect_temps(body)
    tr.written = written
    guard_parts: list[ast.expr] = []
    for stmt in lead:
        guard_parts.append(tr.expr(copy.deepcopy(stmt.value.args[0])))  # type: ignore[attr-defined]
    guard_reads = set(tr.reads)
    tr.in_body = True
    body_nodes = tr.stmts(copy.deepcopy(rest), top=True)
    guard_expr = "True"
    consts = [tr.const_value(g) for g in guard_parts]
    if any(ok and not v for ok, v in consts):
        guard_expr = "False"
    else:
        parts = [g for g, (ok, _) in zip(guard_parts, consts, strict=True) if not ok]
        if parts:
            guard_expr = " and ".join(f"({ast.unparse(ast.fix_missing_locations(p))})" for p in parts)
    lines: list[str] = []
    line_of: dict[int, str] = {}
    for node in body_nodes:
        ast.fix_missing_locations(node)
        text = ast.unparse(node).splitlines()
        where = tr.where(node)
        for t in text:
            line_of[len(lines)] = where
            lines.append(t)
    return Translated(
        guard=[],
        guard_expr=guard_expr,
        body=lines,
        reads=set(tr.reads),
        guard_reads=guard_reads,
        writes=set(tr.writes),
        needs_try=tr.needs_try,
        fresh=_fresh_writes(body_nodes, tr.slot_index),
        line_of=line_of,
    )


def _fresh_writes(body: list[ast.stmt], slot_index: dict[str, int]) -> set[int]:
    """Written slots whose first use in the top-level statement sequence is a plain assignment
    not reading them: their old value is never needed, so the generated code neither extracts
    nor copies it (the commonest case, and it sits in the search's inner loop)."""
    fresh: set[str] = set()
    used: set[str] = set()
    for stmt in body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id.startswith("W_")):
            name = stmt.targets[0].id
            reads = {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
            used |= reads
            if name not in used and name not in reads:
                fresh.add(name)
            used.add(name)
            continue
        used |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    return {slot_index[name[2:]] for name in fresh}


def _split_leading_requires(body: list[ast.stmt]) -> tuple[list[ast.stmt], list[ast.stmt]]:
    i = 0
    while i < len(body) and Translator.is_require(body[i]):
        i += 1
    return body[:i], body[i:]


def translate_predicate(tr: Translator, body: list[ast.stmt]) -> tuple[str | None, list[str]]:
    """A property body: returns ``(expr, [])`` for ``return <expr>``, else ``(None, lines)`` of a
    function body computing the result."""
    tr.collect_temps(body)
    tr.allow_return = True
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        e = tr.expr(copy.deepcopy(body[0].value))
        return ast.unparse(ast.fix_missing_locations(e)), []
    lines: list[str] = []
    for node in tr.stmts(copy.deepcopy(body)):
        lines.extend(ast.unparse(ast.fix_missing_locations(node)).splitlines())
    return None, lines
