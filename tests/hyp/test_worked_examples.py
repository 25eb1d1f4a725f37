"""The worked examples of docs/designs.md: two reviewers' patches and the fixes of
docs/findings.md, each a design on xen-4.10, each with the verdict the docs give it.

A fix must remove the violation of its finding and add none anywhere: on every shipped scenario
(but the big ones, run with --runslow) its violated properties are a subset of xen-4.10's.
"""

from __future__ import annotations

from typing import Any

import pytest

from itsrace.hyp import scenario_names

FIXES = {
    # design: (scenario of the finding, the property it no longer violates)
    "inject-read-locked": [("spurious-after-remove", "use-after-free"), ("sync-vs-inject", "use-after-reinit")],
    "mapti-irqsave": [("mapti-vs-lpi-same-cpu", "deadlock")],
    "discard-unmapped-collection": [("unmap-unmapped-collection", "free-while-referenced")],
    "masked-lpi-handlers": [("nested-lpi-vs-discard", "deadlock")],
    "clear-invalid-lpi": [("remap-stale-itt", "null-deref"), ("dom0-zeroed-itte-clear", "null-deref")],
}
BIG = {"guest", "discard-mapti-other-vcpu", "guest-wide", "guest-2vcpu"}


@pytest.mark.parametrize("design, scenario, prop", [(d, s, p) for d, cases in FIXES.items() for s, p in cases])
def test_a_fix_removes_its_finding(check: Any, design: str, scenario: str, prop: str) -> None:
    assert prop in check("xen-4.10", scenario).violated
    assert check(design, scenario).verdict == "pass"


@pytest.mark.parametrize("design, scenario", [
    pytest.param(d, s, marks=[pytest.mark.slow] if s in BIG else []) for d in FIXES for s in scenario_names()])
def test_a_fix_adds_no_violation(check: Any, design: str, scenario: str) -> None:
    assert check(design, scenario).violated <= check("xen-4.10", scenario).violated


def test_reviewer_patch_discard_lock_leaves_movi_broken(check: Any) -> None:
    """DISCARD under p->lpi_vcpu_id's lock: after MOVI that is the *new* vCPU, while a pending
    LPI is still on the old vCPU's lists, so the unlink is still under the wrong lock (F4)."""
    assert "list-lock" in check("discard-lpi-vcpu-lock", "movi-then-discard").violated
    assert check("discard-lpi-vcpu-lock", "discard-vs-lpi").verdict == "pass"


def test_reviewer_patch_mapti_refusal_loses_the_new_mapping(check: Any) -> None:
    """MAPTI refused while the old LR holds the vLPI: no stale LR is folded into a new
    pending_irq any more, but the guest is not told its MAPTI failed, and its MSI is lost."""
    assert "lr-wrong-pending-irq" in check("xen-4.10", "discard-mapti-other-vcpu").violated
    for scenario in ("discard-mapti-in-lr", "unmap-device-in-lr"):
        assert check("xen-4.10", scenario).verdict == "pass"
        assert check("mapti-refuse-in-lr", scenario).violated == {"msi-delivered"}


def test_option_two_trades_the_reinit_for_a_lost_msi(check: Any) -> None:
    """Option II keeps the re-mapped pending_irq in the tree (no free-while-referenced, which
    unmapped-tag has), but the LR clean-up of the old instance drops an MSI that arrived for the
    new mapping (Julien's race)."""
    assert "free-while-referenced" in check("unmapped-tag", "sync-vs-inject").violated
    assert check("unmapped-nlp", "sync-vs-inject").violated == {"msi-delivered", "use-after-reinit"}
