# mypy: ignore-errors
"""Test-only fault: vgic_vcpu_inject_lpi (gic-v3-lpi.c:139, called from gicv3_do_LPI) without
its ``if ( !p ) return;`` after irq_to_pending(): a host LPI whose vLPI is no longer in the
radix tree (DISCARD between the host-entry read and the lookup) dereferences NULL at
``ACCESS_ONCE(p->lpi_vcpu_id)``."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, lockfree
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NPC, NPTR, NV
from itsrace.xen.pending_irq import GEN, SLOT, vgic_v3_lpi_to_pending
from itsrace.xen.vgic import vgic_vcpu_inject_irq

DESIGN = Design("fault:no-lpi-null-check", base="xen-4.10",
                summary="vgic_vcpu_inject_lpi does not check irq_to_pending() for NULL")


@DESIGN.override
def vgic_vcpu_inject_lpi(self, s, cpu: range(NPC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_lpi without the NULL check (the dereference is not checked by hand:
    the engine's pointer dereference check must catch it)."""
    r: range(NPTR) = vgic_v3_lpi_to_pending(self, s, V)
    with atomic():  # vcpu_id = ACCESS_ONCE(p->lpi_vcpu_id), no lock held
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_gen[SLOT(r)] == GEN(r), "use-after-reinit")
        vid: range(NC + 1) = lockfree(s.p_vcpu[SLOT(r)], "ACCESS_ONCE(p->lpi_vcpu_id), gic-v3-lpi.c:152")
    if vid >= NC:
        return
    vgic_vcpu_inject_irq(self, s, cpu, vid, V)
