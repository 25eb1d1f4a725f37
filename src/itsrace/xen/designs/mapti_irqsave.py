# mypy: disable-error-code="valid-type"
"""``mapti-irqsave``: the fix for finding F5, MAPTI's radix-tree write lock with interrupts masked.

``its_handle_mapti`` takes ``pend_lpi_tree_lock`` for writing with interrupts enabled; a host LPI
on the same pCPU then spins in ``gicv3_do_LPI`` -> ``vgic_v3_lpi_to_pending`` -> ``read_lock``
on the lock the code it interrupted holds (``mapti-vs-lpi-same-cpu``). The patch:
``write_lock_irqsave``/``write_unlock_irqrestore`` around ``radix_tree_insert``.
"""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    await_,
    check,
    local_irq_disable,
    local_irq_enable,
    lockfree,
    spin_lock,
    spin_unlock,
    write_lock,
    write_unlock,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NCOL, ND, NE, NPC, NPTR, NV
from itsrace.xen.its_cmds import UNPUBLISHED, coll_vcpu, itte_vcpu, unreferenced
from itsrace.xen.pending_irq import PTR, SLOT

DESIGN = Design(
    "mapti-irqsave", base="xen-4.10",
    summary="fix for F5: MAPTI takes the radix-tree write lock with interrupts masked (write_lock_irqsave)",
    source="docs/findings.md F5; vgic-v3-its.c:784-786",
)


@DESIGN.override
def its_handle_mapti(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE), V: range(1, NV + 1), col: range(NCOL)):
    """its_handle_mapti (vgic-v3-its.c:709): write the ITTE, point the host LPI at V, initialise
    the event's pending_irq (no lock: it is not in the tree yet), mark it PRISTINE, publish it
    in the radix tree (write lock, interrupts enabled)."""
    with atomic():  # [vgic-v3-its.c:722] its_lock; read_itte (refuse a mapped event); get_vcpu_from_collection; write_itte
        spin_lock(s.its_lock)
        vc: range(NC + 1) = coll_vcpu(s.col_vcpu, col)
        bad: bool = (not s.dte[dev] or vc >= NC
                     or (itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev) < NC and s.itte_lpi[dev * NE + ev] != 0))
        if not bad:
            s.itte_lpi[dev * NE + ev] = V
            s.itte_col[dev * NE + ev] = col
        spin_unlock(s.its_lock)
    if bad:
        return 1
    with atomic():  # [vgic-v3-its.c:757] gicv3_assign_guest_event: pirq = &pend_irqs[ev]; host entry := {V, d}
        spin_lock(s.devs_lock)
        pi: range(NPTR) = 0
        if s.host_dev[dev]:
            s.host_lpi[dev * NE + ev] = V
            pi = PTR(dev * NE + ev, s.p_gen[dev * NE + ev])
        spin_unlock(s.devs_lock)
    if pi == 0:
        with atomic():  # [vgic-v3-its.c:801] undo: ITTE := unmapped
            spin_lock(s.its_lock)
            s.itte_lpi[dev * NE + ev] = 0
            s.itte_col[dev * NE + ev] = NCOL
            spin_unlock(s.its_lock)
        return 1
    with atomic():  # [vgic-v3-its.c:762] vgic_init_pending_irq(p, V); update_lpi_property; lpi_vcpu_id; set PRISTINE
        check(s.p_alive[SLOT(pi)] == 1, "use-after-free")
        check(unreferenced(s.tree, s.p_infl, s.p_lrq, SLOT(pi)), "free-while-referenced")
        s.p_gen[SLOT(pi)] = 1 - s.p_gen[SLOT(pi)]  # a new identity
        pi = PTR(SLOT(pi), s.p_gen[SLOT(pi)])
        s.p_heads[SLOT(pi)] = 1
        s.p_queued[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_active[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_visible[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_lr[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_prio[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_irq[SLOT(pi)] = lockfree(V, UNPUBLISHED)
        s.p_enabled[SLOT(pi)] = lockfree(s.prop_en[V - 1], UNPUBLISHED)
        s.p_lpiprio[SLOT(pi)] = lockfree(s.prop_prio[V - 1], UNPUBLISHED)
        s.p_vcpu[SLOT(pi)] = lockfree(vc, UNPUBLISHED)
        s.p_pristine[SLOT(pi)] = lockfree(1, UNPUBLISHED)
    local_irq_disable()  # [vgic-v3-its.c:784] write_lock_irqsave: no LPI handler can spin on the lock we hold
    with atomic():  # [vgic-v3-its.c:784] write_lock(tree): no reader in, so take it at once (_write_lock, rwlock.h:124); else queue behind the readers
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        tq: bool = s.tree_lock_r != 0
        if tq:  # queue_write_lock_slowpath (common/rwlock.c:63): _QW_WAITING, new readers wait behind it
            s.tree_wq = 1
        else:
            write_lock(s.tree_lock)  # [vgic-v3-its.c:784]
    if tq:
        with atomic():  # [rwlock.c:95 queue_write_lock_slowpath] the readers have left: _QW_WAITING -> _QW_LOCKED
            await_(s.tree_lock_r == 0)
            s.tree_wq = 0
            write_lock(s.tree_lock)  # [vgic-v3-its.c:784]
    with atomic():  # radix_tree_insert: -EEXIST if another event maps V
        ok: bool = s.tree[V - 1] == 0
        if ok:
            s.tree[V - 1] = SLOT(pi) + 1
    write_unlock(s.tree_lock)  # [vgic-v3-its.c:786]
    local_irq_enable()  # [vgic-v3-its.c:786] write_unlock_irqrestore
    if not ok:
        with atomic():  # [vgic-v3-its.c:797] undo: gicv3_remove_guest_event, then the ITTE
            s.host_lpi[dev * NE + ev] = 0
        with atomic():  # [vgic-v3-its.c:801] undo: ITTE := unmapped
            spin_lock(s.its_lock)
            s.itte_lpi[dev * NE + ev] = 0
            s.itte_col[dev * NE + ev] = NCOL
            spin_unlock(s.its_lock)
        return 1
    return 0
