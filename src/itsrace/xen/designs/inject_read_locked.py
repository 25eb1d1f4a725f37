# mypy: disable-error-code="valid-type"
"""``inject-read-locked``: the fix for findings F1 and F2, ``lpi_vcpu_id`` read under the tree lock.

``vgic_vcpu_inject_lpi`` looks the vLPI up (the read lock is dropped inside
``vgic_v3_lpi_to_pending``) and then reads ``p->lpi_vcpu_id`` with no lock: MAPD V=0 can free
``pend_irqs`` in between (F1, use after free) and DISCARD + MAPTI can re-initialise it (F2). Xen's
own comment at gic-v3-lpi.c:141-145 names the problem. The patch holds ``pend_lpi_tree_lock`` for
reading across the lookup *and* the read: DISCARD deletes under the write lock before anything is
re-initialised or freed, so it waits for the reader.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_, check, lockfree, read_lock, read_unlock
from itsrace.hyp.design import Design
from itsrace.xen.consts import NC, NPC, NPTR, NV
from itsrace.xen.pending_irq import SLOT, tree_ptr
from itsrace.xen.vgic import vgic_vcpu_inject_irq

DESIGN = Design(
    "inject-read-locked", base="xen-4.10",
    summary="fix for F1/F2: gicv3_do_LPI reads lpi_vcpu_id inside the radix tree's read lock",
    source="docs/findings.md F1, F2; gic-v3-lpi.c:139-156",
)


@DESIGN.override
def vgic_vcpu_inject_lpi(self, s, cpu: range(NPC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_lpi with the first lookup and the read of lpi_vcpu_id in one read-side
    critical section of pend_lpi_tree_lock."""
    with atomic():  # read_lock(tree) (waits behind a queued writer); p = radix_tree_lookup; vcpu_id = p->lpi_vcpu_id
        await_(s.tree_lock_w == 0 and s.tree_wq == 0)
        read_lock(s.tree_lock)
        r: range(NPTR) = tree_ptr(s.tree, s.p_gen, V)
        vid: range(NC + 1) = NC
        if r != 0:
            check(s.p_alive[SLOT(r)] == 1, "use-after-free")
            vid = lockfree(s.p_vcpu[SLOT(r)], "ACCESS_ONCE(p->lpi_vcpu_id), now inside the tree's read section")
    read_unlock(s.tree_lock)
    if vid >= NC:  # unmapped, or INVALID_VCPU_ID
        return
    vgic_vcpu_inject_irq(self, s, cpu, vid, V)
