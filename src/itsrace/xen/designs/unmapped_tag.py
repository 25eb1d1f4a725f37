# mypy: disable-error-code="valid-type"
"""``unmapped-tag``: Andre's proposal, as written in the thread (10 Apr 2017).

* DISCARD first tags the ``pending_irq`` UNMAPPED, then removes the host LPI -> vLPI connection;
  the injection path drops a tagged LPI.
* A tagged ``pending_irq`` still in an LR stays in the radix tree and on the vCPU's lists; when
  the vCPU exits and the LR is cleaned up (``gic_update_one_lr``), the LR is cleared, the
  ``pending_irq`` leaves every list and the radix tree (the thread's ``cleanup_lpi()``) and is
  re-initialised. One that is in no LR is retired by DISCARD at once.
* MAPD V=0 tags every event and frees ``pend_irqs`` when the last tagged one has been retired.
* A new MAPTI re-initialises the ``pending_irq`` (clearing the tag). Nothing marks it PRISTINE.

Stefano's objection: "DISCARD; MAPTI" of the same vLPI while it is still in an LR; Julien's: an
interrupt arriving just before the LR is cleared.
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
    write_lock,
    write_unlock,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import LR_ACTIVE, LR_PENDING, NC, NCOL, ND, NE, NL, NPC, NPRIO, NPTR, NV
from itsrace.xen.its_cmds import (
    UNPUBLISHED,
    XZALLOC,
    coll_vcpu,
    gicv3_remove_guest_event,
    its_unmap_device,
    itte_vcpu,
    unreferenced,
)
from itsrace.xen.lr import gic_raise_guest_irq, gic_raise_inflight_irq
from itsrace.xen.pending_irq import (
    GEN,
    PTR,
    SLOT,
    gic_remove_irq_from_queues,
    is_current,
    tree_ptr,
    vgic_v3_lpi_get_priority,
    vgic_v3_lpi_to_pending,
)
from itsrace.xen.state import setup_mapti as xen_setup_mapti

DESIGN = Design(
    "unmapped-tag", base="xen-4.10",
    summary="Andre's proposal: tag a discarded pending_irq UNMAPPED, retire it when its LR is cleaned up",
    source="xen-devel, 'ITS emulation race conditions', Andre Przywara, 10 Apr 2017",
)
DESIGN.var("p_unmapped", bool, "NQ", doc="status bit UNMAPPED (the proposal's tag)")
DESIGN.var("free_pending", bool, "ND", doc="MAPD V=0 is waiting for tagged pending_irqs to retire (deferred free)")


@DESIGN.override
def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_discard_event with the tag: under the ITTE vCPU's vgic lock tag the pending_irq
    UNMAPPED first; if it is in no LR retire it now (tree, lists, re-initialise), else leave it
    for the LR clean-up; then cut the host LPI -> vLPI connection."""
    with atomic():  # [vgic-v3-its.c:596] read_itte: the vCPU of the ITTE's collection, and the vLPI
        vc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        vl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
    if vc >= NC or vl == 0:
        return 1
    spin_lock_irqsave(s.vgic_lock[vc])  # [vgic-v3-its.c:607]
    with atomic():  # [vgic-v3-its.c:610] look vlpi up (not delete); tag it UNMAPPED first
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        pt: range(NPTR) = tree_ptr(s.tree, s.p_gen, vl)
        if pt != 0:
            check(s.p_alive[SLOT(pt)] == 1, "use-after-free")
            s.p_unmapped[SLOT(pt)] = 1
            in_lr: bool = s.p_visible[SLOT(pt)]
    if pt == 0:
        spin_unlock_irqrestore(s.vgic_lock[vc])  # [vgic-v3-its.c:616]
        return 1
    if not in_lr:
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
        with atomic():  # in no LR: retire now (radix_tree_delete)
            s.tree[vl - 1] = 0
            write_unlock(s.tree_lock)
        gic_remove_irq_from_queues(self, s, vc, pt)
        vgic_init_pending_irq_invalid(self, s, pt)
    spin_unlock_irqrestore(s.vgic_lock[vc])  # [vgic-v3-its.c:625]
    gicv3_remove_guest_event(self, s, dev, ev)
    return 0


