# mypy: ignore-errors
"""Test-only fault on kvm: vgic_prune_ap_list puts the ap_list reference with vgic_put_irq while
it still holds the ap_list lock (lpi_xa's lock comes *before* ap_list_lock in vgic.c's order:
this is why the deferred release exists)."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NC, NO
from itsrace.kvm.irq import vgic_put_irq
from itsrace.kvm.vgic import ap_held, ap_list_lock, ap_list_unlock, vgic_target_oracle

DESIGN = Design("fault:prune-put-locked", base="kvm",
                summary="vgic_prune_ap_list calls vgic_put_irq under ap_list_lock")


@DESIGN.override
def vgic_prune_ap_list(self, s, v: range(NC)):
    """Only the unlink case: the put is made before the ap_list lock is dropped."""
    ap_list_lock(self, s, v)
    for o in range(NO):
        with atomic():  # list_for_each_entry_safe
            on: bool = s.o_vcpu[o] == v + 1
        if on:
            spin_lock(s.irq_lock[o])
            with atomic():  # target_vcpu = vgic_target_oracle(irq); none: list_del
                tv: range(NC + 1) = vgic_target_oracle(s.o_active[o], s.o_vcpu[o], s.o_target[o],
                                                       s.o_enabled[o], s.o_pending[o])
                if tv == NC:
                    check(ap_held(s.ap_list_lock0, s.ap_list_lock1, v), "list-lock")
                    s.o_vcpu[o] = 0
                spin_unlock(s.irq_lock[o])
            if tv == NC:
                vgic_put_irq(self, s, o)  # under ap_list_lock
    ap_list_unlock(self, s, v)
