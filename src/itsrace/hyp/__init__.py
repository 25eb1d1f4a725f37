"""The hypervisor model: Xen's virtual ITS and vGIC (RELEASE-4.10.0) in the engine's process
language, the scenarios that bound what the guest and the devices do, and the properties.

    from itsrace.hyp import build_model, load_scenario
    from itsrace.designs import get_design
    model = build_model(get_design("xen-4.10"), load_scenario("discard-vs-lpi"))

Modules, one concern each (like KVM's vgic): ``state`` (variables), ``pending_irq`` (pointers,
lookups, list membership), ``lr`` (list registers), ``vgic`` (injection), ``lpi`` (gicv3_do_LPI,
devices), ``its_cmds`` (the guest's ITS commands), ``vcpu`` (guest mode, traps, the guest's LR
actions), ``properties``, ``scenario`` (TOML files), ``build``. See ``docs/hyp-model.md``.
"""

from itsrace.hyp.build import build_model
from itsrace.hyp.properties import PROPERTIES, Property
from itsrace.hyp.scenario import Scenario, ScenarioError, load_scenario, scenario_names

__all__ = ["PROPERTIES", "Property", "Scenario", "ScenarioError", "build_model", "load_scenario", "scenario_names"]
