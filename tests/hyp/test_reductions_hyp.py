"""Reductions on the hypervisor model: every named scenario gets the same verdict and the same set
of violated properties with and without partial-order reduction (ample sets; sleep sets) and
fingerprints (the issue's soundness requirement covers "every shipped model and every scenario"):
Xen 4.10, kvm-refcount and the KVM base model.

The hypervisor model declares no scalarsets (vCPUs and LPIs play different roles in each
scenario), so symmetry reduction does not apply to it; ``test_symmetry_refuses_nothing`` pins
that the canonicaliser is then the identity and changes nothing.
"""

from __future__ import annotations

import pytest

from itsrace.catalog import build_from_names
from itsrace.engine import check_model
from itsrace.engine.reduce.por import reduced_check

FAST = [
    "discard-vs-lpi", "discard-mapti-in-lr", "unmap-device-in-lr", "sync-vs-inject",
    "spurious-after-remove", "mapti-vs-lpi-same-cpu", "movi-then-discard", "unmap-unmapped-collection",
]
SLOW = ["discard-mapti-other-vcpu"]
DESIGNS = ["xen-4.10", "kvm-refcount"]


def _verdicts(design: str, scenario: str, **options: object) -> tuple[str, set[str], int]:
    model = build_from_names(design, scenario)
    if options.pop("reduced", False):
        result = reduced_check(model, stop_on_violation=False, progress=False, **options)
    else:
        result = check_model(model, stop_on_violation=False, progress=False, **options)  # type: ignore[arg-type]
    return result.verdict, result.violated, result.stats.distinct_states


def _compare(design: str, scenario: str) -> None:
    verdict, violated, states = _verdicts(design, scenario)
    por_verdict, por_violated, por_states = _verdicts(design, scenario, reduced=True, por=True)
    assert (por_verdict, por_violated) == (verdict, violated)
    assert por_states <= states  # a reduction never adds states
    sleep = _verdicts(design, scenario, reduced=True, sleep=True)
    assert sleep[:2] == (verdict, violated)
    if verdict == "pass":  # sleep sets visit every state (a failing search may stop early)
        assert sleep[2] == states
    fp_verdict, fp_violated, fp_states = _verdicts(design, scenario, fingerprints=True)
    assert (fp_verdict, fp_violated, fp_states) == (verdict, violated, states)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("scenario", FAST)
def test_reductions_and_fingerprints_agree_with_full_search(design: str, scenario: str) -> None:
    _compare(design, scenario)


@pytest.mark.slow
@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("scenario", SLOW)
def test_reductions_and_fingerprints_agree_on_bigger_scenarios(design: str, scenario: str) -> None:
    _compare(design, scenario)


# The KVM base model (issue 10) and the scenarios with guest register writes (phase 2): the two
# smallest KVM cells in the default suite, every other one with --runslow.
GUEST_REGS = ["discard-vs-enable-lpis", "its-disable-vs-enable-lpis", "its-disable-vs-discard", "enable-lpis-vs-msi"]
KVM_DEFAULT = ["spurious-after-remove", "unmap-unmapped-collection"]
KVM_CELLS = [pytest.param("kvm", s, marks=[] if s in KVM_DEFAULT else [pytest.mark.slow])
             for s in FAST + SLOW + GUEST_REGS]
KVM_CELLS += [pytest.param(d, s, marks=[pytest.mark.slow]) for d in DESIGNS for s in GUEST_REGS]


@pytest.mark.parametrize("design, scenario", KVM_CELLS)
def test_reductions_and_fingerprints_agree_on_kvm_and_guest_register_writes(design: str, scenario: str) -> None:
    _compare(design, scenario)


def test_symmetry_refuses_nothing_and_changes_nothing() -> None:
    model = build_from_names("xen-4.10", "spurious-after-remove")
    assert not model.scalarsets
    full = _verdicts("xen-4.10", "spurious-after-remove")
    sym = _verdicts("xen-4.10", "spurious-after-remove", reduced=True, symmetry="exact")
    assert sym == full
