"""``null-check``: the thread's option III, "revert to the check for NULL" only.

Every lookup on an LPI path treats NULL as "unmapped" (commit 56e1b3ebc9), but nothing tells an
LR of an old mapping from one of a new mapping of the same vINTID: MAPTI does not mark the new
``pending_irq`` PRISTINE, ``gic_find_unused_lr`` takes any free LR, and ``gic_update_one_lr``
applies whatever it finds in the LR to whatever ``pending_irq`` the vINTID now looks up to.
Stefano's objection: "wouldn't irq_to_pending potentially return the new pending_irq instead of
NULL in gic_update_one_lr? ... the new pending_irq is not in the inflight list, but
gic_update_one_lr will try to remove it from it."
"""

from itsrace.designs.base import Design

DESIGN = Design(
    name="null-check",
    summary="option III of the thread: NULL checks only, no PRISTINE (a stale LR is taken for the new LPI)",
    source="xen-devel, 'ITS emulation race conditions', Apr 2017 (option III); commit 56e1b3ebc9",
    mapti_pristine=False,
    pristine_lr_scan=False,
    stale_lr="null",
    discard="reinit",
)
