"""Every property can fail: each is shown violated on a deliberately broken variant (a fault
design in ``faults/`` or a design the thread rejected) or on a real Xen 4.10 race, and the same
scenario passes where the guard is in place (so the failure is the guard's doing)."""

from __future__ import annotations

from typing import Any

import test_new_properties as _new_properties

MAPPED = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]
LR0 = [*MAPPED, "LR vcpu=0 lpi=0"]


def test_use_after_free_real_xen(check: Any) -> None:
    """gicv3_do_LPI reads p->lpi_vcpu_id through its lookup-#1 pointer after MAPD V=0 freed
    pend_irqs (gic-v3-lpi.c:146-152): a real 4.10 race (docs/findings.md)."""
    r = check("xen-4.10", "spurious-after-remove")
    assert "use-after-free" in r.violated
    assert r.violations[0].trace.steps[-1].note == "check failed: use-after-free"


def test_free_while_referenced_early_free_mutation(check: Any, scenario: Any) -> None:
    """Freeing pend_irqs before discarding the events frees them while the radix tree points in."""
    sc = scenario({"vcpu0": ["MAPD dev=0 valid=0"]})
    assert check("xen-4.10", sc).verdict == "pass"
    assert check("fault:early_free", sc).violated == {"free-while-referenced"}


def test_use_after_reinit_real_xen(check: Any) -> None:
    """The lookup-#1 pointer is read after DISCARD + MAPTI of the same event re-initialised it."""
    assert "use-after-reinit" in check("xen-4.10", "sync-vs-inject").violated


def test_null_deref_without_inject_null_check(check: Any, scenario: Any) -> None:
    """Without vgic_vcpu_inject_irq's NULL check an LPI racing with DISCARD dereferences NULL."""
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=0"]}, msis=["dev=0 ev=0"])
    assert check("xen-4.10", sc).verdict == "pass"
    assert "null-deref" in check("fault:no_inject_null_check", sc).violated


def test_double_free_when_the_device_stays_in_the_rbtree(check: Any, scenario: Any) -> None:
    """If MAPD V=0 left the device in the rbtree, a second MAPD V=0 would free it again."""
    sc = scenario({"vcpu0": ["MAPD dev=0 valid=0", "MAPD dev=0 valid=0"]})
    assert check("xen-4.10", sc).verdict == "pass"
    assert "double-free" in check("fault:skip_rb_erase", sc).violated


def test_xen_bug_before_xsa_223(check: Any, scenario: Any) -> None:
    """A disabled, inflight LPI has p->lr == GIC_INVALID_LR; before XSA-223 a re-trigger made
    gic_raise_inflight_irq call gic_update_one_lr with it (BUG() in gicv3_ich_read_lr)."""
    sc = scenario({"vcpu0": ["PROP lpi=0 enable=0", "INV dev=0 ev=0", "INT dev=0 ev=0; INT dev=0 ev=0"]}, setup=LR0)
    assert check("xen-4.10", sc).verdict == "pass"
    assert check("fault:no_xsa_223", sc).violated == {"xen-bug"}


def test_duplicate_lr_and_wrong_pending_irq_without_pristine(check: Any) -> None:
    """Option III ("check for NULL" only): the new pending_irq of a re-used vLPI takes a second
    LR, and the stale LR's state is folded into it (Stefano's objection)."""
    assert check("xen-4.10", "discard-mapti-in-lr").verdict == "pass"
    violated = check("null-check", "discard-mapti-in-lr").violated
    assert {"duplicate-lr", "lr-wrong-pending-irq"} <= violated


def test_lr_wrong_pending_irq_real_xen_cross_vcpu(check: Any) -> None:
    """PRISTINE is consumed on the vCPU the new LPI is first placed on; the other vCPU's stale
    LR is then folded into the new pending_irq (docs/findings.md)."""
    assert "lr-wrong-pending-irq" in check("xen-4.10", "discard-mapti-other-vcpu").violated


def test_lr_agrees_fails_when_visible_is_not_cleared(check: Any, scenario: Any) -> None:
    sc = scenario({"vcpu0": ["PROP lpi=0 enable=0", "INV dev=0 ev=0", "INT dev=0 ev=0; INT dev=0 ev=0"]}, setup=LR0)
    assert check("fault:keep_visible", sc).violated == {"lr-agrees"}


def test_list_lock_under_the_wrong_vcpu_lock(check: Any, scenario: Any) -> None:
    """CLEAR unlinking a pending_irq queued on vCPU1 while holding vCPU0's lock."""
    sc = scenario({"vcpu0": ["CLEAR dev=0 ev=0"]}, setup=["MAPD dev=0", "MAPC col=0 vcpu=1",
                  "MAPTI dev=0 ev=0 lpi=0 col=0"], msis=["dev=0 ev=0"], vcpus=2, vcpu_pcpus=[1, 2])
    assert check("xen-4.10", sc).verdict == "pass"
    assert "list-lock" in check("fault:unlocked_list", sc).violated


def test_list_lock_real_xen_after_movi(check: Any) -> None:
    assert "list-lock" in check("xen-4.10", "movi-then-discard").violated


def test_spurious_delivery_when_the_host_entry_survives_discard(check: Any, scenario: Any) -> None:
    """If DISCARD left the host LPI entry, event 0's later MSI reaches the vLPI now mapped to
    event 1: delivered with no trigger that translated to it."""
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=0; MAPTI dev=0 ev=1 lpi=0 col=0"]}, msis=["dev=0 ev=0"],
                  events=2, lrs=1)
    assert check("xen-4.10", sc).verdict == "pass"
    assert "spurious-delivery" in check("fault:forget_host_entry", sc).violated