@DESIGN.override
def vgic_init_pending_irq_invalid(self, s, r: range(NPTR)):
    """vgic_init_pending_irq(p, INVALID_LPI) (vgic.c:64) from DISCARD: memset, list heads
    re-initialised, irq = INVALID_LPI, lpi_vcpu_id = INVALID_VCPU_ID. A tombstone, not a new
    identity: injectors are meant to read INVALID_VCPU_ID and drop the LPI."""
    with atomic():  # [vgic.c:69] memset(p, 0); irq = INVALID_LPI; lpi_vcpu_id = INVALID_VCPU_ID
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_infl[SLOT(r)] == 0 and s.p_lrq[SLOT(r)] == 0, "free-while-referenced")
        s.p_heads[SLOT(r)] = 0
        s.p_queued[SLOT(r)] = 0
        s.p_active[SLOT(r)] = 0
        s.p_visible[SLOT(r)] = 0
        s.p_enabled[SLOT(r)] = 0
        s.p_pristine[SLOT(r)] = 0
        s.p_unmapped[SLOT(r)] = 0
        s.p_irq[SLOT(r)] = 0
        s.p_lr[SLOT(r)] = 0
        s.p_prio[SLOT(r)] = 0
        s.p_lpiprio[SLOT(r)] = 0
        s.p_vcpu[SLOT(r)] = 0
    with atomic():  # INIT_LIST_HEAD x2; irq = INVALID_LPI; lpi_vcpu_id = INVALID_VCPU_ID
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        s.p_heads[SLOT(r)] = 1
        s.p_vcpu[SLOT(r)] = NC


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
        if any(s.p_alive[dev * NE + e] and s.p_unmapped[dev * NE + e] for e in range(NE)):
            s.free_pending[dev] = 1  # freed when the last tagged event retires (its_cleanup_lpi)
        else:
            for e in range(NE):
                check(s.p_alive[dev * NE + e] == 1, "double-free")
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
                for e in range(NE):
                    s.p_alive[dev * NE + e] = 1
                    s.p_heads[dev * NE + e] = 0
                    s.p_queued[dev * NE + e] = lockfree(0, XZALLOC)
                    s.p_active[dev * NE + e] = lockfree(0, XZALLOC)
                    s.p_visible[dev * NE + e] = lockfree(0, XZALLOC)
                    s.p_enabled[dev * NE + e] = lockfree(0, XZALLOC)
                    s.p_pristine[dev * NE + e] = lockfree(0, XZALLOC)
                    s.p_unmapped[dev * NE + e] = 0
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
    """its_handle_mapti without PRISTINE: re-initialising the pending_irq clears the tag."""
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
    with atomic():  # [vgic-v3-its.c:762] vgic_init_pending_irq(p, V); update_lpi_property; lpi_vcpu_id; clear the tag
        check(s.p_alive[SLOT(pi)] == 1, "use-after-free")
        check(unreferenced(s.tree, s.p_infl, s.p_lrq, SLOT(pi)), "free-while-referenced")
        s.p_gen[SLOT(pi)] = 1 - s.p_gen[SLOT(pi)]  # a new identity
        pi = PTR(SLOT(pi), s.p_gen[SLOT(pi)])
        s.p_heads[SLOT(pi)] = 1
        s.p_queued[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_active[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_visible[SLOT(pi)] = lockfree(0, UNPUBLISHED)
        s.p_unmapped[SLOT(pi)] = 0
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


@DESIGN.override
def gic_update_one_lr(self, s, cpu: range(NPC), v: range(NC), i: range(NL + 1)):
    """gic_update_one_lr with the tag instead of PRISTINE: an LR whose pending_irq is tagged
    UNMAPPED is retired (its_cleanup_lpi); any other is folded back as in Xen."""
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
    with atomic():  # [gic.c:528] test_bit(UNMAPPED)
        check(s.p_alive[SLOT(p)] == 1, "use-after-free")
        tagged: bool = s.p_unmapped[SLOT(p)]
    if tagged:
        its_cleanup_lpi(self, s, v, i, p)
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


@DESIGN.procedure
def its_cleanup_lpi(self, s, v: range(NC), i: range(NL + 1), p: range(NPTR)):
    """The proposal's ``cleanup_lpi()``: an LR holding a tagged pending_irq is cleared, the
    pending_irq leaves all lists and the radix tree and is re-initialised; a MAPD V=0 waiting for
    its device's last tagged event frees the array."""
    with atomic():  # [patch] clear_lr(i); clear_bit(i, lr_mask)
        s.lr_virq[v][i] = 0
        s.lr_state[v][i] = 0
        s.lr_mask[v][i] = 0
        s.lr_own[v][i] = 0
    with atomic():  # [patch] remove from all lists
        check(s.p_alive[SLOT(p)] == 1, "use-after-free")
        check(s.p_infl[SLOT(p)] in (0, v + 1), "list-lock")
        check(s.p_lrq[SLOT(p)] in (0, v + 1), "list-lock")
        s.p_infl[SLOT(p)] = 0
        s.p_lrq[SLOT(p)] = 0
        s.p_queued[SLOT(p)] = 0
    with atomic():  # [patch] write_lock(tree): no reader in, so take it at once (_write_lock, rwlock.h:124); else queue behind the readers
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
    with atomic():  # write_lock(tree); radix_tree_delete; vgic_init_pending_irq(p, INVALID_LPI)
        check(s.p_alive[SLOT(p)] == 1, "use-after-free")
        if s.p_irq[SLOT(p)] != 0 and s.tree[s.p_irq[SLOT(p)] - 1] == SLOT(p) + 1:
            s.tree[s.p_irq[SLOT(p)] - 1] = 0
        s.p_irq[SLOT(p)] = 0
        s.p_vcpu[SLOT(p)] = NC
        s.p_unmapped[SLOT(p)] = 0
        s.p_visible[SLOT(p)] = 0
        s.p_active[SLOT(p)] = 0
        s.p_enabled[SLOT(p)] = 0
        s.p_pristine[SLOT(p)] = 0
        s.p_lr[SLOT(p)] = 0
        if s.free_pending[SLOT(p) // NE]:
            if not any(s.p_unmapped[SLOT(p) // NE * NE + e] for e in range(NE)):
                for e in range(NE):
                    # the deferred xfree is checked as the immediate one is (its_unmap_device)
                    check(unreferenced(s.tree, s.p_infl, s.p_lrq, SLOT(p) // NE * NE + e), "free-while-referenced")
                    s.p_alive[SLOT(p) // NE * NE + e] = 0
                    s.p_gen[SLOT(p) // NE * NE + e] = 1 - s.p_gen[SLOT(p) // NE * NE + e]
                s.free_pending[SLOT(p) // NE] = 0
        write_unlock(s.tree_lock)


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
    with atomic():  # [patch] test_bit(UNMAPPED): a tagged LPI is not injected any more
        check(n != 0, "null-deref")
        check(s.p_alive[SLOT(n)] == 1, "use-after-free")
        tagged: bool = s.p_unmapped[SLOT(n)]
    if tagged:
        spin_unlock_irqrestore(s.vgic_lock[v])  # [patch]
        return
    with atomic():  # [vgic.c:535] set_bit(QUEUED); list_empty(&n->inflight)
        check(n != 0, "null-deref")
        check(s.p_alive[SLOT(n)] == 1, "use-after-free")
        check(s.p_gen[SLOT(n)] == GEN(n), "use-after-reinit")
        s.p_queued[SLOT(n)] = 1
        infl: range(NC + 1) = s.p_infl[SLOT(n)]
    if infl != 0:
        gic_raise_inflight_irq(self, s, cpu, v, V)
    else:
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
    """gic_find_unused_lr without PRISTINE: the first free LR at or after ``start``."""
    for k in range(start, NL):
        if not mask[k]:
            return k
    return NL


@DESIGN.override
def setup_mapti(s: dict[str, Any], K: dict[str, Any], c: Any, where: str) -> None:
    """MAPTI in a setup leaves no PRISTINE bit."""
    xen_setup_mapti(s, K, c, where)
    s["p_pristine"][c.args[0] * K["NE"] + c.args[1]] = 0
