# mypy: ignore-errors
"""Test-only fault: gic_raise_inflight_irq refreshes the LR of a disabled LPI (the code before XSA-223)."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_, check
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NL, NPC, NPTR, NV
from itsrace.xen.lr import gic_update_one_lr
from itsrace.xen.pending_irq import SLOT, is_current, tree_ptr

DESIGN = Design("fault:no-xsa-223-check", base="xen-4.10", summary="gic_raise_inflight_irq refreshes the LR of a disabled LPI (the code before XSA-223)")


@DESIGN.override
def gic_raise_inflight_irq(self, s, cpu: range(NPC), v: range(NC), V: range(NV + 1)):
    """gic_raise_inflight_irq (gic.c:423): an inflight LPI fired again. If it is enabled, not
    queued for an LR and v is current, resync its LR now (``n->lr`` is trusted: no check that it
    is valid or holds V)."""
    with atomic():  # n = irq_to_pending(v, V); ENABLED? lr_queue? n->lr
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        n: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
        if n != 0:
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            en: bool = s.p_enabled[SLOT(n)]  # noqa: F841 -- read, then ignored: the fault
            queued_lr: bool = s.p_lrq[SLOT(n)] != 0
            at: range(NL + 1) = s.p_lr[SLOT(n)]
    if n == 0:
        return
    if not queued_lr and is_current(cpu, v):
        gic_update_one_lr(self, s, cpu, v, at)
