"""The modelling API, level 1: state variables, guarded atomic actions, properties.

A model is a set of finite-domain integer variables (scalars or arrays) and a set of *actions*.
Each action is an ordinary Python function over the state ``s`` whose leading ``require(...)``
statements are its guard and whose assignments to ``s.<var>`` are its effect. Parameters with
finite domains turn one action into many instances::

    from itsrace.engine import Model, require

    m = Model("counter")
    m.var("x", range(4), init=0)

    @m.action(step=(1, 2))
    def Inc(s, step):
        require(s.x + step <= 3)
        s.x = s.x + step

    @m.invariant
    def Small(s):
        return s.x <= 3

The engine never interprets these functions per state: :mod:`itsrace.engine.lang.compile` reads their
source once and generates specialised Python successor code over bit-packed states. That is why an
action may only use the forms documented in ``docs/modelling.md`` (the "action language"), and why
mistakes are reported with the model's file and line at compile time.

Level 2 (sequential processes with locks, translated into these actions) lives in
:mod:`itsrace.engine.lang.process`; it produces the same :class:`ActionDef` objects.
"""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError, known_hint

Shape = tuple[int, ...]


def _where(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{code.co_filename}:{code.co_firstlineno}"


_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_where() -> str | None:
    """``file:line`` of the innermost caller outside the engine package (the model's line)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if os.path.dirname(os.path.abspath(filename)) != _ENGINE_DIR:
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _located(method: Callable[..., Any]) -> Callable[..., Any]:
    """Give ModelErrors raised by a declaration method the model's file and line."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ModelError as exc:
            if exc.where is not None:
                raise
            raise ModelError(str(exc), _caller_where()) from exc

    return wrapper


def value_at(value: Any, index: tuple[int, ...]) -> int:
    """The element at ``index`` of a scalar (same for every index) or of nested sequences."""
    for i in index:
        if isinstance(value, (int, bool)):
            break
        value = value[i]
    return int(value)


def _check_values(decl: VarDecl, value: Any) -> None:
    """Raise ModelError unless ``value`` (scalar or nested sequences) fits ``decl``'s shape and domain."""
    for index in decl.indices():
        try:
            v = value_at(value, index)
        except (TypeError, IndexError, ValueError) as exc:
            raise ModelError(f"variable '{decl.name}': value {value!r} does not match shape {decl.shape}") from exc
        if not decl.lo <= v <= decl.hi:
            label = decl.name + "".join(f"[{i}]" for i in index)
            raise ModelError(f"{label} = {v} is outside its domain [{decl.lo}, {decl.hi}]")


def _as_bounds(domain: Any, name: str) -> tuple[int, int]:
    """Accept ``range(lo, hi+1)`` (step 1), ``bool``, or a ``(lo, hi)`` pair (inclusive)."""
    if domain is bool:
        return 0, 1
    if isinstance(domain, range):
        if domain.step != 1 or len(domain) == 0:
            raise ModelError(f"variable '{name}': domain {domain!r} must be a non-empty range with step 1")
        return domain.start, domain.stop - 1
    if isinstance(domain, tuple) and len(domain) == 2 and all(isinstance(v, int) for v in domain):
        lo, hi = domain
        if lo > hi:
            raise ModelError(f"variable '{name}': empty domain {domain!r}")
        return lo, hi
    raise ModelError(
        f"variable '{name}': domain must be range(lo, hi+1), bool or (lo, hi); got {domain!r}"
    )


@dataclass(frozen=True)
class VarDecl:
    """One state variable: a scalar (``shape == ()``) or an array of integers in ``[lo, hi]``.

    ``sym_index`` names, per array dimension, the scalarset (interchangeable identities) that
    indexes it, or ``None``; ``sym_value`` names the scalarset whose identities the *values* are.
    Symmetry reduction uses both; they never change the meaning of the model.
    """

    name: str
    lo: int
    hi: int
    shape: Shape = ()
    init: Any = 0
    kind: str = "shared"  # shared | local | pc | lock
    owner: str | None = None  # process instance owning a local or pc variable
    sym_index: tuple[str | None, ...] = ()
    sym_value: str | None = None
    doc: str = ""

    def indices(self) -> Iterator[tuple[int, ...]]:
        return itertools.product(*(range(n) for n in self.shape))

    def init_at(self, index: tuple[int, ...]) -> int:
        return value_at(self.init, index)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass
class ActionDef:
    """One guarded atomic action, possibly with parameters (expanded into instances).

    ``body`` is a list of statements in the action language over the state name ``state_name``.
    ``env`` resolves every other name in the body (parameters excluded). ``pc`` lets the
    compiler dispatch on a program counter instead of testing every guard: ``(var, index,
    value)`` means "this action requires ``s.var[index] == value``" (and the body must still
    contain that requirement, so dispatch is only an optimisation).
    """

    name: str
    params: dict[str, tuple[Any, ...]]
    body: list[ast.stmt]
    state_name: str
    env: dict[str, Any]
    filename: str
    line_offset: int = 0  # added to AST line numbers to get file lines
    process: str | None = None  # owning process instance (level 2), for traces
    lock_owner: int | None = None  # level 2: the value its process writes into a lock it takes (pid + 1)
    label: str | None = None  # human step label (level 2): "gicv3_do_LPI: h = host_lpis[P]"
    pc: tuple[str, tuple[int, ...], int] | None = None
    fixed: dict[str, Any] = field(default_factory=dict)  # parameters with one value (e.g. self)
    reads: frozenset[str] | None = None  # declared read set (variable names); derived if None
    writes: frozenset[str] | None = None
    doc: str = ""

    def where(self, node: ast.AST | None = None) -> str:
        line = getattr(node, "lineno", None) if node is not None else None
        if line is None:
            line = self.body[0].lineno if self.body else 1
        return f"{self.filename}:{line + self.line_offset}"

    def instances(self) -> Iterator[dict[str, Any]]:
        names = list(self.params)
        for values in itertools.product(*(self.params[n] for n in names)):
            binding = dict(self.fixed)
            binding.update(zip(names, values, strict=True))
            yield binding


@dataclass
class PropertyDef:
    """A named property. ``kind`` is ``invariant`` (every reachable state), ``final`` (states
    where nothing is enabled, or where the model's quiescence predicate holds), or ``assertion``
    (a ``check(cond, name)`` inside an action; registered automatically)."""

    name: str
    kind: str
    doc: str = ""
    body: list[ast.stmt] = field(default_factory=list)
    state_name: str = "s"
    env: dict[str, Any] = field(default_factory=dict)
    filename: str = "<model>"
    line_offset: int = 0


def parse_function(fn: Callable[..., Any]) -> tuple[ast.FunctionDef, dict[str, Any], str, int]:
    """Return the function's AST, the names it can see, its file, and the line offset."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise ModelError(f"cannot read the source of {fn!r}: {exc}", _where(fn)) from exc
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    fdef = next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if not isinstance(fdef, ast.FunctionDef):
        raise ModelError(f"{fn.__name__} must be a plain 'def' function", _where(fn))
    env: dict[str, Any] = dict(fn.__globals__)
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=True):
            try:
                env[name] = cell.cell_contents
            except ValueError:  # cell not yet bound (defined later in the enclosing scope)
                continue
    code = fn.__code__
    # The decorator lines come before 'def': co_firstlineno points at the first decorator.
    first = fdef.decorator_list[0].lineno if fdef.decorator_list else fdef.lineno
    offset = code.co_firstlineno - first
    return fdef, env, code.co_filename, offset


def _docstring_and_body(fdef: ast.FunctionDef) -> tuple[str, list[ast.stmt]]:
    doc = ast.get_docstring(fdef) or ""
    body = list(fdef.body)
    if doc and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return doc, body


class ModelCore:
    """The level-1 half of :class:`itsrace.engine.Model`: variables, actions, properties.

    Users build a :class:`~itsrace.engine.lang.model.Model`, which adds level-2 processes; the
    compiler and the process translator only need this half (so they do not import the
    translator's caller).
    """

    def __init__(self, name: str, doc: str = "") -> None:
        self.name = name
        self.doc = doc
        self.vars: dict[str, VarDecl] = {}
        self.actions: list[ActionDef] = []
        self.properties: list[PropertyDef] = []
        self.quiescent_defs: list[PropertyDef] = []
        self.at_rest_defs: list[PropertyDef] = []
        self.initial_overrides: list[dict[str, Any]] = []
        self.scalarsets: dict[str, int] = {}
        self.check_deadlock = True
        self.lock_order: list[str] = []
        self.meta: dict[str, Any] = {}  # free-form: used by level 2 and by users
        self.null_index: dict[str, int] = {}  # object arrays: var -> the index NULL maps to
        self.field_locks: dict[str, tuple[str, str]] = {}  # field -> (lock, "same" | "any"): lockset

    # -- variables ---------------------------------------------------------------------------
    @_located
    def var(
        self,
        name: str,
        domain: Any,
        shape: int | Sequence[int] = (),
        init: Any = None,
        *,
        sym: str | Sequence[str | None] | None = None,
        sym_value: str | None = None,
        kind: str = "shared",
        owner: str | None = None,
        doc: str = "",
    ) -> VarDecl:
        """Declare a state variable.

        ``domain`` is ``range(lo, hi + 1)``, ``bool`` or ``(lo, hi)``; ``shape`` an int or a
        tuple for arrays; ``init`` a value, or nested tuples matching the shape (default ``lo``).
        ``sym`` names the scalarset indexing each dimension, ``sym_value`` the scalarset whose
        identities the values are (both only matter for symmetry reduction).
        """
        if not name.isidentifier():
            raise ModelError(f"variable name {name!r} is not a Python identifier")
        if name in self.vars:
            raise ModelError(f"variable '{name}' declared twice")
        lo, hi = _as_bounds(domain, name)
        shp: Shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if any((not isinstance(d, int)) or d <= 0 for d in shp):
            raise ModelError(f"variable '{name}': shape {shape!r} must be positive integers")
        if isinstance(sym, str) or sym is None:
            sym_index: tuple[str | None, ...] = (sym,) * len(shp) if sym else ()
        else:
            sym_index = tuple(sym)
            if len(sym_index) != len(shp):
                raise ModelError(f"variable '{name}': sym needs one entry per dimension")
        decl = VarDecl(
            name, lo, hi, shp, lo if init is None else init, kind, owner, sym_index, sym_value, doc
        )
        _check_values(decl, decl.init)
        self.vars[name] = decl
        return decl

    @_located
    def objects(self, *names: str, null_index: int = -1) -> None:
        """Declare arrays whose first index is computed from a pointer: the fields of one kind of
        object, reached as ``s.field[SLOT(p)]``. The index a NULL pointer maps to is
        ``null_index`` (``-1``: ``p - 1`` for ``p = slot + 1``). Every step that indexes one of
        these arrays with ``null_index`` violates ``null-deref`` (a counterexample, like a
        ``check``); any other index outside the array is still a model error."""
        for name in names:
            decl = self.vars.get(name)
            if decl is None:
                raise ModelError(f"objects(): unknown variable '{name}'{known_hint(name, self.vars)}")
            if not decl.shape:
                raise ModelError(f"objects(): '{name}' is a scalar; object fields are arrays")
            if 0 <= null_index < decl.shape[0]:
                raise ModelError(f"objects(): null_index {null_index} is a valid index of '{name}'")
            self.null_index[name] = null_index

    @_located
    def protected_by(self, lock: str, *fields: str, index: str = "same") -> None:
        """Declare that lock ``lock`` protects ``fields`` (arrays): a process step that reads or
        writes one of them without holding the lock violates ``lockset``, unless the access is
        marked ``lockfree(...)`` (a lock-free access the code makes on purpose). ``index``:
        ``"same"``, element ``i`` of a field is protected by element ``i`` of the lock array
        (KVM's per-object ``irq_lock``); ``"any"``, by any element of the lock array held by the
        accessing process (Xen's per-vCPU vgic lock, where the comments name no vCPU).
        Level-1 actions (the environment: guests, devices) are not checked."""
        if index not in ("same", "any"):
            raise ModelError(f"protected_by(): index must be 'same' or 'any', not {index!r}")
        decl = self.vars.get(lock)
        if decl is None or decl.kind != "lock":
            raise ModelError(f"protected_by(): '{lock}' is not a declared spinlock{known_hint(lock, self.vars)}")
        for name in fields:
            f = self.vars.get(name)
            if f is None:
                raise ModelError(f"protected_by(): unknown variable '{name}'{known_hint(name, self.vars)}")
            if not f.shape:
                raise ModelError(f"protected_by(): '{name}' is a scalar; protected fields are arrays")
            if index == "same" and decl.shape[:1] != f.shape[:1]:
                raise ModelError(f"protected_by(): '{lock}' and '{name}' are not indexed alike (index='same')")
            self.field_locks[name] = (lock, index)

    def scalarset(self, name: str, size: int) -> str:
        """Declare ``size`` interchangeable identities ``0..size-1`` (for symmetry reduction)."""
        self.scalarsets[name] = size
        return name

    def initial(self, fn: Callable[[], Iterable[dict[str, Any]]]) -> Callable[[], Iterable[dict[str, Any]]]:
        """Several initial states: ``fn()`` yields dicts of variable overrides, one per state."""
        for override in fn():
            unknown = set(override) - set(self.vars)
            if unknown:
                raise ModelError(f"initial state names unknown variable(s) {sorted(unknown)}", _where(fn))
            for name, value in override.items():
                try:
                    _check_values(self.vars[name], value)
                except ModelError as exc:
                    raise ModelError(f"initial state: {exc}", _where(fn)) from exc
            self.initial_overrides.append(dict(override))
        return fn

    # -- actions -----------------------------------------------------------------------------
    def action(self, fn: Callable[..., Any] | None = None, **params: Iterable[Any]) -> Any:
        """Decorator: ``@m.action`` or ``@m.action(l=range(3), c=range(2))``."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            fdef, env, filename, offset = parse_function(f)
            args = [a.arg for a in fdef.args.args]
            if not args:
                raise ModelError(f"action {f.__name__} needs the state as its first parameter", _where(f))
            state_name, pnames = args[0], args[1:]
            missing = set(pnames) - set(params)
            extra = set(params) - set(pnames)
            if missing or extra:
                raise ModelError(
                    f"action {f.__name__}: parameters {pnames} need domains "
                    f"(missing {sorted(missing)}, unknown {sorted(extra)})",
                    _where(f),
                )
            doc, body = _docstring_and_body(fdef)
            self.actions.append(
                ActionDef(
                    name=f.__name__,
                    params={p: tuple(params[p]) for p in pnames},
                    body=body,
                    state_name=state_name,
                    env=env,
                    filename=filename,
                    line_offset=offset,
                    doc=doc,
                )
            )
            return f

        return register(fn) if fn is not None else register

    def add_action(self, action: ActionDef) -> None:
        """Add an action built elsewhere (level 2 uses this)."""
        self.actions.append(action)

    # -- properties --------------------------------------------------------------------------
    def _property(self, fn: Callable[..., Any], kind: str, name: str | None) -> PropertyDef:
        fdef, env, filename, offset = parse_function(fn)
        args = [a.arg for a in fdef.args.args]
        if len(args) != 1:
            raise ModelError(f"{kind} {fn.__name__} must take exactly the state", _where(fn))
        doc, body = _docstring_and_body(fdef)
        return PropertyDef(name or fn.__name__, kind, doc, body, args[0], env, filename, offset)

    def invariant(self, fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
        """Decorator: a predicate that must hold in every reachable state."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.properties.append(self._property(f, "invariant", name))
            return f

        return register(fn) if fn is not None else register

    def final(self, fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
        """Decorator: a predicate that must hold wherever the system has come to rest (no action
        enabled, or the model's :meth:`quiescent` predicate holds)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.properties.append(self._property(f, "final", name))
            return f

        return register(fn) if fn is not None else register

    def quiescent(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: states that count as "at rest" for final properties even though some
        action (say, an idle loop) is still enabled."""
        self.quiescent_defs.append(self._property(fn, "quiescent", None))
        return fn

    def at_rest(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: terminal states satisfying this predicate are a normal end, not a deadlock."""
        self.at_rest_defs.append(self._property(fn, "at_rest", None))
        return fn

    def assertion(self, name: str, doc: str = "") -> None:
        """Register a ``check(cond, name)`` property with documentation (optional: unknown
        names used in ``check`` are registered automatically)."""
        if not any(p.name == name for p in self.properties):
            self.properties.append(PropertyDef(name, "assertion", doc))

    def set_lock_order(self, names: Sequence[str]) -> None:
        """Declare the lock order (outermost first); taking them out of order violates 'lock-order'."""
        self.lock_order = list(names)

    def property_names(self) -> list[str]:
        names = [p.name for p in self.properties]
        if self.check_deadlock:
            names.append("deadlock")
        return names


# -- the action language's primitives -----------------------------------------------------------
# They exist so models import and lint cleanly; the compiler replaces every call. Calling one at
# run time means a model function was called directly instead of being checked.


def _not_compiled(name: str) -> ModelError:
    return ModelError(f"{name}() is part of the model language; it runs only inside the checker")


def require(condition: Any) -> None:
    """Guard: the action is enabled only if ``condition`` holds."""
    raise _not_compiled("require")


def check(condition: Any, name: str) -> None:
    """Assertion: executing this with ``condition`` false violates property ``name``."""
    raise _not_compiled("check")


def lockfree(value: Any, why: str) -> Any:
    """Mark the accesses in ``value`` as lock-free on purpose (``lockset`` does not check them);
    as the value of an assignment, the assignment too. ``why`` cites the C construct that makes
    it safe (``ACCESS_ONCE``, ``write_atomic``, an atomic bit operation, an object not yet
    published). The compiler replaces the call by ``value``."""
    raise _not_compiled("lockfree")
