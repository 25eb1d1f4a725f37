"""The verdict of Xen's merged design (``xen-4.10``) on every shipped scenario, pinned down.

Each test says why Xen 4.10 gets that verdict; docs/findings.md has the C-level analysis of
every violation. A change to the model that flips one of these is either a fix of a modelling
artefact (update the test and the findings) or a bug in the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsrace.hyp import scenario_names


def test_discard_vs_lpi_passes(check: Any) -> None:
    """Andre's race 1 is handled: an LPI that read the host entry before DISCARD cut it finds the
    vLPI gone from the radix tree (NULL: dropped) or reads the tombstone INVALID_VCPU_ID, and
    every later step looks the vLPI up again under the vgic lock DISCARD also takes."""
    r = check("xen-4.10", "discard-vs-lpi")
    assert r.verdict == "pass"
    assert r.stats.distinct_states > 1000  # the race is actually explored


def test_discard_mapti_in_lr_passes(check: Any) -> None:
    """Stefano's objection is answered by PRISTINE: the stale LR is cleared by gic_update_one_lr
    or reused by gic_find_unused_lr, so no second LR and no state folded into the new LPI."""
    assert check("xen-4.10", "discard-mapti-in-lr").verdict == "pass"


def test_unmap_device_in_lr_passes(check: Any) -> None:
    """LRs hold vINTIDs, not pointers: after MAPD V=0 the stale LR looks up to NULL (cleared) or
    to the new device's PRISTINE pending_irq; nothing touches the freed array."""
    assert check("xen-4.10", "unmap-device-in-lr").verdict == "pass"


def test_sync_vs_inject_fails_use_after_reinit_only(check: Any) -> None:
    """The LR clean-up itself is safe, but gicv3_do_LPI's unlocked read of lpi_vcpu_id through
    its first lookup's pointer (gic-v3-lpi.c:152) can see the pending_irq already re-initialised
    by DISCARD + MAPTI of the same event: real in 4.10 (the code's TODO says so), benign here."""
    r = check("xen-4.10", "sync-vs-inject")
    assert r.violated == {"use-after-reinit"}
    assert r.violations[0].trace.steps[-1].label.startswith("vgic_vcpu_inject_lpi")


def test_spurious_after_remove_fails_use_after_free_only(check: Any) -> None:
    """Julien's spurious LPI is dropped by the NULL checks, except when MAPD V=0 completes and
    frees pend_irqs between gicv3_do_LPI's lookup and its read of lpi_vcpu_id: real in 4.10."""
    r = check("xen-4.10", "spurious-after-remove")
    assert r.violated == {"use-after-free"}


def test_discard_mapti_other_vcpu_fails(check: Any) -> None:
    """PRISTINE protects only the vCPU the new LPI is first placed on: vCPU0's stale LR is later
    folded into the new pending_irq, which lives on vCPU1."""
    assert "lr-wrong-pending-irq" in check("xen-4.10", "discard-mapti-other-vcpu").violated


def test_mapti_vs_lpi_same_cpu_deadlocks(check: Any) -> None:
    """MAPTI holds the radix-tree write lock with interrupts on; the LPI handler on the same
    pCPU spins on the read lock forever."""
    assert check("xen-4.10", "mapti-vs-lpi-same-cpu").violated == {"deadlock"}


def test_movi_then_discard_breaks_list_locking(check: Any) -> None:
    """After MOVI the ITTE names the new vCPU while the pending LPI is queued on the old one:
    DISCARD unlinks it under the wrong lock, racing with the old vCPU and the injection."""
    assert "list-lock" in check("xen-4.10", "movi-then-discard").violated


def test_unmap_unmapped_collection_frees_referenced_memory(check: Any) -> None:
    """its_unmap_device ignores failing discards (unmapped collection): pend_irqs is freed while
    the vLPI is still in the radix tree."""
    assert check("xen-4.10", "unmap-unmapped-collection").violated == {"free-while-referenced"}


@pytest.mark.slow
def test_guest_universe_finds_the_known_violations(check: Any) -> None:
    """Any two commands from the universe: the unscripted search finds use-after-free,
    use-after-reinit and free-while-referenced (the last via MAPC V=0 then MAPD V=0)."""
    r = check("xen-4.10", "guest")
    assert {"use-after-free", "use-after-reinit", "free-while-referenced"} <= r.violated


