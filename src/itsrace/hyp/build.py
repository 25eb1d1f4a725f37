"""Assemble the hypervisor model for one design and one scenario.

:func:`build_model` computes the scenario's constants (:mod:`itsrace.hyp.consts`), declares the
state with the setup's initial values (:mod:`itsrace.hyp.state`), specialises every model
function to those constants (:mod:`itsrace.hyp.lang`) and registers them with a fresh
:class:`~itsrace.engine.Model`: procedures, the ``vCPU`` and ``pCPU0:irq`` processes, the
guest's and the devices' level-1 actions, and the properties.
"""

from __future__ import annotations

from typing import Any, Protocol

from itsrace.engine import Model
from itsrace.engine.lang.process import finalize
from itsrace.hyp import its_cmds, lpi, lr, pending_irq, properties, vcpu, vgic
from itsrace.hyp.consts import MUTATIONS, PROP, make_consts
from itsrace.hyp.lang import specialise
from itsrace.hyp.scenario import Scenario
from itsrace.hyp.state import declare, initial_state

MODEL_MODULES = (pending_irq, lr, vgic, its_cmds, lpi, vcpu, properties)


class DesignLike(Protocol):
    """What the model asks a design (see :class:`itsrace.designs.base.Design`); read-only, so
    a frozen dataclass satisfies it."""

    @property
    def name(self) -> str: ...
    @property
    def mapti_pristine(self) -> bool: ...
    @property
    def pristine_lr_scan(self) -> bool: ...
    @property
    def stale_lr(self) -> str: ...
    @property
    def discard(self) -> str: ...
    @property
    def inject_checks_tag(self) -> bool: ...
    @property
    def unmap_free(self) -> str: ...
    @property
    def refcount(self) -> bool: ...


def build_model(design: DesignLike, scenario: Scenario, mutations: frozenset[str] | set[str] = frozenset()) -> Model:
    """The model of ``design`` on ``scenario``. ``mutations`` inject test-only faults (names in
    :data:`itsrace.hyp.consts.MUTATIONS`), used to show that each property can fail."""
    muts = frozenset(mutations)
    K = make_consts(scenario, design, muts)
    init = initial_state(scenario, K, design)
    suffix = "".join(f"+{m}" for m in sorted(muts))
    m = Model(f"{design.name}/{scenario.name}{suffix}",
              doc=f"Xen vITS/vGIC model, design {design.name}, scenario {scenario.name}")
    declare(m, K, init)
    for name, fn, info in specialise(MODEL_MODULES, K):
        kind = info["kind"]
        if kind == "procedure":
            m.procedure(fn)
        elif kind == "process":
            m.process(**info["opts"](K))(fn)
        elif kind == "action":
            if name == "guest_writes_property" and PROP not in K["OPS_USED"]:
                continue
            if name == "device_sends_msi" and not any(scenario.msis):
                continue
            m.action(**info["params"](K))(fn)
        elif kind == "invariant":
            m.invariant(name=info["name"])(fn)
        elif kind == "final":
            m.final(name=info["name"])(fn)
    for prop in properties.PROPERTIES.values():
        if prop.kind == "assertion":
            m.assertion(prop.name, prop.summary)
    m.meta.update(design=design.name, scenario=scenario.name, mutations=sorted(muts), consts=_json_consts(K))
    finalize(m)
    return m


def build_from_names(design: str, scenario: str, mutations: list[str] | tuple[str, ...] = ()) -> Model:
    """The model ``itsrace check --design DESIGN --scenario SCENARIO --mutate ...`` checks, from
    the strings a trace records in its ``params`` (the registry's ``"hyp"`` model, used by
    ``itsrace replay``).

    ``design`` is a shipped design's name or a ``.py`` design file; ``scenario`` a shipped
    scenario's name, a ``.toml`` path, or the file name a shipped scenario records as its source
    (``"discard-vs-lpi.toml"``: a path that does not exist but names a shipped scenario). Any
    problem is a one-line :class:`~itsrace.engine.ModelError`.
    """
    from pathlib import Path

    from itsrace.designs import DesignError, get_design
    from itsrace.engine import ModelError
    from itsrace.hyp.scenario import ScenarioError, load_named, load_scenario, scenario_names

    try:
        the_design = get_design(design)
    except DesignError as exc:
        hint = "" if design.endswith(".py") else (
            "; a design read from a file is recorded by its name: replay with --set design=FILE.py")
        raise ModelError(f"{exc}{hint}") from None
    try:
        stem = scenario[:-5] if scenario.endswith(".toml") else ""
        if stem and "/" not in scenario and not Path(scenario).is_file() and stem in scenario_names():
            the_scenario = load_named(stem)
        else:
            the_scenario = load_scenario(scenario)
        return build_model(the_design, the_scenario, frozenset(mutations))
    except (ScenarioError, ValueError) as exc:
        raise ModelError(str(exc)) from None


def _json_consts(K: dict[str, Any]) -> dict[str, Any]:
    keep = ("NC", "NL", "ND", "NE", "NQ", "NV", "NCOL", "VCPU_PCPU")
    return {k: K[k] for k in keep}


__all__ = ["MUTATIONS", "DesignLike", "build_from_names", "build_model"]
