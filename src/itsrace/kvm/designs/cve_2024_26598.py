# mypy: disable-error-code="valid-type"
"""``kvm-cve-2024-26598``: the LPI translation cache before torvalds/linux 59c5ab40989a
("KVM: arm64: vgic-its: Avoid potential UAF in LPI translation cache", CVE-2024-26598).

Before the fix, ``vgic_its_check_cache`` returned the cached ``vgic_irq`` without raising its
refcount once the lock that serialised refcount changes (then ``lpi_list_lock``) was dropped, and
``vgic_its_inject_cached_translation`` used it (``irq_lock``, ``pending_latch``, queueing) with no
reference and no put. A cache invalidation and the ITE's put (DISCARD, MAPD) could free it
meanwhile. The cache was then a global LRU list under ``lpi_list_lock``; the lookup is one step
either way, so the model keeps the base's per-ITS cache and changes only the reference.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, spin_lock
from itsrace.hyp.design import Design
from itsrace.kvm.cache import ite_intid
from itsrace.kvm.consts import NO, NQ, TRIG_MAX
from itsrace.kvm.irq import OINTID
from itsrace.kvm.vgic import vgic_queue_irq_unlock

DESIGN = Design("kvm-cve-2024-26598", base="kvm",
                summary="before 59c5ab40989a: the MSI fast path uses a cached vgic_irq without a reference",
                source="torvalds/linux 59c5ab40989afa5aba9c4a0918a5ed910a917422 (the fix); CVE-2024-26598")


@DESIGN.override
def vgic_its_check_cache(self, s, q: range(NQ)):
    """vgic_its_check_cache before the fix: the entry under the lock, returned without a get."""
    with atomic():  # [patch] raw_spin_lock(lpi_list_lock); irq = __vgic_its_check_cache(); raw_spin_unlock
        c: range(NO + 1) = s.cache[q]
        if c != 0:
            check(s.o_alive[c - 1] == 1, "use-after-free")
            if (s.msi_v[q] == OINTID(c - 1) or ite_intid(s.ite, s.ite_irq, q) == OINTID(c - 1)
                    or s.gv_lpi[q] == OINTID(c - 1)):
                s.trig[OINTID(c - 1) - 1] = min(s.trig[OINTID(c - 1) - 1] + 1, TRIG_MAX)
    return c


@DESIGN.override
def vgic_its_inject_cached_translation(self, s, q: range(NQ)):
    """vgic_its_inject_cached_translation before the fix: no reference, no put."""
    c: range(NO + 1) = vgic_its_check_cache(self, s, q)
    if c == 0:
        return 0
    with atomic():  # [its.c:713] raw_spin_lock_irqsave(&irq->irq_lock); irq->pending_latch = true
        spin_lock(s.irq_lock[c - 1])
        check(s.o_alive[c - 1] == 1, "use-after-free")
        s.o_pending[c - 1] = 1
    vgic_queue_irq_unlock(self, s, c - 1)
    return 1
