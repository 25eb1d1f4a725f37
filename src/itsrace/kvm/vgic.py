# mypy: disable-error-code="valid-type"
"""vgic.c and vgic-v3.c: ap_lists and list registers (the modelled commit's GICv3 path).

An LPI is *queued* when it is on a vCPU's ap_list (``irq->vcpu`` set, with a reference);
``vgic_flush_lr_state`` writes what the ap_list holds into the list registers before the guest
runs, ``vgic_v3_fold_lr_state`` folds what the guest did back into the objects when it exits,
and ``vgic_prune_ap_list`` then drops, keeps or migrates each entry.

A critical section that only touches data protected by the locks it holds (and the vCPU's own
list registers) is one step: nothing can observe its inside. Lock acquisitions that can block
or be contended are steps of their own wherever the C releases a lock between them.

The two ap_list locks are ``ap_list_lock0`` and ``ap_list_lock1`` (scenarios have at most two
vCPUs), so that ``lock-order`` checks the vcpu_id order the C documents for nesting them.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, spin_lock, spin_unlock
from itsrace.hyp.lang import procedure, pure
from itsrace.kvm.consts import LR_ACTIVE, LR_PENDING, NC, NL, NO
from itsrace.kvm.irq import (
    OINTID,
    vgic_get_lpi,
    vgic_put_irq,
    vgic_put_irq_norelease,
    vgic_release_deleted_lpis,
)


@pure
def vgic_target_oracle(active: int, vcpu1: int, target: int, enabled: int, pending: int) -> int:
    """vgic_target_oracle (vgic.c), irq_lock held: an active LPI stays where it is (or goes to its
    target), an enabled pending one goes to its target (the distributor is enabled), else none
    (NC)."""
    if active:
        return vcpu1 - 1 if vcpu1 else target
    if enabled and pending:
        return target
    return NC


@pure
def ap_held(l0: int, l1: int, v: int) -> bool:
    """vCPU v's ap_list_lock is held (by someone: the engine checks the owner on release)."""
    return (l0 if v == 0 else l1) != 0


@procedure
def ap_list_lock(self, s, v: range(NC)):
    """raw_spin_lock(&vcpu->arch.vgic_cpu.ap_list_lock)."""
    with atomic():  # raw_spin_lock(&vgic_cpu->ap_list_lock)
        if v == 0:
            spin_lock(s.ap_list_lock0)
        else:
            spin_lock(s.ap_list_lock1)


@procedure
def ap_list_unlock(self, s, v: range(NC)):
    """raw_spin_unlock(&vcpu->arch.vgic_cpu.ap_list_lock)."""
    with atomic():  # raw_spin_unlock(&vgic_cpu->ap_list_lock)
        if v == 0:
            spin_unlock(s.ap_list_lock0)
        else:
            spin_unlock(s.ap_list_lock1)


@procedure
def vgic_queue_irq_unlock(self, s, o: range(NO)):
    """vgic_queue_irq_unlock (vgic.c), entered with irq_lock held, returns with every lock
    dropped: if the oracle gives a vCPU and the irq is on no ap_list, drop irq_lock, take that
    vCPU's ap_list_lock, retake irq_lock, re-check both, and link it with a new reference;
    if anything changed meanwhile, drop both and retry. Kicks the target either way."""
    while True:
        with atomic():  # [vgic.c:427] vcpu = vgic_target_oracle(irq); irq->vcpu || !vcpu: unlock irq_lock, kick vcpu
            check(s.o_alive[o] == 1, "use-after-free")
            vq: range(NC + 1) = vgic_target_oracle(s.o_active[o], s.o_vcpu[o], s.o_target[o], s.o_enabled[o],
                                                   s.o_pending[o])
            done: bool = s.o_vcpu[o] != 0 or vq == NC
            if done:
                spin_unlock(s.irq_lock[o])
                if vq != NC:
                    s.kick[vq] = 1
        if done:
            return
        spin_unlock(s.irq_lock[o])  # [vgic.c:461]
        ap_list_lock(self, s, vq)
        spin_lock(s.irq_lock[o])  # [vgic.c:466]
        with atomic():  # [vgic.c:480] re-check irq->vcpu and the oracle; vgic_get_irq_ref; list_add_tail; irq->vcpu = vcpu
            check(s.o_alive[o] == 1, "use-after-free")
            changed: bool = s.o_vcpu[o] != 0 or vq != vgic_target_oracle(
                s.o_active[o], s.o_vcpu[o], s.o_target[o], s.o_enabled[o], s.o_pending[o])
            if not changed:
                check(s.o_ref[o] > 0, "use-after-free")
                check(ap_held(s.ap_list_lock0, s.ap_list_lock1, vq), "list-lock")
                s.o_ref[o] = s.o_ref[o] + 1
                s.o_vcpu[o] = vq + 1
        spin_unlock(s.irq_lock[o])  # [vgic.c:503]
        if changed:
            ap_list_unlock(self, s, vq)
            spin_lock(s.irq_lock[o])  # [vgic.c:485]
        else:
            with atomic():  # [vgic.c:504] raw_spin_unlock_irqrestore(ap_list_lock); kvm_make_request; kvm_vcpu_kick
                if vq == 0:
                    spin_unlock(s.ap_list_lock0)
                else:
                    spin_unlock(s.ap_list_lock1)
                s.kick[vq] = 1
            return


