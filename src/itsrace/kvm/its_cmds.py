# mypy: disable-error-code="valid-type"
"""vgic-its.c: the guest's ITS commands, the MSI paths, and the creation of LPIs.

Every command handler runs under ``cmd_lock`` (the CWRITER write that queued it) and ``its_lock``
(``vgic_its_handle_command``), on the vCPU thread that wrote CWRITER. Lookups in the ITS's
device, ITE and collection lists are made under ``its_lock`` and merged into the step that uses
their result. Handlers return 0 on success and 1 on any error (KVM's positive ITS error codes
and negative errnos alike: the command is skipped and CREADR advances).

The guest's own tables in its memory (the device table and ITT entries KVM writes on MAPD V=0
and DISCARD) are not modelled: nothing reads them between save and restore.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, lockfree, spin_lock, spin_unlock
from itsrace.hyp.lang import procedure
from itsrace.kvm.cache import vgic_its_cache_translation, vgic_its_invalidate_cache
from itsrace.kvm.consts import NC, NCOL, ND, NE, NO, NPRIO, NQ, NV, TRIG_MAX
from itsrace.kvm.irq import (
    FREED,
    OINTID,
    UNPUBLISHED,
    free_slot,
    referenced,
    vgic_get_lpi,
    vgic_put_irq,
)
from itsrace.kvm.vgic import vgic_queue_irq_unlock


@procedure
def vgic_add_lpi(self, s, V: range(1, NV + 1), vc: range(NC + 1)):
    """vgic_add_lpi (vgic-its.c), its_lock held: share the INTID's live object (the caller keeps
    the lookup's reference), or allocate a new one (refcount 1, target vc) and store it in
    lpi_xa, unless another CPU stored a live one meanwhile (then use that). An entry left at
    refcount zero by the deferred release is evicted and freed here. Then read the property
    table (update_lpi_config) and the pending table (vgic_v3_lpi_sync_pending_status).
    Returns slot + 1, or 0 when the allocation fails (-ENOMEM)."""
    r: range(NO + 1) = vgic_get_lpi(self, s, V)  # vgic_get_irq
    if r != 0:
        return r
    with atomic():  # [its.c:88] irq = kzalloc(...); refcount_set(1); intid; target_vcpu = vcpu (not yet visible)
        n: range(NO + 1) = free_slot(s.o_alive, V)
        if n != 0:
            s.o_alive[n - 1] = 1
            s.o_ref[n - 1] = 1
            s.o_target[n - 1] = lockfree(vc, UNPUBLISHED)
    if n == 0:
        return 0
    spin_lock(s.xa_lock)  # [its.c:107]
    with atomic():  # [its.c:113] oldirq = xa_load(lpi_xa, intid); try-get: use it, or __xa_store(irq) and kfree_rcu(oldirq)
        old: range(NO + 1) = s.xa[V - 1]
        if old != 0:
            check(s.o_alive[old - 1] == 1, "use-after-free")
        if old != 0 and s.o_ref[old - 1] > 0:
            s.o_ref[old - 1] = s.o_ref[old - 1] + 1
            s.o_alive[n - 1] = 0  # kfree(irq): never published
            s.o_ref[n - 1] = 0
            s.o_target[n - 1] = lockfree(0, FREED)
            n = old
        else:
            s.xa[V - 1] = n
            if old != 0:  # kfree_rcu(oldirq): the dead entry is ours to free
                check(not referenced(old - 1, s.o_vcpu, s.ite, s.ite_irq, s.cache), "free-while-referenced")
                s.o_alive[old - 1] = 0
                s.o_ref[old - 1] = 0
                s.o_pending[old - 1] = lockfree(0, FREED)
                s.o_enabled[old - 1] = lockfree(0, FREED)
                s.o_prio[old - 1] = lockfree(0, FREED)
                s.o_active[old - 1] = lockfree(0, FREED)
                s.o_target[old - 1] = lockfree(0, FREED)
                s.o_vcpu[old - 1] = 0
    spin_unlock(s.xa_lock)  # [its.c:130]
    update_lpi_config(self, s, n - 1, NC)
    vgic_v3_lpi_sync_pending_status(self, s, n - 1)
    return n


@procedure
def update_lpi_config(self, s, o: range(NO), filt: range(NC + 1)):
    """update_lpi_config (vgic-its.c): read the INTID's property byte from guest memory, then under
    irq_lock, if the filter vCPU (NC: none) is the target, set priority and enabled and queue
    (the irq is not a GICv4 one)."""
    with atomic():  # [its.c:296] kvm_read_guest_lock(propbase + intid - 8192): the property byte
        check(s.o_alive[o] == 1, "use-after-free")
        pen: bool = s.prop_en[OINTID(o) - 1]
        ppr: range(NPRIO) = s.prop_prio[OINTID(o) - 1]
    spin_lock(s.irq_lock[o])  # [its.c:302]
    with atomic():  # [its.c:304] filter_vcpu check; irq->priority, irq->enabled := the property byte
        check(s.o_alive[o] == 1, "use-after-free")
        upd: bool = filt == NC or filt == s.o_target[o]
        if upd:
            s.o_prio[o] = ppr
            s.o_enabled[o] = pen
            s.gv_dirty[OINTID(o) - 1] = 0  # ghost: the guest's change is now known
    if upd:
        vgic_queue_irq_unlock(self, s, o)
    else:
        spin_unlock(s.irq_lock[o])  # [its.c:316]


@procedure
def vgic_v3_lpi_sync_pending_status(self, s, o: range(NO)):
    """vgic_v3_lpi_sync_pending_status (vgic-v3.c): read the target's pending-table bit (the
    guest never sets one in these scenarios: 0), then under irq_lock, if the target is still the
    one read, pending_latch := that bit and queue."""
    with atomic():  # [v3.c:324] vcpu = irq->target_vcpu; if (!vcpu) return 0; kvm_read_guest_lock(pending byte)
        check(s.o_alive[o] == 1, "use-after-free")
        pv: range(NC + 1) = lockfree(s.o_target[o], "optimistic read of irq->target_vcpu, re-checked under "
                                                  "irq_lock (the retry loop below)")
    while pv != NC:
        spin_lock(s.irq_lock[o])  # [v3.c:340]
        with atomic():  # [v3.c:341] irq->target_vcpu != vcpu: unlock and retry
            check(s.o_alive[o] == 1, "use-after-free")
            same: bool = s.o_target[o] == pv
            if same:
                s.o_pending[o] = 0  # irq->pending_latch = status (the bit is clear)
            else:
                pv = s.o_target[o]
                spin_unlock(s.irq_lock[o])
        if same:
            vgic_queue_irq_unlock(self, s, o)
            return


@procedure
def update_affinity(self, s, o: range(NO), vc: range(NC + 1)):
    """update_affinity (vgic-its.c): under irq_lock, irq->target_vcpu = vcpu (not a GICv4 irq:
    nothing else). A queued LPI stays on its ap_list; vgic_prune_ap_list migrates it."""
    with atomic():  # [its.c:326] guard(irq_lock); irq->target_vcpu = vcpu
        spin_lock(s.irq_lock[o])
        check(s.o_alive[o] == 1, "use-after-free")
        s.o_target[o] = vc
        spin_unlock(s.irq_lock[o])


@procedure
def its_free_ite(self, s, q: range(NQ)):
    """its_free_ite (vgic-its.c), its_lock held: unlink the ITE, clear the irq's GICv4 state under
    irq_lock, and put the ITE's reference (only that one: an ap_list or the cache may hold more)."""
    with atomic():  # [its.c:760] irq = ite->irq; list_del(&ite->ite_list); kfree(ite)
        fi: range(NO + 1) = s.ite_irq[q]
        s.ite[q] = 0
        s.ite_irq[q] = 0
        s.ite_col[q] = NCOL
    if fi != 0:
        with atomic():  # [its.c:765] scoped_guard(irq_lock): irq->hw = false
            spin_lock(s.irq_lock[fi - 1])
            check(s.o_alive[fi - 1] == 1, "use-after-free")
            spin_unlock(s.irq_lock[fi - 1])
        vgic_put_irq(self, s, fi - 1)  # matches the get in vgic_add_lpi


