# mypy: ignore-errors
"""Test-only fault: gic_update_one_lr forgets to clear VISIBLE when the guest has EOIed the LR."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_, check
from itsrace.hyp.design import Design
from itsrace.xen.consts import LR_ACTIVE, LR_PENDING, NC, NL, NPC, NPTR, NV
from itsrace.xen.lr import gic_raise_guest_irq
from itsrace.xen.pending_irq import GEN, SLOT, tree_ptr

DESIGN = Design("fault:keep-visible", base="xen-4.10", summary="gic_update_one_lr forgets to clear VISIBLE when the guest has EOIed the LR")


@DESIGN.override
def gic_update_one_lr(self, s, cpu: range(NPC), v: range(NC), i: range(NL + 1)):
    """gic_update_one_lr (gic.c:510), vgic lock held, IRQs off, v == current: fold what the
    guest did with LR i back into the pending_irq the LR's vINTID looks up to."""
    with atomic():  # read_lr(i); p = irq_to_pending(v, lr.virq)
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        check(i < NL, "xen-bug")  # GIC_INVALID_LR reaches gicv3_ich_read_lr: BUG()
        st: range(4) = s.lr_state[v][i]
        virq: range(NV + 1) = s.lr_virq[v][i]
        p: range(NPTR) = tree_ptr(s.tree, s.p_gen, s.lr_virq[v][i])
    if p == 0:  # the vLPI is unmapped: clear the stale LR
        with atomic():  # clear_lr(i); clear_bit(i, lr_mask)
            s.lr_virq[v][i] = 0
            s.lr_state[v][i] = 0
            s.lr_mask[v][i] = 0
            s.lr_own[v][i] = 0
        return
    with atomic():  # test_and_clear_bit(PRISTINE): the LR cannot be this new pending_irq's
        check(s.p_alive[SLOT(p)] == 1, "use-after-free")
        was: bool = s.p_pristine[SLOT(p)]
        s.p_pristine[SLOT(p)] = 0
    if was:
        with atomic():  # clear_lr(i); clear_bit(i, lr_mask)
            s.lr_virq[v][i] = 0
            s.lr_state[v][i] = 0
            s.lr_mask[v][i] = 0
            s.lr_own[v][i] = 0
        return
    if st & LR_ACTIVE:
        with atomic():  # the LR is active: set ACTIVE; if it fired again, make the LR active+pending
            check(s.lr_own[v][i] == SLOT(p) + 1 and s.lr_gen[v][i] == GEN(p), "lr-wrong-pending-irq")
            check(s.p_alive[SLOT(p)] == 1, "use-after-free")
            s.p_active[SLOT(p)] = 1
            if s.p_enabled[SLOT(p)] and s.p_queued[SLOT(p)]:  # re-triggered while active
                s.p_queued[SLOT(p)] = 0
                s.lr_state[v][i] = st | LR_PENDING
    elif st & LR_PENDING:
        with atomic():  # a second trigger is absorbed by the pending LR
            check(s.lr_own[v][i] == SLOT(p) + 1 and s.lr_gen[v][i] == GEN(p), "lr-wrong-pending-irq")
            check(s.p_alive[SLOT(p)] == 1, "use-after-free")
            s.p_queued[SLOT(p)] = 0
    else:
        with atomic():  # invalid: the guest EOIed it
            check(s.lr_own[v][i] == SLOT(p) + 1 and s.lr_gen[v][i] == GEN(p), "lr-wrong-pending-irq")
            check(s.p_alive[SLOT(p)] == 1, "use-after-free")
            s.lr_virq[v][i] = 0
            s.lr_state[v][i] = 0
            s.lr_mask[v][i] = 0
            s.lr_own[v][i] = 0
            s.p_active[SLOT(p)] = 0
            s.p_lr[SLOT(p)] = NL
            again: bool = s.p_enabled[SLOT(p)] and s.p_queued[SLOT(p)]
        if again:  # it fired again meanwhile: raise it again
            gic_raise_guest_irq(self, s, cpu, v, virq)
        else:
            with atomic():  # list_del_init(&p->inflight)
                check(s.p_heads[SLOT(p)] == 1, "null-deref")
                check(s.p_infl[SLOT(p)] in (0, v + 1), "list-lock")
                s.p_infl[SLOT(p)] = 0
