"""Exploration beyond the scenario format (phase 2 will make these guest actions): another vCPU
clears vCPU0's EnableLPIs while vCPU0's guest discards an event. KVM's
``vgic_its_invalidate_all_caches`` walks the translation cache without ``its_lock`` while
DISCARD's ``vgic_its_invalidate_cache`` walks it under ``its_lock``: both load the same entry and
both put it (docs/findings.md, KVM section, K1). Putting only what ``xa_erase`` returned fixes it
in the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXPLORE = Path(__file__).parent / "explore"
MEMORY_SAFETY = {"use-after-free", "double-free", "free-while-referenced"}


def test_enable_lpis_clear_vs_discard_double_puts_a_cache_entry(check: Any) -> None:
    assert check("kvm", "test:discard-vs-enable-lpis").verdict == "pass"  # without the second thread
    r = check(str(EXPLORE / "enable_lpis_clear.py"), "test:discard-vs-enable-lpis")
    assert MEMORY_SAFETY <= set(r.violated), sorted(r.violated)
    put = next(v for v in r.violations if v.property == "free-while-referenced")
    labels = [st.label for st in put.trace.steps]
    # both walkers loaded the entry before either erased it
    assert sum(1 for lb in labels if "vgic_its_invalidate_cache: atomic: c = s.cache[q]" in lb) >= 2


def test_putting_only_the_erased_entry_fixes_it(check: Any) -> None:
    r = check(str(EXPLORE / "invalidate_put_erased.py"), "test:discard-vs-enable-lpis")
    assert not (MEMORY_SAFETY & set(r.violated)), sorted(r.violated)
