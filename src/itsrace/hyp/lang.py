"""How a hypervisor model's functions are written and specialised to a scenario.

A model is ordinary module-level Python in the engine's process language (``itsrace.xen.vgic``,
``itsrace.xen.lr``, ...), so it reads like the C it models. Its sizes and encodings (``NC``
vCPUs, ``NL`` list registers, ...) are imported from the model's ``consts`` module, where they
are placeholders. :func:`specialise` gives every tagged function a copy of its globals in which
those names hold the scenario's values, and every model function's name refers to its
specialised copy (so a call from ``vgic_vcpu_inject_irq`` to ``gic_raise_guest_irq`` reaches the
procedure registered with *this* model, or the design's override of it). Building two models
with different scenarios or designs in one process is therefore safe: nothing global is ever
modified.

Tags (they only mark the function; :mod:`itsrace.hyp.build` registers it):

``@procedure``          an engine procedure (inlined at every call site)
``@process(opts)``      a process; ``opts(K)`` returns the keyword options for ``m.process``
``@action(params)``     a level-1 action; ``params(K)`` returns its parameter domains
``@invariant`` / ``@final``   a property (its name is the function's ``NAME`` tag, see below)
``@pure``               a helper called inside steps; specialised too, so it may use constants
``@setup``              plain Python that applies one kind of scenario setup step to the initial
                        state (``setup_mapti(s, K, step, where)``); not specialised
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Any

TAG = "_itsrace_hyp"


def _tag(kind: str, **extra: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, TAG, {"kind": kind, **extra})
        return fn

    return mark


def procedure(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``fn(self, s, ...)`` as a procedure of the hypervisor model."""
    return _tag("procedure")(fn)


def pure(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a pure helper (called inside a step) so it sees the scenario's constants."""
    return _tag("pure")(fn)


def process(opts: Callable[[Any], dict[str, Any]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a process; ``opts(K)`` gives ``instances``, ``name``, ``cpu``, ``irq``, ``restart``."""
    return _tag("process", opts=opts)


def action(params: Callable[[Any], dict[str, Iterable[int]]],
           only_if: Callable[[Any], bool] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a level-1 action; ``params(K)`` gives its parameter domains. With ``only_if``, the
    action is part of a model only where ``only_if(K)`` holds (an action the scenario can never
    take is left out, so it costs nothing)."""
    return _tag("action", params=params, only_if=only_if)


def setup(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``fn(s, K, step, where)`` as the function that applies one kind of setup step."""
    return _tag("setup")(fn)


def invariant(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return _tag("invariant", name=name)


def final(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return _tag("final", name=name)


def tagged(module: types.ModuleType) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    """The tagged functions of ``module`` in source order."""
    out: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
    for name, value in vars(module).items():
        info = getattr(value, TAG, None)
        if info is not None and isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            out.append((name, value, info))
    out.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return out


def specialise(functions: Iterable[tuple[str, Callable[..., Any], dict[str, Any]]],
               namespaces: Iterable[dict[str, Any]], consts: dict[str, Any]
               ) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    """Copies of ``functions`` (name, function, tag) sharing one globals dict: the merged
    ``namespaces`` (the model's and designs' module globals), then ``consts``, then the copies
    themselves under their names. ``setup`` functions are returned as they are."""
    shared: dict[str, Any] = {}
    for ns in namespaces:
        shared.update(ns)
    shared.update(consts)
    out: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []
    for name, fn, info in functions:
        if info["kind"] == "setup":
            out.append((name, fn, info))
            continue
        assert isinstance(fn, types.FunctionType)
        clone = types.FunctionType(fn.__code__, shared, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__doc__ = fn.__doc__
        clone.__module__ = fn.__module__
        clone.__qualname__ = fn.__qualname__
        setattr(clone, TAG, info)
        shared[name] = clone
        out.append((name, clone, info))
    return out
