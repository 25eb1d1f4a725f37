"""Level 2, part 1: read process and procedure functions and build their control-flow graphs.

A process body becomes a graph of *nodes*, one per simple statement, ``if``/``while`` test or
``with atomic()`` block, with procedure calls inlined (each call site gets its own copy of the
callee's nodes) and ``for`` loops over constants unrolled. Every node knows whether it is a
*boundary*: a point where a new atomic step must begin (it touches shared state, blocks, is
labelled, or ``merge_local=False``). :mod:`itsrace.engine.lang.process_emit` then turns the graph into
level-1 step actions.

Nothing here knows about pc numbers or the generated action language; it only reads the model's
source, resolves names to the scope they belong to, and reports mistakes with file and line.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang.core import _as_bounds, check, parse_function, require
from itsrace.engine.lang.process_lang import IRQ_PRIMITIVES, LOCK_PRIMITIVES, PRIMITIVES

# Primitives that make a statement a step of its own even when it touches no shared variable.
BLOCKING = {"await_", *LOCK_PRIMITIVES, *IRQ_PRIMITIVES}
_BY_IDENTITY: dict[int, str] = {id(f): name for name, f in PRIMITIVES.items()}
_BY_IDENTITY[id(check)] = "check"
_BY_IDENTITY[id(require)] = "require"


# -- functions -------------------------------------------------------------------------------------


@dataclass
class FuncInfo:
    """A process or procedure function, parsed once. Line numbers in ``body`` are file lines."""

    name: str
    fn: Callable[..., Any]
    kind: str  # "process" | "procedure"
    body: list[ast.stmt]
    env: dict[str, Any]
    filename: str
    source: list[str]  # dedented source lines, for step labels
    offset: int  # file line = line in ``source`` + offset
    def_line: int
    self_name: str
    state_name: str
    params: list[tuple[str, ast.expr | None]]  # after (self, s): name and domain annotation
    annotations: dict[str, ast.expr] = field(default_factory=dict)  # declared locals
    # top-level 'name = expr' assigned once and unannotated: a constant per instance, if expr is
    constants: list[ast.Assign] = field(default_factory=list)
    assigned: set[str] = field(default_factory=set)  # names assigned anywhere in the body
    doc: str = ""

    def where(self, node: ast.AST | None = None) -> str:
        line = getattr(node, "lineno", None) if node is not None else None
        return f"{self.filename}:{line if line is not None else self.def_line}"

    def err(self, message: str, node: ast.AST | None = None) -> ModelError:
        return ModelError(message, self.where(node))

    def text(self, node: ast.AST) -> str:
        """The source text of ``node``, on one line (for step labels)."""
        line: int = getattr(node, "lineno", 0)
        lo = line - self.offset - 1
        hi = (getattr(node, "end_lineno", None) or line) - self.offset - 1
        c0, c1 = getattr(node, "col_offset", 0), getattr(node, "end_col_offset", None)
        if not 0 <= lo <= hi < len(self.source):
            return ast.unparse(node)
        if lo == hi:
            piece = self.source[lo][c0:c1]
        else:
            piece = "\n".join([self.source[lo][c0:], *self.source[lo + 1:hi], self.source[hi][:c1]])
        return " ".join(piece.split())


def parse_func(fn: Callable[..., Any], kind: str) -> FuncInfo:
    """Parse a process or procedure function and check its signature and locals."""
    fdef, env, filename, offset = parse_function(fn)
    source = textwrap.dedent(inspect.getsource(fn)).splitlines()
    ast.increment_lineno(fdef, offset)
    info = FuncInfo(
        name=fn.__name__, fn=fn, kind=kind, body=[], env=env, filename=filename, source=source,
        offset=offset, def_line=fdef.lineno, self_name="", state_name="", params=[],
    )
    a = fdef.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.defaults:
        raise info.err(f"{kind} {fn.__name__}: only plain positional parameters are supported", fdef)
    names = [(arg.arg, arg.annotation) for arg in a.args]
    if len(names) < 2:
        raise info.err(f"{kind} {fn.__name__} must take (self, s, ...): the instance id and the state", fdef)
    info.self_name, info.state_name = names[0][0], names[1][0]
    info.params = names[2:]
    body = list(fdef.body)
    doc = ast.get_docstring(fdef) or ""
    if doc and isinstance(body[0], ast.Expr):
        body = body[1:]
    info.doc, info.body = doc, body
    if kind == "process":
        for pname, ann in info.params:
            if ann is None:
                raise info.err(
                    f"process {fn.__name__}: parameter '{pname}' needs a finite domain, "
                    f"e.g. {pname}: range(4)", fdef,
                )
    _scan_locals(info)
    return info


def _scan_locals(info: FuncInfo) -> None:
    """Collect annotated locals and per-instance constants; any other assignment to an
    undeclared name is an error (in source order)."""
    declared = {info.self_name, info.state_name, *(p for p, _ in info.params)}
    loop_vars: set[str] = set()

    def targets(node: ast.expr) -> list[ast.Name]:
        return [n for n in ast.walk(node) if isinstance(n, ast.Name)] if isinstance(node, (ast.Name, ast.Tuple)) else []

    stores = [n.id for n in ast.walk(ast.Module(info.body, [])) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    once = {name for name in stores if stores.count(name) == 1}

    def constant(stmt: ast.stmt, top: bool) -> bool:
        if not (top and isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            return False
        names = targets(stmt.targets[0])
        return bool(names) and all(n.id in once and n.id not in declared for n in names)

    def visit(stmts: list[ast.stmt], top: bool = False) -> None:
        for stmt in stmts:
            if constant(stmt, top):
                assert isinstance(stmt, ast.Assign)
                info.constants.append(stmt)
                declared.update(n.id for n in targets(stmt.targets[0]))
                continue
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                name = stmt.target.id
                if name in (info.self_name, info.state_name) or name in loop_vars:
                    raise info.err(f"'{name}' cannot be declared as a local here", stmt)
                if name in {p for p, _ in info.params}:
                    raise info.err(f"'{name}' is a parameter; assign it without an annotation", stmt)
                info.annotations.setdefault(name, stmt.annotation)
                declared.add(name)
                if stmt.value is not None:
                    info.assigned.add(name)
            elif isinstance(stmt, (ast.Assign, ast.AugAssign)):
                tgts = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for tgt in tgts:
                    for n in targets(tgt):
                        if n.id in loop_vars:
                            raise info.err(f"cannot assign to loop variable '{n.id}'", stmt)
                        if n.id in (info.self_name, info.state_name):
                            raise info.err(f"cannot assign to '{n.id}'", stmt)
                        if n.id not in declared:
                            raise info.err(
                                f"first assignment to local '{n.id}' needs a domain annotation, "
                                f"e.g. {n.id}: range(4) = ...", stmt,
                            )
                        info.assigned.add(n.id)
            elif isinstance(stmt, ast.For):
                for n in targets(stmt.target):
                    if n.id in declared:
                        raise info.err(f"loop variable '{n.id}' is also a local or parameter", stmt)
                    loop_vars.add(n.id)
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, (ast.If, ast.While)):
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.With):
                visit(stmt.body)

    visit(info.body, top=True)


def domain_bounds(domain: Any, name: str, where: str) -> tuple[int, int]:
    try:
        return _as_bounds(domain, name)
    except ModelError as exc:
        raise ModelError(str(exc), where) from exc


def domain_values(domain: Any, name: str, where: str) -> tuple[int, ...]:
    lo, hi = domain_bounds(domain, name, where)
    return tuple(range(lo, hi + 1))


# -- scopes ----------------------------------------------------------------------------------------


@dataclass
class Scope:
    """How the names of one function body resolve at one inlining: constants (``self``, loop
    variables, constant procedure arguments) and locals (state variables owned by the instance)."""

    fi: FuncInfo
    consts: dict[str, Any]
    locals: dict[str, str]  # name -> state variable (array over the process's instances)

    def with_consts(self, extra: dict[str, Any]) -> Scope:
        return Scope(self.fi, {**self.consts, **extra}, self.locals)


_MISSING = object()


def lookup(scope: Scope, name: str) -> Any:
    """The compile-time value of ``name`` (a constant, a global, a builtin) or ``_MISSING``."""
    if name in scope.consts:
        return scope.consts[name]
    if name in scope.locals or name == scope.fi.state_name:
        return _MISSING
    if name in scope.fi.env:
        return scope.fi.env[name]
    return getattr(builtins, name, _MISSING)


def is_state_attr(node: ast.AST, scope: Scope) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == scope.fi.state_name


def const_eval(expr: ast.expr, scope: Scope) -> tuple[bool, Any]:
    """Evaluate ``expr`` now if it depends on no state and no local (e.g. ``1 - self``, ``N``)."""
    if isinstance(expr, ast.Constant):
        return True, expr.value
    ns: dict[str, Any] = {}
    for sub in ast.walk(expr):
        if is_state_attr(sub, scope) or isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.Await)):
            return False, None
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            value = lookup(scope, sub.id)
            if value is _MISSING:
                if sub.id in scope.locals or sub.id == scope.fi.state_name:
                    return False, None
                continue  # maybe a comprehension variable; eval decides
            if id(value) in _BY_IDENTITY:
                return False, None
            ns[sub.id] = value
    try:
        code = compile(ast.fix_missing_locations(ast.Expression(copy.deepcopy(expr))), "<const>", "eval")
        return True, eval(code, {"__builtins__": builtins, **ns})  # noqa: S307 - model constants
    except Exception:
        return False, None


def primitive_of(call: ast.Call, scope: Scope) -> str | None:
    """``"spin_lock"`` etc. if ``call`` calls a level-2 primitive (or ``check``/``require``)."""
    func = call.func
    if isinstance(func, ast.Name):
        value = lookup(scope, func.id)
        if value is _MISSING:
            return func.id if func.id in PRIMITIVES or func.id in ("check", "require") else None
        return _BY_IDENTITY.get(id(value))
    if isinstance(func, ast.Attribute):
        ok, value = const_eval(func.value, scope)
        if ok:
            return _BY_IDENTITY.get(id(getattr(value, func.attr, None)))
    return None


def prim_call(node: ast.AST, scope: Scope) -> str | None:
    return primitive_of(node, scope) if isinstance(node, ast.Call) else None


def touches_shared(nodes: list[ast.AST], scope: Scope) -> bool:
    """True if any of ``nodes`` reads or writes a shared variable or uses a blocking primitive."""
    for root in nodes:
        for sub in ast.walk(root):
            if is_state_attr(sub, scope):
                return True
            if isinstance(sub, ast.Call) and primitive_of(sub, scope) in BLOCKING:
                return True
    return False


# -- nodes -----------------------------------------------------------------------------------------


class Node:
    """A point in a process's control flow. ``boundary``: a step must start here."""

    def __init__(self, scope: Scope, src: ast.AST | None, boundary: bool) -> None:
        self.scope = scope
        self.src = src
        self.boundary = boundary
        self.label: str | None = None

    def where(self) -> str:
        return self.scope.fi.where(self.src)


