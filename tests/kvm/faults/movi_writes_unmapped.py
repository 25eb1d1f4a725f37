# mypy: ignore-errors
"""Test-only fault on kvm: MOVI repoints the ITE's collection before it checks that the old and
new collections are mapped, and leaves it there when the check then fails
(MOVI_UNMAPPED_COLLECTION): a rejected command that changes what the guest sees
(command-error)."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic
from itsrace.hyp.design import Design
from itsrace.kvm.cache import vgic_its_invalidate_cache
from itsrace.kvm.consts import NC, NCOL, ND, NE, NO
from itsrace.kvm.its_cmds import update_affinity

DESIGN = Design("fault:movi-writes-unmapped", base="kvm",
                summary="MOVI sets ite->collection before it checks that both collections are mapped")


@DESIGN.override
def vgic_its_cmd_handle_movi(self, s, dev: range(ND), ev: range(NE), col: range(NCOL)):
    """vgic_its_cmd_handle_movi with `ite->collection = collection` moved before the checks."""
    with atomic():  # find_ite; ite->collection = collection (too early); both collections mapped?
        mo: range(NO + 1) = 0
        ok: bool = False
        if s.ite[dev * NE + ev]:
            ok = s.ite_col[dev * NE + ev] != NCOL and s.col_target[s.ite_col[dev * NE + ev]] != NC \
                and s.col_target[col] != NC
            s.ite_col[dev * NE + ev] = col
            if ok:
                mo = s.ite_irq[dev * NE + ev]
        mvc: range(NC + 1) = s.col_target[col]
    if mo == 0:
        return 1
    vgic_its_invalidate_cache(self, s)
    update_affinity(self, s, mo - 1, mvc)
    return 0
