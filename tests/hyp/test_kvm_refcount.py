"""The ``kvm-refcount`` design: KVM's reference-counted ``vgic_irq`` in Xen's code structure.

Facts from ``shared/domain/kvm-vgic-its-design.md`` ("KVM doc §N"). Each verdict is
pinned with the reason it holds, and the two mechanisms that make it hold are each removed by a
test-only fault design on top of it (``faults/kvm_*.py``) to show the verdict depends on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import DESIGNS, get_design
from itsrace.cli.main import main
from itsrace.engine import Trace
from itsrace.hyp.design import Design
from itsrace.hyp.scenario import scenario_names

# Every shipped scenario but ``guest`` (25-50 s, below as a slow test): why kvm-refcount passes.
WHY_IT_PASSES = {
    "discard-vs-lpi": "lookup #1 takes a reference; DISCARD's put leaves the object to the handler",
    "discard-mapti-in-lr": "MAPTI of a vINTID whose object is still in an LR shares that object (vgic_add_lpi)",
    "unmap-device-in-lr": "MAPD V=0 puts the ITE's reference; the LR's list reference keeps the object",
    "sync-vs-inject": "no re-initialisation while referenced: the handler's pointer keeps its identity",
    "spurious-after-remove": "the handler's try-get reference outlives MAPD V=0 (Xen's F1 use-after-free)",
    "discard-mapti-other-vcpu": "no PRISTINE to consume; the shared object keeps its LR state (Xen's F3)",
    "mapti-vs-lpi-same-cpu": "lookups are RCU, the index lock is IRQ-safe: no self-deadlock (Xen's F5)",
    "movi-then-discard": "DISCARD puts a reference and touches no list (Xen's F4 list-lock)",
    "unmap-unmapped-collection": "MAPD V=0 frees every ITE whatever its collection (Xen's F6)",
    "nested-lpi-vs-discard": "DISCARD puts a reference and never write-locks the tree: nothing queues behind a handler",
    "remap-stale-itt": "CLEAR finds ite->irq through the vINTID's index entry, gone since MAPD V=0: nothing unqueued",
    "dom0-zeroed-itte-clear": "CLEAR finds ite->irq through the vINTID's index entry: vLPI 0 has none, nothing unqueued",
    # issue 10 phase 2: guest register writes, interpreted from Xen's C (itsrace.xen.guest_regs)
    "discard-vs-enable-lpis": "Xen 4.10 ignores a write that clears EnableLPIs",
    "its-disable-vs-enable-lpis": "disabling the vITS frees nothing; EnableLPIs cannot be cleared",
    "enable-lpis-vs-msi": "EnableLPIs cannot be cleared; the MSIs are delivered as usual",
}
BIG = {"guest", "guest-wide", "guest-2vcpu"}  # the universes: checked under --runslow
# Xen's code structure, so Xen 4.10's verdict: enabling the vITS does not run the commands queued
# while it was disabled (vgic-v3-its.c:1248-1270); a guest waiting for CREADR is stuck.
WHY_IT_FAILS = {"its-disable-vs-discard": {"queue-consumed"}}


def test_every_named_scenario_has_a_pinned_reason() -> None:
    assert set(WHY_IT_PASSES) | set(WHY_IT_FAILS) | BIG == set(scenario_names())


@pytest.mark.parametrize("name", sorted(WHY_IT_FAILS))
def test_kvm_refcount_keeps_xens_queue_behaviour(check: Any, name: str) -> None:
    assert check("kvm-refcount", name).violated == WHY_IT_FAILS[name]


def test_the_design_is_shipped_and_changes_the_lifetime_paths() -> None:
    d = DESIGNS["kvm-refcount"]
    assert isinstance(d, Design) and d.base_name == "xen-4.10"
    assert {"its_discard_event", "its_handle_mapti", "vgic_vcpu_inject_lpi", "gic_update_one_lr"} <= set(d.overrides)
    assert {"its_free_ite", "vgic_get_lpi", "vgic_put_lpi"} <= set(d.added)
    assert [v.name for v in d.vars] == ["p_ref"]


# delivery-target is not about lifetimes: the design keeps an LPI on the old vCPU's lists (its
# documented simplification "no ap_list migration", docs/hyp-model.md), so a trigger that comes
# after MAPTI shared the object with another collection's vCPU is re-raised on the old one; on
# guest, Xen's MAPC V=0 leaves lpi_vcpu_id alone as in xen-4.10 (docs/findings.md, New properties)
NOT_LIFETIME = {"discard-mapti-other-vcpu": {"delivery-target"}, "guest": {"delivery-target"}}


@pytest.mark.parametrize("name", sorted(WHY_IT_PASSES))
def test_kvm_refcount_passes(check: Any, name: str) -> None:
    r = check("kvm-refcount", name)
    assert set(r.violated) == NOT_LIFETIME.get(name, set()), (name, WHY_IT_PASSES[name], sorted(r.violated))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["guest", "guest-wide"])
def test_kvm_refcount_keeps_every_object_alive_in_the_guest_universes(check: Any, name: str) -> None:
    """Every order of up to the universe's commands, MSIs and exits (millions of states): no
    lifetime property fails; Xen's MAPC path still delivers on a stale target (delivery-target).
    guest-2vcpu is not among them: its MAPC re-targets a collection with a pending LPI, and this
    stand-in keeps Xen's MAPC and per-vCPU locks (no update_affinity, no ap_list migration), so it
    fails there as Xen does (docs/findings.md, wider exploration); the pinned matrix has it."""
    assert set(check("kvm-refcount", name).violated) <= {"delivery-target"}


def test_the_reference_must_be_taken_inside_the_lookup(check: Any) -> None:
    """KVM doc §8: "take the reference inside the critical section that makes the lookup safe.
    Never after." Xen 4.10 takes none (F1); taking it one step late reopens the same window."""
    assert "use-after-free" in check("xen-4.10", "spurious-after-remove").violated
    assert check("kvm-refcount", "spurious-after-remove").verdict == "pass"
    assert "use-after-free" in check("fault:kvm_late_get", "spurious-after-remove").violated


