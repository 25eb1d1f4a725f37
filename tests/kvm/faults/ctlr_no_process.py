# mypy: ignore-errors
"""Test-only fault: vgic_mmio_write_its_ctlr does not run the commands queued while the ITS was
disabled (Xen 4.10's behaviour): a guest that waits for CREADR is stuck."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.kvm.cache import vgic_its_invalidate_cache
from itsrace.kvm.consts import NQ

DESIGN = Design("fault:ctlr-no-process", base="kvm",
                summary="enabling the ITS does not run the queued commands")


@DESIGN.override
def vgic_mmio_write_its_ctlr(self, s, en: range(2)):
    spin_lock(s.cmd_lock)
    with atomic():
        s.its_enabled = en
        if en == 0:
            s.gv_its_en = 0
            for q in range(NQ):
                s.owed[q] = 0
    if en == 0:
        vgic_its_invalidate_cache(self, s)
    spin_unlock(s.cmd_lock)
    if en == 1:
        with atomic():
            s.gv_its_en = 1
