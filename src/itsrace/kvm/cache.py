# mypy: disable-error-code="valid-type"
"""vgic-its.c: the per-ITS LPI translation cache (an xarray keyed by DeviceID/EventID).

Entries hold a reference on their ``vgic_irq``. They are stored under ``its_lock`` (the ITE's
reference guarantees a nonzero count), looked up without it (the MSI fast path: an RCU section
with try-get), and invalidated by walking the xarray and putting *the pointer the walk loaded*,
after erasing its index: xarray operations are atomic by themselves (the xarray's own lock), the
walk is not.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check
from itsrace.hyp.lang import procedure, pure
from itsrace.kvm.consts import NO, NQ, TRIG_MAX
from itsrace.kvm.irq import OINTID, vgic_put_irq


@pure
def ite_intid(ite: tuple[int, ...], ite_irq: tuple[int, ...], q: int) -> int:
    """The INTID event q's ITE maps to now (0: no ITE, or no irq yet)."""
    return OINTID(ite_irq[q] - 1) if ite[q] and ite_irq[q] else 0


@procedure
def vgic_its_check_cache(self, s, q: range(NQ)):
    """vgic_its_check_cache (vgic-its.c): the doorbell names the (only) ITS; an RCU lookup of the
    (devid, eventid) key with try-get. Returns slot + 1 with a reference, or 0 (a miss)."""
    with atomic():  # [its.c:553] rcu_read_lock; irq = xa_load(translation_cache, key); vgic_try_get_irq_ref; rcu_read_unlock
        c: range(NO + 1) = s.cache[q]
        if c != 0:
            check(s.o_alive[c - 1] == 1, "use-after-free")
            if s.o_ref[c - 1] > 0:
                s.o_ref[c - 1] = s.o_ref[c - 1] + 1
                # ghost: the ITS translated the MSI to this INTID: a trigger if the ITT mapped the
                # event to it when the MSI was sent, or maps it so now, or the command that unmaps
                # it has not completed yet (the cache is the ITS's mapping until invalidated)
                if (s.msi_v[q] == OINTID(c - 1) or ite_intid(s.ite, s.ite_irq, q) == OINTID(c - 1)
                        or s.gv_lpi[q] == OINTID(c - 1)):
                    s.trig[OINTID(c - 1) - 1] = min(s.trig[OINTID(c - 1) - 1] + 1, TRIG_MAX)
            else:
                c = 0
    return c


@procedure
def vgic_its_cache_translation(self, s, q: range(NQ), o: range(NO)):
    """vgic_its_cache_translation (vgic-its.c), its_lock held: take a reference for the cache
    (nonzero: the ITE holds one), xa_store it, and put the entry it displaced."""
    with atomic():  # [its.c:580] vgic_get_irq_ref(irq); old = xa_store(translation_cache, key, irq)
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "use-after-free")
        s.o_ref[o] = s.o_ref[o] + 1
        old: range(NO + 1) = s.cache[q]
        s.cache[q] = o + 1
    if old != 0:
        vgic_put_irq(self, s, old - 1)


@procedure
def vgic_its_invalidate_cache(self, s):
    """vgic_its_invalidate_cache (vgic-its.c): xa_for_each over the cache: xa_erase the index,
    then put the pointer the walk loaded."""
    c: range(NO + 1) = 0
    for q in range(NQ):
        with atomic():  # [its.c:608] xa_for_each(&its->translation_cache, idx, irq): the entry at idx
            c = s.cache[q]
        if c != 0:
            with atomic():  # [its.c:609] xa_erase(&its->translation_cache, idx)
                s.cache[q] = 0
            vgic_put_irq(self, s, c - 1)


@procedure
def vgic_its_invalidate_all_caches(self, s):
    """vgic_its_invalidate_all_caches (vgic-its.c): every ITS of the VM (here the one) under RCU,
    without its_lock."""
    vgic_its_invalidate_cache(self, s)
