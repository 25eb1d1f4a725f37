"""The properties every hypervisor model is checked against, each with the reason it matters.

Kinds: ``assertion`` (a ``check`` in a step: fails the moment the step runs), ``invariant``
(every reachable state), ``final`` (every state where the system has come to rest: no step is
enabled and every process is at its start), and the engine's built-ins (``deadlock``,
``lock-order``, ``lock-discipline``).

:data:`PROPERTIES` is the catalogue ``itsrace list properties`` prints; the invariants and final
properties are level-1 predicates each hypervisor model defines over its own state
(``itsrace.xen.properties``); a design may add properties of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Property:
    name: str
    kind: str  # assertion | invariant | final | built-in
    group: str  # memory safety | architecture | delivery | resources | progress
    summary: str
    reason: str


PROPERTIES: dict[str, Property] = {p.name: p for p in (
    Property("use-after-free", "assertion", "memory safety",
             "no pointer to freed memory (a freed pend_irqs array, a released vgic_irq) is dereferenced",
             "MAPD V=0 xfree()s the device's pend_irqs; a CPU still holding a pointer (e.g. gicv3_do_LPI "
             "between its radix-tree lookup and reading lpi_vcpu_id) reads freed memory."),
    Property("use-after-reinit", "assertion", "memory safety",
             "no pointer is used after MAPTI re-initialised its pending_irq for a new mapping",
             "The code then acts on another interrupt's state (another vLPI, another target vCPU) believing it "
             "is the one it looked up. DISCARD's re-initialisation is exempt: it leaves a tombstone "
             "(INVALID_LPI, INVALID_VCPU_ID) that the injection path is designed to read."),
    Property("null-deref", "assertion", "memory safety",
             "no NULL pending_irq, NULL list head or NULL vCPU is dereferenced",
             "ASSERT(p) is compiled out in release builds; list heads of a never-mapped pend_irqs entry are NULL "
             "(xzalloc); an unmapped collection gives a NULL vCPU. Each is a hypervisor crash."),
    Property("double-free", "assertion", "memory safety",
             "a pend_irqs array is freed at most once",
             "A second xfree corrupts Xen's heap."),
    Property("xen-bug", "assertion", "memory safety",
             "no BUG()/BUG_ON fires (an LR index out of range, e.g. GIC_INVALID_LR)",
             "gicv3_ich_read_lr/update_lr BUG() on an LR number >= nr_lrs: the host panics."),
    Property("duplicate-lr", "invariant", "architecture",
             "no vCPU has two valid LRs with the same vINTID",
             "GICv3 (ICH_LR<n>_EL2): two valid LRs with the same vINTID is UNPREDICTABLE."),
    Property("lr-wrong-pending-irq", "assertion", "architecture",
             "an LR's state is folded only into the pending_irq that LR was written for",
             "The thread's worry: after DISCARD + MAPTI of the same vLPI, gic_update_one_lr would apply an old "
             "LR's state (active, EOIed) to the new pending_irq: wrong ACTIVE/VISIBLE bits, a lost interrupt, "
             "or list manipulation of an object that is not on this vCPU's lists."),
    Property("lr-agrees", "invariant", "architecture",
             "LR contents agree with the pending_irq they belong to (checked whenever no vgic lock is held)",
             "A mapped, non-PRISTINE pending_irq is VISIBLE exactly when the LR p->lr of the vCPU whose "
             "inflight list holds it contains its vINTID and was written for it; every decision Xen takes "
             "(re-raise, eviction, gic_raise_inflight_irq's LR refresh) relies on this."),
    Property("list-lock", "assertion", "architecture",
             "a pending_irq's list links are only changed under the lock of the vCPU whose lists hold it",
             "inflight_irqs and lr_pending are protected by their vCPU's vgic lock; changing them under another "
             "vCPU's lock races with that vCPU's gic_update_one_lr/gic_restore_pending_irqs and corrupts lists."),
    Property("command-error", "assertion", "architecture",
             "a command the architecture rejects changes nothing the guest can see: every event's ITT entry, "
             "its collection's vCPU, and how an MSI of it is translated (vLPI and target vCPU)",
             "GICv3 ITS: a command error (unmapped device, interrupt or collection) leaves the ITS state alone (the "
             "command is ignored, or the queue stalls). A hypervisor that half-executes a rejected command leaves "
             "mappings the guest never made, or removes ones it relies on."),
    Property("lockset", "assertion", "architecture",
             "every access of a pending_irq (KVM: vgic_irq) field holds the lock its declaration names, "
             "unless the model marks it lock-free (ACCESS_ONCE/READ_ONCE, atomic bit operations, an object "
             "no other CPU can reach yet)",
             "Xen: the vgic lock protects the pending_irq state and the lr_queue/inflight links (vgic.h); KVM: "
             "irq_lock protects the content of struct vgic_irq (arm_vgic.h). A plain access without it races "
             "with the CPU that holds it: torn or stale decisions (which vCPU, which LR, whether queued)."),
    Property("spurious-delivery", "assertion", "delivery",
             "the guest acknowledges a vLPI only after a trigger (MSI, INT) that translated to it",
             "An interrupt the device never sent makes the guest's driver handle nonexistent work. Allowed by "
             "name: 'pending-at-discard' (triggers are not cancelled by DISCARD/MAPD V=0, so an LPI already "
             "pending or in an LR when its event was discarded may still arrive, as the thread accepted)."),
    Property("delivery-target", "assertion", "delivery",
             "an LPI is delivered only on the vCPU its collection targets, or on an earlier target that still "
             "owes the delivery of an LPI already pending when the target changed",
             "GICv3 ITS: MOVI, MAPC re-targeting and MOVALL move the target redistributor; an LPI that is already "
             "pending (translated) at the old target may still be taken there, every later trigger goes to the new "
             "target. Delivery elsewhere runs the guest's handler on a CPU it did not route the interrupt to (its "
             "per-CPU state, affinity and CPU hot-unplug assumptions break)."),
    Property("msi-delivered", "final", "delivery",
             "at rest, every MSI for an event that stayed mapped and enabled has been delivered",
             "LPIs are edge-triggered: one that is dropped is lost for good and the device's driver waits "
             "forever. Events the guest unmapped (DISCARD, MAPD V=0, MAPC V=0) or disabled meanwhile are "
             "excused; so are MSIs sent before the mapping command completed."),
    Property("device-cleaned-up", "final", "resources",
             "at rest after MAPD V=0, nothing of the device is left",
             "No radix-tree entry, list membership, live pend_irqs or allocated host LPI may remain: otherwise "
             "memory leaks, or later lookups find freed objects."),
    Property("leak", "final", "resources",
             "at rest, every allocated interrupt object is reachable and counts exactly its references",
             "KVM: a vgic_irq whose refcount is higher than the pointers to it (ITEs, translation-cache entries, "
             "its ap_list), or that is no longer its INTID's lpi_xa entry, is never freed: memory leaks, and a later "
             "MAPTI of the INTID makes a second object for it. Xen 4.10 has no reference counts: a pend_irqs array "
             "belongs to its device and is freed at MAPD V=0, so its leak is device-cleaned-up's violation and the "
             "Xen model has no separate leak check."),
    Property("free-while-referenced", "assertion", "resources",
             "a pending_irq is not freed or re-initialised while the radix tree or a vCPU list still refers to it",
             "The tree and the lists keep raw pointers; freeing (MAPD V=0) or memset (MAPTI) under them leaves "
             "dangling pointers or corrupts the lists."),
    Property("queue-consumed", "final", "progress",
             "at rest, the guest's command queue has been consumed",
             "The guest waits for CREADR to reach CWRITER (e.g. after SYNC); a stuck queue hangs it."),
    Property("deadlock", "built-in", "progress",
             "no state where some process waits forever (including an interrupt handler spinning on a lock "
             "held by the code it interrupted on the same pCPU)",
             "A deadlocked pCPU hangs the host."),
    Property("lock-order", "built-in", "progress",
             "locks are taken in the documented order vcmd_lock -> its_lock -> its_devices_lock -> vgic lock -> "
             "pend_lpi_tree_lock",
             "Two paths taking two locks in opposite orders can deadlock (lockdep's check)."),
    Property("lock-discipline", "built-in", "progress",
             "locks are released by their holder and not held at the end of a run; interrupts are re-enabled",
             "Modelling hygiene; a violation is a model bug or an unbalanced lock in the modelled code."),
)}
