# mypy: disable-error-code="valid-type"
"""vgic.c: the lifetime of ``struct vgic_irq`` for LPIs: ``lpi_xa`` lookups with try-get,
``vgic_put_irq`` (the final decrement under ``lpi_xa``'s lock), the deferred release
(``vgic_put_irq_norelease`` + ``vgic_release_deleted_lpis``) and ``vgic_add_lpi`` (vgic-its.c).

RCU: every RCU read-side critical section of the modelled code (``vgic_get_lpi``,
``vgic_its_check_cache``) is a single step, so no reader is ever inside one when another step
runs; an object that ``kfree_rcu`` frees in a step is therefore unreachable by any reader from
that step on, and the model frees it at once (``o_alive = 0``). What a reader may still hold
after its section is a *counted* reference, or a bug: every dereference checks ``o_alive``.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, lockfree, spin_lock, spin_unlock
from itsrace.hyp.lang import procedure, pure
from itsrace.kvm.consts import NO, NPOOL, NQ, NV

# lockset: the model's writes that stand for an allocation or a free touch no live object
FREED = "kfree_rcu/kfree of a vgic_irq with refcount 0 that no index or list reaches (the model zeroes the slot)"
UNPUBLISHED = "kzalloc in vgic_add_lpi, before __xa_store: no other CPU reaches the object yet"


@pure
def OINTID(o: int) -> int:
    """The INTID (1..NV) of slot ``o``."""
    return o // NPOOL + 1


@pure
def referenced(o: int, vcpu: tuple[int, ...], ite: tuple[int, ...], ite_irq: tuple[int, ...],
               cache: tuple[int, ...]) -> bool:
    """Something that holds a counted pointer still points at slot ``o``: an ap_list, an ITE, a
    translation-cache entry."""
    return bool(vcpu[o] != 0 or any(ite[q] and ite_irq[q] == o + 1 for q in range(NQ))
                or any(c == o + 1 for c in cache))


@pure
def free_slot(alive: tuple[int, ...], V: int) -> int:
    """kzalloc: the first free slot of INTID V's pool, plus one (0: -ENOMEM)."""
    for i in range(NPOOL):
        if not alive[(V - 1) * NPOOL + i]:
            return (V - 1) * NPOOL + i + 1
    return 0


@procedure
def vgic_get_lpi(self, s, V: range(1, NV + 1)):
    """vgic_get_lpi (vgic.c): an RCU lookup in lpi_xa with try-get (refcount_inc_not_zero); an
    object whose count already reached zero is treated as absent. Returns slot + 1 or 0."""
    with atomic():  # [vgic.c:71] rcu_read_lock; irq = xa_load(lpi_xa, intid); vgic_try_get_irq_ref; rcu_read_unlock
        r: range(NO + 1) = s.xa[V - 1]
        if r != 0:
            check(s.o_alive[r - 1] == 1, "use-after-free")
            if s.o_ref[r - 1] > 0:
                s.o_ref[r - 1] = s.o_ref[r - 1] + 1
            else:
                r = 0
    return r


@procedure
def vgic_get_irq_ref(self, s, o: range(NO)):
    """vgic_get_irq_ref (vgic.h): a further reference for a caller that holds one already
    (refcount_inc_not_zero; at zero it WARNs and takes nothing: the object is being freed)."""
    with atomic():  # vgic_get_irq_ref: refcount_inc_not_zero
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "use-after-free")
        if s.o_ref[o] > 0:
            s.o_ref[o] = s.o_ref[o] + 1


@procedure
def vgic_release_lpi_locked(self, s, o: range(NO)):
    """vgic_release_lpi_locked (vgic.c), lpi_xa's lock held: erase the INTID's entry (whatever it
    holds now) and kfree_rcu the object."""
    with atomic():  # [vgic.c:138] __xa_erase(lpi_xa, irq->intid); kfree_rcu(irq)
        check(s.o_alive[o] == 1, "double-free")
        check(not referenced(o, s.o_vcpu, s.ite, s.ite_irq, s.cache), "free-while-referenced")
        s.xa[OINTID(o) - 1] = 0
        s.o_alive[o] = 0
        s.o_ref[o] = 0
        s.o_pending[o] = lockfree(0, FREED)
        s.o_enabled[o] = lockfree(0, FREED)
        s.o_prio[o] = lockfree(0, FREED)
        s.o_active[o] = lockfree(0, FREED)
        s.o_target[o] = lockfree(0, FREED)
        s.o_vcpu[o] = 0


@procedure
def vgic_put_irq(self, s, o: range(NO)):
    """vgic_put_irq (vgic.c): refcount_dec_and_lock_irqsave on lpi_xa's lock: a decrement that
    does not reach zero needs no lock; the last one is made under the lock, and the object is
    released there (so vgic_add_lpi, which also holds the lock, never finds it at zero)."""
    with atomic():  # [vgic.c:172] refcount_dec_and_lock_irqsave: refcount_dec_not_one
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "double-free")
        last: bool = s.o_ref[o] == 1
        if not last:
            s.o_ref[o] = s.o_ref[o] - 1
    if last:
        spin_lock(s.xa_lock)  # [vgic.c:172]
        with atomic():  # [vgic.c:172] refcount_dec_and_test under lpi_xa.xa_lock
            check(s.o_alive[o] == 1, "use-after-free")
            check(s.o_ref[o] > 0, "double-free")
            s.o_ref[o] = s.o_ref[o] - 1
            gone: bool = s.o_ref[o] == 0
        if gone:
            vgic_release_lpi_locked(self, s, o)
        spin_unlock(s.xa_lock)  # [vgic.c:175]


@procedure
def vgic_put_irq_norelease(self, s, o: range(NO)):
    """vgic_put_irq_norelease -> __vgic_put_irq (vgic.c): refcount_dec_and_test only, for callers
    that hold a raw spinlock (lpi_xa's lock comes before ap_list_lock). A zero count is left in
    lpi_xa; the caller must call vgic_release_deleted_lpis once its raw locks are dropped.
    Returns whether the count reached zero."""
    with atomic():  # [vgic.c:147 __vgic_put_irq] __vgic_put_irq: refcount_dec_and_test
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "double-free")
        s.o_ref[o] = s.o_ref[o] - 1
        z: bool = s.o_ref[o] == 0
    return z


@procedure
def vgic_release_deleted_lpis(self, s):
    """vgic_release_deleted_lpis (vgic.c): under lpi_xa's lock, release every entry whose
    refcount reads zero (orphans are recognised by their count alone)."""
    spin_lock(s.xa_lock)  # [vgic.c:185]
    for V in range(1, NV + 1):
        with atomic():  # [vgic.c:187] xa_for_each(lpi_xa): refcount_read(&irq->refcount) == 0?
            d: range(NO + 1) = s.xa[V - 1]
            if d != 0:
                check(s.o_alive[d - 1] == 1, "use-after-free")
                if s.o_ref[d - 1] != 0:
                    d = 0
        if d != 0:
            vgic_release_lpi_locked(self, s, d - 1)
    spin_unlock(s.xa_lock)  # [vgic.c:192]
