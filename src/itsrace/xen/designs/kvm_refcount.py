# mypy: disable-error-code="valid-type"
"""``kvm-refcount``: KVM's reference-counted ``vgic_irq`` (arch/arm64/kvm/vgic), put into Xen's
code structure. A stand-in until the KVM model (its own base) replaces it; the facts are those of
``shared/domain/kvm-vgic-its-design.md`` ("KVM doc §N"), ``docs/hyp-model.md`` maps them.

* Each vINTID has at most one object; the index (Xen's radix tree, KVM's ``lpi_xa``) holds it as
  long as anybody holds a reference (KVM doc §1, §2).
* References (``p_ref``): one per ITE (MAPTI's ``vgic_add_lpi``) and a transient one per lookup
  on the injection path, taken by try-get in the same step as the lookup (§2, §8); membership of
  a vCPU's lists (the ap_list; ``inflight_irqs`` here) holds one too (``p_infl != 0``).
* The last put evicts the object from the index and frees it in one step
  (``refcount_dec_and_lock``, §2).
* DISCARD and MAPD V=0 put only the ITE's reference (``its_free_ite``, §5): an object on a
  vCPU's lists, maybe in an LR, stays alive and indexed until the LR sync unlinks it.
* MAPTI of a vINTID whose object is still alive shares it; an injection of an LPI already on a
  list only marks it pending and kicks (§4 step 2). The index is read under RCU (no waiting).

Not modelled: the translation cache (§6), ap_list migration after MOVI, GICv4.
"""

from __future__ import annotations

from typing import Any