class StmtNode(Node):
    """A simple statement: assignment, primitive call, check/assert."""

    def __init__(self, scope: Scope, stmt: ast.stmt, nxt: Node, boundary: bool, prim: str | None) -> None:
        super().__init__(scope, stmt, boundary)
        self.stmt = stmt
        self.next = nxt
        self.prim = prim
        self.spin: StmtNode | None = None  # spin_lock_irqsave: where it spins with IRQs off


class AssignNode(Node):
    """Procedure argument passing or ``return e`` into the call's target: each pair is
    (target scope, target, value scope, value)."""

    def __init__(self, scope: Scope, src: ast.AST, pairs: list[tuple[Scope, ast.expr, Scope, ast.expr]],
                 nxt: Node, boundary: bool) -> None:
        super().__init__(scope, src, boundary)
        self.pairs = pairs
        self.next = nxt


class TestNode(Node):
    """The test of an ``if``/``elif``/``while``."""

    def __init__(self, scope: Scope, src: ast.stmt, test: ast.expr, boundary: bool, keyword: str) -> None:
        super().__init__(scope, src, boundary)
        self.test = test
        self.keyword = keyword
        self.yes: Node | None = None
        self.no: Node | None = None


class AtomicNode(Node):
    """A ``with atomic():`` block: one step."""

    def __init__(self, scope: Scope, stmt: ast.With, nxt: Node, boundary: bool) -> None:
        super().__init__(scope, stmt, boundary)
        self.stmts = stmt.body
        self.next = nxt