@procedure
def vgic_prune_ap_list(self, s, v: range(NC)):
    """vgic_prune_ap_list (vgic.c), on exit: for each entry of v's ap_list, under irq_lock ask the
    oracle. None: unlink and put the ap_list reference (no release under the raw lock). v: keep.
    Another vCPU: take a reference, drop both locks, take both ap_list locks in vcpu_id order
    and irq_lock, move it if it is still ours with the same target, drop the locks, put the
    extra reference, kick, and restart the walk. Orphans are released at the end."""
    deleted: bool = False
    z: bool = False
    again: bool = True
    while again:
        again = False
        ap_list_lock(self, s, v)  # retry: raw_spin_lock(&vgic_cpu->ap_list_lock)
        for o in range(NO):
            if not again:
                with atomic():  # [vgic.c:761] list_for_each_entry_safe(irq, tmp, &vgic_cpu->ap_list_head, ap_list)
                    on: bool = s.o_vcpu[o] == v + 1
                if on:
                    spin_lock(s.irq_lock[o])  # [vgic.c:765]
                    with atomic():  # [vgic.c:767] BUG_ON(vcpu != irq->vcpu); target_vcpu = vgic_target_oracle(irq)
                        check(s.o_alive[o] == 1, "use-after-free")
                        check(s.o_vcpu[o] == v + 1, "xen-bug")
                        tv: range(NC + 1) = vgic_target_oracle(s.o_active[o], s.o_vcpu[o], s.o_target[o],
                                                               s.o_enabled[o], s.o_pending[o])
                        if tv == NC:  # list_del(&irq->ap_list); irq->vcpu = NULL
                            check(ap_held(s.ap_list_lock0, s.ap_list_lock1, v), "list-lock")
                            s.o_vcpu[o] = 0
                            spin_unlock(s.irq_lock[o])
                        elif tv == v:  # we're on the right CPU
                            spin_unlock(s.irq_lock[o])
                        else:  # to migrate: vgic_get_irq_ref (kept alive while the locks are dropped)
                            check(s.o_ref[o] > 0, "use-after-free")
                            s.o_ref[o] = s.o_ref[o] + 1
                            spin_unlock(s.irq_lock[o])
                    if tv == NC:
                        z = vgic_put_irq_norelease(self, s, o)
                        deleted = deleted or z
                    elif tv != v:
                        ap_list_unlock(self, s, v)
                        spin_lock(s.ap_list_lock0)  # [vgic.c:818] vcpuA: the lower vcpu_id
                        spin_lock(s.ap_list_lock1)  # [vgic.c:819] vcpuB: raw_spin_lock_nested
                        spin_lock(s.irq_lock[o])  # [vgic.c:821]
                        with atomic():  # [vgic.c:833] irq->vcpu == vcpu && target_vcpu == oracle: list_del; irq->vcpu = target; list_add_tail
                            check(s.o_alive[o] == 1, "use-after-free")
                            mv: bool = s.o_vcpu[o] == v + 1 and tv == vgic_target_oracle(
                                s.o_active[o], s.o_vcpu[o], s.o_target[o], s.o_enabled[o], s.o_pending[o])
                            if mv:
                                s.o_vcpu[o] = tv + 1
                            spin_unlock(s.irq_lock[o])
                        spin_unlock(s.ap_list_lock1)  # [vgic.c:843]
                        spin_unlock(s.ap_list_lock0)  # [vgic.c:844]
                        z = vgic_put_irq_norelease(self, s, o)
                        deleted = deleted or z
                        with atomic():  # [vgic.c:848] target_vcpu_needs_kick: kvm_make_request; kvm_vcpu_kick
                            if mv:
                                s.kick[tv] = 1
                        again = True  # goto retry
        if not again:
            ap_list_unlock(self, s, v)
    if deleted:
        vgic_release_deleted_lpis(self, s)


