# mypy: ignore-errors
"""Test-only fault on kvm-refcount: ap_list membership holds no reference, so DISCARD's put frees a listed LPI."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NE, NPTR
from itsrace.xen.pending_irq import SLOT

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
            if s.p_irq[SLOT(r)] != 0 and s.tree[s.p_irq[SLOT(r)] - 1] == SLOT(r) + 1:
                s.tree[s.p_irq[SLOT(r)] - 1] = 0  # evicted from the index in the step of the last put
            s.p_irq[SLOT(r)] = 0
            s.p_vcpu[SLOT(r)] = NC
            s.p_queued[SLOT(r)] = 0
            s.p_active[SLOT(r)] = 0
            s.p_visible[SLOT(r)] = 0
            s.p_enabled[SLOT(r)] = 0
            s.p_lr[SLOT(r)] = 0
            s.p_prio[SLOT(r)] = 0
            s.p_lpiprio[SLOT(r)] = 0
            if not s.host_dev[SLOT(r) // NE]:  # its device's storage is gone: the object goes with its last reference
                s.p_alive[SLOT(r)] = 0
                s.p_gen[SLOT(r)] = 1 - s.p_gen[SLOT(r)]