@procedure
def vgic_its_trigger_msi(self, s, q: range(NQ), is_int: bool):
    """vgic_its_trigger_msi (vgic-its.c), its_lock held: vgic_its_resolve_lpi (ITS enabled, ITE,
    mapped collection, its vCPU, that vCPU's EnableLPIs; caches the translation), then set
    pending_latch under irq_lock and queue. Returns 0, or 1 if the MSI is dropped."""
    with atomic():  # [its.c:638 vgic_its_resolve_lpi] vgic_its_resolve_lpi: its->enabled; find_ite; its_is_collection_mapped; collection_to_vcpu; vgic_lpis_enabled
        r: range(NO + 1) = 0
        if (s.its_enabled and s.ite[q] and s.ite_irq[q] != 0 and s.ite_col[q] != NCOL
                and s.col_target[s.ite_col[q]] != NC and s.lpis_en[s.col_target[s.ite_col[q]]] == 1):
            r = s.ite_irq[q]
            # ghost: the ITS translated the trigger to this INTID
            s.trig[OINTID(r - 1) - 1] = min(s.trig[OINTID(r - 1) - 1] + 1, TRIG_MAX)
            if is_int and s.gv_lpi[q] != 0 and s.prop_en[s.gv_lpi[q] - 1] and not s.gv_dirty[s.gv_lpi[q] - 1]:
                s.owed[q] = 1
    if r == 0:
        return 1
    vgic_its_cache_translation(self, s, q, r - 1)
    with atomic():  # [its.c:695] raw_spin_lock_irqsave(irq_lock); irq->pending_latch = true
        spin_lock(s.irq_lock[r - 1])
        check(s.o_alive[r - 1] == 1, "use-after-free")
        s.o_pending[r - 1] = 1
    vgic_queue_irq_unlock(self, s, r - 1)
    return 0


