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


# -- delivery-target -----------------------------------------------------------------------------------
TWO_VCPUS = dict(vcpus=2, vcpu_pcpus=[1, 2], collections=2)
MOVED = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPC col=1 vcpu=1", "MAPTI dev=0 ev=0 lpi=0 col=0"]


def movi_scenario(scenario: Any, pending: bool) -> Any:
    """MOVI of a mapped event to vCPU1's collection; without ``pending`` an MSI may come at any
    time, with ``pending`` the LPI is in vCPU0's LR (pending) when the MOVI runs and no MSI
    follows: that one may still arrive on vCPU0, the old target."""
    setup = MOVED + (["LR vcpu=0 lpi=0 state=pending"] if pending else [])
    return scenario({"vcpu0": ["MOVI dev=0 ev=0 col=1", "SYNC"]}, setup=setup,
                    msis=[] if pending else ["dev=0 ev=0"], **TWO_VCPUS)


def test_delivery_target_fails_when_movi_does_not_retarget(check: Any, scenario: Any) -> None:
    r = check("fault:movi_keeps_vcpu", movi_scenario(scenario, pending=False))
    assert "delivery-target" in r.violated
    v = next(v for v in r.violations if v.property == "delivery-target")
    assert any("MOVI" in st.action or "movi" in st.action for st in v.trace.steps) or len(v.trace) > 0


def test_delivery_target_holds_for_xen_movi(check: Any, scenario: Any) -> None:
    assert "delivery-target" not in check("xen-4.10", movi_scenario(scenario, pending=False)).violated


def test_delivery_on_the_old_target_of_an_lpi_pending_at_movi_is_allowed(check: Any, scenario: Any) -> None:
    """The LPI in vCPU0's LR when MOVI completes may be acknowledged on vCPU0 (the old target)."""
    r = check("xen-4.10", movi_scenario(scenario, pending=True))
    assert "delivery-target" not in r.violated, r.violated


# -- lockset -------------------------------------------------------------------------------------------
def test_lockset_fails_when_movi_skips_the_vgic_lock(check: Any, scenario: Any) -> None:
    sc = scenario({"vcpu0": ["MOVI dev=0 ev=0 col=1"]}, setup=MOVED, **TWO_VCPUS)
    assert "lockset" in check("fault:movi_unlocked", sc).violated
    assert "lockset" not in check("xen-4.10", sc).violated


def test_lockset_fails_when_kvm_updates_config_without_irq_lock(check: Any) -> None:
    """MAPTI runs update_lpi_config (vgic_add_lpi): without irq_lock, a lockset violation."""
    assert "lockset" in check("fault:kvm_config_unlocked", "discard-mapti-in-lr").violated
    assert "lockset" not in check("kvm", "discard-mapti-in-lr").violated


@pytest.mark.slow
def test_lockset_holds_on_the_shipped_small_scenarios(check: Any) -> None:
    """Every lock-free access the base models make is marked (and cites its C construct)."""
    for base in ("xen-4.10", "kvm"):
        for sc in ("discard-vs-lpi", "sync-vs-inject", "movi-then-discard", "unmap-device-in-lr"):
            assert "lockset" not in check(base, sc).violated, (base, sc)


# -- command-error -------------------------------------------------------------------------------------
UNMAPPED_COL = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]


def test_command_error_fails_when_a_rejected_movi_changes_the_itt(check: Any, scenario: Any) -> None:
    """MOVI to collection 1, which is not mapped: the architecture rejects it."""
    sc = scenario({"vcpu0": ["MOVI dev=0 ev=0 col=1"]}, setup=UNMAPPED_COL, **TWO_VCPUS)
    assert "command-error" in check("fault:movi_writes_unmapped", sc).violated
    assert "command-error" not in check("xen-4.10", sc).violated


def test_command_error_is_not_about_accepted_commands(check: Any, scenario: Any) -> None:
    """The same fault with collection 1 mapped: MOVI is accepted, its effect is allowed."""
    sc = scenario({"vcpu0": ["MOVI dev=0 ev=0 col=1"]}, setup=MOVED, **TWO_VCPUS)
    assert "command-error" not in check("fault:movi_writes_unmapped", sc).violated


def test_command_error_holds_for_xen_on_rejected_commands(check: Any, scenario: Any) -> None:
    """DISCARD and INT of an unmapped event, MAPTI on an unmapped device: rejected, nothing changes."""
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=1", "INT dev=0 ev=1", "MAPTI dev=1 ev=0 lpi=1 col=0"]},
                  setup=MAPPED2, devices=2, events=2, vlpis=2)
    assert "command-error" not in check("xen-4.10", sc).violated


MAPPED2 = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]


def test_delivery_target_on_kvm(check: Any, scenario: Any) -> None:
    """KVM: MOVI without update_affinity fails delivery-target; KVM's MOVI (and its migration of
    a pending LPI by vgic_prune_ap_list) passes, also with the LPI pending in vCPU0's LR."""
    sc = movi_scenario(scenario, pending=False)
    assert "delivery-target" in check("fault:kvm_movi_no_affinity", sc).violated
    assert "delivery-target" not in check("kvm", sc).violated
    assert "delivery-target" not in check("kvm", movi_scenario(scenario, pending=True)).violated
