"""Translate the Python the engine generates for one action body or predicate into C.

The input is the translator's output (``lang/translate.py``): statements over slot locals
(``S_x``/``W_x``), temporaries, constants, tuples of those (dynamic indexing), and calls of the
model's helper functions (``G<n>_name``). Every value is a Python ``int`` (or ``bool``) or a
tuple of them, so C sees ``int64_t`` scalars and, for tuples, lists of scalars with a shape.

Helper functions are arbitrary Python (``sorted`` with a key, generators, ...), so they are not
translated: each call goes through ``memo_call``, a per-worker table from (call signature,
argument values) to the result, filled by calling the Python function once per distinct
argument vector. Helpers are pure by contract, so this is exact, and the number of distinct
argument vectors is small (they are projections of reachable states).

Anything outside this subset raises :class:`Unsupported`; the caller then refuses the model
for the C backend (the Python backend runs it) instead of guessing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Unsupported(Exception):
    """The body uses something the C backend does not translate."""


Shape = Any  # None (one flat value) | ("c", constant) | tuple of shapes


@dataclass
class Signature:
    """One helper call shape: the function, how flat values rebuild its arguments, #results."""

    fn: Callable[..., Any]
    shapes: tuple[Shape, ...]
    nin: int
    nout: int


@dataclass
class Signatures:
    """Helper call signatures shared by every body of a model (the memo key's first word)."""

    items: list[Signature] = field(default_factory=list)
    index: dict[tuple[int, tuple[Shape, ...], int], int] = field(default_factory=dict)

    def add(self, fn: Callable[..., Any], shapes: tuple[Shape, ...], nin: int, nout: int) -> int:
        key = (id(fn), shapes, nout)
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append(Signature(fn, shapes, nin, nout))
        return self.index[key]


# A value in C: a scalar expression, or a tuple of values
CVal = Any  # str | list[CVal] | Ragged


@dataclass
class Ragged:
    """``rows[idx]`` where the rows have different lengths: usable only by indexing or len()."""

    idx: str
    rows: list[list[str]]


def c_int(v: int) -> str:
    v = int(v)
    if not INT64_MIN < v <= INT64_MAX:
        raise Unsupported(f"integer constant {v} does not fit in 64 bits")
    return f"INT64_C({v})" if abs(v) > 2**31 - 1 else str(v)


