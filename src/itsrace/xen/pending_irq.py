# mypy: disable-error-code="valid-type"
"""``struct pending_irq``: pointers, radix-tree lookups and list membership.

A pointer to a ``pending_irq`` is a local holding ``1 + 2*slot + generation`` (0 is NULL), see
:mod:`itsrace.xen.consts`. Every step that touches the object through a pointer first checks it
(``deref`` below, written out as ``check`` lines so each step says what it verifies):

* ``use-after-free``: the ``pend_irqs`` array was freed by MAPD V=0;
* ``use-after-reinit``: MAPTI re-initialised the slot for a new mapping since the pointer was
  taken (DISCARD's re-initialisation is not counted: it leaves a tombstone,
  ``irq = INVALID_LPI`` and ``lpi_vcpu_id = INVALID_VCPU_ID``, that readers are meant to see);
* ``null-deref``: the list heads were never initialised (``xzalloc`` leaves them NULL).

List membership is stored with the object (``p_infl``/``p_lrq`` = owning vCPU + 1), which is
what ``list_empty(&p->inflight)`` tells Xen. ``list-lock`` checks that an object's links are
only changed under the lock of the vCPU whose list holds it.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_, check, read_lock, read_unlock
from itsrace.hyp.lang import procedure, pure
from itsrace.xen.consts import CUR, NC, NPRIO, NPTR, NQ, NV


# -- pointers ----------------------------------------------------------------------------------------
@pure
def SLOT(r: int) -> int:
    """The slot a (non-NULL) pointer points into."""
    return (r - 1) >> 1


@pure
def GEN(r: int) -> int:
    """The generation the pointer was taken at."""
    return (r - 1) & 1


@pure
def PTR(q: int, g: int) -> int:
    """A pointer to slot ``q`` whose generation is ``g``."""
    return 1 + 2 * q + g


@pure
def tree_ptr(tree: tuple[int, ...], gens: tuple[int, ...], V: int) -> int:
    """``radix_tree_lookup(pend_lpi_tree, V)`` as a pointer (0: NULL)."""
    if V <= 0 or tree[V - 1] == 0:
        return 0
    q = tree[V - 1] - 1
    return 1 + 2 * q + gens[q]


@pure
def is_current(cpu: int, v: int) -> bool:
    """``v == current`` on pCPU ``cpu`` (vCPUs are pinned: the vCPU of that pCPU)."""
    return CUR[cpu] == v


@pure
def lr_pending_empty(lrq: tuple[int, ...], v: int) -> bool:
    """``list_empty(&v->arch.vgic.lr_pending)``."""
    return all(x != v + 1 for x in lrq)


# -- lookups -----------------------------------------------------------------------------------------
@procedure
def vgic_v3_lpi_to_pending(self, s, V: range(NV + 1)):
    """irq_to_pending(v, LPI) -> vgic_v3_lpi_to_pending (vgic-v3.c:1770): read_lock, lookup,
    read_unlock. Xen's rwlock is a queued rwlock (common/rwlock.c): read_lock waits while a
    writer holds the lock *or waits for it* (_QW_WMASK), so a writer that queued behind this
    reader blocks every later reader until this one leaves. The read section is two steps
    (acquire with the lookup, release): the tree cannot change while it is read-locked, so the
    lookup may sit at either end; what the split makes visible is a reader that is preempted
    while it holds the lock (a nested LPI handler on pCPU0, lpi.py)."""
    with atomic():  # [vgic-v3.c:1775] read_lock(tree) (waits behind a queued writer); radix_tree_lookup
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        read_lock(s.tree_lock)
        found: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
    read_unlock(s.tree_lock)  # [vgic-v3.c:1777] read_unlock(&d->arch.vgic.pend_lpi_tree_lock)
    return found


@procedure
def vgic_v3_lpi_get_priority(self, s, V: range(NV + 1)):
    """vgic_v3_lpi_get_priority (vgic-v3.c:1783): a second lookup, ASSERT(p) (compiled out in
    release builds, so a NULL p is dereferenced), return p->lpi_priority."""
    with atomic():  # [vgic-v3.c:1785] lookup #3; ASSERT(p); p->lpi_priority
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        pp: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
        check(pp != 0, "null-deref")
        check(s.p_alive[SLOT(pp)] == 1, "use-after-free")
        prio: range(NPRIO) = s.p_lpiprio[SLOT(pp)]
    return prio


# -- list membership (gic.c:387-421) -----------------------------------------------------------------
@procedure
def gic_add_to_lr_pending(self, s, v: range(NC), r: range(NPTR)):
    """gic_add_to_lr_pending (gic.c:387): insert by priority unless already queued somewhere."""
    with atomic():  # [gic.c:393] list_add to lr_pending (by priority) unless already queued
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_heads[SLOT(r)] == 1, "null-deref")
        if s.p_lrq[SLOT(r)] == 0:
            check(s.p_infl[SLOT(r)] in (0, v + 1), "list-lock")
            s.p_lrq[SLOT(r)] = v + 1


@procedure
def gic_remove_from_lr_pending(self, s, v: range(NC), r: range(NPTR)):
    """gic_remove_from_lr_pending (gic.c:407): list_del_init(&p->lr_queue)."""
    with atomic():  # [gic.c:411] list_del_init(&p->lr_queue)
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_heads[SLOT(r)] == 1, "null-deref")
        check(s.p_lrq[SLOT(r)] in (0, v + 1), "list-lock")
        s.p_lrq[SLOT(r)] = 0


@procedure
def gic_remove_irq_from_queues(self, s, v: range(NC), r: range(NPTR)):
    """gic_remove_irq_from_queues (gic.c:414): clear QUEUED, unlink from inflight_irqs and
    lr_pending. VISIBLE, p->lr and the LR itself are left alone."""
    with atomic():  # [gic.c:418] clear QUEUED; list_del_init(&p->inflight); list_del_init(&p->lr_queue)
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_heads[SLOT(r)] == 1, "null-deref")
        check(s.p_infl[SLOT(r)] in (0, v + 1), "list-lock")
        check(s.p_lrq[SLOT(r)] in (0, v + 1), "list-lock")
        s.p_queued[SLOT(r)] = 0
        s.p_infl[SLOT(r)] = 0
        s.p_lrq[SLOT(r)] = 0


__all__ = [
    "GEN", "NQ", "PTR", "SLOT", "gic_add_to_lr_pending", "gic_remove_from_lr_pending",
    "gic_remove_irq_from_queues", "is_current", "lr_pending_empty", "tree_ptr",
    "vgic_v3_lpi_get_priority", "vgic_v3_lpi_to_pending",
]