@pytest.mark.slow
def test_guest_wide_finds_f3_f4_f5(check: Any) -> None:
    """Two vCPUs, one on pCPU0, MOVI/INVALL/MAPC re-target, up to three commands: the search
    finds F5's self-deadlock (MAPTI's write lock vs the LPI handler on pCPU0), F4 through MAPC
    re-targeting (DISCARD locks the new vCPU, the LPI is on the old one's lists) and F3 through
    MOVI (the stale LR sits on the vCPU the LPI moved away from)."""
    assert check("xen-4.10", "guest-wide").violated == {"deadlock", "list-lock", "lr-wrong-pending-irq"}


@pytest.mark.slow
def test_guest_2vcpu_finds_f1_f2_f4_f6_and_the_remap_case(check: Any) -> None:
    """The guest universe with a second vCPU and three commands: F1, F2, F6, F4 through MAPC
    re-targeting (list-lock, null-deref, spurious-delivery, lr-agrees) and msi-delivered after
    MAPD V=0 / MAPD V=1 with the same ITT (UNPREDICTABLE for the guest: docs/findings.md F8)."""
    assert check("xen-4.10", "guest-2vcpu").violated == {
        "free-while-referenced", "list-lock", "lr-agrees", "msi-delivered", "null-deref", "spurious-delivery",
        "use-after-free", "use-after-reinit"}


def test_nested_lpi_handler_deadlocks_behind_a_queued_writer(check: Any) -> None:
    """F7: the handler on pCPU0 is preempted by a second LPI inside vgic_v3_lpi_to_pending's read
    section (4.10 unmasks interrupts before do_LPI); DISCARD on pCPU1 queues for the write lock;
    the nested handler's read_lock waits behind the queued writer (common/rwlock.c), the writer
    for the preempted reader. Both mechanisms are needed: without nesting, or with 4.13's masked
    handlers, it passes."""
    assert check("xen-4.10", "nested-lpi-vs-discard").violated == {"deadlock"}
    assert check("masked-lpi-handlers", "nested-lpi-vs-discard").verdict == "pass"
    import tomllib

    import itsrace.hyp
    from itsrace.hyp.scenario import scenario_from_dict

    data = tomllib.loads((Path(itsrace.hyp.__file__).parent / "scenarios" / "nested-lpi-vs-discard.toml").read_text())
    data["topology"]["lpi_nesting"] = 1
    assert check("xen-4.10", scenario_from_dict(data, "<flat>")).verdict == "pass"


def test_clear_after_a_remap_with_the_same_itt_dereferences_null_list_heads(check: Any) -> None:
    """F8: its_unmap_device leaves the guest's ITT as it was, MAPD V=1 allocates a zeroed
    pend_irqs (list heads NULL), and CLEAR (no INVALID_LPI check) unqueues the never-initialised
    pending_irq of the stale ITTE."""
    r = check("xen-4.10", "remap-stale-itt")
    assert r.violated == {"null-deref"}
    assert r.violations[0].trace.steps[-1].label.startswith("gic_remove_irq_from_queues")


def test_clear_of_a_zeroed_itte_dereferences_null_list_heads(check: Any) -> None:
    """F8's second path: Dom0 zeroes an ITTE in its memory (vLPI 0, collection 0, which is
    mapped); Xen re-reads it, and CLEAR (no INVALID_LPI check) unqueues a pending_irq that no
    MAPTI initialised. Without the rewrite the event is unmapped and CLEAR fails cleanly."""
    import tomllib

    import itsrace.hyp
    from itsrace.hyp.scenario import scenario_from_dict

    r = check("xen-4.10", "dom0-zeroed-itte-clear")
    assert r.violated == {"null-deref"}
    assert r.violations[0].trace.steps[0].label.startswith("dom0_writes_table")
    data = tomllib.loads((Path(itsrace.hyp.__file__).parent / "scenarios" / "dom0-zeroed-itte-clear.toml").read_text())
    del data["guest"]["rewrites"]
    assert check("xen-4.10", scenario_from_dict(data, "<no rewrite>")).verdict == "pass"


def test_every_shipped_scenario_has_a_pinned_verdict() -> None:
    pinned = {"discard-vs-lpi", "discard-mapti-in-lr", "unmap-device-in-lr", "sync-vs-inject",
              "spurious-after-remove", "discard-mapti-other-vcpu", "mapti-vs-lpi-same-cpu", "movi-then-discard",
              "unmap-unmapped-collection", "guest", "guest-wide", "guest-2vcpu", "nested-lpi-vs-discard",
              "remap-stale-itt", "dom0-zeroed-itte-clear",
              # issue 10 phase 2 (tests/hyp/test_guest_regs.py)
              "discard-vs-enable-lpis", "its-disable-vs-enable-lpis", "its-disable-vs-discard", "enable-lpis-vs-msi"}
    assert set(scenario_names()) == pinned