from itsrace.engine.lang.process import (
    atomic,
    await_,
    check,
    lockfree,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import LR_ACTIVE, LR_PENDING, NC, NCOL, ND, NE, NL, NPC, NPRIO, NPTR, NQ, NV
from itsrace.xen.its_cmds import (
    XZALLOC,
    coll_vcpu,
    gicv3_remove_guest_event,
    itte_vcpu,
    unreferenced,
)
from itsrace.xen.lr import gic_raise_guest_irq
from itsrace.xen.pending_irq import (
    GEN,
    PTR,
    SLOT,
    is_current,
    tree_ptr,
    vgic_v3_lpi_get_priority,
    vgic_v3_lpi_to_pending,
)
from itsrace.xen.properties import at_rest
from itsrace.xen.state import setup_mapti as xen_setup_mapti

# lockset: the last put runs on an object no one else can reach (refcount_dec_and_lock on
# lpi_xa's lock: the count is 0 and the object is on no list), so it needs no vgic lock
LAST_PUT = "the last vgic_put_irq: refcount 0 under lpi_xa's lock and on no ap_list, unreachable"
FREE_STORAGE = "vgic_add_lpi / the free: the storage holds no live object (refcount 0), nobody else reaches it"
KVM_IRQ_LOCK = "update_affinity takes irq->irq_lock in KVM; the design makes the step atomic instead"

DESIGN = Design(
    "kvm-refcount", base="xen-4.10",
    summary="KVM's design: refcounted per-vINTID objects, try-get lookups, DISCARD puts only the ITE's reference",
    source="Linux arch/arm64/kvm/vgic/{vgic-its.c,vgic.c} (shared/domain/kvm-vgic-its-design.md)",
)
# every event's ITE + the LPI handler + an INT on every vCPU
DESIGN.var("p_ref", lambda K: range(K["NQ"] + K["NC"] + 2), "NQ",
           doc="ITE and transient references (the ap_list one is p_infl != 0)")


@DESIGN.override
def event_pending_irq(tree: tuple[int, ...], gens: tuple[int, ...], itte_lpi: tuple[int, ...], q: int) -> int:
    """``ite->irq``: the object of the ITE's vINTID (shared by every ITE mapping that vINTID)."""
    return tree_ptr(tree, gens, itte_lpi[q])


@DESIGN.override
def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """DISCARD: ``its_free_ite`` puts only the ITE's reference; lists and LRs keep theirs."""
    with atomic():  # [vgic-v3-its.c:596] read_itte: the vCPU of the ITTE's collection, and the vLPI
        vc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        vl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
    if vc >= NC or vl == 0:
        return 1
    its_free_ite(self, s, dev, ev)
    return 0


@DESIGN.procedure
def its_free_ite(self, s, dev: range(ND), ev: range(NE)):
    """KVM's ``its_free_ite`` (its_lock held), from DISCARD and from MAPD V=0 for every ITE of
    the device, whatever its collection: put the ITE's reference on the vINTID's object, then
    cut the host LPI -> vLPI connection. Nothing is unlinked or re-initialised."""
    with atomic():  # [patch] ite->irq
        fp: range(NPTR) = tree_ptr(s.tree, s.p_gen, s.itte_lpi[dev * NE + ev])
    if fp != 0:
        vgic_put_lpi(self, s, fp)
    gicv3_remove_guest_event(self, s, dev, ev)


@DESIGN.procedure
def vgic_get_lpi(self, s, V: range(NV + 1)):
    """KVM's ``vgic_get_lpi``: under RCU, ``xa_load(lpi_xa, V)`` and ``refcount_inc_not_zero``,
    one step, so the reference is taken inside the section that makes the lookup safe. The index
    never holds a count-0 object (the last put evicts it in the same step)."""
    with atomic():  # [patch] rcu_read_lock; irq = xa_load(lpi_xa, V); try-get; rcu_read_unlock
        found: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
        if found != 0:
            check(s.p_alive[SLOT(found)] == 1, "use-after-free")
            s.p_ref[SLOT(found)] = s.p_ref[SLOT(found)] + 1
    return found


@DESIGN.procedure
def vgic_put_lpi(self, s, r: range(NPTR)):
    """KVM's ``vgic_put_irq`` for an ITE or transient reference: ``refcount_dec_and_lock`` on
    ``lpi_xa``'s lock, so the last decrement, the eviction from the index and the free are one
    step. The ap_list reference is dropped where the LR sync unlinks the object."""
    with atomic():  # [patch] refcount_dec_and_lock(&irq->refcount, &lpi_xa.xa_lock); last: xa_erase; kfree_rcu
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_ref[SLOT(r)] > 0, "double-free")  # a put without its get
        s.p_ref[SLOT(r)] = s.p_ref[SLOT(r)] - 1
        if s.p_ref[SLOT(r)] == 0 and lockfree(s.p_infl[SLOT(r)] == 0, LAST_PUT):
            if lockfree(s.p_irq[SLOT(r)] != 0 and s.tree[s.p_irq[SLOT(r)] - 1] == SLOT(r) + 1, LAST_PUT):
                s.tree[lockfree(s.p_irq[SLOT(r)], LAST_PUT) - 1] = 0  # evicted from the index in the step of the last put
            s.p_irq[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_vcpu[SLOT(r)] = lockfree(NC, LAST_PUT)
            s.p_queued[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_active[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_visible[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_enabled[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_lr[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_prio[SLOT(r)] = lockfree(0, LAST_PUT)
            s.p_lpiprio[SLOT(r)] = lockfree(0, LAST_PUT)
            if not s.host_dev[SLOT(r) // NE]:  # its device's storage is gone: the object goes with its last reference
                s.p_alive[SLOT(r)] = 0
                s.p_gen[SLOT(r)] = 1 - s.p_gen[SLOT(r)]


@DESIGN.override
def its_unmap_device(self, s, cpu: range(NPC), dev: range(ND)):
    """its_unmap_device (vgic-v3-its.c:632): under its_lock, its_discard_event for every event
    of the device's ITT (errors ignored: an event whose ITTE cannot be read stays mapped)."""
    with atomic():  # [vgic-v3-its.c:637] its_lock; its_get_itt
        spin_lock(s.its_lock)
        itt: bool = s.dte[dev]
    if itt:
        ev: range(NE + 1) = 0
        while ev < NE:
            with atomic():  # [patch] vgic_its_free_device frees every ITE, mapped collection or not
                has_ite: bool = s.itte_lpi[dev * NE + ev] != 0
            if has_ite:
                its_free_ite(self, s, dev, ev)
            ev = ev + 1
    spin_unlock(s.its_lock)  # [vgic-v3-its.c:655]


@DESIGN.override
def remove_mapped_guest_device(self, s, dev: range(ND)):
    """remove_mapped_guest_device (gic-v3-its.c:537), only vcmd_lock held: host MAPD V=0, free
    the host LPI blocks, wait for the host command queue, then xfree the ITT, pend_irqs and the
    device. Nothing waits for a gicv3_do_LPI that is already past its lookup."""
    with atomic():  # [gic-v3-its.c:544] its_send_cmd_mapd(valid = false): the host ITS stops translating
        s.hits_dev[dev] = 0
    with atomic():  # [gic-v3-its.c:547] gicv3_free_host_lpi_block: entries := {0, DOMID_INVALID}
        for e in range(NE):
            s.host_lpi[dev * NE + e] = -1
    with atomic():  # [gic-v3-its.c:559] gicv3_its_wait_commands; xfree(pend_irqs)
        for e in range(NE):  # free what nobody references; the rest goes with its last put
            if s.p_alive[dev * NE + e] and s.p_ref[dev * NE + e] == 0 and lockfree(s.p_infl[dev * NE + e] == 0, FREE_STORAGE):
                check(unreferenced(s.tree, s.p_infl, s.p_lrq, dev * NE + e), "free-while-referenced")
                s.p_alive[dev * NE + e] = 0
                s.p_gen[dev * NE + e] = 1 - s.p_gen[dev * NE + e]


@DESIGN.override
def its_handle_mapd(self, s, cpu: range(NPC), dev: range(ND), valid: range(2)):
    """its_handle_mapd (vgic-v3-its.c:658) with gicv3_its_map_guest_device (gic-v3-its.c:637)
    for Dom0 (guest DeviceID = host DeviceID)."""
    if valid:
        with atomic():  # [gic-v3-its.c:670 gicv3_its_map_guest_device] its_devices_lock; -EBUSY if mapped; xzalloc pend_irqs; host MAPD; rb_insert
            spin_lock(s.devs_lock)
            busy: bool = s.host_dev[dev]
            if not busy:
                s.host_dev[dev] = 1
                for e in range(NE):  # a slot still holding a live object (shared by another ITE) keeps it
                    if s.p_ref[dev * NE + e] == 0 and lockfree(s.p_infl[dev * NE + e] == 0, FREE_STORAGE):
                        s.p_alive[dev * NE + e] = 1
                        s.p_heads[dev * NE + e] = 0
                        s.p_queued[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_active[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_visible[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_enabled[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_pristine[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_irq[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_lr[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_prio[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_lpiprio[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_vcpu[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_infl[dev * NE + e] = lockfree(0, XZALLOC)
                        s.p_lrq[dev * NE + e] = lockfree(0, XZALLOC)
            spin_unlock(s.devs_lock)
        if busy:
            return 1
        with atomic():  # [gic-v3-its.c:760 gicv3_its_map_guest_device] gicv3_allocate_host_lpi_block ({INVALID_LPI, d}); host MAPTI + INV; SYNC
            for e in range(NE):
                s.host_lpi[dev * NE + e] = 0
            s.hits_dev[dev] = 1
        with atomic():  # [vgic-v3-its.c:697] its_set_itt_address under its_lock
            spin_lock(s.its_lock)
            s.dte[dev] = 1
            spin_unlock(s.its_lock)
        return 0
    its_unmap_device(self, s, cpu, dev)
    with atomic():  # [gic-v3-its.c:683 gicv3_its_map_guest_device] gicv3_its_map_guest_device(valid = 0): find the device, rb_erase
        spin_lock(s.devs_lock)
        found: bool = s.host_dev[dev]
        s.host_dev[dev] = 0
        spin_unlock(s.devs_lock)
    if found:
        remove_mapped_guest_device(self, s, dev)
    with atomic():  # [vgic-v3-its.c:702] its_set_itt_address(INVALID_PADDR) under its_lock
        spin_lock(s.its_lock)
        s.dte[dev] = 0
        spin_unlock(s.its_lock)
    return 0


@DESIGN.override
def its_handle_mapti(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE), V: range(1, NV + 1), col: range(NCOL)):
    """MAPTI with ``vgic_add_lpi``: under the index's lock (IRQs off) the vINTID's live object
    gets the ITE's reference, or the event's storage becomes a new object for it."""
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
    with atomic():  # [patch] vgic_add_lpi under xa_lock (IRQs off): V's live object gets the ITE's reference, else a new one
        check(s.p_alive[SLOT(pi)] == 1, "use-after-free")
        ex: range(NQ + 1) = s.tree[V - 1]
        kok: bool = True
        if ex != 0:  # the vINTID's object is alive (an LR or list still holds it): share it
            check(s.p_alive[ex - 1] == 1, "use-after-free")
            s.p_ref[ex - 1] = s.p_ref[ex - 1] + 1
            s.p_vcpu[ex - 1] = lockfree(vc, KVM_IRQ_LOCK)  # update_affinity_ite
        elif s.p_ref[SLOT(pi)] == 0 and lockfree(s.p_infl[SLOT(pi)] == 0 and s.p_lrq[SLOT(pi)] == 0, FREE_STORAGE):
            check(unreferenced(s.tree, s.p_infl, s.p_lrq, SLOT(pi)), "free-while-referenced")
            s.p_gen[SLOT(pi)] = 1 - s.p_gen[SLOT(pi)]  # a new object
            s.p_heads[SLOT(pi)] = 1
            s.p_queued[SLOT(pi)] = lockfree(0, FREE_STORAGE)
            s.p_active[SLOT(pi)] = lockfree(0, FREE_STORAGE)
            s.p_visible[SLOT(pi)] = lockfree(0, FREE_STORAGE)
            s.p_pristine[SLOT(pi)] = lockfree(0, FREE_STORAGE)
            s.p_lr[SLOT(pi)] = lockfree(0, FREE_STORAGE)
            s.p_prio[SLOT(pi)] = lockfree(0, FREE_STORAGE)
            s.p_irq[SLOT(pi)] = lockfree(V, FREE_STORAGE)
            s.p_enabled[SLOT(pi)] = lockfree(s.prop_en[V - 1], FREE_STORAGE)
            s.p_lpiprio[SLOT(pi)] = lockfree(s.prop_prio[V - 1], FREE_STORAGE)
            s.p_vcpu[SLOT(pi)] = lockfree(vc, FREE_STORAGE)
            s.p_ref[SLOT(pi)] = 1  # the ITE's reference
            s.tree[V - 1] = SLOT(pi) + 1
        else:  # the event's storage still holds another vINTID's object: -ENOMEM (a model bound)
            kok = False
    if not kok:
        with atomic():  # [vgic-v3-its.c:797] undo: host entry, then the ITTE
            s.host_lpi[dev * NE + ev] = 0
        with atomic():  # [vgic-v3-its.c:801] undo: ITTE := unmapped
            spin_lock(s.its_lock)
            s.itte_lpi[dev * NE + ev] = 0
            s.itte_col[dev * NE + ev] = NCOL
            spin_unlock(s.its_lock)
        return 1
    return 0


@DESIGN.override
def gic_update_one_lr(self, s, cpu: range(NPC), v: range(NC), i: range(NL + 1)):
    """The LR fold on exit (KVM's vgic_fold_lr_state + vgic_prune_ap_list): no PRISTINE; an
    EOIed LPI leaves the ap_list unless it fired again, and that drop may be the last put."""
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
                # vgic_prune_ap_list asks the oracle under irq_lock, which the injector also holds
                # to set pending: an LPI that fired again meanwhile stays listed
                keep: bool = s.p_enabled[SLOT(p)] and s.p_queued[SLOT(p)]
                if not keep:
                    s.p_infl[SLOT(p)] = 0
                    if s.p_ref[SLOT(p)] == 0:  # the ap_list reference was the last: final put
                        if s.p_irq[SLOT(p)] != 0 and s.tree[s.p_irq[SLOT(p)] - 1] == SLOT(p) + 1:
                            s.tree[s.p_irq[SLOT(p)] - 1] = 0  # evicted from the index in the step of the last put
                        s.p_irq[SLOT(p)] = 0
                        s.p_vcpu[SLOT(p)] = NC
                        s.p_queued[SLOT(p)] = 0
                        s.p_active[SLOT(p)] = 0
                        s.p_visible[SLOT(p)] = 0
                        s.p_enabled[SLOT(p)] = 0
                        s.p_lr[SLOT(p)] = 0
                        s.p_prio[SLOT(p)] = 0
                        s.p_lpiprio[SLOT(p)] = 0
                        if not s.host_dev[SLOT(p) // NE]:  # its device's storage is gone: the object goes with its last reference
                            s.p_alive[SLOT(p)] = 0
                            s.p_gen[SLOT(p)] = 1 - s.p_gen[SLOT(p)]
            if keep:  # (the model raises it again on this vCPU; KVM would migrate it to its target)
                gic_raise_guest_irq(self, s, cpu, v, virq)


@DESIGN.override
def vgic_vcpu_inject_lpi(self, s, cpu: range(NPC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_lpi with KVM's ``inject_cached``: the first lookup is a try-get
    (``vgic_get_lpi``), the target is read under that reference, and the reference is put when
    the injection is done."""
    rk: range(NPTR) = vgic_get_lpi(self, s, V)  # the lookup, with a reference
    if rk == 0:
        return
    with atomic():  # [gic-v3-lpi.c:152] vcpu_id = irq->target_vcpu, under our reference
        check(s.p_alive[SLOT(rk)] == 1, "use-after-free")
        check(s.p_gen[SLOT(rk)] == GEN(rk), "use-after-reinit")
        kvid: range(NC + 1) = lockfree(s.p_vcpu[SLOT(rk)], "READ_ONCE(irq->target_vcpu) under our reference "
                                                           "(vgic_its_inject_cached_translation)")
    if kvid < NC:
        vgic_vcpu_inject_irq(self, s, cpu, kvid, V)
    vgic_put_lpi(self, s, rk)  # balances the try-get; may be the last reference


@DESIGN.override
def vgic_vcpu_inject_irq(self, s, cpu: range(NPC), v: range(NC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_irq (vgic.c:511): under v's vgic lock, look V up again, mark it QUEUED,
    then either refresh it where it already is (inflight) or raise it and add it to
    inflight_irqs. Then kick the vCPU if it runs on another pCPU (vcpu_unblock + event-check
    SGI)."""
    spin_lock_irqsave(s.vgic_lock[v])  # [vgic.c:518]
    n: range(NPTR) = vgic_v3_lpi_to_pending(self, s, V)  # second lookup, under the vgic lock
    if n == 0:
        spin_unlock_irqrestore(s.vgic_lock[v])  # [vgic.c:524]
        return
    with atomic():  # [vgic.c:535] set_bit(QUEUED); list_empty(&n->inflight)
        check(n != 0, "null-deref")
        check(s.p_alive[SLOT(n)] == 1, "use-after-free")
        check(s.p_gen[SLOT(n)] == GEN(n), "use-after-reinit")
        s.p_queued[SLOT(n)] = 1
        infl: range(NC + 1) = s.p_infl[SLOT(n)]
    if infl == 0:  # not yet on an ap_list (a listed one only gets the kick below: vgic_queue_irq_unlock)
        prio: range(NPRIO) = vgic_v3_lpi_get_priority(self, s, V)
        with atomic():  # [vgic.c:543] n->priority = priority; test_bit(ENABLED)
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            s.p_prio[SLOT(n)] = prio
            en: bool = s.p_enabled[SLOT(n)]
        if en:
            gic_raise_guest_irq(self, s, cpu, v, V)
        with atomic():  # [vgic.c:550] list_add into inflight_irqs, ordered by priority
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            check(s.p_heads[SLOT(n)] == 1, "null-deref")
            check(s.p_infl[SLOT(n)] == 0, "list-lock")
            check(s.p_lrq[SLOT(n)] in (0, v + 1), "list-lock")
            s.p_infl[SLOT(n)] = v + 1
    spin_unlock_irqrestore(s.vgic_lock[v])  # [vgic.c:560]
    if not is_current(cpu, v):  # vcpu_unblock(v); if running elsewhere: EVENT_CHECK SGI
        s.kick[v] = 1  # [vgic.c:562]


@DESIGN.override
def find_unused_lr(pristine: int, irq: int, mask: tuple[int, ...], virqs: tuple[int, ...], start: int) -> int:
    """No PRISTINE: the first free LR at or after ``start``."""
    for k in range(start, NL):
        if not mask[k]:
            return k
    return NL


@DESIGN.pure
def live_ites(dte: tuple[int, ...], itte_lpi: tuple[int, ...], V: int) -> int:
    """The ITEs of mapped devices naming vINTID V (each holds a reference)."""
    return sum(1 for q in range(NQ) if dte[q // NE] and itte_lpi[q] == V and V != 0)


@DESIGN.pure
def cleaned_refcounted(gone: tuple[int, ...], alive: tuple[int, ...], tree: tuple[int, ...],
                       infl: tuple[int, ...], lrq: tuple[int, ...], host_lpi: tuple[int, ...],
                       host_dev: tuple[int, ...], ref: tuple[int, ...], irq: tuple[int, ...],
                       dte: tuple[int, ...], itte_lpi: tuple[int, ...]) -> bool:
    """``cleaned``, where objects belong to vINTIDs, not devices: a removed device's slot may
    hold the object of a vINTID that another device's ITEs now share; it is no leftover if
    exactly those ITEs reference it (a leaked or transient reference is one)."""
    for d in range(ND):
        if not gone[d]:
            continue
        if host_dev[d]:
            return False
        for e in range(NE):
            q = d * NE + e
            if alive[q] or infl[q] or lrq[q] or host_lpi[q] != -1 or any(t == q + 1 for t in tree[:NV]):
                held = (alive[q] and not infl[q] and not lrq[q] and host_lpi[q] == -1
                        and ref[q] > 0 and ref[q] == live_ites(dte, itte_lpi, irq[q]))
                if not held:
                    return False
    return True


@DESIGN.override
def device_cleaned_up(s):
    """Nothing is left of a device after MAPD V=0 but objects other devices' ITEs share."""
    return not at_rest(s.pc_vCPU, s.pc_gicv3_do_LPI) or cleaned_refcounted(
        s.dev_gone, s.p_alive, s.tree, s.p_infl, s.p_lrq, s.host_lpi, s.host_dev, s.p_ref, s.p_irq,
        s.dte, s.itte_lpi)


@DESIGN.override
def setup_mapti(s: dict[str, Any], K: dict[str, Any], c: Any, where: str) -> None:
    """MAPTI in a setup: no PRISTINE; the ITE holds the object's one reference."""
    xen_setup_mapti(s, K, c, where)
    q = c.args[0] * K["NE"] + c.args[1]
    s["p_pristine"][q] = 0
    s["p_ref"][q] = 1