# -- DISCARD, MAPD, MAPC, MAPTI, MOVI ------------------------------------------------------------------
@procedure
def vgic_its_cmd_handle_discard(self, s, dev: range(ND), ev: range(NE)):
    """vgic_its_cmd_handle_discard (vgic-its.c): an ITE whose collection is mapped: invalidate the
    cache (its references go first), its_free_ite, clear the guest's ITT entry. The pending state
    is not cleared: an LPI already queued may still be delivered."""
    with atomic():  # [its.c:804] ite = find_ite(); its_is_collection_mapped(ite->collection)
        ok: bool = s.ite[dev * NE + ev] and s.ite_col[dev * NE + ev] != NCOL and \
            s.col_target[s.ite_col[dev * NE + ev]] != NC
    if not ok:
        return 1
    vgic_its_invalidate_cache(self, s)
    its_free_ite(self, s, dev * NE + ev)
    return 0


@procedure
def vgic_its_free_device(self, s, dev: range(ND)):
    """vgic_its_free_device (vgic-its.c): its_free_ite for every ITE of the device (whatever its
    collection), invalidate the cache, unlink and free the device."""
    for e in range(NE):
        if s.ite[dev * NE + e]:  # [its.c:1109] list_for_each_entry_safe(ite, temp, &device->itt_head, ite_list)
            its_free_ite(self, s, dev * NE + e)
    vgic_its_invalidate_cache(self, s)
    with atomic():  # [its.c:1114] list_del(&device->dev_list); kfree(device)
        s.dev[dev] = 0


@procedure
def vgic_its_cmd_handle_mapd(self, s, dev: range(ND), valid: range(2)):
    """vgic_its_cmd_handle_mapd (vgic-its.c): a mapped device is freed first (a remap starts from
    nothing); valid=1 allocates a new one."""
    if s.dev[dev]:  # [its.c:1176] device = find_its_device(its, device_id)
        vgic_its_free_device(self, s, dev)
    if not valid:
        return 0  # vgic_its_write_entry_lock(its, gpa, 0ULL, dte)
    with atomic():  # [its.c:1193] vgic_its_alloc_device: list_add_tail(&device->dev_list, &its->device_list)
        s.dev[dev] = 1
    return 0


