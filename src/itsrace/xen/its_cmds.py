# mypy: disable-error-code="valid-type"
"""vgic-v3-its.c and gic-v3-its.c: the guest's ITS commands (Xen RELEASE-4.10.0).

Every handler runs on the pCPU of the vCPU that wrote GITS_CWRITER, with interrupts enabled
(``do_trap_guest_sync``), holding ``vcmd_lock`` (the whole command loop holds it, so commands of
one vITS never overlap). Guest-table accesses (``read_itte``, ``write_itte``, the collection and
device tables) are made under ``its_lock`` and are one step each.

Handlers return 0 on success and 1 on failure; like Xen, a failing command is logged and
skipped (CREADR still advances), which the caller does. The guest's view of what its completed
commands mapped (for the delivery properties) is kept by the caller, from the commands alone.

The functions the April 2017 thread argued about, and so the ones designs override most:
:func:`its_discard_event` (what DISCARD does with a pending_irq that may be in an LR),
:func:`its_handle_mapti` (PRISTINE marking), :func:`remove_mapped_guest_device` (when
``pend_irqs`` is freed).
"""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    await_,
    check,
    lockfree,
    read_lock,
    read_unlock,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
    write_lock,
    write_unlock,
)
from itsrace.hyp.lang import procedure, pure
from itsrace.xen.consts import (
    NC,
    NCOL,
    ND,
    NE,
    NL,
    NPC,
    NPTR,
    NV,
    TRIG_MAX,
)
from itsrace.xen.lr import gic_raise_guest_irq
from itsrace.xen.pending_irq import (
    PTR,
    SLOT,
    gic_remove_from_lr_pending,
    gic_remove_irq_from_queues,
    tree_ptr,
)
from itsrace.xen.vgic import vgic_vcpu_inject_lpi

# lockset: the C writes these pending_irq fields without a vgic lock, on purpose (lockfree())
XZALLOC = "xzalloc(pend_irqs) in gicv3_its_map_guest_device: a new array, not yet reachable"
UNPUBLISHED = ("vgic_init_pending_irq + field stores in its_handle_mapti (vgic-v3-its.c:762) before "
               "radix_tree_insert (vgic-v3-its.c:785): not yet reachable through the tree")


@pure
def coll_vcpu(col_vcpu: tuple[int, ...], col: int) -> int:
    """get_vcpu_from_collection (vgic-v3-its.c:140): the collection's vCPU, NC if unmapped."""
    return NC if col >= NCOL else col_vcpu[col]


@pure
def itte_vcpu(dte: tuple[int, ...], itte_col: tuple[int, ...], col_vcpu: tuple[int, ...], dev: int, ev: int) -> int:
    """The vCPU read_itte (vgic-v3-its.c:226) returns, NC if it fails (device not mapped, or the
    ITTE's collection does not resolve to a vCPU)."""
    if not dte[dev]:
        return NC
    return coll_vcpu(col_vcpu, itte_col[dev * NE + ev])


@pure
def unreferenced(tree: tuple[int, ...], infl: tuple[int, ...], lrq: tuple[int, ...], q: int) -> bool:
    """No radix-tree entry and no vCPU list refers to slot q."""
    return infl[q] == 0 and lrq[q] == 0 and all(t != q + 1 for t in tree)


@pure
def event_pending_irq(tree: tuple[int, ...], gens: tuple[int, ...], itte_lpi: tuple[int, ...], q: int) -> int:
    """get_event_pending_irq (vgic-v3-its.c:190): ``&pend_irqs[ev]``, the event's own slot."""
    return PTR(q, gens[q])


