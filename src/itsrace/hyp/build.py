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
from itsrace.engine.process import finalize
from itsrace.hyp import its_cmds, lpi, lr, pending_irq, properties, vcpu, vgic
from itsrace.hyp.consts import MUTATIONS, PROP, make_consts
from itsrace.hyp.lang import specialise
from itsrace.hyp.scenario import Scenario
from itsrace.hyp.state import declare, initial_state

MODEL_MODULES = (pending_irq, lr, vgic, its_cmds, lpi, vcpu, properties)


class DesignLike(Protocol):
    """What the model asks a design (see :class:`itsrace.designs.base.Design`)."""

    name: str
    mapti_pristine: bool
    pristine_lr_scan: bool
    stale_lr: str
    discard: str
    inject_checks_tag: bool
    unmap_free: str


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


def _json_consts(K: dict[str, Any]) -> dict[str, Any]:
    keep = ("NC", "NL", "ND", "NE", "NQ", "NV", "NCOL", "VCPU_PCPU")
    return {k: K[k] for k in keep}


__all__ = ["MUTATIONS", "DesignLike", "build_model"]
