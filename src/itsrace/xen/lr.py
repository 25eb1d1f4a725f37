# mypy: disable-error-code="valid-type"
"""gic.c: list registers (Xen RELEASE-4.10.0; moved to gic-vgic.c in 4.11).

A vCPU's list registers are ``lr_virq[v][k]``/``lr_state[v][k]`` and its ``lr_mask`` bits. Xen
reads and writes LRs only for ``v == current`` (the vCPU whose pCPU executes the code), i.e. while
the guest is not running; the guest changes only the LR *state* (acknowledge, EOI) and only while
it runs. So an LR read or write by Xen is atomic with respect to the guest, and each function
below makes one step of each LR access together with the ``pending_irq`` updates that Xen makes
under the same vgic lock next to it.

:func:`gic_update_one_lr` (what a stale LR is folded into) and :func:`find_unused_lr` (PRISTINE's
LR reuse) are where the thread's proposals differ; designs override them.
"""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    await_,
    check,
    spin_lock_irqsave,
    spin_unlock_irqrestore,
)
from itsrace.hyp.lang import procedure, pure
from itsrace.xen.consts import (
    LR_ACTIVE,
    LR_PENDING,
    NC,
    NL,
    NPC,
    NPRIO,
    NPTR,
    NQ,
    NV,
)
from itsrace.xen.pending_irq import (
    GEN,
    PTR,
    SLOT,
    gic_add_to_lr_pending,
    is_current,
    lr_pending_empty,
    tree_ptr,
)


@pure
def find_unused_lr(pristine: int, irq: int, mask: tuple[int, ...], virqs: tuple[int, ...], start: int) -> int:
    """gic_find_unused_lr (gic.c:456): a PRISTINE pending_irq first looks for a used LR holding
    its vINTID (a stale LR of the previous mapping, reused instead of taking a second LR; the LR
    state is not examined); otherwise the first free LR at or after ``start``."""
    if pristine:
        for k in range(NL):
            if mask[k] and virqs[k] == irq:
                return k
    for k in range(start, NL):
        if not mask[k]:
            return k
    return NL


@pure
def next_lr_pending(lrq: tuple[int, ...], prio: tuple[int, ...], gens: tuple[int, ...], v: int, done: int) -> int:
    """The next entry of v's lr_pending (priority order; equal priorities by slot, where Xen
    keeps insertion order) not yet visited in this pass, as a pointer (0: none)."""
    best = -1
    for q in range(NQ):
        if lrq[q] == v + 1 and not (done >> q) & 1 and (best < 0 or prio[q] < prio[best]):
            best = q
    return 0 if best < 0 else 1 + 2 * best + gens[best]


@pure
def find_victim(infl: tuple[int, ...], prio: tuple[int, ...], visible: tuple[int, ...],
                active: tuple[int, ...], v: int, want: int) -> int:
    """gic_restore_pending_irqs' eviction (gic.c:643-653): walk inflight_irqs from the lowest
    priority; stop at an entry of the wanted priority; take the first VISIBLE, not ACTIVE one.
    Returns slot + 1, or 0 for none."""
    order = sorted((q for q in range(NQ) if infl[q] == v + 1), key=lambda q: (prio[q], q), reverse=True)
    for q in order:
        if prio[q] == want:
            return 0
        if visible[q] and not active[q]:
            return q + 1
    return 0


@procedure
def gic_find_unused_lr(self, s, v: range(NC), r: range(NPTR), start: range(NL + 1)):
    """gic_find_unused_lr (gic.c:456), vgic lock held, v == current."""
    with atomic():  # [gic.c:466] scan lr_mask / read_lr for a free (or stale) LR
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        lr: range(NL + 1) = find_unused_lr(s.p_pristine[SLOT(r)], s.p_irq[SLOT(r)], s.lr_mask[v], s.lr_virq[v], start)
    return lr


@procedure
def gic_set_lr(self, s, v: range(NC), i: range(NL + 1), r: range(NPTR), state: range(4)):
    """set_bit(i, lr_mask); gic_set_lr (gic.c:373): clear PRISTINE, write the whole LR
    {p->irq, p->priority, state}, set VISIBLE, clear QUEUED, p->lr = i."""
    with atomic():  # [gic.c:378] write the LR: {p->irq, p->priority, state}; VISIBLE; clear QUEUED, PRISTINE
        check(i < NL, "xen-bug")  # BUG_ON(lr >= nr_lrs) in gicv3_update_lr
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        s.p_pristine[SLOT(r)] = 0
        s.lr_virq[v][i] = s.p_irq[SLOT(r)]
        s.lr_state[v][i] = state
        s.lr_mask[v][i] = 1
        s.lr_own[v][i] = SLOT(r) + 1
        s.lr_gen[v][i] = s.p_gen[SLOT(r)]
        s.p_visible[SLOT(r)] = 1
        s.p_queued[SLOT(r)] = 0
        s.p_lr[SLOT(r)] = i


@procedure
def gic_raise_guest_irq(self, s, cpu: range(NPC), v: range(NC), V: range(NV + 1)):
    """gic_raise_guest_irq (gic.c:483), vgic lock held: straight into a free LR if v is current
    and nothing is queued before it, else onto lr_pending (placed at the next entry)."""
    with atomic():  # [gic.c:488] p = irq_to_pending(v, V); list_empty(&v->arch.vgic.lr_pending)
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        p: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
        idle: bool = lr_pending_empty(s.p_lrq, v)
    if p == 0:  # "an unmapped LPI does not need to be raised"
        return
    if is_current(cpu, v) and idle:
        i: range(NL + 1) = gic_find_unused_lr(self, s, v, p, 0)
        if i < NL:
            gic_set_lr(self, s, v, i, p, LR_PENDING)
            return
    gic_add_to_lr_pending(self, s, v, p)


