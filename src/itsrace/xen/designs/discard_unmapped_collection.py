# mypy: disable-error-code="valid-type"
"""``discard-unmapped-collection``: the fix for finding F6, MAPD V=0 after MAPC V=0.

``its_unmap_device`` ignores the errors of ``its_discard_event``, which fails when the ITTE's
collection no longer resolves to a vCPU (``read_itte`` -> ``get_vcpu_from_collection``): the vLPI
stays in the radix tree, and ``remove_mapped_guest_device`` frees ``pend_irqs`` under it
(``unmap-unmapped-collection``). The patch: when the collection is unmapped, DISCARD still reads
the vLPI from the ITT entry and takes the lock of the vCPU the pending_irq records
(``p->lpi_vcpu_id``), so every event really is removed before the free.
"""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    await_,
    lockfree,
    spin_lock_irqsave,
    spin_unlock_irqrestore,
    write_lock,
    write_unlock,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, ND, NE, NPC, NPTR, NV
from itsrace.xen.its_cmds import gicv3_remove_guest_event, itte_vcpu, vgic_init_pending_irq_invalid
from itsrace.xen.pending_irq import gic_remove_irq_from_queues, tree_ptr

DESIGN = Design(
    "discard-unmapped-collection", base="xen-4.10",
    summary="fix for F6: DISCARD (and so MAPD V=0) removes an event whose collection is unmapped",
    source="docs/findings.md F6; vgic-v3-its.c:586-656",
)


@DESIGN.override
def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_discard_event that also removes an event whose collection is unmapped, under the
    lock of the vCPU its pending_irq records."""
    with atomic():  # [vgic-v3-its.c:596] read_itte: the vCPU of the ITTE's collection, and the vLPI
        vc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        vl: range(NV + 1) = s.itte_lpi[dev * NE + ev] if s.dte[dev] else 0
    if vl == 0:
        return 1
    if vc >= NC:  # the collection is unmapped: lock the vCPU the pending_irq records
        with atomic():  # [patch] vc = pend_irqs[ev].lpi_vcpu_id
            vc = lockfree(s.p_vcpu[dev * NE + ev], "its_lock is held: every writer of p->lpi_vcpu_id (MAPTI, "
                                                  "MOVI, DISCARD) holds it, so the read needs no vgic lock")
        if vc >= NC:
            return 1
    spin_lock_irqsave(s.vgic_lock[vc])  # [vgic-v3-its.c:607]
    with atomic():  # [vgic-v3-its.c:610] write_lock(tree): no reader in, so take it at once (_write_lock, rwlock.h:124); else queue behind the readers
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        tq: bool = s.tree_lock_r != 0
        if tq:  # queue_write_lock_slowpath (common/rwlock.c:63): _QW_WAITING, new readers wait behind it
            s.tree_wq = 1
        else:
            write_lock(s.tree_lock)
    if tq:
        with atomic():  # [rwlock.c:95 queue_write_lock_slowpath] the readers have left: _QW_WAITING -> _QW_LOCKED
            await_(s.tree_lock_r == 0)
            s.tree_wq = 0
            write_lock(s.tree_lock)
    with atomic():  # p = radix_tree_delete(tree, vlpi); write_unlock(tree)
        p: range(NPTR) = tree_ptr(s.tree, s.p_gen, vl)
        s.tree[vl - 1] = 0
        write_unlock(s.tree_lock)
    if p == 0:
        spin_unlock_irqrestore(s.vgic_lock[vc])  # [vgic-v3-its.c:616]
        return 1
    gic_remove_irq_from_queues(self, s, vc, p)
    vgic_init_pending_irq_invalid(self, s, p)
    spin_unlock_irqrestore(s.vgic_lock[vc])  # [vgic-v3-its.c:625]
    gicv3_remove_guest_event(self, s, dev, ev)
    return 0
