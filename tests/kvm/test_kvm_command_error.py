"""``command-error`` on the KVM model (docs/hyp-model.md): a command the architecture rejects
changes nothing the guest can see. The fault ``movi_writes_unmapped`` (MOVI repoints the ITE
before checking the collections) fails it; ``kvm`` passes on rejected commands of every kind the
check covers."""

from __future__ import annotations

from typing import Any

from itsrace.hyp.scenario import Scenario, scenario_from_dict

TWO_VCPUS = {"vcpus": 2, "vcpu_pcpus": [1, 2], "collections": 2}
ONE_COL = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]
TWO_COLS = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPC col=1 vcpu=1", "MAPTI dev=0 ev=0 lpi=0 col=0"]


def scenario(guest: dict[str, list[str]], setup: list[str], msis: list[str] | None = None,
             **topology: Any) -> Scenario:
    topo = {"vcpus": 1, "vcpu_pcpus": [1], **topology}
    return scenario_from_dict({"name": "test", "topology": topo, "setup": {"steps": setup}, "guest": guest,
                               "devices": {"msis": msis or []}, "bounds": {"exits": 0}}, "<test>")


def test_a_rejected_movi_that_repoints_the_ite_fails(check: Any) -> None:
    """MOVI to collection 1, which is not mapped (MOVI_UNMAPPED_COLLECTION): the fault leaves the
    ITE in collection 1; KVM checks first and changes nothing."""
    sc = scenario({"vcpu0": ["MOVI dev=0 ev=0 col=1"]}, ONE_COL, **TWO_VCPUS)
    r = check("fault:movi_writes_unmapped", sc)
    assert "command-error" in r.violated, sorted(r.violated)
    assert "command-error" not in check("kvm", sc).violated


def test_an_accepted_movi_is_not_checked(check: Any) -> None:
    """The same fault with collection 1 mapped: MOVI is accepted, its effect is allowed."""
    sc = scenario({"vcpu0": ["MOVI dev=0 ev=0 col=1"]}, TWO_COLS, msis=["dev=0 ev=0"], **TWO_VCPUS)
    r = check("fault:movi_writes_unmapped", sc)
    assert "command-error" not in r.violated, sorted(r.violated)


def test_kvm_changes_nothing_on_rejected_commands(check: Any) -> None:
    """DISCARD, INT, CLEAR, INV, MOVI of an event with no ITE, MAPTI on an unmapped device,
    INVALL of an unmapped collection, with an MSI of the mapped event in flight: all rejected,
    nothing the guest sees changes."""
    sc = scenario({"vcpu0": ["DISCARD dev=0 ev=1", "INT dev=0 ev=1", "CLEAR dev=0 ev=1", "INV dev=0 ev=1",
                             "MOVI dev=0 ev=1 col=0", "MAPTI dev=1 ev=0 lpi=1 col=0", "INVALL col=1"]},
                  ONE_COL, msis=["dev=0 ev=0"], devices=2, events=2, vlpis=2, collections=2)
    r = check("kvm", sc)
    assert r.verdict == "pass", sorted(r.violated)