@procedure
def gic_update_one_lr(self, s, cpu: range(NPC), v: range(NC), i: range(NL + 1)):
    """gic_update_one_lr (gic.c:510), vgic lock held, IRQs off, v == current: fold what the
    guest did with LR i back into the pending_irq the LR's vINTID looks up to."""
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
    with atomic():  # [gic.c:528] test_and_clear_bit(PRISTINE): the LR cannot be this new pending_irq's
        check(s.p_alive[SLOT(p)] == 1, "use-after-free")
        was: bool = s.p_pristine[SLOT(p)]
        s.p_pristine[SLOT(p)] = 0
    if was:
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


@procedure
def gic_raise_inflight_irq(self, s, cpu: range(NPC), v: range(NC), V: range(NV + 1)):
    """gic_raise_inflight_irq (gic.c:423): an inflight LPI fired again. If it is enabled, not
    queued for an LR and v is current, resync its LR now (``n->lr`` is trusted: no check that it
    is valid or holds V)."""
    with atomic():  # [gic.c:425] n = irq_to_pending(v, V); ENABLED? lr_queue? n->lr
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        n: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
        if n != 0:
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            en: bool = s.p_enabled[SLOT(n)]
            queued_lr: bool = s.p_lrq[SLOT(n)] != 0
            at: range(NL + 1) = s.p_lr[SLOT(n)]
    if n == 0:
        return
    if not en:  # XSA-223 (c84e4b2dd4): a disabled LPI is in no LR
        return
    if not queued_lr and is_current(cpu, v):
        gic_update_one_lr(self, s, cpu, v, at)


@procedure
def gic_clear_lrs(self, s, cpu: range(NPC), v: range(NC)):
    """gic_clear_lrs (gic.c:597), on every entry from guest mode: sync every used LR."""
    spin_lock_irqsave(s.vgic_lock[v])  # [gic.c:611]
    k: range(NL + 1) = 0
    while k < NL:
        if s.lr_mask[v][k]:  # [gic.c:613]
            gic_update_one_lr(self, s, cpu, v, k)
        k = k + 1
    spin_unlock_irqrestore(s.vgic_lock[v])  # [gic.c:619]


@procedure
def gic_restore_pending_irqs(self, s, cpu: range(NPC), v: range(NC)):
    """gic_restore_pending_irqs (gic.c:622), on entry to the guest: place lr_pending entries in
    free LRs (a PRISTINE one may reuse its stale LR), evicting a lower-priority visible, not
    active LPI when no LR is free; at most nr_lrs placements."""
    spin_lock_irqsave(s.vgic_lock[v])  # [gic.c:631]
    budget: range(NL + 1) = NL
    lr: range(NL + 1) = 0
    done: range(2 ** NQ) = 0
    while budget > 0:
        with atomic():  # [gic.c:637] list_for_each_entry_safe(p, t, &v->arch.vgic.lr_pending, lr_queue)
            p: range(NPTR) = next_lr_pending(s.p_lrq, s.p_prio, s.p_gen, v, done)
            if p != 0:
                want: range(NPRIO) = s.p_prio[SLOT(p)]
        if p == 0:
            break
        done = done | (1 << SLOT(p))
        lr = gic_find_unused_lr(self, s, v, p, lr)
        if lr >= NL:
            with atomic():  # [gic.c:643] evict the lowest-priority visible, inactive LPI
                victim: range(NQ + 1) = find_victim(s.p_infl, s.p_prio, s.p_visible, s.p_active, v, want)
                if victim != 0:
                    lr = s.p_lr[victim - 1]
                    s.p_lr[victim - 1] = NL
                    s.p_queued[victim - 1] = 1
                    s.p_visible[victim - 1] = 0
                    if s.p_lrq[victim - 1] == 0:
                        s.p_lrq[victim - 1] = v + 1
            if victim == 0:
                break
        gic_set_lr(self, s, v, lr, p, LR_PENDING)
        with atomic():  # [gic.c:665] list_del_init(&p->lr_queue)
            check(s.p_lrq[SLOT(p)] in (0, v + 1), "list-lock")
            s.p_lrq[SLOT(p)] = 0
        budget = budget - 1
    spin_unlock_irqrestore(s.vgic_lock[v])  # [gic.c:675]


@procedure
def gic_inject(self, s, cpu: range(NPC), v: range(NC)):
    """gic_inject (gic.c:727), IRQs off, on every return to the guest: place what is queued and
    ask for the underflow interrupt if LPIs are still waiting while every LR is used."""
    gic_restore_pending_irqs(self, s, cpu, v)
    with atomic():  # [gic.c:733] UIE if lr_pending non-empty and every LR is used
        if not lr_pending_empty(s.p_lrq, v) and all(s.lr_mask[v][k] for k in range(NL)):
            s.uie[v] = 1


__all__ = ["PTR", "gic_clear_lrs", "gic_inject", "gic_raise_guest_irq", "gic_raise_inflight_irq",
           "gic_update_one_lr"]
