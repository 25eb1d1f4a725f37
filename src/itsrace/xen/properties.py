"""Xen 4.10's state checked against the shared catalogue (:data:`itsrace.hyp.properties.PROPERTIES`):
the invariants and final properties as level-1 predicates, specialised to the scenario like the
rest of the model. Assertions are ``check`` lines in the model's steps.
"""

from __future__ import annotations

from itsrace.hyp.lang import final, invariant, pure
from itsrace.xen.consts import NC, ND, NE, NL, NQ, NV, SCRIPT_LEN


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
def cleaned(gone: tuple[int, ...], alive: tuple[int, ...], tree: tuple[int, ...], infl: tuple[int, ...],
            lrq: tuple[int, ...], host_lpi: tuple[int, ...], host_dev: tuple[int, ...]) -> bool:
    """Every device removed by MAPD V=0 left nothing: no rbtree entry, live pend_irqs, list
    membership, radix-tree entry or allocated host LPI."""
    for d in range(ND):
        if not gone[d]:
            continue
        if host_dev[d]:
            return False
        for e in range(NE):
            q = d * NE + e
            if alive[q] or infl[q] or lrq[q] or host_lpi[q] != -1 or any(t == q + 1 for t in tree[:NV]):
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
                                                                s.host_lpi, s.host_dev)


@final("queue-consumed")
def queue_consumed(s):
    """Every scripted command has been issued and consumed."""
    return not at_rest(s.pc_vCPU, s.pc_gicv3_do_LPI) or (
        all(s.cmd_next[v] == SCRIPT_LEN[v] for v in range(NC)) and s.cmd_pend == 0)
