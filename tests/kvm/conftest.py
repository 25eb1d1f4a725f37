"""Helpers for the KVM model's tests: check a design on a scenario (a shipped name, or a file in
``scenarios/``). Test-only faults are design files in ``faults/`` (``check("fault:NAME", ...)``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import get_design
from itsrace.engine import Result, check_model
from itsrace.hyp import build_model
from itsrace.hyp.scenario import Scenario, load_scenario

HERE = Path(__file__).parent
FAULTS = HERE / "faults"
SCENARIOS = HERE / "scenarios"
DESIGNS = Path(__file__).resolve().parents[2] / "src" / "itsrace" / "kvm" / "designs"


def design_path(design: str) -> str:
    """``fault:NAME`` -> ``faults/NAME.py``; ``history:NAME`` -> ``src/itsrace/kvm/designs/NAME.py``."""
    if design.startswith("fault:"):
        return str(FAULTS / f"{design[len('fault:'):]}.py")
    if design.startswith("history:"):
        return str(DESIGNS / f"{design[len('history:'):]}.py")
    return design


def scenario_of(sc: Scenario | str) -> Scenario:
    """A Scenario, a shipped name, or ``test:NAME`` for ``scenarios/NAME.toml``."""
    if isinstance(sc, Scenario):
        return sc
    if sc.startswith("test:"):
        return load_scenario(str(SCENARIOS / f"{sc[len('test:'):]}.toml"))
    return load_scenario(sc)


def check(design: str, sc: Scenario | str) -> Result:
    """Every property of ``design`` on ``sc``."""
    return check_model(build_model(get_design(design_path(design)), scenario_of(sc)),
                       stop_on_violation=False, progress=False)


@pytest.fixture(name="check")
def check_fixture() -> Any:
    return check
