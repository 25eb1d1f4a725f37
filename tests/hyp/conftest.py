"""Helpers for the hypervisor-model tests: build a scenario from a dict, check a design on it."""

from __future__ import annotations

from typing import Any

import pytest

from itsrace.designs import get_design
from itsrace.engine import Result, check_model
from itsrace.hyp import build_model
from itsrace.hyp.scenario import Scenario, load_scenario, scenario_from_dict

MAPPED = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]


def scenario(guest: dict[str, Any] | None = None, *, setup: list[str] | None = None, msis: list[str] | None = None,
             exits: int = 0, **topology: Any) -> Scenario:
    """A small scenario: one vCPU on pCPU1 by default, event 0 of device 0 mapped to lpi 0."""
    topo = {"vcpus": 1, "vcpu_pcpus": [1], **topology}
    data: dict[str, Any] = {
        "name": "test", "topology": topo, "setup": {"steps": MAPPED if setup is None else setup},
        "guest": guest or {}, "devices": {"msis": msis or []}, "bounds": {"exits": exits},
    }
    return scenario_from_dict(data, "<test>")


def check(design: str, sc: Scenario | str, *mutations: str) -> Result:
    """Check every property of ``design`` on ``sc`` (a Scenario or a shipped name)."""
    if isinstance(sc, str):
        sc = load_scenario(sc)
    return check_model(build_model(get_design(design), sc, frozenset(mutations)), stop_on_violation=False,
                       progress=False)


@pytest.fixture(name="check")
def check_fixture() -> Any:
    """``check(design, scenario_or_name, *mutations) -> Result``."""
    return check


@pytest.fixture(name="scenario")
def scenario_fixture() -> Any:
    """``scenario(guest, setup=..., msis=..., exits=..., **topology) -> Scenario``."""
    return scenario
