"""Assemble the model of one design on one scenario.

:func:`build_model` resolves the design against its base (:func:`itsrace.hyp.design.resolve`),
computes the scenario's constants, applies the setup steps to the initial state (with the
design's ``setup_*`` functions), declares the base's and the design's state, specialises every
function to the constants (:mod:`itsrace.hyp.lang`) and registers them with a fresh
:class:`~itsrace.engine.Model`: procedures, processes, level-1 actions and properties.
"""

from __future__ import annotations

from typing import Any

from itsrace.engine import Model, ModelError
from itsrace.engine.lang.process import finalize
from itsrace.hyp.design import BaseModel, Design, DesignError, Resolved, StateVar, resolve
from itsrace.hyp.design import where as design_where
from itsrace.hyp.lang import specialise
from itsrace.hyp.properties import PROPERTIES
from itsrace.hyp.scenario import OP_NAMES, LrStep, Scenario, ScenarioError


def build_model(design: Design | BaseModel, scenario: Scenario) -> Model:
    """The model of ``design`` (a base model or a design) on ``scenario``."""
    r = resolve(design)
    K = r.base.make_consts(scenario)
    init = initial_state(r, scenario, K)
    m = Model(f"{design.name}/{scenario.name}", doc=f"{r.base.name} model, design {design.name}, scenario {scenario.name}")
    r.base.declare(m, K, init)
    for v in r.vars:
        domain, shape, _ = resolve_var(v, K)
        try:
            m.var(v.name, domain, shape, init=init[v.name], doc=v.doc)
        except ModelError as exc:
            raise DesignError(f"{v.origin}: state variable {v.name}: {exc}") from None
    functions = [(name, fn, info) for name, (fn, info) in r.functions.items()]
    for name, fn, info in specialise(functions, r.namespaces, K):
        register(m, name, fn, info, K)
    for prop in PROPERTIES.values():
        if prop.kind == "assertion":
            m.assertion(prop.name, prop.summary)
    m.meta.update(design=design.name, base=r.base.name, scenario=scenario.name,
                  consts={k: K[k] for k in r.base.meta_consts})
    finalize(m)
    return m


def register(m: Model, name: str, fn: Any, info: dict[str, Any], K: dict[str, Any]) -> None:
    """Register one specialised function with the model, by its tag."""
    kind = info["kind"]
    if kind == "procedure":
        m.procedure(fn)
    elif kind == "process":
        m.process(**info["opts"](K))(fn)
    elif kind == "action":
        only_if = info.get("only_if")
        if only_if is None or only_if(K):
            m.action(**info["params"](K))(fn)
    elif kind == "invariant":
        m.invariant(name=info["name"])(fn)
    elif kind == "final":
        m.final(name=info["name"])(fn)


def resolve_var(v: StateVar, K: dict[str, Any]) -> tuple[Any, Any, Any]:
    """A design's variable's domain, shape and initial value for this scenario; a mistake in
    them is a DesignError naming the line of its ``DESIGN.var``."""
    try:
        return v.resolve(K)
    except KeyError as exc:
        raise DesignError(f"{v.origin}: state variable {v.name}: {exc.args[0]!r} is not a constant of the model "
                          f"(e.g. {', '.join(k for k in ('NC', 'NL', 'ND', 'NE', 'NQ', 'NV') if k in K)})") from None
    except Exception as exc:  # a design's lambda: report it, don't crash
        raise DesignError(f"{v.origin}: state variable {v.name}: {type(exc).__name__}: {exc}") from None


def initial_state(r: Resolved, scenario: Scenario, K: dict[str, Any]) -> dict[str, Any]:
    """Every variable's value after the scenario's setup steps, each applied by the design's
    ``setup_<kind>`` function (``setup_mapti``, ``setup_lr``, ...)."""
    init = r.base.initial_vars(scenario, K)
    for v in r.vars:
        if v.name in init:
            raise DesignError(f"{v.origin}: state variable {v.name} already exists in {r.base.name}")
        init[v.name] = resolve_var(v, K)[2]
    name = scenario.source or scenario.name
    for i, step in enumerate(scenario.setup):
        kind = "lr" if isinstance(step, LrStep) else OP_NAMES.get(step.op, "?").lower()
        where = f"{name}: [setup] steps[{i}] ({step})"
        fn = r.setup_function(kind)
        if fn is None:
            raise ScenarioError(f"{where}: only MAPD, MAPC, MAPTI and PROP (and LR) can be setup steps")
        try:
            fn(init, K, step, where)
        except ScenarioError:
            raise
        except Exception as exc:  # a design's setup function: report it, don't crash
            raise DesignError(f"{design_where(fn)}: {fn.__name__} failed on {where}: {type(exc).__name__}: {exc}") from None
    return init


__all__ = ["build_model", "initial_state", "register"]