def test_the_list_reference_keeps_a_discarded_lpi_alive(check: Any) -> None:
    """KVM doc §5: DISCARD puts only the ITE's reference; the ap_list one keeps the object until
    the vCPU's exit syncs the LR. Without it, the object is freed while in the LR, MAPTI builds a
    new one for the vINTID and the stale LR is taken for it: Stefano's objection, reappearing."""
    assert check("kvm-refcount", "discard-mapti-in-lr").verdict == "pass"
    violated = check("fault:kvm_no_list_ref", "discard-mapti-in-lr").violated
    assert {"duplicate-lr", "lr-wrong-pending-irq"} <= violated


def test_a_pending_lpi_survives_discard_and_is_still_delivered(check: Any, scenario: Any) -> None:
    """KVM doc §5: pending state is not cleared by DISCARD, so the LPI can be presented once more.
    The guest acknowledges it after its DISCARD completed: allowed (``pending-at-discard``), and
    the object is freed afterwards (``device-cleaned-up`` after a MAPD V=0)."""
    setup = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0", "LR vcpu=0 lpi=0 state=pending"]
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=0", "MAPD dev=0 valid=0"]}, setup=setup, exits=1)
    assert check("kvm-refcount", sc).verdict == "pass"


def test_other_designs_do_not_count_references() -> None:
    """Only kvm-refcount (and what builds on it) adds the reference count."""
    for name, d in DESIGNS.items():
        chain = d.chain()
        has_ref = any(isinstance(x, Design) and any(v.name == "p_ref" for v in x.vars) for x in chain)
        assert has_ref == any(x.name == "kvm-refcount" for x in chain), name


def test_a_user_design_file_can_build_on_it(tmp_path: Path, check: Any) -> None:
    f = tmp_path / "kvm_variant.py"
    f.write_text("from itsrace.hyp.design import Design\nDESIGN = Design('kvm-variant', base='kvm-refcount')\n")
    d = get_design(str(f))
    assert isinstance(d, Design) and d.parent is DESIGNS["kvm-refcount"]
    assert check(str(f), "spurious-after-remove").verdict == "pass"


def test_a_kvm_counterexample_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``check --design FAULT.py --trace-out`` then ``replay``: the trace names the design file,
    which replay runs only when the user names it too; on kvm-refcount itself it no longer fails."""
    fault = str(Path(__file__).parent / "faults" / "kvm_late_get.py")
    path = tmp_path / "late.json"
    assert main(["check", "--design", fault, "--scenario", "spurious-after-remove", "--trace-out", str(path)]) == 1
    assert Trace.load(str(path)).params["design"] == fault
    capsys.readouterr()
    assert main(["replay", "-q", str(path)]) == 2  # a file named inside a trace is never run by itself
    assert "--set design=" in capsys.readouterr().err
    assert main(["replay", "-q", str(path), "--set", f"design={fault}"]) == 0
    assert "check 'use-after-free' fails" in capsys.readouterr().out
    assert main(["replay", "-q", str(path), "--set", "design=kvm-refcount"]) == 1
