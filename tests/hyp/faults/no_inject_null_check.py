# mypy: ignore-errors
"""Test-only fault: vgic_vcpu_inject_irq does not check irq_to_pending() for NULL."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, spin_lock_irqsave, spin_unlock_irqrestore
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NPC, NPRIO, NPTR, NV
from itsrace.xen.lr import gic_raise_guest_irq, gic_raise_inflight_irq
from itsrace.xen.pending_irq import (
    GEN,
    SLOT,
    is_current,
    vgic_v3_lpi_get_priority,
    vgic_v3_lpi_to_pending,
)

DESIGN = Design("fault:no-inject-null-check", base="xen-4.10", summary="vgic_vcpu_inject_irq does not check irq_to_pending() for NULL")


@DESIGN.override
def vgic_vcpu_inject_irq(self, s, cpu: range(NPC), v: range(NC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_irq (vgic.c:511): under v's vgic lock, look V up again, mark it QUEUED,
    then either refresh it where it already is (inflight) or raise it and add it to
    inflight_irqs. Then kick the vCPU if it runs on another pCPU (vcpu_unblock + event-check
    SGI)."""
    spin_lock_irqsave(s.vgic_lock[v])
    n: range(NPTR) = vgic_v3_lpi_to_pending(self, s, V)  # second lookup, under the vgic lock
    with atomic():  # set_bit(QUEUED); list_empty(&n->inflight)
        check(n != 0, "null-deref")
        check(s.p_alive[SLOT(n)] == 1, "use-after-free")
        check(s.p_gen[SLOT(n)] == GEN(n), "use-after-reinit")
        s.p_queued[SLOT(n)] = 1
        infl: range(NC + 1) = s.p_infl[SLOT(n)]
    if infl != 0:
        gic_raise_inflight_irq(self, s, cpu, v, V)
    else:
        prio: range(NPRIO) = vgic_v3_lpi_get_priority(self, s, V)
        with atomic():  # n->priority = priority; test_bit(ENABLED)
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            s.p_prio[SLOT(n)] = prio
            en: bool = s.p_enabled[SLOT(n)]
        if en:
            gic_raise_guest_irq(self, s, cpu, v, V)
        with atomic():  # list_add into inflight_irqs, ordered by priority
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            check(s.p_heads[SLOT(n)] == 1, "null-deref")
            check(s.p_infl[SLOT(n)] == 0, "list-lock")
            check(s.p_lrq[SLOT(n)] in (0, v + 1), "list-lock")
            s.p_infl[SLOT(n)] = v + 1
    spin_unlock_irqrestore(s.vgic_lock[v])
    if not is_current(cpu, v):  # vcpu_unblock(v); if running elsewhere: EVENT_CHECK SGI
        s.kick[v] = 1