class CTranslator:
    """Python statements/expressions of one body -> C. ``names`` are the module's G objects."""

    def __init__(self, names: dict[str, Any], sigs: Signatures) -> None:
        self.names = names
        self.sigs = sigs
        self.counter = 0
        self.locals: set[str] = set()  # names assigned in the body (declared by the caller)
        self.uses_check = False

    def tmp(self) -> str:
        self.counter += 1
        return f"_t{self.counter}"

    # -- values ---------------------------------------------------------------------------------
    def scalar(self, node: ast.expr) -> str:
        v = self.value(node)
        if not isinstance(v, str):
            raise Unsupported(f"a tuple where a number is needed: {ast.unparse(node)}")
        return v

    def truth(self, node: ast.expr) -> str:
        """C condition for Python truthiness of ``node`` (lazy and/or, as in Python)."""
        if isinstance(node, ast.BoolOp):
            op = " && " if isinstance(node.op, ast.And) else " || "
            return "(" + op.join(self.truth(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"(!{self.truth(node.operand)})"
        v = self.value(node)
        if isinstance(v, Ragged):
            raise Unsupported("the truth of a tuple row")
        if isinstance(v, list):
            return "1" if v else "0"
        return f"({v} != 0)"

    def value(self, node: ast.expr) -> CVal:
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Tuple):
            return [self.value(e) for e in node.elts]
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return f"(!{self.truth(node.operand)})"
            x = self.scalar(node.operand)
            op = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(node.op)]
            return f"({op}{x})"
        if isinstance(node, ast.BoolOp):
            return self.boolop(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            a, b = self.value(node.body), self.value(node.orelse)
            if isinstance(a, list) or isinstance(b, list):
                raise Unsupported("conditional tuples")
            return f"({self.truth(node.test)} ? {a} : {b})"
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Unsupported(f"{type(node).__name__} expressions")

    def constant(self, v: Any) -> CVal:
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, int):
            return c_int(v)
        if isinstance(v, tuple):
            return [self.constant(x) for x in v]
        raise Unsupported(f"constant {v!r}")

    def name(self, ident: str) -> CVal:
        if ident in self.names:
            v = self.names[ident]
            if isinstance(v, (bool, int, tuple)):
                return self.constant(v)
            if isinstance(v, list) and all(isinstance(x, int) for x in v):
                return self.constant(tuple(v))
            raise Unsupported(f"{ident} ({type(v).__name__}) used as a value")
        if ident in ("True", "False"):
            return "1" if ident == "True" else "0"
        if ident.startswith(("S_", "W_")) or ident in self.locals:
            return ident
        raise Unsupported(f"name {ident}")

    def subscript(self, node: ast.Subscript) -> CVal:
        base = self.value(node.value)
        if isinstance(base, Ragged):
            return self.ragged_item(base, node.slice)
        if not isinstance(base, list):
            raise Unsupported("subscript of a number")
        sl = node.slice
        n = len(base)
        if isinstance(sl, ast.Call) and isinstance(sl.func, ast.Name) and sl.func.id == "_ixp":
            # the pointer index of an object array: NULL fails the null-deref check
            try:
                null, k = (ast.literal_eval(a) for a in sl.args[2:4])
            except ValueError as exc:
                raise Unsupported("_ixp with computed arguments") from exc
            if not isinstance(null, int) or not isinstance(k, int):
                raise Unsupported("_ixp with computed arguments")
            self.uses_check = True
            t = self.tmp()
            idx = f"({{ int64_t {t} = {self.scalar(sl.args[0])}; if ({t} == {c_int(null)}) {{ cfail = {k}; goto failed; }} {t}; }})"
            return self.select(idx, base)
        if isinstance(sl, ast.Call) and isinstance(sl.func, ast.Name) and sl.func.id == "_ix":
            sl = sl.args[0]
        if isinstance(sl, ast.Constant) and isinstance(sl.value, int) and not isinstance(sl.value, bool):
            i = sl.value
            if not -n <= i < n:
                raise Unsupported("constant index out of range")
            return base[i]
        idx = self.scalar(sl)
        return self.select(idx, base)

    def select(self, idx: str, items: list[CVal]) -> CVal:
        if not items:
            return "IXERR()"
        if all(not isinstance(x, list) for x in items):
            t = self.tmp()
            elems = ", ".join(items)
            return (f"({{ int64_t {t} = {idx}; if ((uint64_t){t} >= {len(items)}u) {{ cx->err = ERR_INDEX; {t} = 0; }} "
                    f"((const int64_t[]){{{elems}}})[{t}]; }})")
        if all(isinstance(x, list) and len(x) == len(items[0]) for x in items):
            # a tuple of rows: select column by column (the index is pure, so repeating it is fine)
            return [self.select(idx, [row[j] for row in items]) for j in range(len(items[0]))]
        if all(isinstance(x, list) and all(not isinstance(y, list) for y in x) for x in items):
            return Ragged(idx, items)
        raise Unsupported("indexing a tuple of mixed shapes")

    def ragged_item(self, base: Ragged, sl: ast.expr) -> str:
        """``rows[i][j]`` with rows of different lengths: only row ``i`` is indexed (by ``j``)."""
        if isinstance(sl, ast.Call) and isinstance(sl.func, ast.Name) and sl.func.id == "_ix":
            sl = sl.args[0]
        j = self.scalar(sl)
        t = self.tmp()
        chain = "IXERR()"
        for r in reversed(range(len(base.rows))):
            chain = f"({t} == {r} ? {self.select(j, base.rows[r])} : {chain})"
        return f"({{ int64_t {t} = {base.idx}; {chain}; }})"

    def binop(self, node: ast.BinOp) -> str:
        a, b = self.scalar(node.left), self.scalar(node.right)
        op = type(node.op)
        simple = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}
        if op in simple:
            return f"({a} {simple[op]} {b})"
        if op is ast.LShift:
            return f"shl64({a}, {b}, cx)"
        if op is ast.RShift:
            return f"shr64({a}, {b}, cx)"
        if op is ast.FloorDiv:
            return f"floordiv64({a}, {b}, cx)"
        if op is ast.Mod:
            return f"floormod64({a}, {b}, cx)"
        raise Unsupported(f"operator {op.__name__}")

    def boolop(self, node: ast.BoolOp) -> str:
        """Python's and/or yield an operand, not a bool: keep that in value context."""
        vals = [self.scalar(v) for v in node.values]
        t = self.tmp()
        expr = vals[-1]
        for v in reversed(vals[:-1]):
            if isinstance(node.op, ast.And):
                expr = f"({{ int64_t {t} = {v}; {t} ? ({expr}) : {t}; }})"
            else:
                expr = f"({{ int64_t {t} = {v}; {t} ? {t} : ({expr}); }})"
            t = self.tmp()
        return expr

    def compare(self, node: ast.Compare) -> str:
        parts: list[str] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(self.compare_one(left, op, right))
            left = right
        return parts[0] if len(parts) == 1 else "(" + " && ".join(parts) + ")"

    def compare_one(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> str:
        if isinstance(op, (ast.In, ast.NotIn)):
            items = self.value(right)
            if not isinstance(items, list) or any(isinstance(x, list) for x in items):
                raise Unsupported("'in' needs a flat tuple")
            x = self.scalar(left)
            t = self.tmp()
            test = " || ".join(f"{t} == {i}" for i in items) or "0"
            expr = f"({{ int64_t {t} = {x}; ({test}); }})"
            return f"(!{expr})" if isinstance(op, ast.NotIn) else expr
        a, b = self.value(left), self.value(right)
        if isinstance(op, (ast.Eq, ast.NotEq)) and (isinstance(a, list) or isinstance(b, list)):
            eq = self.tuple_eq(a, b)
            return eq if isinstance(op, ast.Eq) else f"(!{eq})"
        if isinstance(a, list) or isinstance(b, list):
            raise Unsupported("ordering tuples")
        ops = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
        if type(op) not in ops:
            raise Unsupported(f"comparison {type(op).__name__}")
        return f"({a} {ops[type(op)]} {b})"

    def tuple_eq(self, a: CVal, b: CVal) -> str:
        if isinstance(a, list) != isinstance(b, list):
            return "0"
        if not isinstance(a, list):
            return f"({a} == {b})"
        if len(a) != len(b):
            return "0"
        return "(" + " && ".join([self.tuple_eq(x, y) for x, y in zip(a, b, strict=True)] or ["1"]) + ")"

    # -- calls ----------------------------------------------------------------------------------
    def call(self, node: ast.Call, nout: int = 1) -> CVal:
        if node.keywords:
            raise Unsupported("keyword arguments")
        f = node.func
        if not isinstance(f, ast.Name):
            raise Unsupported("calls of computed functions")
        if f.id in self.names and callable(self.names[f.id]):
            return self.helper_call(self.names[f.id], node.args, nout)
        if nout != 1:
            raise Unsupported(f"unpacking {f.id}()")
        return self.builtin(f.id, node.args)

    def builtin(self, fname: str, args: list[ast.expr]) -> CVal:
        if fname in ("_ix", "_ixp"):
            raise Unsupported(f"{fname} outside a subscript")
        if fname == "_lk" and len(args) == 3:
            # a field read that needs a lock (lockset): the value first, then the lock test
            try:
                k = ast.literal_eval(args[2])
            except ValueError as exc:
                raise Unsupported("_lk with a computed property") from exc
            self.uses_check = True
            t = self.tmp()
            return f"({{ int64_t {t} = {self.scalar(args[0])}; if (!{self.truth(args[1])}) {{ cfail = {int(k)}; goto failed; }} {t}; }})"
        if fname == "bool" and len(args) == 1:
            return f"({self.truth(args[0])})"
        if fname == "int" and len(args) == 1:
            return self.scalar(args[0])
        if fname == "abs" and len(args) == 1:
            t = self.tmp()
            return f"({{ int64_t {t} = {self.scalar(args[0])}; {t} < 0 ? -{t} : {t}; }})"
        if fname == "len" and len(args) == 1:
            v = self.value(args[0])
            if isinstance(v, Ragged):
                return self.select(v.idx, [str(len(r)) for r in v.rows])
            if not isinstance(v, list):
                raise Unsupported("len() of a number")
            return str(len(v))
        if fname in ("min", "max", "sum", "any", "all"):
            items = self.value(args[0]) if len(args) == 1 else [self.value(a) for a in args]
            if not isinstance(items, list) or any(isinstance(x, list) for x in items):
                raise Unsupported(f"{fname}() of nested tuples")
            return self.reduce(fname, items)
        raise Unsupported(f"call of {fname}()")

    def reduce(self, fname: str, items: list[str]) -> str:
        if fname == "sum":
            return "(" + " + ".join(items or ["0"]) + ")"
        if fname == "any":
            return "(" + " || ".join([f"({x} != 0)" for x in items] or ["0"]) + ")"
        if fname == "all":
            return "(" + " && ".join([f"({x} != 0)" for x in items] or ["1"]) + ")"
        if not items:
            return "IXERR()"
        acc = items[0]
        fn = "min64" if fname == "min" else "max64"
        for x in items[1:]:
            acc = f"{fn}({acc}, {x})"
        return acc

    def helper_call(self, fn: Callable[..., Any], args: list[ast.expr], nout: int) -> CVal:
        flat: list[str] = []
        shapes = tuple(self.arg_shape(a, flat) for a in args)
        sig = self.sigs.add(fn, shapes, len(flat), nout)
        a, r = self.tmp(), self.tmp()
        init = ", ".join(flat) if flat else "0"
        call = (f"int64_t {a}[{max(1, len(flat))}] = {{{init}}}; int64_t {r}[{nout}]; "
                f"memo_call(cx, {sig}, {len(flat)}, {nout}, {a}, {r});")
        if nout == 1:
            return f"({{ {call} {r}[0]; }})"
        return [f"({{ {call} {r}[{i}]; }})" for i in range(nout)]  # only used via helper_unpack

    def arg_shape(self, node: ast.expr, flat: list[str]) -> Shape:
        if isinstance(node, ast.Constant):
            return ("c", node.value)
        if isinstance(node, ast.Name) and node.id in self.names and not callable(self.names[node.id]):
            v = self.names[node.id]
            if isinstance(v, (int, bool, str, tuple, frozenset, type(None))):
                return ("c", v)
            raise Unsupported(f"helper argument {node.id} ({type(v).__name__})")
        if isinstance(node, ast.Tuple):
            return tuple(self.arg_shape(e, flat) for e in node.elts)
        v = self.value(node)
        return self.flatten_into(v, flat)

    def flatten_into(self, v: CVal, flat: list[str]) -> Shape:
        if isinstance(v, list):
            return tuple(self.flatten_into(x, flat) for x in v)
        flat.append(v)
        return None

    def helper_unpack(self, node: ast.Call, targets: list[str]) -> list[str]:
        """``a, b = helper(...)``: one memo call with several results."""
        f = node.func
        if not (isinstance(f, ast.Name) and f.id in self.names and callable(self.names[f.id])):
            raise Unsupported("tuple unpacking of a builtin")
        flat: list[str] = []
        shapes = tuple(self.arg_shape(a, flat) for a in node.args)
        nout = len(targets)
        sig = self.sigs.add(self.names[f.id], shapes, len(flat), nout)
        a, r = self.tmp(), self.tmp()
        init = ", ".join(flat) if flat else "0"
        lines = [f"{{ int64_t {a}[{max(1, len(flat))}] = {{{init}}}; int64_t {r}[{nout}];",
                 f"  memo_call(cx, {sig}, {len(flat)}, {nout}, {a}, {r});"]
        lines += [f"  {t} = {r}[{i}];" for i, t in enumerate(targets)]
        lines.append("}")
        return lines

    # -- statements -----------------------------------------------------------------------------
    def stmts(self, body: list[ast.stmt], ind: int) -> list[str]:
        out: list[str] = []
        for s in body:
            out.extend(self.stmt(s, ind))
        return out

    def stmt(self, node: ast.stmt, ind: int) -> list[str]:
        pad = "    " * ind
        if isinstance(node, ast.Assign):
            return [pad + x for x in self.assign(node)]
        if isinstance(node, ast.If):
            out = [f"{pad}if ({self.truth(node.test)}) {{"]
            out += self.stmts(node.body, ind + 1)
            if node.orelse:
                out.append(f"{pad}}} else {{")
                out += self.stmts(node.orelse, ind + 1)
            out.append(pad + "}")
            return out
        if isinstance(node, ast.While):
            if node.orelse:
                raise Unsupported("while ... else")
            out = [f"{pad}while (!cx->err && {self.truth(node.test)}) {{"]
            out += self.stmts(node.body, ind + 1)
            out.append(pad + "}")
            return out
        if isinstance(node, ast.Pass):
            return []
        if isinstance(node, ast.Break):
            return [pad + "break;"]
        if isinstance(node, ast.Continue):
            return [pad + "continue;"]
        if isinstance(node, ast.Expr):
            v = self.value(node.value)
            return [f"{pad}(void)({v});"] if isinstance(v, str) else []
        if isinstance(node, ast.Raise):
            return [pad + self.raise_(node)]
        if isinstance(node, ast.Return):
            if node.value is None:
                return [pad + "return 1;"]
            return [f"{pad}return {self.truth(node.value)};"]
        raise Unsupported(f"{type(node).__name__} statements")

    def raise_(self, node: ast.Raise) -> str:
        exc = node.exc
        if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name):
            kind = exc.func.id
            if kind == "_Disabled":
                return "goto disabled;"
            if kind == "_CheckFailed" and isinstance(exc.args[0], ast.Constant) and isinstance(exc.args[0].value, int):
                self.uses_check = True
                return f"{{ cfail = {int(exc.args[0].value)}; goto failed; }}"
            if kind == "_DomainError":
                return "{ cx->err = ERR_DOMAIN; return -1; }"
        return "{ cx->err = ERR_RAISE; return -1; }"

    def assign(self, node: ast.Assign) -> list[str]:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            self.locals.add(target.id)
            v = self.value(node.value)
            if not isinstance(v, str):
                raise Unsupported("tuple-valued temporaries")
            return [f"{target.id} = {v};"]
        if isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
            names = [e.id for e in target.elts]  # type: ignore[attr-defined]
            self.locals.update(names)
            if isinstance(node.value, ast.Call):
                return self.helper_unpack(node.value, names)
            v = self.value(node.value)
            if not isinstance(v, list) or len(v) != len(names) or any(isinstance(x, list) for x in v):
                raise Unsupported("tuple assignment")
            tmps = [self.tmp() for _ in names]
            lines = [f"{{ int64_t {t} = {x};" for t, x in zip(tmps, v, strict=True)]
            lines += [f"  {n} = {t};" for n, t in zip(names, tmps, strict=True)]
            lines.append("}" * len(names))
            return lines
        raise Unsupported("assignment target")


def assigned_names(body: list[ast.stmt]) -> set[str]:
    """Every name a body stores to (they become C locals)."""
    out: set[str] = set()
    for stmt in body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                out.add(sub.id)
    return out
