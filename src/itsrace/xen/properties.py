"""Xen 4.10's state checked against the shared catalogue (:data:`itsrace.hyp.properties.PROPERTIES`):
the invariants and final properties as level-1 predicates, specialised to the scenario like the
rest of the model. Assertions are ``check`` lines in the model's steps.
"""

from __future__ import annotations

from itsrace.hyp.lang import final, invariant, pure
from itsrace.xen.consts import (
    BATCH,
    BATCH_LEN,
    CLEAR,
    CMD_A,
    CMD_B,
    CMD_C,
    CMD_D,
    CMD_OP,
    DISCARD,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPTI,
    MOVI,
    NC,
    NCOL,
    ND,
    NE,
    NL,
    NQ,
    NV,
    SCRIPT_LEN,
)


# -- predicates --------------------------------------------------------------------------------------
@pure
def table_target(dte: tuple[int, ...], itte_lpi: tuple[int, ...], itte_col: tuple[int, ...],
                 col_vcpu: tuple[int, ...], V: int) -> int:
    """``delivery-target``: the vCPU vLPI ``V`` targets in the guest's ITS tables (device table,
    ITT, collection table, as the commands processed so far wrote them); ``NC`` if no mapped
    event translates to ``V`` or its collection is unmapped."""
    for q in range(NQ):
        if dte[q // NE] and itte_lpi[q] == V:
            return col_vcpu[itte_col[q]] if itte_col[q] < NCOL else NC
    return NC


@pure
def gv_code(q: int, dte: tuple[int, ...], itte_lpi: tuple[int, ...], itte_col: tuple[int, ...],
            col_vcpu: tuple[int, ...], host_lpi: tuple[int, ...], tree: tuple[int, ...], p_vcpu: tuple[int, ...]) -> int:
    """``command-error``: what the guest can see of event ``q``, as one number: its ITT entry in
    guest memory (the vLPI, 0 if none or the device is unmapped, and the vCPU of its collection)
    and how an MSI of the event is translated now (the host entry's vLPI, and the vCPU Xen
    injects it on: ``lpi_vcpu_id`` of the vLPI's pending_irq)."""
    v_itt = itte_lpi[q] if dte[q // NE] else 0
    c = col_vcpu[itte_col[q]] if itte_col[q] < NCOL else NC
    h = host_lpi[q]
    t = NC
    if h > 0 and tree[h - 1] != 0:
        t = p_vcpu[tree[h - 1] - 1]
    return ((v_itt * (NC + 1) + c) * (NV + 2) + (h + 1)) * (NC + 1) + t


def gv_codes(K: dict[str, int]) -> int:
    """How many values :func:`gv_code` can take for the scenario's sizes ``K``."""
    return (K["NV"] + 1) * (K["NC"] + 1) * (K["NV"] + 2) * (K["NC"] + 1)


@pure
def cmd_rejected(cmd: int, snap: tuple[int, ...], dte: tuple[int, ...], col_vcpu: tuple[int, ...]) -> bool:
    """``command-error``: does the architecture reject command ``cmd``, judged from the tables as
    they were when it was issued (``snap``, the codes of :func:`gv_code`)? MAPTI on an unmapped
    device; DISCARD, MOVI, INT, CLEAR, INV on an event the ITT does not map (UNMAPPED_INTERRUPT);
    MOVI to or from an unmapped collection (UNMAPPED_COLLECTION); INVALL of an unmapped
    collection. (A MAPTI of an event already mapped is UNPREDICTABLE, not rejected.)"""
    op = CMD_OP[cmd]
    if op == MAPTI:
        return not dte[CMD_A[cmd]]
    if op == INVALL:
        return col_vcpu[CMD_A[cmd]] >= NC
    if op in (DISCARD, MOVI, INT, CLEAR, INV):
        code = snap[CMD_A[cmd] * NE + CMD_B[cmd]]
        itt = code // (NC + 1) // (NV + 2)  # v_itt * (NC + 1) + c
        v_itt, c_old = itt // (NC + 1), itt % (NC + 1)
        if v_itt == 0:
            return True
        if op == MOVI:
            return c_old >= NC or col_vcpu[CMD_C[cmd]] >= NC
    return False


@pure
def pending_at(V: int, trig: tuple[int, ...], host_pend: tuple[int, ...], msi_v: tuple[int, ...]) -> bool:
    """``delivery-target``: vLPI ``V`` may already be pending: a trigger translated to it is not
    yet delivered, or the device sent an MSI while its event mapped to ``V`` (``msi_v``). An MSI
    is a posted write: the ITS may have translated it before the re-targeting command, so it
    may arrive at the old target. The ghost does not record when Xen translated that MSI, so
    any such MSI grants the allowance (a superset: never a false violation)."""
    return trig[V - 1] > 0 or any(msi_v[q] == V for q in range(NQ))


@pure
def soon_targets(act: int, b: int, gv_lpi: tuple[int, ...], itte_col: tuple[int, ...], col_vcpu: tuple[int, ...],
                 V: int) -> int:
    """``delivery-target``: the vCPUs (bit mask) that the commands of batch ``b``, just written
    to CWRITER (``act`` > 0), re-target vLPI ``V`` to: the ITS may execute a command at any
    moment until CREADR passes it, so until then the new target is allowed too (MOVI to a
    mapped collection, MAPC V=1 of V's collection, MAPTI of V)."""
    if act == 0:
        return 0
    mask = 0
    for j in range(BATCH_LEN[b]):
        c = BATCH[b][j]
        if CMD_OP[c] == MOVI and gv_lpi[CMD_A[c] * NE + CMD_B[c]] == V and col_vcpu[CMD_C[c]] < NC:
            mask |= 1 << col_vcpu[CMD_C[c]]
        if CMD_OP[c] == MAPC and CMD_C[c] == 1 and CMD_B[c] < NC:
            if any(gv_lpi[q] == V and itte_col[q] == CMD_A[c] for q in range(NQ)):
                mask |= 1 << CMD_B[c]
        if CMD_OP[c] == MAPTI and CMD_C[c] + 1 == V and col_vcpu[CMD_D[c]] < NC:
            mask |= 1 << col_vcpu[CMD_D[c]]
    return mask


@pure
def target_ok(v: int, cur: int, old: int, table: int, soon: tuple[tuple[int, ...], ...], V: int) -> bool:
    """``delivery-target``: delivering on vCPU ``v`` is allowed: it is the target when the last
    command completed (``cur``), in the tables now, or the one a command written but not yet
    completed gives (``soon[u][V - 1]``, per issuing vCPU ``u``), or an earlier target that
    still owes a delivery (bit ``v`` of ``old``)."""
    return v == cur or v == table or (old >> v) & 1 == 1 or any((m[V - 1] >> v) & 1 == 1 for m in soon)


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
    return not at_rest(s.pc_vCPU, s.pc_gicv3_do_LPI) or s.gv_wild or not any(s.owed[q] for q in range(NQ))


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
