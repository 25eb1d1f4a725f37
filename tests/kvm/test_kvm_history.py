"""KVM's history as designs on the ``kvm`` base: the code before each fix fails a scenario with a
memory-safety property that ``kvm`` passes. The scenarios run on the Xen model too (the scenario
format is shared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import DESIGNS, get_design
from itsrace.hyp.design import Design
from itsrace.kvm.designs import SHIPPED

HISTORY = [
    # CVE-2024-26598: the second MSI hits the cache and uses the irq without a reference while
    # DISCARD's cache invalidation and ITE put free it
    ("cve_2024_26598", "discard-vs-lpi", {"use-after-free"}),
    # CVE-2026-74568, deferred path: vgic_add_lpi overwrites the entry vCPU0's prune left at zero
    # (marked pending_release): the old object is never freed
    ("cve_2026_74568", "test:remap-while-pruned", {"leak"}),
    # CVE-2026-74568, direct path: the injector's final put releases by INTID after vgic_add_lpi
    # stored the new object: the new object's lpi_xa entry is erased
    ("cve_2026_74568", "test:remap-while-injecting", {"leak"}),
]


def test_the_history_designs_build_on_kvm() -> None:
    names = {d.name for d in SHIPPED}
    assert names == {"kvm-cve-2024-26598", "kvm-cve-2026-74568", "kvm-invalidate-put-erased"}
    for d in SHIPPED:
        assert isinstance(d, Design) and d.base_name == "kvm"


def test_the_history_designs_are_registered_by_name() -> None:
    for d in SHIPPED:
        assert DESIGNS[d.name] is d and get_design(d.name) is d and d.parent is DESIGNS["kvm"]


@pytest.mark.parametrize("design, scenario, violated", HISTORY, ids=[f"{d}-{s}" for d, s, _ in HISTORY])
def test_the_code_before_the_fix_fails_where_kvm_passes(check: Any, design: str, scenario: str,
                                                         violated: set[str]) -> None:
    assert check("kvm", scenario).verdict == "pass"
    r = check(f"history:{design}", scenario)
    assert r.verdict == "fail" and set(r.violated) == violated, sorted(r.violated)


@pytest.mark.slow
def test_each_fix_is_needed_only_where_it_applies(check: Any) -> None:
    """The 2024 design has the 2026 release code and passes the 2026 scenario; the 2026 design has
    the 2024 fix and passes discard-vs-lpi."""
    assert check("history:cve_2024_26598", "test:remap-while-pruned").verdict == "pass"
    assert check("history:cve_2026_74568", "discard-vs-lpi").verdict == "pass"


@pytest.mark.parametrize("scenario", [pytest.param("test:remap-while-pruned", marks=pytest.mark.slow),
                                      "test:remap-while-injecting"])
def test_the_new_scenarios_run_on_xen_too(check: Any, scenario: str) -> None:
    r = check("xen-4.10", scenario)
    assert r.verdict in ("pass", "fail") and r.stats.distinct_states > 0


def test_design_files_load_by_path() -> None:
    path = Path(__file__).resolve().parents[2] / "src" / "itsrace" / "kvm" / "designs" / "cve_2026_74568.py"
    d = get_design(str(path))
    assert isinstance(d, Design) and d.name == "kvm-cve-2026-74568" and [v.name for v in d.vars] == ["o_prel"]
