# mypy: ignore-errors
"""Test-only fault on kvm: update_lpi_config writes irq->priority and irq->enabled without
taking irq->irq_lock (arm_vgic.h: irq_lock protects the content of struct vgic_irq): lockset."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NC, NO, NPRIO
from itsrace.kvm.irq import OINTID
from itsrace.kvm.vgic import vgic_queue_irq_unlock

DESIGN = Design("fault:kvm-config-unlocked", base="kvm", summary="update_lpi_config without irq_lock")


@DESIGN.override
def update_lpi_config(self, s, o: range(NO), filt: range(NC + 1)):
    """update_lpi_config with the field updates before raw_spin_lock_irqsave(&irq->irq_lock)."""
    with atomic():
        check(s.o_alive[o] == 1, "use-after-free")
        pen: bool = s.prop_en[OINTID(o) - 1]
        ppr: range(NPRIO) = s.prop_prio[OINTID(o) - 1]
        upd: bool = filt == NC or filt == s.o_target[o]
        if upd:
            s.o_prio[o] = ppr
            s.o_enabled[o] = pen
            s.gv_dirty[OINTID(o) - 1] = 0
    spin_lock(s.irq_lock[o])
    if upd:
        vgic_queue_irq_unlock(self, s, o)
    else:
        spin_unlock(s.irq_lock[o])
