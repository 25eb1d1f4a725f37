"""The ``kvm`` base model: it builds on every shipped scenario, its verdicts are pinned with the
reason each holds, and the mechanisms behind them are each removed by a test-only fault design
(``faults/``) to show that the verdict depends on them and that the property can fail."""

from __future__ import annotations

from typing import Any

import pytest

from itsrace.catalog import BASES, DESIGNS
from itsrace.hyp import build_model
from itsrace.hyp.design import BaseModel
from itsrace.hyp.scenario import load_scenario, scenario_names
from itsrace.kvm import KVM
from itsrace.kvm.state import LOCK_ORDER

# Why kvm passes each shipped scenario (``guest``: the slow test below).
WHY_IT_PASSES = {
    "discard-vs-lpi": "the fast path's try-get reference keeps the object alive across DISCARD's puts",
    "discard-mapti-in-lr": "MAPTI's vgic_add_lpi shares the object the ap_list still holds; one LR, one object",
    "unmap-device-in-lr": "MAPD V=0 puts only the ITE's and the cache's references; the ap_list keeps the object",
    "sync-vs-inject": "DISCARD; MAPTI of the same event re-uses the live object; the LR folds into it",
    "spurious-after-remove": "an MSI after MAPD V=0 misses the (invalidated) cache and fails to resolve",
    "discard-mapti-other-vcpu": "the shared object moves to vCPU1 only via prune's locked migration",
    "mapti-vs-lpi-same-cpu": "lookups are RCU, MSIs come from a thread: no lock is taken in interrupt context",
    "movi-then-discard": "MOVI changes only target_vcpu; prune migrates the queued LPI under both ap_list locks",
    "unmap-unmapped-collection": "MAPC V=0 clears the ITEs' collection; MAPD V=0 frees every ITE regardless",
    "nested-lpi-vs-discard": "MSIs come from a thread and lookups are RCU: no nested handler, no reader behind a writer",
    "remap-stale-itt": "MAPD V=0 frees every ITE (and the remap starts empty): CLEAR finds no ITE",
    "dom0-zeroed-itte-clear": "ITEs live in kernel lists, not guest memory: the rewrite changes nothing KVM reads",
    "its-disable-vs-discard": "the GITS_CTLR write and the commands both hold cmd_lock; a DISCARD queued while "
                              "the ITS is disabled runs when it is enabled again",
    "enable-lpis-vs-msi": "the MSI slow path re-checks EnableLPIs under its_lock; a translation cached meanwhile "
                          "holds its own reference",
}

# Why kvm fails these (docs/findings.md section 7, K1): two translation-cache walks without a common
# lock load the same entry and both put its one reference.
WHY_IT_FAILS = {
    "discard-vs-enable-lpis": ({"double-free", "free-while-referenced", "use-after-free"},
                               "K1: EnableLPIs cleared (no ITS lock) vs DISCARD (its_lock)"),
    "its-disable-vs-enable-lpis": ({"free-while-referenced"},
                                   "K1: GITS_CTLR disabled (cmd_lock) vs EnableLPIs cleared (no ITS lock)"),
}
UNIVERSES = {"guest", "guest-wide", "guest-2vcpu"}  # guest pinned below; the two wider ones are Xen's (docs/findings.md)


def test_kvm_is_a_base_model_in_the_catalog() -> None:
    assert BASES["kvm"] is KVM and DESIGNS["kvm"] is KVM and isinstance(KVM, BaseModel)


def test_every_shipped_scenario_has_a_pinned_reason() -> None:
    assert set(WHY_IT_PASSES) | set(WHY_IT_FAILS) | UNIVERSES == set(scenario_names())


@pytest.mark.parametrize("name", scenario_names())
def test_the_model_builds_on_every_shipped_scenario(name: str) -> None:
    m = build_model(KVM, load_scenario(name))
    assert m.meta["base"] == "kvm"


def test_lock_order_is_vgic_c_header_comment() -> None:
    """cmd_lock -> its_lock -> lpi_xa.xa_lock -> ap_list_lock (vcpu_id order) -> irq_lock."""
    assert LOCK_ORDER == ["cmd_lock", "its_lock", "xa_lock", "ap_list_lock0", "ap_list_lock1", "irq_lock"]


