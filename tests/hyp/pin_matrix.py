"""Pin the verdict matrix: every shipped design on every shipped scenario, searched to the end.

``python tests/hyp/pin_matrix.py [DESIGN ...]`` rewrites ``pinned_matrix.json`` (all designs, or
only the ones named) with the distinct states, transitions, verdict, violated properties and the
length of each property's shortest counterexample. ``test_pinned_matrix.py`` checks the model
against it, so a change that moves any of these numbers shows up in review as a diff of this
file, to be explained in the commit that makes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from itsrace.catalog import DESIGNS, get_design
from itsrace.engine.native.runner import check
from itsrace.hyp import build_model, load_scenario, scenario_names

PIN = Path(__file__).with_name("pinned_matrix.json")
# Cells not pinned because one search takes too long to repeat: the KVM model and its designs on
# the wide universes (kvm has 38.4 million states on guest-wide, 101-435 s, and several times
# xen-4.10's 13.8 million on guest-2vcpu). Every Xen design is pinned on them.
UNPINNED = {(d, s) for d in ("kvm", "kvm-cve-2024-26598", "kvm-cve-2026-74568", "kvm-invalidate-put-erased")
            for s in ("guest-wide", "guest-2vcpu")}


def cell(design: str, scenario: str) -> dict[str, Any]:
    """One cell, searched to the end (the compiled backend for anything that takes the Python
    one more than half a second; both give the same counts: tests/engine/test_native.py)."""
    r = check(build_model(get_design(design), load_scenario(scenario)), engine="auto", stop_on_violation=False,
              progress=False)
    return {"verdict": r.verdict, "states": r.stats.distinct_states, "transitions": r.stats.transitions,
            "violated": sorted(r.violated),
            "shortest": {v.property: len(v.trace.steps) for v in sorted(r.violations, key=lambda v: v.property)}}


def main(names: list[str]) -> None:
    pinned: dict[str, Any] = json.loads(PIN.read_text()) if PIN.exists() else {}
    for design in names or list(DESIGNS):
        for scenario in scenario_names():
            if (design, scenario) in UNPINNED:
                continue
            pinned[f"{design}/{scenario}"] = cell(design, scenario)
            print(design, scenario, pinned[f"{design}/{scenario}"]["verdict"], flush=True)
    PIN.write_text(json.dumps(dict(sorted(pinned.items())), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
