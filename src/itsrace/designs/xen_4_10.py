"""``xen-4.10``: the design Xen merged (RELEASE-4.10.0, Dec 2017), as the code implements it.

* MAPTI marks the new ``pending_irq`` PRISTINE before inserting it in the radix tree
  (vgic-v3-its.c:778, commit bccfbe70a3 "ARM: GICv3: handle unmapped LPIs").
* ``gic_find_unused_lr`` reuses a used LR holding a PRISTINE ``pending_irq``'s vINTID
  (gic.c:466-475), so no second LR gets the same vINTID.
* ``gic_update_one_lr`` clears an LR whose vINTID looks up to NULL or to a PRISTINE
  ``pending_irq`` (gic.c:528-536), the "check for NULL" of commit 56e1b3ebc9 plus PRISTINE.
* ``its_discard_event`` deletes the vLPI from the tree, unlinks and re-initialises the
  ``pending_irq`` under the ITTE vCPU's vgic lock, then invalidates the host LPI entry; an LR
  still holding the vLPI is left alone (vgic-v3-its.c:586-630).
* MAPD V=0 discards every event, then frees ``pend_irqs`` right away (gic-v3-its.c:537-561).
"""

from itsrace.designs.base import Design

DESIGN = Design(
    name="xen-4.10",
    summary="Xen's merged design: NULL checks, PRISTINE marking, discard re-initialises at once",
    source="xen-project/xen RELEASE-4.10.0 (xen/arch/arm/{gic.c,vgic.c,vgic-v3-its.c,gic-v3-its.c,gic-v3-lpi.c})",
    mapti_pristine=True,
    pristine_lr_scan=True,
    stale_lr="null-or-pristine",
    discard="reinit",
    inject_checks_tag=False,
    unmap_free="immediate",
)
