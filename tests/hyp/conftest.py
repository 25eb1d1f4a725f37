"""Helpers for the hypervisor-model tests: build a scenario from a dict, check a design on it.

Test-only faults are design files in ``faults/`` (``check("xen-4.10", sc)`` vs
``check("fault:early_free", sc)``): overrides kept with the tests, never flags in the model."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import get_design
from itsrace.engine import Result, check_model
from itsrace.engine.native.runner import check as native_check
from itsrace.hyp import build_model
from itsrace.hyp.scenario import Scenario, load_scenario, scenario_from_dict

MAPPED = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]
FAULTS = Path(__file__).parent / "faults"


def scenario(guest: dict[str, Any] | None = None, *, setup: list[str] | None = None, msis: list[str] | None = None,
             exits: int = 0, **topology: Any) -> Scenario:
    """A small scenario: one vCPU on pCPU1 by default, event 0 of device 0 mapped to lpi 0."""
    topo = {"vcpus": 1, "vcpu_pcpus": [1], **topology}
    data: dict[str, Any] = {
        "name": "test", "topology": topo, "setup": {"steps": MAPPED if setup is None else setup},
        "guest": guest or {}, "devices": {"msis": msis or []}, "bounds": {"exits": exits},
    }
    return scenario_from_dict(data, "<test>")


def check(design: str, sc: Scenario | str) -> Result:
    """Check every property of ``design`` on ``sc`` (a Scenario or a shipped name). ``design``
    is a shipped name, a design file, or ``fault:NAME`` for ``faults/NAME.py``. A shipped design
    on a shipped scenario is checked once per test session (the search is deterministic)."""
    if isinstance(sc, str) and not design.endswith(".py") and not design.startswith("fault:"):
        return _check_shipped(design, sc)
    if isinstance(sc, str):
        sc = load_scenario(sc)
    if design.startswith("fault:"):
        design = str(FAULTS / f"{design[len('fault:'):]}.py")
    return check_model(build_model(get_design(design), sc), stop_on_violation=False, progress=False)


@functools.cache
def _check_shipped(design: str, scenario: str) -> Result:
    # the big universes (guest-wide, guest-2vcpu) need the compiled backend; small ones stay in Python
    return native_check(build_model(get_design(design), load_scenario(scenario)), engine="auto",
                        stop_on_violation=False, progress=False)


@pytest.fixture(name="check")
def check_fixture() -> Any:
    """``check(design_or_file, scenario_or_name) -> Result``."""
    return check


@pytest.fixture(name="scenario")
def scenario_fixture() -> Any:
    """``scenario(guest, setup=..., msis=..., exits=..., **topology) -> Scenario``."""
    return scenario
