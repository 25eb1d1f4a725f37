# mypy: ignore-errors
"""Test-only fault on kvm: MOVI repoints the ITE but never calls update_affinity, so
irq->target_vcpu stays the old collection's vCPU and later MSIs are delivered there."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic
from itsrace.hyp.design import Design
from itsrace.kvm.cache import vgic_its_invalidate_cache
from itsrace.kvm.consts import NC, NCOL, ND, NE, NO

DESIGN = Design("fault:kvm-movi-no-affinity", base="kvm", summary="MOVI without update_affinity")


@DESIGN.override
def vgic_its_cmd_handle_movi(self, s, dev: range(ND), ev: range(NE), col: range(NCOL)):
    """vgic_its_cmd_handle_movi without update_affinity(ite->irq, vcpu)."""
    with atomic():
        mo: range(NO + 1) = 0
        if (s.ite[dev * NE + ev] and s.ite_col[dev * NE + ev] != NCOL and s.col_target[s.ite_col[dev * NE + ev]] != NC
                and s.col_target[col] != NC):
            mo = s.ite_irq[dev * NE + ev]
            s.ite_col[dev * NE + ev] = col
    if mo == 0:
        return 1
    vgic_its_invalidate_cache(self, s)
    return 0
