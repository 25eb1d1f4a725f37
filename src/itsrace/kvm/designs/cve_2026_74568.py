# mypy: disable-error-code="valid-type"
"""``kvm-cve-2026-74568``: LPI release before "KVM: arm64: vgic: Fix race between LPI release and
re-registration" (CVE-2026-74568; stable 292e80a159aa, cbfe2b24a1ea; affected >= 6.17, < 7.1.8).

Before the fix:

* ``vgic_put_irq`` made the final decrement with ``refcount_dec_and_test`` *outside*
  ``lpi_xa``'s lock and only then took the lock to erase the INTID's entry and free the object:
  ``vgic_add_lpi`` could meanwhile find the object at zero and store a new one, whose entry the
  release then erased;
* ``vgic_put_irq_norelease`` marked an object that reached zero with ``irq->pending_release``,
  and ``vgic_release_deleted_lpis`` released the marked entries; ``vgic_add_lpi`` overwrote a
  marked entry it found at zero, so the old object was never freed;
* ``vgic_add_lpi`` did not free an entry it replaced.

The fix is the base model: the final decrement under the lock, eviction by ``vgic_add_lpi``
(which frees what it evicts), orphans found by refcount alone.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, lockfree, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NC, NO, NV
from itsrace.kvm.irq import FREED, UNPUBLISHED, free_slot, vgic_get_lpi, vgic_release_lpi_locked
from itsrace.kvm.its_cmds import update_lpi_config, vgic_v3_lpi_sync_pending_status

DESIGN = Design("kvm-cve-2026-74568", base="kvm",
                summary="before the 2026 fix: put's final decrement outside lpi_xa's lock; pending_release flag",
                source="CVE-2026-74568 (osv.dev); stable 292e80a159aa88635bf668a7212cfdf526b8bd52, "
                       "cbfe2b24a1ea9de35032dbdd100fdc700f5be92d")
DESIGN.var("o_prel", bool, "NO", doc="irq->pending_release: the deferred release marked it")


@DESIGN.override
def vgic_put_irq(self, s, o: range(NO)):
    """vgic_put_irq before the fix: __vgic_put_irq, then xa_lock and release."""
    with atomic():  # [patch] if (!__vgic_put_irq(kvm, irq)) return;  (refcount_dec_and_test, no lock)
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "double-free")
        s.o_ref[o] = s.o_ref[o] - 1
        gone: bool = s.o_ref[o] == 0
    if gone:
        spin_lock(s.xa_lock)  # [vgic.c:172]
        vgic_release_lpi_locked(self, s, o)
        spin_unlock(s.xa_lock)  # [vgic.c:175]


@DESIGN.override
def vgic_put_irq_norelease(self, s, o: range(NO)):
    """vgic_put_irq_norelease before the fix: __vgic_put_irq, then irq->pending_release = true."""
    with atomic():  # [patch] if (!__vgic_put_irq(kvm, irq)) return false;
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "double-free")
        s.o_ref[o] = s.o_ref[o] - 1
        z: bool = s.o_ref[o] == 0
    if z:
        with atomic():  # [patch] irq->pending_release = true
            check(s.o_alive[o] == 1, "use-after-free")
            s.o_prel[o] = 1
    return z


@DESIGN.override
def vgic_release_deleted_lpis(self, s):
    """vgic_release_deleted_lpis before the fix: release the entries marked pending_release."""
    spin_lock(s.xa_lock)  # [vgic.c:185]
    for V in range(1, NV + 1):
        with atomic():  # [patch] xa_for_each(lpi_xa): irq->pending_release?
            d: range(NO + 1) = s.xa[V - 1]
            if d != 0:
                check(s.o_alive[d - 1] == 1, "use-after-free")
                if not s.o_prel[d - 1]:
                    d = 0
        if d != 0:
            vgic_release_lpi_locked(self, s, d - 1)
    spin_unlock(s.xa_lock)  # [vgic.c:192]


@DESIGN.override
def vgic_add_lpi(self, s, V: range(1, NV + 1), vc: range(NC + 1)):
    """vgic_add_lpi before the fix: an entry found at zero is overwritten, not freed."""
    r: range(NO + 1) = vgic_get_lpi(self, s, V)  # vgic_get_irq
    if r != 0:
        return r
    with atomic():  # [patch] irq = kzalloc(...) (pending_release = false); refcount_set(1); target_vcpu = vcpu
        n: range(NO + 1) = free_slot(s.o_alive, V)
        if n != 0:
            s.o_alive[n - 1] = 1
            s.o_ref[n - 1] = 1
            s.o_target[n - 1] = lockfree(vc, UNPUBLISHED)
            s.o_prel[n - 1] = 0
    if n == 0:
        return 0
    spin_lock(s.xa_lock)  # [its.c:107]
    with atomic():  # [patch] oldirq = xa_load(lpi_xa, intid); try-get: use it, else __xa_store(irq) (oldirq is not freed)
        old: range(NO + 1) = s.xa[V - 1]
        if old != 0:
            check(s.o_alive[old - 1] == 1, "use-after-free")
        if old != 0 and s.o_ref[old - 1] > 0:
            s.o_ref[old - 1] = s.o_ref[old - 1] + 1
            s.o_alive[n - 1] = 0  # kfree(irq)
            s.o_ref[n - 1] = 0
            s.o_target[n - 1] = lockfree(0, FREED)
            n = old
        else:
            s.xa[V - 1] = n
    spin_unlock(s.xa_lock)  # [its.c:130]
    update_lpi_config(self, s, n - 1, NC)
    vgic_v3_lpi_sync_pending_status(self, s, n - 1)
    return n
