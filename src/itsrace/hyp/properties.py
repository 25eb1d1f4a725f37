"""The properties every hypervisor model is checked against, each with the reason it matters.

Kinds: ``assertion`` (a ``check`` in a step: fails the moment the step runs), ``invariant``
(every reachable state), ``final`` (every state where the system has come to rest: no step is
enabled and every process is at its start), and the engine's built-ins (``deadlock``,
``lock-order``, ``lock-discipline``).

:data:`PROPERTIES` is the catalogue ``itsrace list properties`` prints; the invariants and final
properties are defined below as level-1 predicates, specialised to the scenario like the rest
of the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsrace.hyp.consts import D_REFCOUNT, NC, ND, NE, NL, NQ, NV, SCRIPT_LEN
from itsrace.hyp.lang import final, invariant, pure


@dataclass(frozen=True)
class Property:
    name: str
    kind: str  # assertion | invariant | final | built-in
    group: str  # memory safety | architecture | delivery | resources | progress
    summary: str
    reason: str


PROPERTIES: dict[str, Property] = {p.name: p for p in (
    Property("use-after-free", "assertion", "memory safety",
             "no pointer into a freed pend_irqs array is dereferenced",
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
    Property("spurious-delivery", "assertion", "delivery",
             "the guest acknowledges a vLPI only after a trigger (MSI, INT) that translated to it",
             "An interrupt the device never sent makes the guest's driver handle nonexistent work. Allowed by "
             "name: 'pending-at-discard' (triggers are not cancelled by DISCARD/MAPD V=0, so an LPI already "
             "pending or in an LR when its event was discarded may still arrive, as the thread accepted)."),
    Property("msi-delivered", "final", "delivery",
             "at rest, every MSI for an event that stayed mapped and enabled has been delivered",
             "LPIs are edge-triggered: one that is dropped is lost for good and the device's driver waits "
             "forever. Events the guest unmapped (DISCARD, MAPD V=0, MAPC V=0) or disabled meanwhile are "
             "excused; so are MSIs sent before the mapping command completed."),
    Property("device-cleaned-up", "final", "resources",
             "at rest after MAPD V=0, nothing of the device is left",
             "No radix-tree entry, list membership, live pend_irqs or allocated host LPI may remain: otherwise "
             "memory leaks, or later lookups find freed objects."),
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


# -- predicates --------------------------------------------------------------------------------------
@pure
def lr_agrees_ok(alive: tuple[int, ...], irq: tuple[int, ...], tree: tuple[int, ...], visible: tuple[int, ...],
                 pristine: tuple[int, ...], infl: tuple[int, ...], lr: tuple[int, ...], gen: tuple[int, ...],
                 lr_virq: tuple[tuple[int, ...], ...], lr_mask: tuple[tuple[int, ...], ...],
                 lr_own: tuple[tuple[int, ...], ...], lr_gen: tuple[tuple[int, ...], ...],
                 locks: tuple[int, ...]) -> bool:
    if any(locks):
        return True
    for q in range(NQ):
        mapped = alive[q] and irq[q] != 0 and tree[irq[q] - 1] == q + 1 and not pristine[q]
        if not mapped:
            continue
        if visible[q]:
            v, k = infl[q] - 1, lr[q]
            if v < 0 or k >= NL or not lr_mask[v][k] or lr_virq[v][k] != irq[q] or lr_own[v][k] != q + 1:
                return False
        for v in range(NC):
            for k in range(NL):
                if lr_mask[v][k] and lr_own[v][k] == q + 1 and lr_gen[v][k] == gen[q]:
                    if not visible[q] or lr[q] != k or infl[q] != v + 1:
                        return False
    return True


@pure
def no_dup(lr_state: tuple[tuple[int, ...], ...], lr_virq: tuple[tuple[int, ...], ...]) -> bool:
    for v in range(NC):
        for a in range(NL):
            for b in range(a + 1, NL):
                if lr_state[v][a] and lr_state[v][b] and lr_virq[v][a] == lr_virq[v][b]:
                    return False
    return True


@pure
def live_ites(dte: tuple[int, ...], itte_lpi: tuple[int, ...], V: int) -> int:
    """kvm-refcount: the ITEs of mapped devices naming vINTID V (each holds a reference)."""
    return sum(1 for q in range(NQ) if dte[q // NE] and itte_lpi[q] == V and V != 0)


@pure
def cleaned(gone: tuple[int, ...], alive: tuple[int, ...], tree: tuple[int, ...], infl: tuple[int, ...],
            lrq: tuple[int, ...], host_lpi: tuple[int, ...], host_dev: tuple[int, ...],
            ref: tuple[int, ...], irq: tuple[int, ...], dte: tuple[int, ...], itte_lpi: tuple[int, ...]) -> bool:
    for d in range(ND):
        if not gone[d]:
            continue
        if host_dev[d]:
            return False
        for e in range(NE):
            q = d * NE + e
            if alive[q] or infl[q] or lrq[q] or host_lpi[q] != -1 or any(t == q + 1 for t in tree[:NV]):
                # kvm-refcount: objects belong to vINTIDs, not devices. The slot may hold the
                # object of a vINTID that another device's ITEs now share; it is no leftover if
                # exactly those ITEs reference it (a leaked or transient reference is one).
                held = (D_REFCOUNT and alive[q] and not infl[q] and not lrq[q] and host_lpi[q] == -1
                        and ref[q] > 0 and ref[q] == live_ites(dte, itte_lpi, irq[q]))
                if not held:
                    return False
    return True


@invariant("duplicate-lr")
def no_duplicate_lr(s):
    """No vCPU has two valid LRs with the same vINTID."""
    return no_dup(s.lr_state, s.lr_virq)


@invariant("lr-agrees")
def lr_agrees(s):
    """LR contents agree with the pending_irq they were written for."""
    return lr_agrees_ok(s.p_alive, s.p_irq, s.tree, s.p_visible, s.p_pristine, s.p_infl, s.p_lr, s.p_gen,
                        s.lr_virq, s.lr_mask, s.lr_own, s.lr_gen, s.vgic_lock)


@pure
def at_rest(pc_vcpu: tuple[int, ...], pc_irq: tuple[int, ...]) -> bool:
    """Every process is at its start. The engine also evaluates final properties in deadlocked
    states; there they would only repeat the deadlock, so they hold vacuously."""
    return not any(pc_vcpu) and not any(pc_irq)


@final("msi-delivered")
def msi_delivered(s):
    """Every MSI owed to the guest has been delivered."""
    return not at_rest(s.pc_vCPU, s.pc_gicv3_do_LPI) or not any(s.owed[q] for q in range(NQ))


@final("device-cleaned-up")
def device_cleaned_up(s):
    """Nothing is left of a device after MAPD V=0."""
    return not at_rest(s.pc_vCPU, s.pc_gicv3_do_LPI) or cleaned(s.dev_gone, s.p_alive, s.tree, s.p_infl, s.p_lrq,
                                                                s.host_lpi, s.host_dev, s.p_ref, s.p_irq,
                                                                s.dte, s.itte_lpi)


@final("queue-consumed")
def queue_consumed(s):
    """Every scripted command has been issued and consumed."""
    return not at_rest(s.pc_vCPU, s.pc_gicv3_do_LPI) or (
        all(s.cmd_next[v] == SCRIPT_LEN[v] for v in range(NC)) and not s.stalled)