# delivery-target (docs/findings.md, New properties): vgic_add_lpi returns the live vgic_irq
# without setting target_vcpu, so after DISCARD + MAPTI to vCPU1's collection the MSI is
# delivered on vCPU0. Real KVM behaviour, not a lifetime problem.
KNOWN = {"discard-mapti-other-vcpu": {"delivery-target"}}


@pytest.mark.parametrize("name", sorted(WHY_IT_PASSES))
def test_kvm_passes(check: Any, name: str) -> None:
    r = check("kvm", name)
    assert set(r.violated) == KNOWN.get(name, set()), (name, WHY_IT_PASSES[name], sorted(r.violated))


@pytest.mark.parametrize("name", sorted(WHY_IT_FAILS))
def test_kvm_fails(check: Any, name: str) -> None:
    violated, why = WHY_IT_FAILS[name]
    r = check("kvm", name)
    assert set(r.violated) == violated, (name, why, sorted(r.violated))


@pytest.mark.slow
def test_kvm_on_the_guest_universe(check: Any) -> None:
    """Every order of up to two universe commands, MSIs and exits (about 4.5 million states)."""
    r = check("kvm", "guest")
    assert sorted(r.violated) == GUEST_VIOLATED, GUEST_REASON


# K0 (docs/findings.md, section 7): MAPD V=1 on a mapped device frees its ITEs (its.c:1176-1184),
# so an MSI for an event the guest never unmapped is dropped. KVM's choice, not a race.
GUEST_VIOLATED = ["lockset", "msi-delivered"]
GUEST_REASON = "K0: MAPD remap drops the device's ITEs; lockset: CLEAR writes pending_latch without irq_lock"


# -- each mechanism removed by a test-only fault: the property it protects fails ---------------------
FAULTS = [
    ("cache_without_ref", "discard-vs-lpi", {"use-after-free", "double-free", "free-while-referenced"},
     "a cache entry without its reference: invalidation puts a reference the cache never took"),
    ("put_without_xa_lock", "test:remap-while-injecting", {"double-free"},
     "the last put outside lpi_xa's lock: vgic_add_lpi evicts and frees the object, then the put frees it again"),
    ("prune_put_locked", "discard-vs-lpi", {"lock-order"},
     "vgic_put_irq under ap_list_lock takes lpi_xa's lock, which comes first"),
    ("no_deferred_release", "discard-vs-lpi", {"leak"},
     "a count-0 object left in lpi_xa by the deferred put is never freed"),
    ("ctlr_no_process", "its-disable-vs-discard", {"queue-consumed"},
     "enabling the ITS without running the commands queued while it was disabled strands them"),
]


@pytest.mark.parametrize("fault, scenario, violated, why", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_fails_its_property(check: Any, fault: str, scenario: str, violated: set[str], why: str) -> None:
    assert check("kvm", scenario).verdict == "pass"
    r = check(f"fault:{fault}", scenario)
    assert r.verdict == "fail" and set(r.violated) == violated, (why, sorted(r.violated))


def test_every_procedure_and_process_is_in_the_model_map() -> None:
    """docs/kvm-model-map.md maps every step; at least every function that has steps is there."""
    from pathlib import Path

    from itsrace.hyp.design import resolve

    text = (Path(__file__).resolve().parents[2] / "docs" / "kvm-model-map.md").read_text()
    r = resolve(KVM)
    missing = [name for name, (_fn, info) in r.functions.items()
               if info["kind"] in ("procedure", "process") and f"`{name}`" not in text]
    assert missing == []


@pytest.mark.slow
@pytest.mark.parametrize("design", ["kvm", "xen-4.10"])
def test_movall_while_the_lpi_is_in_an_lr(check: Any, design: str) -> None:
    """MOVALL (test scenario): KVM retargets every LPI and prune migrates the queued one under both
    ap_list locks; Xen 4.10 ignores the command. Both are memory-safe and deliver the MSI."""
    r = check(design, "test:movall-vs-msi")
    assert r.verdict == "pass", sorted(r.violated)
