"""K1 (docs/findings.md section 7) on the shipped scenarios that clear EnableLPIs and GITS_CTLR:
KVM's ``vgic_its_invalidate_all_caches`` (EnableLPIs cleared, no ITS lock) and
``vgic_mmio_write_its_ctlr``'s invalidation (cmd_lock only) walk the translation cache without
``its_lock``, while DISCARD's walk holds it: two walks load the same entry and both put it. Both
fixes proposed in 2026 remove it: putting only what ``xa_erase`` returned (v1, the shipped design
``kvm-invalidate-put-erased``, which the maintainer took) and serialising every walk under
``its_lock`` (v2, withdrawn for a lock order outside the model: ``explore/invalidate_its_lock.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXPLORE = Path(__file__).parent / "explore"
MEMORY_SAFETY = {"use-after-free", "double-free", "free-while-referenced"}
K1 = ["discard-vs-enable-lpis", "its-disable-vs-enable-lpis"]


def test_enable_lpis_clear_vs_discard_double_puts_a_cache_entry(check: Any) -> None:
    r = check("kvm", "discard-vs-enable-lpis")
    assert MEMORY_SAFETY <= set(r.violated), sorted(r.violated)
    put = next(v for v in r.violations if v.property == "free-while-referenced")
    labels = [st.label for st in put.trace.steps]
    # both walkers loaded the entry before either erased it
    assert sum(1 for lb in labels if "vgic_its_invalidate_cache: atomic: c = s.cache[q]" in lb) >= 2
    assert any("vgic_mmio_write_v3r_ctlr" in lb for lb in labels)


@pytest.mark.parametrize("scenario", K1)
@pytest.mark.parametrize("fix", ["kvm-invalidate-put-erased", str(EXPLORE / "invalidate_its_lock.py")],
                         ids=["put-erased", "its-lock"])
def test_each_proposed_fix_removes_it(check: Any, fix: str, scenario: str) -> None:
    assert MEMORY_SAFETY & set(check("kvm", scenario).violated)
    r = check(fix, scenario)
    assert r.verdict == "pass", sorted(r.violated)


def test_an_lpi_can_be_queued_after_enable_lpis_clear_completed(check: Any) -> None:
    """K2: an MSI that resolved before the cmpxchg to RWP queues its LPI after the flush; the
    its_lock patch for K1 does not change that."""
    r = check(str(EXPLORE / "lpis_stay_disabled.py"), "enable-lpis-vs-msi")
    assert r.violated == {"lpi-after-enable-lpis-cleared"}, sorted(r.violated)
    labels = [st.label for st in r.violations[0].trace.steps]
    flush = max(i for i, lb in enumerate(labels) if "vgic_flush_pending_lpis" in lb)
    assert any("vgic_queue_irq_unlock" in lb for lb in labels[flush:])
    assert labels[-1].startswith("vgic_mmio_write_v3r_ctlr")  # ctlr back to 0: the disable completed