class FinishNode(Node):
    """The end of a run: return to the start (restart) or stop (done)."""


class RefNode(Node):
    """A forward reference (the head of a ``while True`` loop), resolved after the loop is built."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope, None, False)
        self.target: Node | None = None


def resolve(node: Node | None) -> Node:
    seen = 0
    while isinstance(node, RefNode):
        node = node.target
        seen += 1
        if seen > 10_000:  # pragma: no cover - defensive
            raise ModelError("internal error: unresolved loop reference")
    assert node is not None
    return node


# -- building --------------------------------------------------------------------------------------


@dataclass
class Cont:
    """Where control goes after a block: next node, loop targets, and what ``return`` does."""

    next: Node
    brk: Node | None = None
    cont: Node | None = None
    ret_after: Node | None = None  # inside a procedure: continue here after 'return'
    ret_target: tuple[Scope, ast.expr] | None = None  # ... assigning the value here
    stack: tuple[str, ...] = ()  # procedures being inlined (recursion check)


class LocalRegistry:
    """State variables for the locals of one process (shared by its instances), with domains."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.domains: dict[str, tuple[int, int]] = {}
        self.where: dict[str, str] = {}

    def var(self, fi: FuncInfo, name: str, domain: Any, where: str) -> str:
        var = f"{self.base}_{name}" if fi.kind == "process" else f"{self.base}_{fi.name}_{name}"
        lo, hi = domain_bounds(domain, name, where)
        if var in self.domains:
            old = self.domains[var]
            lo, hi = min(lo, old[0]), max(hi, old[1])
        else:
            self.where[var] = where
        self.domains[var] = (lo, hi)
        return var