@procedure
def vgic_flush_pending_lpis(self, s, v: range(NC)):
    """vgic_flush_pending_lpis (vgic.c), when EnableLPIs is cleared (or the vCPU is destroyed):
    under v's ap_list_lock, for every LPI on it: clear pending_latch, unlink, put (no release);
    then release the orphans. An LPI in one of v's LRs stays there until v's next exit."""
    deleted: bool = False
    z: bool = False
    ap_list_lock(self, s, v)
    for o in range(NO):
        with atomic():  # list_for_each_entry_safe(irq, tmp, &vgic_cpu->ap_list_head, ap_list)
            on: bool = s.o_vcpu[o] == v + 1
        if on:
            with atomic():  # raw_spin_lock(irq_lock); pending_latch = false; list_del; irq->vcpu = NULL; unlock
                spin_lock(s.irq_lock[o])
                check(s.o_alive[o] == 1, "use-after-free")
                check(ap_held(s.ap_list_lock0, s.ap_list_lock1, v), "list-lock")
                s.o_pending[o] = 0
                s.o_vcpu[o] = 0
                spin_unlock(s.irq_lock[o])
            z = vgic_put_irq_norelease(self, s, o)
            deleted = deleted or z
    ap_list_unlock(self, s, v)
    if deleted:
        vgic_release_deleted_lpis(self, s)


@procedure
def vgic_v3_fold_lr_state(self, s, v: range(NC)):
    """vgic_v3_fold_lr_state (vgic-v3.c), on exit: for each used LR, look its INTID up (an LPI
    may have been unmapped: skip it), then under irq_lock copy the LR's active bit into
    irq->active and, if the LR is still pending, set pending_latch; put the lookup's reference.
    Then no LR is in use (used_lrs = 0)."""
    f: range(NO + 1) = 0
    for k in range(NL):
        if s.lr_intid[v][k] != 0:  # [v3.c:58] val = cpuif->vgic_lr[lr]; intid = val & ICH_LR_VIRTUAL_ID_MASK
            f = vgic_get_lpi(self, s, s.lr_intid[v][k])  # [v3.c:69] vgic_get_vcpu_irq
            if f != 0:
                with atomic():  # [v3.c:73] raw_spin_lock(irq_lock); irq->active = LR active; LR pending -> pending_latch; unlock
                    spin_lock(s.irq_lock[f - 1])
                    check(s.o_alive[f - 1] == 1, "use-after-free")
                    check(s.lr_own[v][k] == f, "lr-wrong-pending-irq")
                    s.o_active[f - 1] = (s.lr_state[v][k] & LR_ACTIVE) != 0
                    if s.lr_state[v][k] & LR_PENDING:
                        s.o_pending[f - 1] = 1
                    spin_unlock(s.irq_lock[f - 1])
                vgic_put_irq(self, s, f - 1)
    with atomic():  # [v3.c:104] cpuif->used_lrs = 0
        for k2 in range(NL):
            s.lr_intid[v][k2] = 0
            s.lr_state[v][k2] = 0
            s.lr_own[v][k2] = 0


@procedure
def vgic_flush_lr_state(self, s, v: range(NC)):
    """vgic_flush_lr_state (vgic.c), v's ap_list_lock held, before entering the guest: walk the
    ap_list and, for each entry whose oracle is v, populate the next LR under irq_lock
    (vgic_v3_populate_lr: active bit, pending bit, and an edge LPI's pending_latch is consumed);
    stop when every LR is used. The LRs left were cleared by the fold."""
    count: range(NL + 1) = 0
    for o in range(NO):
        if count < NL:
            with atomic():  # [vgic.c:1020] list_for_each_entry(irq, &vgic_cpu->ap_list_head, ap_list)
                on: bool = s.o_vcpu[o] == v + 1
            if on:
                with atomic():  # [vgic.c:1021] scoped_guard(irq_lock): oracle == vcpu: vgic_populate_lr(vcpu, irq, count++)
                    spin_lock(s.irq_lock[o])
                    check(s.o_alive[o] == 1, "use-after-free")
                    if vgic_target_oracle(s.o_active[o], s.o_vcpu[o], s.o_target[o], s.o_enabled[o],
                                          s.o_pending[o]) == v:
                        s.lr_intid[v][count] = OINTID(o)
                        s.lr_state[v][count] = (LR_ACTIVE if s.o_active[o] else 0) | (
                            LR_PENDING if s.o_pending[o] else 0)
                        s.lr_own[v][count] = o + 1
                        s.o_pending[o] = 0
                        count = count + 1
                    spin_unlock(s.irq_lock[o])


@procedure
def kvm_vgic_sync_hwstate(self, s, v: range(NC)):
    """kvm_vgic_sync_hwstate (vgic.c), after the guest ran (interrupts off): vgic_fold_state ->
    vgic_v3_fold_lr_state, then vgic_prune_ap_list."""
    vgic_v3_fold_lr_state(self, s, v)
    vgic_prune_ap_list(self, s, v)


@procedure
def kvm_vgic_flush_hwstate(self, s, v: range(NC)):
    """kvm_vgic_flush_hwstate (vgic.c), before the guest runs: vgic_flush_state ->
    under ap_list_lock, vgic_flush_lr_state."""
    ap_list_lock(self, s, v)
    vgic_flush_lr_state(self, s, v)
    ap_list_unlock(self, s, v)

