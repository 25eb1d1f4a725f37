"""What every hypervisor model shares: the scenario format (the guest's commands, the devices'
MSIs, the bounds), the property catalogue, the way model functions are written and specialised
(:mod:`.lang`), designs as overrides of a base model (:mod:`.design`), the driver that builds a
model of a design on a scenario (:mod:`.build`), and per-CPU counterexample timelines.

    from itsrace.catalog import get_design
    from itsrace.hyp import build_model, load_scenario
    model = build_model(get_design("xen-4.10"), load_scenario("discard-vs-lpi"))

The hypervisors themselves live beside this package, one each (:mod:`itsrace.xen`).
"""

from itsrace.hyp.build import build_model
from itsrace.hyp.design import BaseModel, Design, DesignError
from itsrace.hyp.properties import PROPERTIES, Property
from itsrace.hyp.scenario import Scenario, ScenarioError, load_scenario, scenario_names

__all__ = ["PROPERTIES", "BaseModel", "Design", "DesignError", "Property", "Scenario", "ScenarioError",
           "build_model", "load_scenario", "scenario_names"]
