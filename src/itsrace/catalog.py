"""Every base model and shipped design by name, and design files by path.

    from itsrace.catalog import get_design, build_from_names
    design = get_design("unmapped-tag")          # or get_design("my_patch.py")
    model = build_from_names("xen-4.10", "discard-vs-lpi")

This is the one module that knows every hypervisor package; the CLI and the trace registry
reach designs through it.
"""

from __future__ import annotations

from pathlib import Path

from itsrace.engine import Model, ModelError
from itsrace.hyp.build import build_model
from itsrace.hyp.design import BaseModel, Design, DesignError, load_design_file, looks_like_file
from itsrace.hyp.scenario import ScenarioError, load_named, load_scenario, scenario_names
from itsrace.kvm import KVM
from itsrace.kvm.designs import SHIPPED as KVM_DESIGNS
from itsrace.xen import XEN_4_10
from itsrace.xen.designs import SHIPPED as XEN_DESIGNS

BASES: dict[str, BaseModel] = {b.name: b for b in (XEN_4_10, KVM)}


def _shipped() -> dict[str, Design | BaseModel]:
    known: dict[str, Design | BaseModel] = dict(BASES)
    for d in XEN_DESIGNS + KVM_DESIGNS:
        if d.name in known:
            raise DesignError(f"two shipped designs are called '{d.name}'")
        if d.base_name not in known:
            raise DesignError(f"shipped design '{d.name}' builds on '{d.base_name}', which comes later or does not exist")
        d.parent = known[d.base_name]
        known[d.name] = d
    return known


DESIGNS: dict[str, Design | BaseModel] = _shipped()


def lookup(name: str) -> Design | BaseModel:
    """A base model or shipped design by name."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise DesignError(f"unknown design '{name}' (known: {', '.join(DESIGNS)}; or a .py design file)") from None


def get_design(name_or_path: str) -> Design | BaseModel:
    """A base model or shipped design by name, or the ``DESIGN`` of a ``.py`` file."""
    if looks_like_file(name_or_path):
        return load_design_file(name_or_path, lookup)
    return lookup(name_or_path)


def build_from_names(design: str, scenario: str) -> Model:
    """The model ``itsrace check --design DESIGN --scenario SCENARIO`` checks, from the strings a
    trace records in its ``params`` (the registry's ``"hyp"`` model, used by ``itsrace replay``).

    ``design`` is a shipped design's name or a ``.py`` design file; ``scenario`` a shipped
    scenario's name, a ``.toml`` path, or the file name a shipped scenario records as its source
    (``"discard-vs-lpi.toml"``). Any problem is a one-line :class:`~itsrace.engine.ModelError`.
    """
    try:
        the_design = get_design(design)
    except DesignError as exc:
        raise ModelError(str(exc)) from None
    try:
        stem = scenario[:-5] if scenario.endswith(".toml") else ""
        if stem and "/" not in scenario and not Path(scenario).is_file() and stem in scenario_names():
            the_scenario = load_named(stem)
        else:
            the_scenario = load_scenario(scenario)
        return build_model(the_design, the_scenario)
    except (ScenarioError, DesignError, ValueError) as exc:
        raise ModelError(str(exc)) from None


#: build_from_names runs the Python file its ``design`` names: callers that take the value from
#: a data file (a trace, a checkpoint) must have the user name that file (docs/designs.md).
build_from_names.code_params = ("design",)  # type: ignore[attr-defined]

__all__ = ["BASES", "DESIGNS", "build_from_names", "get_design", "lookup"]