class CfgBuilder:
    """Builds the graph of one process instance (``self`` is a constant, so ``if self == 0``
    and loops over ``range(self)`` are resolved here)."""

    def __init__(
        self,
        proc: FuncInfo,
        self_id: int,
        procedures: dict[int, FuncInfo],
        locks: dict[str, tuple[str, tuple[int, ...]]],
        registry: LocalRegistry,
        merge_local: bool,
    ) -> None:
        self.proc = proc
        self.self_id = self_id
        self.procedures = procedures
        self.by_name = {fi.name: fi for fi in procedures.values()}
        self.locks = locks
        self.registry = registry
        self.merge_local = merge_local
        self.acquired: set[str] = set()  # lock names this instance acquires
        self.readers: set[str] = set()  # rwlocks it read-locks
        self.irq_ops = 0  # IRQ-disabling call sites (bounds the per-CPU counter)
        self.uses_irq = False
        self.params: list[tuple[str, str, tuple[int, ...]]] = []  # (name, var, values)
        self.scope = Scope(proc, {proc.self_name: self_id}, {})
        self.finish = FinishNode(self.scope, None, False)
        self.first: Node = self.finish

    # -- entry point ---------------------------------------------------------------------------
    def build(self) -> Node:
        fi = self.proc
        for pname, ann in fi.params:
            assert ann is not None
            ok, domain = const_eval(ann, self.scope)
            if not ok:
                raise fi.err(f"the domain of parameter '{pname}' must be a constant", ann)
            where = fi.where(ann)
            var = self.registry.var(fi, pname, domain, where)
            self.scope.locals[pname] = var
            self.params.append((pname, var, domain_values(domain, pname, where)))
            if pname in fi.assigned:
                raise fi.err(f"cannot assign to process parameter '{pname}'")
        self.declare_locals(fi, self.scope)
        self.first = self.block(fi.body, self.scope, Cont(self.finish))
        return self.first

    def declare_locals(self, fi: FuncInfo, scope: Scope) -> None:
        for stmt in fi.constants:
            ok, value = const_eval(stmt.value, scope)
            if not ok:
                names = [n.id for n in ast.walk(stmt.targets[0]) if isinstance(n, ast.Name)]
                raise fi.err(
                    f"first assignment to local '{', '.join(names)}' needs a domain annotation, e.g. "
                    f"{names[0]}: range(4) = ... (its value is not a constant, so it cannot be a "
                    "per-instance constant)", stmt,
                )
            scope.consts.update(_bind(stmt.targets[0], value, fi))
        for name, ann in fi.annotations.items():
            ok, domain = const_eval(ann, scope)
            if not ok:
                raise fi.err(f"the domain of local '{name}' must be a constant (range(...), bool, (lo, hi))", ann)
            scope.locals[name] = self.registry.var(fi, name, domain, fi.where(ann))

    def boundary(self, shared: bool) -> bool:
        return shared or not self.merge_local

    # -- blocks --------------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], scope: Scope, k: Cont) -> Node:
        node = k.next
        for stmt in reversed(stmts):
            if isinstance(stmt, ast.Expr) and prim_call(stmt.value, scope) == "label":
                node = self.apply_label(stmt, node, k, scope)
                continue
            node = self.stmt(stmt, scope, Cont(node, k.brk, k.cont, k.ret_after, k.ret_target, k.stack))
        return node

    def apply_label(self, stmt: ast.Expr, node: Node, k: Cont, scope: Scope) -> Node:
        call = stmt.value
        assert isinstance(call, ast.Call)
        fi = scope.fi
        if len(call.args) != 1 or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            raise fi.err('label() takes one string: label("name")', stmt)
        target = resolve(node)
        if node is k.next or isinstance(target, FinishNode):
            raise fi.err("label() must come before the statement it names", stmt)
        target.label = call.args[0].value
        target.boundary = True
        return node

    def stmt(self, stmt: ast.stmt, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        if isinstance(stmt, ast.Assign) and any(stmt is c for c in fi.constants):
            return k.next  # bound when the scope was made
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self.assign(stmt, scope, k)
        if isinstance(stmt, ast.Expr):
            return self.expr_stmt(stmt, scope, k)
        if isinstance(stmt, ast.Assert):
            return StmtNode(scope, stmt, k.next, self.boundary(touches_shared([stmt.test], scope)), "check")
        if isinstance(stmt, ast.Pass):
            return k.next
        if isinstance(stmt, ast.If):
            return self.if_stmt(stmt, scope, k)
        if isinstance(stmt, ast.While):
            return self.while_stmt(stmt, scope, k)
        if isinstance(stmt, ast.For):
            return self.for_stmt(stmt, scope, k)
        if isinstance(stmt, ast.Return):
            return self.return_stmt(stmt, scope, k)
        if isinstance(stmt, ast.Break):
            if k.brk is None:
                raise fi.err("'break' outside a loop", stmt)
            return k.brk
        if isinstance(stmt, ast.Continue):
            if k.cont is None:
                raise fi.err("'continue' outside a loop", stmt)
            return k.cont
        if isinstance(stmt, ast.With):
            return self.with_stmt(stmt, scope, k)
        raise fi.err(f"'{type(stmt).__name__}' statements are not supported in processes", stmt)

    # -- simple statements ---------------------------------------------------------------------
    def assign(self, stmt: ast.Assign | ast.AnnAssign | ast.AugAssign, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
            return k.next  # a declaration only
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1:
                raise fi.err("chained assignment (a = b = ...) is not supported", stmt)
            target = stmt.targets[0]
        else:
            target = stmt.target
        self.check_target(target, scope)
        value = stmt.value
        assert value is not None
        if isinstance(value, ast.Call) and not isinstance(stmt, ast.AugAssign):
            proc = self.procedure_of(value, scope)
            if proc is not None:
                return self.call(value, proc, (scope, target), scope, k, stmt)
            prim = primitive_of(value, scope)
            if prim in ("choose", "either"):
                if not isinstance(target, ast.Name):
                    raise fi.err(f"{prim}() must be assigned to a local: x = {prim}(...)", stmt)
                return StmtNode(scope, stmt, k.next, self.boundary(False), prim)
        shared = touches_shared([target, value], scope)
        return StmtNode(scope, stmt, k.next, self.boundary(shared), None)

    def check_target(self, target: ast.expr, scope: Scope) -> None:
        fi = scope.fi
        if isinstance(target, ast.Name):
            if target.id in scope.consts:
                raise fi.err(f"cannot assign to '{target.id}': it is a constant here", target)
            if target.id not in scope.locals:
                raise fi.err(f"'{target.id}' is not a declared local (annotate its first assignment)", target)
            return
        base = target
        while isinstance(base, ast.Subscript):
            base = base.value
        if not is_state_attr(base, scope):
            raise fi.err("can only assign to locals and shared variables (s.x, s.a[i])", target)

    def expr_stmt(self, stmt: ast.Expr, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        value = stmt.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return k.next  # a string used as a comment
        if not isinstance(value, ast.Call):
            raise fi.err("an expression statement has no effect in a process", stmt)
        proc = self.procedure_of(value, scope)
        if proc is not None:
            return self.call(value, proc, None, scope, k, stmt)
        prim = primitive_of(value, scope)
        if prim is None:
            shown = ast.unparse(value.func)
            raise fi.err(
                f"call to '{shown}' as a statement has no effect: only procedures (@m.procedure) and "
                "primitives (await_, spin_lock, ...) can change the state", stmt,
            )
        if prim == "require":
            raise fi.err("use await_(cond) in processes (require() is for level-1 actions)", stmt)
        if prim in ("choose", "either"):
            raise fi.err(f"{prim}() gives a value: use x = {prim}(...) or if {prim}():", stmt)
        if prim == "atomic":
            raise fi.err("atomic() is used as 'with atomic():'", stmt)
        if prim == "check":
            return StmtNode(scope, stmt, k.next, self.boundary(touches_shared([value], scope)), prim)
        if prim == "skip":
            return StmtNode(scope, stmt, k.next, True, prim)
        self.primitive_args(prim, value, scope)
        node = StmtNode(scope, stmt, k.next, True, prim)
        if prim == "spin_lock_irqsave":
            # Interrupts go off before spinning: if the lock is taken, the step disables them
            # and moves to this spin point (see process_emit).
            spin = StmtNode(scope, stmt, k.next, True, "spin_lock")
            spin.label = f"{fi.name}: {fi.text(stmt)} [spinning]"
            node.spin = spin
        return node

    def primitive_args(self, prim: str, call: ast.Call, scope: Scope) -> None:
        """Check a primitive's arguments and note which locks/IRQ ops the instance uses."""
        fi = scope.fi
        if call.keywords:
            raise fi.err(f"{prim}() takes no keyword arguments", call)
        if prim == "await_":
            if len(call.args) != 1:
                raise fi.err("await_() takes one condition", call)
            return
        if prim in IRQ_PRIMITIVES:
            self.uses_irq = True
            if prim in ("spin_lock_irqsave", "local_irq_disable"):
                self.irq_ops += 1
        if prim in LOCK_PRIMITIVES:
            kind, op = LOCK_PRIMITIVES[prim]
            if len(call.args) != 1:
                raise fi.err(f"{prim}() takes one lock: {prim}(s.L) or {prim}(s.L[i])", call)
            name = self.lock_name(call.args[0], scope, prim)
            have = self.locks[name][0]
            if have != kind:
                want = "m.spinlock" if kind == "spin" else "m.rwlock"
                raise fi.err(f"{prim}() on '{name}', which is not declared with {want}()", call)
            if op == "acquire":
                self.acquired.add(name)
                if prim == "read_lock":
                    self.readers.add(name)
        elif call.args:
            raise fi.err(f"{prim}() takes no arguments", call)

    def lock_name(self, arg: ast.expr, scope: Scope, prim: str) -> str:
        base = arg
        while isinstance(base, ast.Subscript):
            base = base.value
        if not is_state_attr(base, scope):
            raise scope.fi.err(f"{prim}() needs a lock variable: {prim}(s.L) or {prim}(s.L[i])", arg)
        assert isinstance(base, ast.Attribute)
        if base.attr not in self.locks:
            raise scope.fi.err(
                f"{prim}() on '{base.attr}', which is not a lock (declare it with m.spinlock() or m.rwlock())", arg
            )
        return base.attr

    # -- control flow --------------------------------------------------------------------------
    def if_stmt(self, stmt: ast.If, scope: Scope, k: Cont) -> Node:
        ok, value = const_eval(stmt.test, scope)
        if ok:
            return self.block(stmt.body if value else stmt.orelse, scope, k)
        test = self.test_node(stmt, scope, "if")
        test.yes = self.block(stmt.body, scope, k)
        test.no = self.block(stmt.orelse, scope, k)
        return test

    def test_node(self, stmt: ast.If | ast.While, scope: Scope, keyword: str) -> TestNode:
        prim = prim_call(stmt.test, scope)
        if prim is not None and prim != "either":
            raise scope.fi.err(f"{prim}() cannot be a test", stmt)
        if prim == "either" and (stmt.test.args or stmt.test.keywords):  # type: ignore[attr-defined]
            raise scope.fi.err("either() takes no arguments", stmt)
        return TestNode(scope, stmt, stmt.test, self.boundary(touches_shared([stmt.test], scope)), keyword)

    def while_stmt(self, stmt: ast.While, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        if stmt.orelse:
            raise fi.err("while ... else is not supported", stmt)
        ok, value = const_eval(stmt.test, scope)
        if ok and not value:
            return k.next
        if ok:  # while True: the body's entry is the loop head
            ref = RefNode(scope)
            entry = self.block(stmt.body, scope, Cont(ref, k.next, ref, k.ret_after, k.ret_target, k.stack))
            if entry is ref:  # an empty busy loop: a step that goes nowhere
                entry = StmtNode(scope, stmt, ref, True, "skip")
            ref.target = entry
            return entry
        test = self.test_node(stmt, scope, "while")
        test.yes = self.block(stmt.body, scope, Cont(test, k.next, test, k.ret_after, k.ret_target, k.stack))
        test.no = k.next
        return test

    def for_stmt(self, stmt: ast.For, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        ok, values = const_eval(stmt.iter, scope)
        try:
            items = list(values) if ok else None
        except TypeError:
            items = None
        if items is None:
            raise fi.err(
                "for loops in processes are unrolled: iterate over constants (range(N), a tuple); "
                "use while for a loop over state", stmt,
            )
        after = k.next
        nxt = self.block(stmt.orelse, scope, k) if stmt.orelse else after
        for value in reversed(items):
            bound = scope.with_consts(_bind(stmt.target, value, fi))
            nxt = self.block(stmt.body, bound, Cont(nxt, after, nxt, k.ret_after, k.ret_target, k.stack))
        return nxt

    def return_stmt(self, stmt: ast.Return, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        if k.ret_after is None:  # in the process itself
            if stmt.value is not None:
                raise fi.err("a process returns no value", stmt)
            return self.finish
        if stmt.value is None or k.ret_target is None:
            return k.ret_after
        if isinstance(stmt.value, ast.Call) and self.procedure_of(stmt.value, scope) is not None:
            raise fi.err("return g(...) is not supported: assign v = g(...) first", stmt)
        tscope, target = k.ret_target
        shared = touches_shared([stmt.value], scope) or touches_shared([target], tscope)
        return AssignNode(scope, stmt, [(tscope, target, scope, stmt.value)], k.ret_after, self.boundary(shared))

    def with_stmt(self, stmt: ast.With, scope: Scope, k: Cont) -> Node:
        fi = scope.fi
        if len(stmt.items) != 1 or stmt.items[0].optional_vars is not None \
                or prim_call(stmt.items[0].context_expr, scope) != "atomic":
            raise fi.err("the only 'with' in processes is 'with atomic():'", stmt)
        shared = False
        for sub in ast.walk(stmt):
            if sub is stmt:
                continue
            if isinstance(sub, (ast.While, ast.Return, ast.Break, ast.Continue, ast.FunctionDef, ast.Try)):
                raise fi.err(f"'{type(sub).__name__}' is not allowed inside 'with atomic()'", sub)
            if isinstance(sub, ast.Call):
                if self.procedure_of(sub, scope) is not None:
                    raise fi.err("procedure calls are not allowed inside 'with atomic()'", sub)
                prim = primitive_of(sub, scope)
                if prim == "label":
                    raise fi.err("label() inside 'with atomic()': the block is one step", sub)
                if prim in BLOCKING:
                    self.primitive_args(prim, sub, scope)
            if isinstance(sub, ast.With):
                self.with_stmt(sub, scope, Cont(k.next))  # validates nested atomic blocks
        shared = touches_shared(stmt.body, scope)  # type: ignore[arg-type]
        return AtomicNode(scope, stmt, k.next, self.boundary(shared))

    # -- procedures ----------------------------------------------------------------------------
    def procedure_of(self, call: ast.Call, scope: Scope) -> FuncInfo | None:
        func = call.func
        if not isinstance(func, ast.Name):
            return None
        value = lookup(scope, func.id)
        if value is _MISSING:
            return self.by_name.get(func.id)
        return self.procedures.get(id(value))

    def call(self, call: ast.Call, g: FuncInfo, target: tuple[Scope, ast.expr] | None,
             scope: Scope, k: Cont, stmt: ast.stmt) -> Node:
        fi = scope.fi
        if g.name in k.stack:
            chain = " -> ".join((*k.stack, g.name))
            raise fi.err(f"recursive procedure call ({chain}): procedures are inlined, so recursion is not allowed", stmt)
        if call.keywords:
            raise fi.err(f"call {g.name}() with positional arguments", call)
        args = call.args
        if len(args) != len(g.params) + 2:
            raise fi.err(f"{g.name}() takes {len(g.params) + 2} arguments (self, s, ...); {len(args)} given", call)
        a0, a1 = args[0], args[1]
        if not (isinstance(a1, ast.Name) and a1.id == fi.state_name):
            raise fi.err(f"pass the state as the second argument: {g.name}({fi.self_name}, {fi.state_name}, ...)", call)
        ok, self_value = const_eval(a0, scope)
        if not ok or self_value != self.self_id:
            raise fi.err(f"pass the instance as the first argument: {g.name}({fi.self_name}, {fi.state_name}, ...)", call)
        gscope = Scope(g, {g.self_name: self.self_id}, {})
        pairs: list[tuple[Scope, ast.expr, Scope, ast.expr]] = []
        for (pname, ann), arg in zip(g.params, args[2:], strict=True):
            ok, value = const_eval(arg, scope)
            if ok and pname not in g.assigned:
                gscope.consts[pname] = value  # this copy of g is specialised to the constant
                continue
            if ann is None:
                raise g.err(
                    f"parameter '{pname}' of procedure {g.name} needs a domain annotation "
                    f"(the call at {fi.where(stmt)} passes a non-constant)", None,
                )
            okd, domain = const_eval(ann, gscope)
            if not okd:
                raise g.err(f"the domain of parameter '{pname}' must be a constant", ann)
            gscope.locals[pname] = self.registry.var(g, pname, domain, g.where(ann))
            pairs.append((gscope, ast.Name(pname, ast.Store()), scope, arg))
        self.declare_locals(g, gscope)
        inner = Cont(k.next, None, None, k.next, target, (*k.stack, g.name))
        entry = self.block(g.body, gscope, inner)
        if not pairs:
            return entry
        shared = touches_shared([p[3] for p in pairs], scope)
        return AssignNode(scope, stmt, pairs, entry, self.boundary(shared))


def _bind(target: ast.expr, value: Any, fi: FuncInfo) -> dict[str, Any]:
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, ast.Tuple):
        values = list(value)
        if len(values) != len(target.elts):
            raise fi.err("cannot unpack the loop value", target)
        out: dict[str, Any] = {}
        for t, v in zip(target.elts, values, strict=True):
            out.update(_bind(t, v, fi))
        return out
    raise fi.err("loop targets must be names", target)


# -- liveness (dead locals are reset so they do not multiply states) ---------------------------------


def _names(nodes: list[ast.AST | None]) -> set[str]:
    return {n.id for root in nodes if root is not None for n in ast.walk(root)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _vars(names: set[str], scope: Scope) -> set[str]:
    return {scope.locals[n] for n in names if n in scope.locals}


def _target_effects(target: ast.expr, scope: Scope) -> tuple[set[str], set[str]]:
    """(uses, kills) of assigning to ``target``: a local is killed, an index expression is used."""
    if isinstance(target, ast.Name):
        return set(), _vars({target.id}, scope)
    return _vars(_names([target]), scope), set()


def node_effects(node: Node) -> tuple[set[str], set[str], set[str]]:
    """(uses, kills, writes) of a node, as local state variables. Uses are conservative (a
    name shadowed by a comprehension still counts); kills are unconditional writes only."""
    scope = node.scope
    if isinstance(node, StmtNode):
        stmt = node.stmt
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            tgt = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            tuses, kills = _target_effects(tgt, scope)
            return _vars(_names([stmt.value]), scope) | tuses, kills, set(kills)
        if isinstance(stmt, ast.AugAssign):
            tuses, kills = _target_effects(stmt.target, scope)
            uses = _vars(_names([stmt.value, stmt.target]), scope) | tuses | kills
            return uses, set(), set(kills)
        return _vars(_names([stmt]), scope), set(), set()
    if isinstance(node, AssignNode):
        read: set[str] = set()
        killed: set[str] = set()
        for tscope, tgt, vscope, value in node.pairs:
            tuses, tkills = _target_effects(tgt, tscope)
            read |= _vars(_names([value]), vscope) | tuses
            killed |= tkills
        return read, killed, set(killed)
    if isinstance(node, TestNode):
        return _vars(_names([node.test]), scope), set(), set()
    if isinstance(node, AtomicNode):
        stored = {n.id for st in node.stmts for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        return _vars(_names(list(node.stmts)), scope), set(), _vars(stored, scope)
    return set(), set(), set()


def successors(node: Node) -> list[Node]:
    if isinstance(node, (StmtNode, AssignNode, AtomicNode)):
        out = [resolve(node.next)]
        if isinstance(node, StmtNode) and node.spin is not None:
            out.append(node.spin)
        return out
    if isinstance(node, TestNode):
        return [resolve(node.yes), resolve(node.no)]
    return []


def live_locals(first: Node) -> dict[int, frozenset[str]]:
    """``id(node) -> locals live on entry`` (read on some path before being overwritten)."""
    nodes: list[Node] = []
    seen: set[int] = set()
    todo = [resolve(first)]
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        nodes.append(n)
        todo.extend(successors(n))
    effects = {id(n): node_effects(n) for n in nodes}
    live: dict[int, frozenset[str]] = {id(n): frozenset() for n in nodes}
    changed = True
    while changed:
        changed = False
        for n in reversed(nodes):
            uses, kills, _ = effects[id(n)]
            out: set[str] = set()
            for succ in successors(n):
                out |= live[id(succ)]
            new = frozenset(uses | (out - kills))
            if new != live[id(n)]:
                live[id(n)] = new
                changed = True
    return live
