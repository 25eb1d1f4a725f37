# mypy: ignore-errors
"""Exploration, test-only: event 0's MSI injector thread is replaced by another vCPU's thread that
clears vCPU0's GICR_CTLR.EnableLPIs (``vgic_mmio_write_v3r_ctlr``, mmio-v3.c), once.

It stands in for a guest action the scenario format does not have yet (phase 2): a redistributor
register is MMIO, so any vCPU can write any vCPU's GICR_CTLR. The write runs without ``its_lock``
or ``cmd_lock``: ``vgic_flush_pending_lpis`` on vCPU0's ap_list, then
``vgic_its_invalidate_all_caches``."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_
from itsrace.hyp.design import Design
from itsrace.kvm.cache import vgic_its_invalidate_all_caches
from itsrace.kvm.vgic import vgic_flush_pending_lpis

DESIGN = Design("explore:enable-lpis-clear", base="kvm",
                summary="a second thread clears vCPU0's EnableLPIs (stands in for a guest action)")


@DESIGN.override
def kvm_set_msi(self, s):
    """vgic_mmio_write_v3r_ctlr with EnableLPIs clear, on vCPU0's redistributor."""
    with atomic():  # atomic_cmpxchg_acquire(&vgic_cpu->ctlr, GICR_CTLR_ENABLE_LPIS, GICR_CTLR_RWP)
        await_(s.msi_left[self] > 0 and s.lpis_en[0] == 1)
        s.msi_left[self] = s.msi_left[self] - 1
        s.lpis_en[0] = 0  # vgic_lpis_enabled() is false from here on (RWP, then 0)
    vgic_flush_pending_lpis(self, s, 0)
    vgic_its_invalidate_all_caches(self, s)