@procedure
def update_affinity_collection(self, s, col: range(NCOL), vc: range(NC + 1)):
    """update_affinity_collection (vgic-its.c): update_affinity_ite for every ITE of the
    collection."""
    for q in range(NQ):
        if s.ite[q] and s.ite_col[q] == col and s.ite_irq[q] != 0:  # [its.c:378] for_each_lpi_its: ite->collection == coll
            update_affinity(self, s, s.ite_irq[q] - 1, vc)  # [its.c:364 update_affinity_ite]


@procedure
def vgic_its_cmd_handle_mapc(self, s, col: range(NCOL), vc: range(NC), valid: range(2)):
    """vgic_its_cmd_handle_mapc (vgic-its.c): V=0 frees the collection (its ITEs' collection
    pointers become NULL) and invalidates the cache; V=1 sets the target and updates the affinity
    of the collection's LPIs (a new collection has none)."""
    if not valid:
        with atomic():  # [its.c:996 vgic_its_free_collection] vgic_its_free_collection: ite->collection = NULL for its ITEs; list_del; kfree
            for q in range(NQ):
                if s.ite[q] and s.ite_col[q] == col:
                    s.ite_col[q] = NCOL
            s.col_target[col] = NC
        vgic_its_invalidate_cache(self, s)
        return 0
    with atomic():  # [its.c:1236] find_collection / vgic_its_alloc_collection; collection->target_addr = vcpu->vcpu_id
        s.col_target[col] = vc
    update_affinity_collection(self, s, col, vc)
    return 0


@procedure
def vgic_its_cmd_handle_mapi(self, s, dev: range(ND), ev: range(NE), V: range(1, NV + 1), col: range(NCOL)):
    """vgic_its_cmd_handle_mapi (vgic-its.c), MAPTI: the device must exist; an existing ITE makes
    the command a no-op (UNPREDICTABLE); allocate the ITE in the collection (allocated, unmapped,
    if new), then vgic_add_lpi with the collection's vCPU (NULL if unmapped) and store the
    reference in the ITE. If vgic_add_lpi fails the ITE is freed again."""
    with atomic():  # [its.c:1044] find_its_device; find_ite (existing mapping: UNPREDICTABLE, ignored)
        nodev: bool = not s.dev[dev]
        exists: bool = s.ite[dev * NE + ev]
    if nodev:
        return 1
    if exists:
        return 0
    with atomic():  # [its.c:1063] find_collection / vgic_its_alloc_collection; vgic_its_alloc_ite; collection_to_vcpu
        s.ite[dev * NE + ev] = 1
        s.ite_irq[dev * NE + ev] = 0
        s.ite_col[dev * NE + ev] = col
        vc: range(NC + 1) = s.col_target[col]
    n: range(NO + 1) = vgic_add_lpi(self, s, V, vc)
    if n == 0:
        its_free_ite(self, s, dev * NE + ev)
        return 1
    with atomic():  # [its.c:1093] ite->irq = irq
        s.ite_irq[dev * NE + ev] = n
    return 0


@procedure
def vgic_its_cmd_handle_movi(self, s, dev: range(ND), ev: range(NE), col: range(NCOL)):
    """vgic_its_cmd_handle_movi (vgic-its.c): both collections mapped: repoint the ITE,
    invalidate the cache, update_affinity."""
    with atomic():  # [its.c:838] find_ite; both collections mapped; ite->collection = collection; vcpu = collection_to_vcpu
        mo: range(NO + 1) = 0
        if (s.ite[dev * NE + ev] and s.ite_col[dev * NE + ev] != NCOL and s.col_target[s.ite_col[dev * NE + ev]] != NC
                and s.col_target[col] != NC):
            mo = s.ite_irq[dev * NE + ev]
            s.ite_col[dev * NE + ev] = col
        mvc: range(NC + 1) = s.col_target[col]
    if mo == 0:
        return 1
    vgic_its_invalidate_cache(self, s)
    update_affinity(self, s, mo - 1, mvc)
    return 0


