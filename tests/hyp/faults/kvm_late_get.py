# mypy: ignore-errors
"""Test-only fault on kvm-refcount: the injection path takes its reference one step after the lookup."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check
from itsrace.hyp.design import Design
from itsrace.xen.consts import NPTR, NV
from itsrace.xen.pending_irq import GEN, SLOT, tree_ptr

DESIGN = Design("fault:kvm-late-get", base="kvm-refcount",
                summary="the injection path takes its reference one step after the lookup")


@DESIGN.override
def vgic_get_lpi(self, s, V: range(NV + 1)):
    """The get after the lookup's critical section (KVM doc section 8: never)."""
    with atomic():  # rcu_read_lock; irq = xa_load(lpi_xa, V); rcu_read_unlock
        found: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
    if found != 0:
        with atomic():  # the late get
            check(s.p_alive[SLOT(found)] == 1, "use-after-free")
            check(s.p_gen[SLOT(found)] == GEN(found), "use-after-reinit")
            s.p_ref[SLOT(found)] = s.p_ref[SLOT(found)] + 1
    return found
