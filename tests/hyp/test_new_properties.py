"""The properties of issue 12 on the hypervisor models: each shown failing on a small,
deliberately broken model (a fault design in ``faults/``) and holding where it should."""

from __future__ import annotations

from typing import Any

import pytest

from itsrace.engine.native.build import find_compiler


# -- null-deref: every dereference of a pending_irq / vgic_irq pointer is checked by the engine --------
def test_missing_lpi_null_check_is_a_null_deref_counterexample(check: Any) -> None:
    """vgic_vcpu_inject_lpi without ``if ( !p ) return;``: DISCARD removes the vLPI from the tree
    between gicv3_do_LPI's host-entry read and its lookup; the engine's pointer check (no
    hand-written check in the fault) reports it."""
    r = check("fault:no_lpi_null_check", "discard-vs-lpi")
    assert "null-deref" in r.violated
    v = next(v for v in r.violations if v.property == "null-deref")
    assert any("DISCARD" in st.action or "its_discard_event" in st.action or "discard" in st.action.lower()
               for st in v.trace.steps)
    assert "null-deref" not in check("xen-4.10", "discard-vs-lpi").violated


@pytest.mark.skipif(find_compiler() is None, reason="no C compiler")
def test_null_deref_same_on_the_c_backend() -> None:
    from pathlib import Path

    from itsrace.catalog import get_design
    from itsrace.engine import check_model, compile_model
    from itsrace.engine.native.runner import check_native
    from itsrace.hyp import build_model
    from itsrace.hyp.scenario import load_scenario

    fault = str(Path(__file__).parent / "faults" / "no_lpi_null_check.py")
    c = compile_model(build_model(get_design(fault), load_scenario("discard-vs-lpi")))
    py = check_model(c, stop_on_violation=False, progress=False)
    nat = check_native(c, stop_on_violation=False, progress=False)
    assert nat.stats.engine == "c"
    assert (nat.violated, nat.stats.distinct_states, nat.stats.transitions,
            sorted((v.property, len(v.trace)) for v in nat.violations)) == \
        (py.violated, py.stats.distinct_states, py.stats.transitions, sorted((v.property, len(v.trace)) for v in py.violations))
