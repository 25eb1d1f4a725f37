# mypy: disable-error-code="valid-type"
"""``clear-invalid-lpi``: the fix for finding F8, CLEAR refuses an event whose ITTE has no vLPI.

``its_handle_clear`` (vgic-v3-its.c:346) translates the event with ``read_itte`` and unqueues
``&pend_irqs[ev]`` without checking the ITTE's vLPI, unlike ``its_handle_inv`` (its.c:481:
``if ( vlpi == INVALID_LPI ) goto out_unlock_its``). For an event no MAPTI initialised since MAPD
(a zeroed ITTE, or a stale one after MAPD V=0 / V=1 with the same ITT) that object's list heads
are still NULL from ``xzalloc`` and ``gic_remove_irq_from_queues`` writes through them. The patch
makes CLEAR test the vLPI as INV does; a stale ITTE naming a vLPI is still accepted (its object
is a zeroed, never-initialised one only after a remap, which ``read_itte`` cannot tell apart), so
the patch also refuses an object whose ``irq`` is not the ITTE's vLPI, which is what Xen's
``vgic_init_pending_irq`` at MAPTI would have set.
"""

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
from itsrace.xen.consts import NC, ND, NE, NPC, NPTR, NV
from itsrace.xen.its_cmds import event_pending_irq, itte_vcpu
from itsrace.xen.pending_irq import SLOT, gic_remove_irq_from_queues

DESIGN = Design(
    "clear-invalid-lpi", base="xen-4.10",
    summary="fix for F8: CLEAR ignores an event whose ITTE vLPI is INVALID_LPI or not its pending_irq's irq",
    source="docs/findings.md F8; vgic-v3-its.c:346-394 (CLEAR), 478-482 (INV's check)",
)


@DESIGN.override
def its_handle_clear(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_handle_clear with INV's INVALID_LPI test and a check that the object is the vLPI's."""
    with atomic():  # its_lock; read_itte; if ( vlpi == INVALID_LPI ) fail; get_event_pending_irq
        spin_lock(s.its_lock)
        cvc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        cvl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
        cp: range(NPTR) = 0
        if s.host_dev[dev] and cvc < NC and cvl != 0:
            cp = event_pending_irq(s.tree, s.p_gen, s.itte_lpi, dev * NE + ev)
    if cp == 0:
        spin_unlock(s.its_lock)
        return 1
    spin_lock_irqsave(s.vgic_lock[cvc])
    with atomic():  # test_bit(VISIBLE); p->irq == vlpi (the object MAPTI initialised for it)?
        check(s.p_alive[SLOT(cp)] == 1, "use-after-free")
        vis: bool = s.p_visible[SLOT(cp)]
        mine: bool = s.p_irq[SLOT(cp)] == cvl
    if mine and not vis:
        gic_remove_irq_from_queues(self, s, cvc, cp)
    spin_unlock_irqrestore(s.vgic_lock[cvc])
    spin_unlock(s.its_lock)
    return 0