# -- DISCARD and MAPD V=0 ----------------------------------------------------------------------------
@procedure
def its_discard_event(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_discard_event (vgic-v3-its.c:586), its_lock held; shared by DISCARD and MAPD V=0.
    Under the ITTE vCPU's vgic lock: delete V from the radix tree, unlink the pending_irq and
    re-initialise it; then invalidate the host LPI entry. An LR still holding V is left alone:
    a *stale LR* for gic_update_one_lr to find."""
    with atomic():  # [vgic-v3-its.c:596] read_itte: the vCPU of the ITTE's collection, and the vLPI
        vc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        vl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
    if vc >= NC or vl == 0:
        return 1
    spin_lock_irqsave(s.vgic_lock[vc])  # [vgic-v3-its.c:607] spin_lock_irqsave(&vcpu->arch.vgic.lock)
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
    with atomic():  # [vgic-v3-its.c:611] p = radix_tree_delete(tree, vlpi); write_unlock(tree)
        p: range(NPTR) = tree_ptr(s.tree, s.p_gen, vl)
        s.tree[vl - 1] = 0
        write_unlock(s.tree_lock)
    if p == 0:
        spin_unlock_irqrestore(s.vgic_lock[vc])  # [vgic-v3-its.c:616]
        return 1
    gic_remove_irq_from_queues(self, s, vc, p)
    vgic_init_pending_irq_invalid(self, s, p)
    spin_unlock_irqrestore(s.vgic_lock[vc])  # [vgic-v3-its.c:625] spin_unlock_irqrestore(&vcpu->arch.vgic.lock)
    gicv3_remove_guest_event(self, s, dev, ev)
    return 0


@procedure
def vgic_init_pending_irq_invalid(self, s, r: range(NPTR)):
    """vgic_init_pending_irq(p, INVALID_LPI) (vgic.c:64) from DISCARD: memset, list heads
    re-initialised, irq = INVALID_LPI, lpi_vcpu_id = INVALID_VCPU_ID. A tombstone, not a new
    identity: injectors are meant to read INVALID_VCPU_ID and drop the LPI. Two steps, because
    a lock-free reader (``ACCESS_ONCE(p->lpi_vcpu_id)``, gic-v3-lpi.c:152) can see what the
    memset leaves before the stores: every field 0, so ``lpi_vcpu_id == 0`` (vCPU0) and the
    list heads NULL."""
    with atomic():  # [vgic.c:69] memset(p, 0, sizeof(*p)): lpi_vcpu_id = 0, list heads NULL
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_infl[SLOT(r)] == 0 and s.p_lrq[SLOT(r)] == 0, "free-while-referenced")
        s.p_heads[SLOT(r)] = 0
        s.p_queued[SLOT(r)] = 0
        s.p_active[SLOT(r)] = 0
        s.p_visible[SLOT(r)] = 0
        s.p_enabled[SLOT(r)] = 0
        s.p_pristine[SLOT(r)] = 0
        s.p_irq[SLOT(r)] = 0
        s.p_lr[SLOT(r)] = 0
        s.p_prio[SLOT(r)] = 0
        s.p_lpiprio[SLOT(r)] = 0
        s.p_vcpu[SLOT(r)] = 0
    with atomic():  # [vgic.c:70] INIT_LIST_HEAD x2; irq = INVALID_LPI; lpi_vcpu_id = INVALID_VCPU_ID
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        s.p_heads[SLOT(r)] = 1
        s.p_vcpu[SLOT(r)] = NC


@procedure
def gicv3_remove_guest_event(self, s, dev: range(ND), ev: range(NE)):
    """gicv3_remove_guest_event (gic-v3-its.c:865): under its_devices_lock, host entry :=
    {INVALID_LPI, d} with one 64-bit write (gicv3_lpi_update_host_entry)."""
    with atomic():  # [gic-v3-its.c:877] host entry := {INVALID_LPI, d}
        spin_lock(s.devs_lock)
        if s.host_dev[dev]:
            s.host_lpi[dev * NE + ev] = 0
        spin_unlock(s.devs_lock)


@procedure
def its_unmap_device(self, s, cpu: range(NPC), dev: range(ND)):
    """its_unmap_device (vgic-v3-its.c:632): under its_lock, its_discard_event for every event
    of the device's ITT (errors ignored: an event whose ITTE cannot be read stays mapped)."""
    with atomic():  # [vgic-v3-its.c:637] its_lock; its_get_itt
        spin_lock(s.its_lock)
        itt: bool = s.dte[dev]
    if itt:
        ev: range(NE + 1) = 0
        while ev < NE:
            its_discard_event(self, s, cpu, dev, ev)
            ev = ev + 1
    spin_unlock(s.its_lock)  # [vgic-v3-its.c:655]


@procedure
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
        for e in range(NE):
            check(s.p_alive[dev * NE + e] == 1, "double-free")
            check(unreferenced(s.tree, s.p_infl, s.p_lrq, dev * NE + e), "free-while-referenced")
            s.p_alive[dev * NE + e] = 0
            s.p_gen[dev * NE + e] = 1 - s.p_gen[dev * NE + e]


@procedure
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


@procedure
def its_handle_discard(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_handle_discard (vgic-v3-its.c:871): its_discard_event, then the ITTE := unmapped."""
    spin_lock(s.its_lock)  # [vgic-v3-its.c:877]
    ret: range(2) = its_discard_event(self, s, cpu, dev, ev)
    if ret == 0:
        with atomic():  # [vgic-v3-its.c:885] write_itte(UNMAPPED_COLLECTION, INVALID_LPI)
            s.itte_lpi[dev * NE + ev] = 0
            s.itte_col[dev * NE + ev] = NCOL
    spin_unlock(s.its_lock)  # [vgic-v3-its.c:889]
    return ret


# -- MAPC, MAPTI, MOVI -------------------------------------------------------------------------------
@procedure
def its_handle_mapc(self, s, cpu: range(NPC), col: range(NCOL), vc: range(NC), valid: range(2)):
    """its_handle_mapc (vgic-v3-its.c:321): write the collection table. LPIs of the collection
    keep their lpi_vcpu_id."""
    with atomic():  # [vgic-v3-its.c:332] its_lock; collection table := rdbase (or unmapped)
        spin_lock(s.its_lock)
        s.col_vcpu[col] = vc if valid else NC
        spin_unlock(s.its_lock)
    return 0


@procedure
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
    with atomic():  # [vgic-v3-its.c:785] radix_tree_insert: -EEXIST if another event maps V
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


@procedure
def its_handle_movi(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE), col: range(NCOL)):
    """its_handle_movi (vgic-v3-its.c:808): under the *old* (ITTE) vCPU's vgic lock set
    lpi_vcpu_id to the new collection's vCPU; pending state is not moved."""
    with atomic():  # [vgic-v3-its.c:819] its_lock; read_itte; get_vcpu_from_collection; get_event_pending_irq
        spin_lock(s.its_lock)
        ovc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        nvc: range(NC + 1) = coll_vcpu(s.col_vcpu, col)
        mp: range(NPTR) = 0
        if s.host_dev[dev] and ovc < NC and nvc < NC and s.itte_lpi[dev * NE + ev] != 0:
            mp = event_pending_irq(s.tree, s.p_gen, s.itte_lpi, dev * NE + ev)
    if mp == 0:
        spin_unlock(s.its_lock)  # [vgic-v3-its.c:866]
        return 1
    spin_lock_irqsave(s.vgic_lock[ovc])  # [vgic-v3-its.c:842]
    with atomic():  # [vgic-v3-its.c:845] p->lpi_vcpu_id = new vCPU (under the OLD vCPU's lock)
        check(s.p_alive[SLOT(mp)] == 1, "use-after-free")
        s.p_vcpu[SLOT(mp)] = nvc
    spin_unlock_irqrestore(s.vgic_lock[ovc])  # [vgic-v3-its.c:847]
    with atomic():  # [vgic-v3-its.c:860] write_itte(new collection)
        s.itte_col[dev * NE + ev] = col
        spin_unlock(s.its_lock)
    return 0


# -- INT, CLEAR, INV, INVALL -------------------------------------------------------------------------
@procedure
def its_handle_int(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_handle_int (vgic-v3-its.c:299): read the ITTE, then vgic_vcpu_inject_lpi (the target
    is p->lpi_vcpu_id, not the ITTE's collection)."""
    with atomic():  # [vgic-v3-its.c:307] its_lock; read_itte
        spin_lock(s.its_lock)
        ivc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        ivl: range(NV + 1) = s.itte_lpi[dev * NE + ev]
        spin_unlock(s.its_lock)
        if ivc < NC and ivl != 0:  # ghost: INT is a trigger like an MSI
            s.trig[ivl - 1] = min(s.trig[ivl - 1] + 1, TRIG_MAX)
            if s.gv_lpi[dev * NE + ev] != 0 and s.prop_en[ivl - 1] and not s.gv_dirty[ivl - 1]:
                s.owed[dev * NE + ev] = 1
    if ivc >= NC or ivl == 0:
        return 1
    vgic_vcpu_inject_lpi(self, s, cpu, ivl)
    return 0


@procedure
def its_handle_clear(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_handle_clear (vgic-v3-its.c:346): no INVALID_LPI check; under the ITTE vCPU's lock,
    unqueue the pending_irq unless it is already in an LR."""
    with atomic():  # [vgic-v3-its.c:356] its_lock; read_itte (no INVALID_LPI check); get_event_pending_irq
        spin_lock(s.its_lock)
        cvc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        cp: range(NPTR) = 0
        if s.host_dev[dev] and cvc < NC:
            cp = event_pending_irq(s.tree, s.p_gen, s.itte_lpi, dev * NE + ev)
    if cp == 0:
        spin_unlock(s.its_lock)  # [vgic-v3-its.c:390]
        return 1
    spin_lock_irqsave(s.vgic_lock[cvc])  # [vgic-v3-its.c:373]
    with atomic():  # [vgic-v3-its.c:383] test_bit(VISIBLE)
        check(s.p_alive[SLOT(cp)] == 1, "use-after-free")
        vis: bool = s.p_visible[SLOT(cp)]
    if not vis:
        gic_remove_irq_from_queues(self, s, cvc, cp)
    spin_unlock_irqrestore(s.vgic_lock[cvc])  # [vgic-v3-its.c:386]
    spin_unlock(s.its_lock)  # [vgic-v3-its.c:390]
    return 0


@procedure
def update_lpi_property(self, s, r: range(NPTR)):
    """update_lpi_property (vgic-v3-its.c:400): cache the property table's priority and enable
    bit in the pending_irq."""
    with atomic():  # [vgic-v3-its.c:418] read the property byte: lpi_priority, ENABLED
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        if s.p_irq[SLOT(r)] != 0:
            s.p_lpiprio[SLOT(r)] = s.prop_prio[s.p_irq[SLOT(r)] - 1]
            s.p_enabled[SLOT(r)] = s.prop_en[s.p_irq[SLOT(r)] - 1]
            s.gv_dirty[s.p_irq[SLOT(r)] - 1] = 0  # ghost: the guest's change is now known


@procedure
def update_lpi_vgic_status(self, s, cpu: range(NPC), v: range(NC), r: range(NPTR)):
    """update_lpi_vgic_status (vgic-v3-its.c:441): enabled and inflight but not in an LR: raise
    it; disabled: take it off lr_pending (it stays inflight, an LR copy stays)."""
    with atomic():  # [vgic-v3-its.c:445] test_bit(ENABLED); inflight and not VISIBLE?
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        en: bool = s.p_enabled[SLOT(r)]
        waiting: bool = s.p_infl[SLOT(r)] != 0 and not s.p_visible[SLOT(r)]
        virq: range(NV + 1) = s.p_irq[SLOT(r)]
    if en:
        if waiting:
            gic_raise_guest_irq(self, s, cpu, v, virq)
    else:
        gic_remove_from_lr_pending(self, s, v, r)


@procedure
def its_handle_inv(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE)):
    """its_handle_inv (vgic-v3-its.c:455): re-read the event's property under the ITTE vCPU's
    vgic lock and update the vGIC state."""
    with atomic():  # [vgic-v3-its.c:475] its_lock; read_itte; get_event_pending_irq
        spin_lock(s.its_lock)
        nvc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        np: range(NPTR) = 0
        if s.host_dev[dev] and nvc < NC and s.itte_lpi[dev * NE + ev] != 0:
            np = event_pending_irq(s.tree, s.p_gen, s.itte_lpi, dev * NE + ev)
    if np == 0:
        spin_unlock(s.its_lock)  # [vgic-v3-its.c:504]
        return 1
    spin_lock_irqsave(s.vgic_lock[nvc])  # [vgic-v3-its.c:489]
    update_lpi_property(self, s, np)
    update_lpi_vgic_status(self, s, cpu, nvc, np)
    spin_unlock_irqrestore(s.vgic_lock[nvc])  # [vgic-v3-its.c:501]
    spin_unlock(s.its_lock)  # [vgic-v3-its.c:504]
    return 0


@procedure
def its_handle_invall(self, s, cpu: range(NPC), col: range(NCOL)):
    """its_handle_invall (vgic-v3-its.c:514): for every LPI in the radix tree targeting the
    collection's vCPU, under that vCPU's vgic lock and the tree read lock: INV. There is no
    check that the collection is mapped (a NULL vCPU is dereferenced)."""
    with atomic():  # [vgic-v3-its.c:542] its_lock; vcpu = get_vcpu_from_collection (no NULL check)
        spin_lock(s.its_lock)
        avc: range(NC + 1) = coll_vcpu(s.col_vcpu, col)
        spin_unlock(s.its_lock)
        check(avc < NC, "null-deref")
    if avc >= NC:
        return 1
    spin_lock_irqsave(s.vgic_lock[avc])  # [vgic-v3-its.c:546]
    read_lock(s.tree_lock)  # [vgic-v3-its.c:547]
    w: range(NV + 2) = 1
    while w <= NV:
        with atomic():  # [vgic-v3-its.c:553] radix_tree_gang_lookup; skip entries of other vCPUs
            ap: range(NPTR) = tree_ptr(s.tree, s.p_gen, w)
            mine: bool = False
            if ap != 0:
                check(s.p_alive[SLOT(ap)] == 1, "use-after-free")
                mine = s.p_vcpu[SLOT(ap)] == avc
        if mine:
            update_lpi_property(self, s, ap)
            update_lpi_vgic_status(self, s, cpu, avc, ap)
        w = w + 1
    read_unlock(s.tree_lock)  # [vgic-v3-its.c:579]
    spin_unlock_irqrestore(s.vgic_lock[avc])  # [vgic-v3-its.c:580]
    return 0


__all__ = ["NL", "its_handle_clear", "its_handle_discard", "its_handle_int", "its_handle_inv",
           "its_handle_invall", "its_handle_mapc", "its_handle_mapd", "its_handle_mapti", "its_handle_movi"]
