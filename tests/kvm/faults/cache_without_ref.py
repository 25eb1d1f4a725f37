# mypy: ignore-errors
"""Test-only fault on kvm: a translation-cache entry holds no reference of its own (the store
forgets vgic_get_irq_ref), but every invalidation still puts one."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NO, NQ
from itsrace.kvm.irq import vgic_put_irq

DESIGN = Design("fault:cache-without-ref", base="kvm",
                summary="vgic_its_cache_translation stores the irq without taking the cache's reference")


@DESIGN.override
def vgic_its_cache_translation(self, s, q: range(NQ), o: range(NO)):
    """The store without vgic_get_irq_ref."""
    with atomic():  # old = xa_store(translation_cache, key, irq): no reference taken
        check(s.o_alive[o] == 1, "use-after-free")
        old: range(NO + 1) = s.cache[q]
        s.cache[q] = o + 1
    if old != 0:
        vgic_put_irq(self, s, old - 1)
