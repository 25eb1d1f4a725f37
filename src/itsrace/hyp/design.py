"""Designs are code: a design is a patch to a base model, written as overrides of its functions.

A *base model* (:class:`BaseModel`) is a hypervisor's code as it is, e.g. ``xen-4.10``: module-level
functions in the process language (:mod:`itsrace.hyp.lang`), one per C function. A *design*
(:class:`Design`) names its base (or another design it builds on) and replaces some of those
functions by name, the way a patch replaces hunks of the tree::

    from itsrace.engine.lang.process import atomic, spin_lock_irqsave, spin_unlock_irqrestore
    from itsrace.hyp.design import Design
    from itsrace.xen.consts import NC, ND, NE, NPC, NV
    ...

    DESIGN = Design("discard-inflight-lock", base="xen-4.10",
                    summary="its_discard_event takes the lock of the vCPU the LPI is inflight on")

    @DESIGN.override
    def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
        ...  # the base's code, edited

Every call of ``its_discard_event`` anywhere in the model then reaches the override. A design
may also add functions (``@DESIGN.procedure``, ``@DESIGN.pure``, ``@DESIGN.invariant(name)``,
...), state (:meth:`Design.var`) and change what a scenario's setup steps leave
(``@DESIGN.override`` of a ``setup_*`` function). ``itsrace design new`` writes such a file
with copies of the functions you name; ``itsrace design show`` prints a design as a diff.

A design file is Python and runs with your rights when you name it (``--design FILE.py``).
Nothing named *inside* a data file (a trace, a checkpoint) is run unless you name it too.
"""

from __future__ import annotations

import difflib
import inspect
import sys
import traceback
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itsrace.hyp.lang import TAG, tagged


class DesignError(ValueError):
    """A design (or a design file) is wrong. ``str()`` is one line, naming the file and line."""


