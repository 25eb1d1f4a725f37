"""The verdict matrix, pinned: each shipped design on each shipped scenario gives exactly the
states, transitions, verdict, violated properties and shortest counterexamples recorded in
``pinned_matrix.json`` (rewritten by ``python tests/hyp/pin_matrix.py`` when a change is meant).

In the default suite: the base model and kvm-refcount (the designs every other test leans on)
on every scenario but the big ones; every other cell runs with ``--runslow``. The cells in
``pin_matrix.UNPINNED`` (the KVM model and its designs on the wide universes) are too big to pin.
"""

from __future__ import annotations

import json

import pytest
from pin_matrix import PIN, UNPINNED, cell

from itsrace.catalog import DESIGNS
from itsrace.hyp import scenario_names

PINNED = json.loads(PIN.read_text())
BIG = {"guest", "discard-mapti-other-vcpu", "guest-wide", "guest-2vcpu"}  # each takes seconds to minutes
DEFAULT_DESIGNS = {"xen-4.10", "kvm-refcount"}
CELLS = [(d, s) for d in DESIGNS for s in scenario_names() if (d, s) not in UNPINNED]


def test_every_cell_is_pinned() -> None:
    assert sorted(PINNED) == sorted(f"{d}/{s}" for d, s in CELLS)


@pytest.mark.parametrize("design, scenario", [
    pytest.param(d, s, marks=[pytest.mark.slow] if s in BIG or d not in DEFAULT_DESIGNS else [])
    for d, s in CELLS])
def test_cell_matches_the_pin(design: str, scenario: str) -> None:
    assert cell(design, scenario) == PINNED[f"{design}/{scenario}"]
