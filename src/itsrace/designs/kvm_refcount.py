"""``kvm-refcount``: KVM's reference-counted ``vgic_irq`` (arch/arm64/kvm/vgic), plugged into
Xen's code structure. The facts are those of ``shared/domain/kvm-vgic-its-design.md``
(cited as "KVM doc §N"); ``docs/hyp-model.md`` says how each maps onto the model.

* Each vINTID has at most one object; the index (Xen's radix tree, KVM's ``lpi_xa``) holds it as
  long as anybody holds a reference (KVM doc §1, §2).
* References: one per ITE (MAPTI's ``vgic_add_lpi``), one for membership of a vCPU's lists (the
  ap_list; ``inflight_irqs`` here), and a transient one per lookup on the injection path, taken
  by try-get in the same step as the lookup (KVM doc §2, §8 "take the reference inside the
  critical section that makes the lookup safe").
* The last put evicts the object from the index and frees it in one step
  (``refcount_dec_and_lock``, KVM doc §2).
* DISCARD and MAPD V=0 put only the ITE's reference (``its_free_ite``, KVM doc §5): an object
  on a vCPU's lists, maybe in an LR, stays alive and indexed, so the LR sync on that vCPU's next
  exit finds exactly it; when the guest has EOIed it the sync unlinks it and drops the last
  reference. Its pending state survives DISCARD (KVM doc §5): it may be presented once more.
* MAPTI of a vINTID whose object is still alive shares it (``vgic_add_lpi`` finds it); an
  injection of an LPI already on a list only marks it pending and kicks (KVM doc §4 step 2).
* The index is read under RCU and written under an IRQ-safe spinlock (KVM doc §3, §6): no
  lookup ever waits for MAPTI.

Not modelled: the translation cache (KVM doc §6; its references are transient references with
a longer life), ap_list migration after MOVI (the object stays on the old vCPU's lists until
EOI), GICv4.
"""

from itsrace.designs.base import Design

DESIGN = Design(
    name="kvm-refcount",
    summary="KVM's design: refcounted per-vINTID objects, try-get lookups, DISCARD puts only the ITE's reference",
    source="Linux arch/arm64/kvm/vgic/{vgic-its.c,vgic.c} (shared/domain/kvm-vgic-its-design.md)",
    mapti_pristine=False,
    pristine_lr_scan=False,
    stale_lr="null",
    discard="put",
    inject_checks_tag=False,
    unmap_free="immediate",
    refcount=True,
)