# -- CLEAR, INV, INVALL, INT ---------------------------------------------------------------------------
@procedure
def vgic_its_cmd_handle_clear(self, s, dev: range(ND), ev: range(NE)):
    """vgic_its_cmd_handle_clear (vgic-its.c): ite->irq->pending_latch = false, without irq_lock."""
    with atomic():  # [its.c:1258] find_ite; ite->irq->pending_latch = false (no irq_lock)
        ok: bool = s.ite[dev * NE + ev] and s.ite_irq[dev * NE + ev] != 0
        if ok:
            check(s.o_alive[s.ite_irq[dev * NE + ev] - 1] == 1, "use-after-free")
            s.o_pending[s.ite_irq[dev * NE + ev] - 1] = 0
    if not ok:
        return 1
    return 0


@procedure
def vgic_its_cmd_handle_inv(self, s, dev: range(ND), ev: range(NE)):
    """vgic_its_cmd_handle_inv (vgic-its.c): vgic_its_inv_lpi -> update_lpi_config(irq, NULL)."""
    with atomic():  # [its.c:1288] ite = find_ite()
        io: range(NO + 1) = s.ite_irq[dev * NE + ev] if s.ite[dev * NE + ev] else 0
    if io == 0:
        return 1
    update_lpi_config(self, s, io - 1, NC)
    return 0


@procedure
def vgic_its_invall(self, s, vc: range(NC)):
    """vgic_its_invall (vgic-its.c): for every INTID in lpi_xa, vgic_get_irq (try-get), then
    update_lpi_config filtered on the vCPU, then put."""
    g: range(NO + 1) = 0
    for V in range(1, NV + 1):
        if s.xa[V - 1] != 0:  # [its.c:1310] xa_for_each(&dist->lpi_xa, intid, irq)
            g = vgic_get_lpi(self, s, V)  # irq = vgic_get_irq(kvm, intid)
            if g != 0:
                update_lpi_config(self, s, g - 1, vc)
                vgic_put_irq(self, s, g - 1)


@procedure
def vgic_its_cmd_handle_invall(self, s, col: range(NCOL)):
    """vgic_its_cmd_handle_invall (vgic-its.c): a mapped collection: vgic_its_invall on its vCPU."""
    with atomic():  # [its.c:1340] collection = find_collection(); its_is_collection_mapped; collection_to_vcpu
        ivc: range(NC + 1) = s.col_target[col]
    if ivc == NC:
        return 1
    vgic_its_invall(self, s, ivc)
    return 0


@procedure
def vgic_its_cmd_handle_movall(self, s, v1: range(NC), v2: range(NC)):
    """vgic_its_cmd_handle_movall (vgic-its.c), its_lock held: for *every* INTID in lpi_xa (the
    2026 code does not filter on the old target), vgic_get_irq, update_affinity to v2, put; then
    invalidate the translation cache. Nothing when the two redistributors are the same."""
    r: range(NO + 1) = 0
    present: bool = False
    if v1 != v2:
        for V in range(1, NV + 1):
            with atomic():  # xa_for_each(&dist->lpi_xa, intid, irq): an entry at intid?
                present = s.xa[V - 1] != 0
            if present:
                r = vgic_get_lpi(self, s, V)  # irq = vgic_get_irq(kvm, intid)
                if r != 0:
                    update_affinity(self, s, r - 1, v2)
                    vgic_put_irq(self, s, r - 1)
        vgic_its_invalidate_cache(self, s)
    return 0


@procedure
def vgic_its_cmd_handle_int(self, s, dev: range(ND), ev: range(NE)):
    """vgic_its_cmd_handle_int (vgic-its.c): vgic_its_trigger_msi."""
    ret: range(2) = vgic_its_trigger_msi(self, s, dev * NE + ev, True)
    return ret

