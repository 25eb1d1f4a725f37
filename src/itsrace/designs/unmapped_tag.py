"""``unmapped-tag``: Andre's proposal, as written in the thread.

* DISCARD first tags the ``pending_irq`` UNMAPPED, then removes the host LPI -> vLPI connection;
  the injection path drops a tagged LPI.
* A tagged ``pending_irq`` still in an LR stays in the radix tree and on the vCPU's lists; when
  the vCPU exits and the LR is cleaned up (``gic_update_one_lr``), the LR is cleared, the
  ``pending_irq`` leaves every list and the radix tree ("cleanup_lpi()") and is re-initialised.
  One that is in no LR is retired by DISCARD at once.
* MAPD V=0 tags every event and frees ``pend_irqs`` when the last tagged one has been retired.
* A new MAPTI re-initialises the ``pending_irq`` (clearing the tag). Nothing marks it PRISTINE.

Stefano's objection: "DISCARD; MAPTI" of the same vLPI while it is still in an LR; Julien's: an
interrupt arriving just before the LR is cleared.
"""

from itsrace.designs.base import Design

DESIGN = Design(
    name="unmapped-tag",
    summary="Andre's proposal: tag a discarded pending_irq UNMAPPED, retire it when its LR is cleaned up",
    source="xen-devel, 'ITS emulation race conditions', Andre Przywara, 10 Apr 2017",
    mapti_pristine=False,
    pristine_lr_scan=False,
    stale_lr="tag",
    discard="tag",
    inject_checks_tag=True,
    unmap_free="deferred",
)
