# mypy: ignore-errors
"""Test-only fault: its_discard_event invalidates the host entry (its_devices_lock) while still holding the vgic lock."""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    await_,
    spin_lock_irqsave,
    spin_unlock_irqrestore,
    write_lock,
    write_unlock,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, ND, NE, NPC, NPTR, NV
from itsrace.xen.its_cmds import gicv3_remove_guest_event, itte_vcpu, vgic_init_pending_irq_invalid
from itsrace.xen.pending_irq import gic_remove_irq_from_queues, tree_ptr

DESIGN = Design("fault:lock-order-inverted", base="xen-4.10", summary="its_discard_event invalidates the host entry (its_devices_lock) while still holding the vgic lock")


# -- DISCARD and MAPD V=0 ----------------------------------------------------------------------------
@DESIGN.override
def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_discard_event (vgic-v3-its.c:586), its_lock held; shared by DISCARD and MAPD V=0.
    Under the ITTE vCPU's vgic lock: delete V from the radix tree, unlink the pending_irq and
    re-initialise it; then invalidate the host LPI entry. An LR still holding V is left alone:
    a *stale LR* for gic_update_one_lr to find."""
    with atomic():  # read_itte: the vCPU of the ITTE's collection, and the vLPI
        vc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        vl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
    if vc >= NC or vl == 0:
        return 1
    spin_lock_irqsave(s.vgic_lock[vc])
    with atomic():  # write_lock (xen/rwlock.h _write_lock): no reader in, so take it at once; else queue
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        tq: bool = s.tree_lock_r != 0
        if tq:  # queue_write_lock_slowpath (common/rwlock.c:63): _QW_WAITING, new readers wait behind it
            s.tree_wq = 1
        else:
            write_lock(s.tree_lock)
    if tq:
        with atomic():  # the readers have left: _QW_WAITING -> _QW_LOCKED (common/rwlock.c:94-96)
            await_(s.tree_lock_r == 0)
            s.tree_wq = 0
            write_lock(s.tree_lock)
    with atomic():  # p = radix_tree_delete(tree, vlpi); write_unlock(tree)
        p: range(NPTR) = tree_ptr(s.tree, s.p_gen, vl)
        s.tree[vl - 1] = 0
        write_unlock(s.tree_lock)
    if p == 0:
        spin_unlock_irqrestore(s.vgic_lock[vc])
        return 1
    gic_remove_irq_from_queues(self, s, vc, p)
    vgic_init_pending_irq_invalid(self, s, p)
    gicv3_remove_guest_event(self, s, dev, ev)
    spin_unlock_irqrestore(s.vgic_lock[vc])
    return 0
