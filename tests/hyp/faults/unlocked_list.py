# mypy: ignore-errors
"""Test-only fault: CLEAR unlinks the pending_irq under the wrong (vCPU 0's) lock."""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    check,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, ND, NE, NPC, NPTR
from itsrace.xen.its_cmds import event_pending_irq, itte_vcpu
from itsrace.xen.pending_irq import SLOT, gic_remove_irq_from_queues

DESIGN = Design("fault:unlocked-list", base="xen-4.10", summary="CLEAR unlinks the pending_irq under the wrong (vCPU 0's) lock")


@DESIGN.override
def its_handle_clear(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_handle_clear (vgic-v3-its.c:346): no INVALID_LPI check; under the ITTE vCPU's lock,
    unqueue the pending_irq unless it is already in an LR."""
    with atomic():  # its_lock; read_itte (no INVALID_LPI check); get_event_pending_irq
        spin_lock(s.its_lock)
        cvc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        cp: range(NPTR) = 0
        if s.host_dev[dev] and cvc < NC:
            cp = event_pending_irq(s.tree, s.p_gen, s.itte_lpi, dev * NE + ev)
        cvc = 0
    if cp == 0:
        spin_unlock(s.its_lock)
        return 1
    spin_lock_irqsave(s.vgic_lock[cvc])
    with atomic():  # test_bit(VISIBLE)
        check(s.p_alive[SLOT(cp)] == 1, "use-after-free")
        vis: bool = s.p_visible[SLOT(cp)]
    if not vis:
        gic_remove_irq_from_queues(self, s, cvc, cp)
    spin_unlock_irqrestore(s.vgic_lock[cvc])
    spin_unlock(s.its_lock)
    return 0