def test_msi_delivered_fails_when_a_retrigger_is_dropped(check: Any, scenario: Any) -> None:
    """An MSI arriving while the vLPI is active must be re-raised after the EOI."""
    sc = scenario(setup=LR0, msis=["dev=0 ev=0"])
    assert check("xen-4.10", sc).verdict == "pass"
    assert check("fault:drop_requeue", sc).violated == {"msi-delivered"}


def test_msi_delivered_fails_for_the_unmapped_tag_proposal(check: Any) -> None:
    """Andre's tag keeps the discarded vLPI in the radix tree while it is in an LR, so MAPTI of
    another event to it fails with -EEXIST, silently: that event's MSI is never delivered."""
    assert "msi-delivered" in check("unmapped-tag", "discard-mapti-in-lr").violated


def test_free_while_referenced_real_xen(check: Any) -> None:
    """MAPC V=0 first makes its_discard_event fail, so MAPD V=0 frees pend_irqs while the vLPI is
    still in the radix tree (docs/findings.md)."""
    r = check("xen-4.10", "unmap-unmapped-collection")
    assert "free-while-referenced" in r.violated


def test_device_cleaned_up_fails_when_the_device_stays_in_the_rbtree(check: Any, scenario: Any) -> None:
    """MAPD V=0 that frees the arrays but leaves the its_device in the rbtree leaves something."""
    sc = scenario({"vcpu0": ["MAPD dev=0 valid=0"]})
    assert check("xen-4.10", sc).verdict == "pass"
    assert check("fault:skip_rb_erase", sc).violated == {"device-cleaned-up"}


def test_queue_consumed_fails_when_a_failing_command_stalls_the_queue(check: Any, scenario: Any) -> None:
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=0", "DISCARD dev=0 ev=0", "SYNC"]})
    assert check("xen-4.10", sc).verdict == "pass"
    assert check("fault:stall_on_error", sc).violated == {"queue-consumed"}


def test_deadlock_real_xen_mapti_on_pcpu0(check: Any) -> None:
    """A host LPI interrupts MAPTI on pCPU0 inside the radix-tree write lock and spins on it."""
    r = check("xen-4.10", "mapti-vs-lpi-same-cpu")
    assert r.violated == {"deadlock"}


def test_deadlock_disappears_when_the_vcpu_runs_elsewhere(check: Any, scenario: Any) -> None:
    sc = scenario({"vcpu0": ["MAPTI dev=0 ev=1 lpi=1 col=0"]}, msis=["dev=0 ev=0"], events=2, vlpis=2)
    assert check("xen-4.10", sc).verdict == "pass"


def test_lock_order(check: Any, scenario: Any) -> None:
    """Invalidating the host entry (its_devices_lock) while still holding the vgic lock."""
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=0"]})
    assert check("xen-4.10", sc).verdict == "pass"
    assert check("fault:lock_order_inverted", sc).violated == {"lock-order"}


def test_leak_kvm_before_the_2026_release_fix(check: Any) -> None:
    """KVM before the CVE-2026-74568 fix: vgic_put_irq's final decrement outside lpi_xa's lock lets
    DISCARD; MAPTI replace an object that is then never freed (docs/findings.md section 7)."""
    assert check("kvm", "sync-vs-inject").verdict == "pass"
    assert check("kvm-cve-2026-74568", "sync-vs-inject").violated == {"leak"}


# property -> the test above that shows it failing
COVERED = {
    "use-after-free": test_use_after_free_real_xen,
    "use-after-reinit": test_use_after_reinit_real_xen,
    "null-deref": test_null_deref_without_inject_null_check,
    "double-free": test_double_free_when_the_device_stays_in_the_rbtree,
    "xen-bug": test_xen_bug_before_xsa_223,
    "duplicate-lr": test_duplicate_lr_and_wrong_pending_irq_without_pristine,
    "lr-wrong-pending-irq": test_lr_wrong_pending_irq_real_xen_cross_vcpu,
    "lr-agrees": test_lr_agrees_fails_when_visible_is_not_cleared,
    "list-lock": test_list_lock_under_the_wrong_vcpu_lock,
    "spurious-delivery": test_spurious_delivery_when_the_host_entry_survives_discard,
    "msi-delivered": test_msi_delivered_fails_when_a_retrigger_is_dropped,
    "device-cleaned-up": test_device_cleaned_up_fails_when_the_device_stays_in_the_rbtree,
    "free-while-referenced": test_free_while_referenced_real_xen,
    "queue-consumed": test_queue_consumed_fails_when_a_failing_command_stalls_the_queue,
    "deadlock": test_deadlock_real_xen_mapti_on_pcpu0,
    "lock-order": test_lock_order,
    "delivery-target": _new_properties.test_delivery_target_fails_when_movi_does_not_retarget,
    "leak": test_leak_kvm_before_the_2026_release_fix,
    "lockset": _new_properties.test_lockset_fails_when_movi_skips_the_vgic_lock,
    "command-error": _new_properties.test_command_error_fails_when_a_rejected_movi_changes_the_itt,
}


def test_every_property_is_shown_failing() -> None:
    """Guard: each catalogued property (but the engine's lock-discipline hygiene check) has a
    test above that makes it fail."""
    from itsrace.hyp.properties import PROPERTIES

    assert set(COVERED) == set(PROPERTIES) - {"lock-discipline"}
