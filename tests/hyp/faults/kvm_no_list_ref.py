# mypy: ignore-errors
"""Test-only fault on kvm-refcount: ap_list membership holds no reference, so DISCARD's put frees a listed LPI."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, lockfree
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NE, NPTR
from itsrace.xen.designs.kvm_refcount import LAST_PUT
from itsrace.xen.pending_irq import SLOT

# the last put marked as in kvm-refcount (LAST_PUT): the fault believes refcount 0 means unreachable
DESIGN = Design("fault:kvm-no-list-ref", base="kvm-refcount",
                summary="list (ap_list) membership holds no reference: DISCARD's put frees a listed LPI")


@DESIGN.override
def vgic_put_lpi(self, s, r: range(NPTR)):
    """KVM's ``vgic_put_irq`` for an ITE or transient reference: ``refcount_dec_and_lock`` on
    ``lpi_xa``'s lock, so the last decrement, the eviction from the index and the free are one
    step. The ap_list reference is dropped where the LR sync unlinks the object."""
    with atomic():  # refcount_dec_and_lock(&irq->refcount, &lpi_xa.xa_lock); last: xa_erase; kfree_rcu
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_ref[SLOT(r)] > 0, "double-free")  # a put without its get
        s.p_ref[SLOT(r)] = s.p_ref[SLOT(r)] - 1
        if s.p_ref[SLOT(r)] == 0:
            if lockfree(s.p_irq[SLOT(r)] != 0 and s.tree[s.p_irq[SLOT(r)] - 1] == SLOT(r) + 1, LAST_PUT):
                s.tree[lockfree(s.p_irq[SLOT(r)], LAST_PUT) - 1] = 0  # evicted in the step of the last put
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
