# mypy: disable-error-code="valid-type"
"""``null-check``: the thread's option III, "revert to the check for NULL" only.

Every lookup on an LPI path treats NULL as "unmapped" (commit 56e1b3ebc9), but nothing tells an
LR of an old mapping from one of a new mapping of the same vINTID: the patch reverts PRISTINE
(commit bccfbe70a3), so MAPTI does not mark the new ``pending_irq``, ``gic_find_unused_lr`` takes
any free LR, and ``gic_update_one_lr`` applies whatever it finds in the LR to whatever
``pending_irq`` the vINTID now looks up to. Stefano's objection: "the new pending_irq is not in
the inflight list, but gic_update_one_lr will try to remove it from it."
"""

from __future__ import annotations

from typing import Any

from itsrace.engine.lang.process import (
    atomic,
    await_,
    check,
    lockfree,
    spin_lock,
    spin_unlock,
    write_lock,
    write_unlock,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import LR_ACTIVE, LR_PENDING, NC, NCOL, ND, NE, NL, NPC, NPTR, NV
from itsrace.xen.its_cmds import UNPUBLISHED, coll_vcpu, itte_vcpu, unreferenced
from itsrace.xen.lr import gic_raise_guest_irq
from itsrace.xen.pending_irq import GEN, PTR, SLOT, tree_ptr
from itsrace.xen.state import setup_mapti as xen_setup_mapti

DESIGN = Design(
    "null-check", base="xen-4.10",
    summary="option III of the thread: NULL checks only, no PRISTINE (a stale LR is taken for the new LPI)",
    source="xen-devel, 'ITS emulation race conditions', Apr 2017 (option III); revert of bccfbe70a3",
)


@DESIGN.override
def find_unused_lr(pristine: int, irq: int, mask: tuple[int, ...], virqs: tuple[int, ...], start: int) -> int:
    """gic_find_unused_lr without PRISTINE's reuse of a stale LR: the first free LR at or after
    ``start``."""
    for k in range(start, NL):
        if not mask[k]:
            return k
    return NL


@DESIGN.override
def gic_update_one_lr(self, s, cpu: range(NPC), v: range(NC), i: range(NL + 1)):
    """gic_update_one_lr without the PRISTINE test: whatever pending_irq the LR's vINTID now
    looks up to gets the LR's state (Stefano: "wouldn't irq_to_pending potentially return the
    new pending_irq instead of NULL in gic_update_one_lr?")."""
    with atomic():  # [gic.c:519] read_lr(i); p = irq_to_pending(v, lr.virq)
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        check(i < NL, "xen-bug")  # GIC_INVALID_LR reaches gicv3_ich_read_lr: BUG()
        st: range(4) = s.lr_state[v][i]
        virq: range(NV + 1) = s.lr_virq[v][i]
        p: range(NPTR) = tree_ptr(s.tree, s.p_gen, s.lr_virq[v][i])
    if p == 0:  # the vLPI is unmapped: clear the stale LR
        with atomic():  # [gic.c:533] clear_lr(i); clear_bit(i, lr_mask)
            s.lr_virq[v][i] = 0
            s.lr_state[v][i] = 0
            s.lr_mask[v][i] = 0
            s.lr_own[v][i] = 0
        return
    if st & LR_ACTIVE:
        with atomic():  # [gic.c:539] the LR is active: set ACTIVE; if it fired again, make the LR active+pending
            check(s.lr_own[v][i] == SLOT(p) + 1 and s.lr_gen[v][i] == GEN(p), "lr-wrong-pending-irq")
            check(s.p_alive[SLOT(p)] == 1, "use-after-free")
            s.p_active[SLOT(p)] = 1
            if s.p_enabled[SLOT(p)] and s.p_queued[SLOT(p)]:  # re-triggered while active
                s.p_queued[SLOT(p)] = 0
                s.lr_state[v][i] = st | LR_PENDING
    elif st & LR_PENDING:
        with atomic():  # [gic.c:555] a second trigger is absorbed by the pending LR
            check(s.lr_own[v][i] == SLOT(p) + 1 and s.lr_gen[v][i] == GEN(p), "lr-wrong-pending-irq")
            check(s.p_alive[SLOT(p)] == 1, "use-after-free")
            s.p_queued[SLOT(p)] = 0
    else:
        with atomic():  # [gic.c:564] invalid: the guest EOIed it
            check(s.lr_own[v][i] == SLOT(p) + 1 and s.lr_gen[v][i] == GEN(p), "lr-wrong-pending-irq")
            check(s.p_alive[SLOT(p)] == 1, "use-after-free")
            s.lr_virq[v][i] = 0
            s.lr_state[v][i] = 0
            s.lr_mask[v][i] = 0
            s.lr_own[v][i] = 0
            s.p_visible[SLOT(p)] = 0
            s.p_active[SLOT(p)] = 0
            s.p_lr[SLOT(p)] = NL
            again: bool = s.p_enabled[SLOT(p)] and s.p_queued[SLOT(p)]
        if again:  # it fired again meanwhile: raise it again
            gic_raise_guest_irq(self, s, cpu, v, virq)
        else:
            with atomic():  # [gic.c:579] list_del_init(&p->inflight)
                check(s.p_heads[SLOT(p)] == 1, "null-deref")
                check(s.p_infl[SLOT(p)] in (0, v + 1), "list-lock")
                s.p_infl[SLOT(p)] = 0

@DESIGN.override
def setup_mapti(s: dict[str, Any], K: dict[str, Any], c: Any, where: str) -> None:
    """MAPTI in a setup leaves no PRISTINE bit (nothing sets it)."""
    xen_setup_mapti(s, K, c, where)
    q = c.args[0] * K["NE"] + c.args[1]
    s["p_pristine"][q] = 0


@DESIGN.override
def its_handle_mapti(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE), V: range(1, NV + 1), col: range(NCOL)):
    """its_handle_mapti without PRISTINE: the new pending_irq looks like any other."""
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
    with atomic():  # [vgic-v3-its.c:762] vgic_init_pending_irq(p, V); update_lpi_property; lpi_vcpu_id
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
