# mypy: disable-error-code="valid-type"
"""``discard-lpi-vcpu-lock``: a reviewer's patch, DISCARD takes the lock of ``p->lpi_vcpu_id``.

"its_discard_event takes the vgic lock of the vCPU the LPI is inflight on (``p->lpi_vcpu_id``),
not the lock of the ITTE's collection vCPU." Meant for finding F4 (after MOVI, DISCARD unlinks a
pending_irq from another vCPU's lists under the wrong lock). The patch reads ``lpi_vcpu_id``
from the event's pending_irq (its_lock held: no MOVI can change it meanwhile) and locks that
vCPU instead. Whether that is the vCPU whose lists hold the LPI is what the check answers: MOVI
changes ``lpi_vcpu_id`` but leaves a pending LPI on the old vCPU's lists.
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
    "discard-lpi-vcpu-lock", base="xen-4.10",
    summary="reviewer patch: DISCARD locks p->lpi_vcpu_id's vCPU, not the ITTE collection's",
    source="docs/designs.md (worked example); vgic-v3-its.c:596-607",
)


@DESIGN.override
def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_discard_event under the vgic lock of the vCPU the pending_irq records
    (``p->lpi_vcpu_id``) instead of the ITTE collection's vCPU."""
    with atomic():  # [vgic-v3-its.c:596] read_itte: the vCPU of the ITTE's collection, and the vLPI
        vc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        vl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
    if vc >= NC or vl == 0:
        return 1
    with atomic():  # [patch] vcpu_id = pend_irqs[ev].lpi_vcpu_id
        vc = lockfree(s.p_vcpu[dev * NE + ev], "its_lock is held: every writer of p->lpi_vcpu_id (MAPTI, MOVI, "
                                              "DISCARD) holds it, so the read needs no vgic lock")
    if vc >= NC:  # INVALID_VCPU_ID: already discarded
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
