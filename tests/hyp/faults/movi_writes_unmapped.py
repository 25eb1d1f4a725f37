# mypy: ignore-errors
"""Test-only fault: MOVI writes the new collection into the ITTE before checking that the
collection is mapped, and leaves it there when it then fails (MOVI_UNMAPPED_COLLECTION): a
rejected command that changes what the guest sees (command-error)."""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    check,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
)
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NCOL, ND, NE, NPC, NPTR
from itsrace.xen.its_cmds import coll_vcpu, event_pending_irq, itte_vcpu
from itsrace.xen.pending_irq import SLOT

DESIGN = Design("fault:movi-writes-unmapped", base="xen-4.10",
                summary="MOVI writes the ITTE's collection before it checks the collection is mapped")


@DESIGN.override
def its_handle_movi(self, s, cpu: range(NPC), dev: range(ND), ev: range(NE), col: range(NCOL)):
    """its_handle_movi with write_itte moved before the checks."""
    with atomic():
        spin_lock(s.its_lock)
        ovc: range(NC + 1) = itte_vcpu(s.dte, s.itte_col, s.col_vcpu, dev, ev)
        nvc: range(NC + 1) = coll_vcpu(s.col_vcpu, col)
        if s.dte[dev] and s.itte_lpi[dev * NE + ev] != 0:
            s.itte_col[dev * NE + ev] = col  # write_itte, too early
        mp: range(NPTR) = 0
        if s.host_dev[dev] and ovc < NC and nvc < NC and s.itte_lpi[dev * NE + ev] != 0:
            mp = event_pending_irq(s.tree, s.p_gen, s.itte_lpi, dev * NE + ev)
    if mp == 0:
        spin_unlock(s.its_lock)
        return 1
    spin_lock_irqsave(s.vgic_lock[ovc])
    with atomic():
        check(s.p_alive[SLOT(mp)] == 1, "use-after-free")
        s.p_vcpu[SLOT(mp)] = nvc
    spin_unlock_irqrestore(s.vgic_lock[ovc])
    with atomic():
        spin_unlock(s.its_lock)
    return 0