def where(fn: Callable[..., Any]) -> str:
    """``file:line`` of a function's ``def`` (or its first decorator)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _params(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


@dataclass(frozen=True)
class StateVar:
    """A state variable a design adds. ``domain`` and ``shape`` may be functions of the scenario's
    constants ``K`` (``lambda K: range(K["NC"] + 1)``); a string shape names one constant
    (``"NQ"``: one element per pending_irq slot). ``init`` is the value of every element before
    the setup steps (a function of ``K`` too, if it must be)."""

    name: str
    domain: Any
    shape: Any
    init: Any
    doc: str
    origin: str

    def resolve(self, K: dict[str, Any]) -> tuple[Any, Any, Any]:
        def value(x: Any) -> Any:
            return x(K) if callable(x) and not isinstance(x, type) else x

        shape = value(self.shape)
        if isinstance(shape, str):
            shape = K[shape]
        elif isinstance(shape, tuple):
            shape = tuple(K[d] if isinstance(d, str) else d for d in shape)
        init = value(self.init)
        dims = (shape,) if isinstance(shape, int) else tuple(shape)

        def fill(ds: tuple[int, ...]) -> Any:
            return init if not ds else [fill(ds[1:]) for _ in range(ds[0])]

        return value(self.domain), shape, fill(dims)


class BaseModel:
    """A hypervisor's code as it is: the root of every design (``xen-4.10``).

    ``modules`` hold the tagged functions in registration order; ``make_consts(scenario)`` gives
    the constants ``K``; ``initial_vars(scenario, K)`` every variable's value before the setup
    steps; ``declare(model, K, init)`` declares the variables and locks. ``meta_consts`` name the
    constants recorded in a model's metadata (read by the timeline printer).
    """

    parent: Design | BaseModel | None = None

    def __init__(self, name: str, *, summary: str, source: str, modules: Iterable[types.ModuleType],
                 make_consts: Callable[[Any], dict[str, Any]],
                 initial_vars: Callable[[Any, dict[str, Any]], dict[str, Any]],
                 declare: Callable[[Any, dict[str, Any], dict[str, Any]], None],
                 meta_consts: tuple[str, ...] = ()) -> None:
        self.name, self.summary, self.source = name, summary, source
        self.modules = tuple(modules)
        self.make_consts, self.initial_vars, self.declare = make_consts, initial_vars, declare
        self.meta_consts = meta_consts

    @property
    def base(self) -> BaseModel:
        return self

    def chain(self) -> list[Design | BaseModel]:
        return [self]

    def __repr__(self) -> str:
        return f"BaseModel({self.name!r})"


class Design:
    """A patch to a base model: overrides of its functions by name, plus added functions, state
    and properties. ``base`` names what it applies to: a base model (``"xen-4.10"``), a shipped
    design, or a design file (a path relative to this design's file)."""

    def __init__(self, name: str, *, base: str, summary: str = "", source: str = "") -> None:
        if not isinstance(name, str) or not name or not isinstance(base, str) or not base:
            raise DesignError(f"{_caller()}: Design(name, base=...) needs two non-empty strings")
        if not isinstance(summary, str) or not isinstance(source, str):
            raise DesignError(f"{_caller()}: Design(..., summary=, source=) take strings")
        self.name, self.base_name, self.summary, self.source = name, base, summary, source
        self.overrides: dict[str, Callable[..., Any]] = {}
        self.added: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
        self.vars: list[StateVar] = []
        self.file: str | None = _caller_file()
        self.parent: Design | BaseModel | None = None  # set when the base is looked up

    # -- what a design file writes ----------------------------------------------------------------
    def override(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Replace the base's function of the same name (a procedure, process, action, pure helper,
        property or setup function). Its parameters must be the base's."""
        self._check_new(fn, "override", _caller())
        self.overrides[fn.__name__] = fn
        return fn

    def _add(self, kind: str, fn: Callable[..., Any], **info: Any) -> Callable[..., Any]:
        self._check_new(fn, kind, _caller(3))
        tag = {"kind": kind, **info}
        setattr(fn, TAG, tag)
        self.added[fn.__name__] = (fn, tag)
        return fn

    def _check_new(self, fn: Any, kind: str, caller: str) -> None:
        if not isinstance(fn, types.FunctionType):
            raise DesignError(f"{caller}: @{kind} applies to a plain 'def' function")
        if fn.__name__ in self.overrides or fn.__name__ in self.added:
            raise DesignError(f"{where(fn)}: {fn.__name__} is defined twice in design '{self.name}'")

    def procedure(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Add a new procedure ``fn(self, s, ...)``."""
        return self._add("procedure", fn)

    def pure(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Add a new pure helper (called inside steps, sees the scenario's constants)."""
        return self._add("pure", fn)

    def invariant(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Add a property that must hold in every reachable state (its docstring says why)."""
        return lambda fn: self._add("invariant", fn, name=name)

    def final(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Add a property checked where the system has come to rest."""
        return lambda fn: self._add("final", fn, name=name)

    def var(self, name: str, domain: Any, shape: Any = (), *, init: Any = 0, doc: str = "") -> None:
        """Add a state variable (e.g. a new ``pending_irq`` status bit: ``var("p_unmapped",
        bool, "NQ")``); see :class:`StateVar` for what ``domain``, ``shape`` and ``init`` take."""
        if not isinstance(name, str) or not name.isidentifier():
            raise DesignError(f"{_caller()}: a state variable needs an identifier for a name, not {name!r}")
        if any(v.name == name for v in self.vars):
            raise DesignError(f"{_caller()}: state variable {name} is added twice")
        self.vars.append(StateVar(name, domain, shape, init, doc, _caller()))

    # -- what the checker asks --------------------------------------------------------------------
    @property
    def base(self) -> BaseModel:
        if self.parent is None:
            raise DesignError(f"design '{self.name}' is not resolved (its base '{self.base_name}' was never looked up)")
        return self.parent.base

    def chain(self) -> list[Design | BaseModel]:
        """Base model first, this design last."""
        if self.parent is None:
            raise DesignError(f"design '{self.name}' is not resolved (its base '{self.base_name}' was never looked up)")
        return [*self.parent.chain(), self]

    def parent_name(self) -> str:
        return self.parent.name if self.parent is not None else self.base_name

    def __repr__(self) -> str:
        return f"Design({self.name!r}, base={self.base_name!r})"


def _caller(depth: int = 2) -> str:
    frame = sys._getframe(depth)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _caller_file() -> str | None:
    frame = sys._getframe(2)
    name = frame.f_code.co_filename
    return name if not name.startswith("<") else None


# -- resolving a design into one set of functions ----------------------------------------------------
@dataclass
class Resolved:
    """A design with its ancestors applied: the functions a model of it registers, in order."""

    base: BaseModel
    chain: list[Design | BaseModel]
    functions: dict[str, tuple[Callable[..., Any], dict[str, Any]]]
    owner: dict[str, str]  # function name -> name of the base or design that defined it last
    vars: list[StateVar]
    namespaces: list[dict[str, Any]]

    def setup_function(self, kind: str) -> Callable[..., Any] | None:
        entry = self.functions.get(f"setup_{kind}")
        return entry[0] if entry and entry[1]["kind"] == "setup" else None


def base_functions(base: BaseModel) -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    """The base's tagged functions, module by module, in source order."""
    out: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {}
    for module in base.modules:
        for name, fn, info in tagged(module):
            out[name] = (fn, info)
    return out


def resolve(design: Design | BaseModel) -> Resolved:
    """Apply the chain base -> ... -> ``design``; every mistake is a one-line :class:`DesignError`."""
    chain = design.chain()
    base = chain[0]
    assert isinstance(base, BaseModel)
    functions = base_functions(base)
    owner = dict.fromkeys(functions, base.name)
    namespaces = [vars(m) for m in base.modules]
    extra: list[StateVar] = []
    for d in chain[1:]:
        assert isinstance(d, Design)
        for name, fn in d.overrides.items():
            if name not in functions:
                close = difflib.get_close_matches(name, functions, n=1)
                hint = f" (did you mean {close[0]}?)" if close else " (itsrace design show NAME lists what can be overridden)"
                raise DesignError(f"{where(fn)}: {name} is not a function of {d.parent_name()}{hint}")
            old, info = functions[name]
            if _params(fn) != _params(old):
                raise DesignError(f"{where(fn)}: {name}({', '.join(_params(fn))}) must take the parameters of "
                                  f"{owner[name]}'s {name}({', '.join(_params(old))})")
            setattr(fn, TAG, info)
            functions[name] = (fn, info)
            owner[name] = d.name
        for name, (fn, info) in d.added.items():
            if name in functions:
                raise DesignError(f"{where(fn)}: {name} already exists in {owner[name]}: use @DESIGN.override")
            functions[name] = (fn, info)
            owner[name] = d.name
        known = {v.name for v in extra}
        for v in d.vars:
            if v.name in known:
                raise DesignError(f"{v.origin}: state variable {v.name} is already added by a design it builds on")
        extra.extend(d.vars)
        for fn in [*d.overrides.values(), *(f for f, _ in d.added.values())]:
            namespaces.append(fn.__globals__)
    return Resolved(base, chain, functions, owner, extra, namespaces)


# -- loading a design file ---------------------------------------------------------------------------
def load_design_file(path: str | Path, lookup: Callable[[str], Design | BaseModel],
                     loading: tuple[str, ...] = ()) -> Design:
    """Run the design file at ``path`` and return its ``DESIGN``, with its base resolved by
    ``lookup`` (names) or loaded too (a path ending in ``.py``, relative to this file).

    Every problem is one :class:`DesignError` line naming the file and line: a file that is not
    a readable UTF-8 ``.py`` file, a syntax error, an exception or ``sys.exit`` while it runs, no
    ``DESIGN``, a base that does not exist, a chain of design files that loops.
    """
    p = Path(path)
    shown = str(path)
    if p.suffix != ".py":
        raise DesignError(f"{shown}: a design file must be a Python file ending in .py")
    try:
        real = str(p.resolve())
    except OSError as exc:
        raise DesignError(f"{shown}: cannot read the design file ({exc.strerror or exc})") from None
    if real in loading:
        cycle = " -> ".join(Path(x).name for x in (*loading[loading.index(real):], real))
        raise DesignError(f"{shown}: design files build on each other in a loop: {cycle}")
    if not p.is_file():
        raise DesignError(f"{shown}: no such design file" if not p.exists() else f"{shown}: not a regular file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DesignError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DesignError(f"{shown}: cannot read the design file ({exc.strerror or exc})") from None
    try:
        code = compile(text, shown, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise DesignError(f"{shown}:{exc.lineno or 0}: syntax error: {exc.msg}") from None
    except ValueError as exc:  # e.g. a NUL byte
        raise DesignError(f"{shown}: not Python source ({exc})") from None
    module_name = f"itsrace_design_{abs(hash(real)):x}"
    module = types.ModuleType(module_name)
    module.__file__ = shown
    sys.modules[module_name] = module  # inspect.getsource and dataclasses look modules up here
    try:
        exec(code, module.__dict__)  # noqa: S102 -- a design file is code the user asked to run
    except DesignError:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a design must never end the checker
        raise DesignError(f"{_where_in(exc, shown)}: {_describe(exc)} while loading the design") from None
    design = module.__dict__.get("DESIGN")
    if not isinstance(design, Design):
        raise DesignError(f"{shown}: defines no DESIGN = Design(name, base=...)")
    design.file = shown
    base_ref = design.base_name
    if base_ref.endswith(".py"):
        base_path = (p.parent / base_ref) if not Path(base_ref).is_absolute() else Path(base_ref)
        try:
            design.parent = load_design_file(base_path, lookup, (*loading, real))
        except DesignError as exc:
            if "in a loop" in str(exc):
                raise
            raise DesignError(f"{shown}: base '{base_ref}': {exc}") from None
    else:
        try:
            design.parent = lookup(base_ref)
        except DesignError as exc:
            raise DesignError(f"{shown}: base '{base_ref}': {exc}") from None
    resolve(design)  # report wrong overrides now, not at the first check
    return design


def _where_in(exc: BaseException, shown: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == shown]
    if frames:
        return f"{shown}:{frames[-1].lineno}"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    return shown


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r})"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def looks_like_file(name: str) -> bool:
    """Design arguments ending in ``.py`` are files; anything else is a name."""
    return name.endswith(".py")


__all__ = ["BaseModel", "Design", "DesignError", "Resolved", "StateVar", "base_functions",
           "load_design_file", "looks_like_file", "resolve", "where"]
