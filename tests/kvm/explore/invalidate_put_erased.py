# mypy: ignore-errors
"""Exploration, test-only: v1 of the K1 fix (docs/findings.md section 7):
vgic_its_invalidate_cache puts only the entry its own ``xa_erase`` removed (the return value), so
two concurrent walks of the cache cannot put one entry twice. v2, which serialises every walk
under its_lock, is the shipped design ``kvm-invalidate-its-lock``."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NO, NQ
from itsrace.kvm.irq import vgic_put_irq

DESIGN = Design("explore:invalidate-put-erased", base="kvm",
                summary="vgic_its_invalidate_cache puts what xa_erase returned")


@DESIGN.override
def vgic_its_invalidate_cache(self, s):
    """irq = xa_erase(cache, idx); if (irq) vgic_put_irq(irq)."""
    c: range(NO + 1) = 0
    for q in range(NQ):
        with atomic():  # irq = xa_erase(&its->translation_cache, idx)
            c = s.cache[q]
            s.cache[q] = 0
        if c != 0:
            vgic_put_irq(self, s, c - 1)
