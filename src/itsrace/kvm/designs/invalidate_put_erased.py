# mypy: disable-error-code="valid-type"
"""``kvm-invalidate-put-erased``: the fix chosen in June 2026 for finding K1 (docs/findings.md
section 7): v1 of Hyunwoo Kim's patch (lore message ah2c5lu4JbUg7dj-@v4bel), which Oliver Upton
asked to take again on 2 June 2026 after v2 ("Serialize translation cache invalidation under
its_lock") turned out to take ``kvm->lock`` under ``vcpu->mutex`` (stable list; not in the
modelled tree).

``vgic_its_invalidate_cache`` walks the translation cache and puts *the pointer the walk loaded*;
two walks without a common lock (EnableLPIs cleared: none; GITS_CTLR cleared: ``cmd_lock`` only;
the commands: ``its_lock``) can put one entry twice. With the fix each walker puts only the entry
its own ``xa_erase`` removed, so every reference is put once, by the walker that removed it.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NO, NQ
from itsrace.kvm.irq import vgic_put_irq

DESIGN = Design("kvm-invalidate-put-erased", base="kvm",
                summary="fix for K1 (2026 patch v1): a cache walk puts only the entry its xa_erase removed",
                source="v1 of Hyunwoo Kim's vgic-its translation-cache fix (ah2c5lu4JbUg7dj-@v4bel), taken per "
                       "Oliver Upton's reply of 2026-06-02 on the stable list")


@DESIGN.override
def vgic_its_invalidate_cache(self, s):
    """vgic_its_invalidate_cache with the fix: irq = xa_erase(cache, idx); if (irq) vgic_put_irq(irq)."""
    c: range(NO + 1) = 0
    for q in range(NQ):
        with atomic():  # irq = xa_erase(&its->translation_cache, idx)
            c = s.cache[q]
            s.cache[q] = 0
        if c != 0:
            vgic_put_irq(self, s, c - 1)
