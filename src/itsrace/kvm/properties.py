"""KVM's state checked against the shared catalogue (:data:`itsrace.hyp.properties.PROPERTIES`):
the invariants and final properties as level-1 predicates over this model's state. Assertions
(``use-after-free``, ``double-free``, ``free-while-referenced``, ``lr-wrong-pending-irq``,
``list-lock``, ``spurious-delivery``, ``xen-bug`` for a BUG_ON) are ``check`` lines in the steps.

``leak`` is the one property the catalogue has no entry for: at rest, every allocated
``vgic_irq`` is the ``lpi_xa`` entry of its INTID and its refcount is exactly the number of
counted pointers to it (ITEs, translation-cache entries, ap_list membership): no transient
reference is left and no object is unreachable.
"""

from __future__ import annotations

from itsrace.hyp.lang import final, invariant, pure
from itsrace.kvm.consts import (
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
    NO,
    NPOOL,
    NQ,
    NV,
    SCRIPT_LEN,
)


# -- delivery-target (the same statement as the Xen model's, docs/hyp-model.md) -----------------------
@pure
def table_target(ite: tuple[int, ...], ite_irq: tuple[int, ...], ite_col: tuple[int, ...],
                 col_target: tuple[int, ...], V: int) -> int:
    """The vCPU INTID ``V`` targets in the ITS's tables now (an ITE of ``V``, its collection's
    target); ``NC`` if none."""
    for q in range(NQ):
        if ite[q] and ite_irq[q] and (ite_irq[q] - 1) // NPOOL + 1 == V:
            return col_target[ite_col[q]] if ite_col[q] < NCOL else NC
    return NC


@pure
def pending_at(V: int, trig: tuple[int, ...], msi_v: tuple[int, ...]) -> bool:
    """INTID ``V`` may already be pending: an undelivered trigger, or an MSI sent while its
    event mapped to ``V`` (a posted write the ITS may have translated before the command)."""
    return trig[V - 1] > 0 or any(msi_v[q] == V for q in range(NQ))


@pure
def soon_targets(act: int, b: int, gv_lpi: tuple[int, ...], gv_col: tuple[int, ...], col_target: tuple[int, ...],
                 V: int) -> int:
    """The vCPUs (bit mask) the commands of batch ``b`` just written re-target ``V`` to (allowed
    until the command completes): MOVI to a mapped collection, MAPC V=1 of V's collection, MAPTI
    of ``V``."""
    if act == 0:
        return 0
    mask = 0
    for j in range(BATCH_LEN[b]):
        c = BATCH[b][j]
        if CMD_OP[c] == MOVI and gv_lpi[CMD_A[c] * NE + CMD_B[c]] == V and col_target[CMD_C[c]] < NC:
            mask |= 1 << col_target[CMD_C[c]]
        if CMD_OP[c] == MAPC and CMD_C[c] == 1 and CMD_B[c] < NC:
            if any(gv_lpi[q] == V and gv_col[q] == CMD_A[c] for q in range(NQ)):
                mask |= 1 << CMD_B[c]
        if CMD_OP[c] == MAPTI and CMD_C[c] + 1 == V and col_target[CMD_D[c]] < NC:
            mask |= 1 << col_target[CMD_D[c]]
    return mask


@pure
def target_ok(v: int, cur: int, old: int, table: int, soon: tuple[tuple[int, ...], ...], V: int) -> bool:
    """Delivering ``V`` on vCPU ``v`` is allowed (see the Xen model's ``target_ok``)."""
    return v == cur or v == table or (old >> v) & 1 == 1 or any((m[V - 1] >> v) & 1 == 1 for m in soon)


# -- command-error (the same statement as the Xen model's, docs/hyp-model.md) ---------------------------
@pure
def ce_code(q: int, ite: tuple[int, ...], ite_irq: tuple[int, ...], ite_col: tuple[int, ...],
            col_target: tuple[int, ...], cache: tuple[int, ...], o_alive: tuple[int, ...],
            o_target: tuple[int, ...]) -> int:
    """``command-error``: what the guest can see of event ``q`` in KVM's tables, as one number:
    its ITE (the INTID, 0 if there is no ITE or it holds no irq yet), the ITE's collection
    (``NCOL``: none, or NULL after MAPC V=0) and that collection's ``target_addr`` (``NC``: not
    mapped); and how an MSI of the event is translated now: the ``vgic_irq`` it reaches (the
    translation cache's entry if there is one, as ``vgic_its_check_cache`` would find it, else the
    ITE's ``irq``, as ``vgic_its_resolve_lpi`` would), by its INTID, and that irq's
    ``target_vcpu`` (``NC``: NULL or freed). A coherent cache entry is the ITE's own irq, so an
    MSI caching its translation, or an invalidation, changes nothing here."""
    itv = (ite_irq[q] - 1) // NPOOL + 1 if ite[q] and ite_irq[q] else 0
    c = ite_col[q] if ite[q] else NCOL
    tc = col_target[c] if c < NCOL else NC
    m = cache[q]
    if m == 0 and ite[q]:
        m = ite_irq[q]
    mv = (m - 1) // NPOOL + 1 if m else 0
    mt = o_target[m - 1] if m and o_alive[m - 1] else NC
    return (((itv * (NCOL + 1) + c) * (NC + 1) + tc) * (NV + 1) + mv) * (NC + 1) + mt


def ce_codes(K: dict[str, int]) -> int:
    """How many values :func:`ce_code` can take for the scenario's sizes ``K``."""
    return (K["NV"] + 1) * (K["NCOL"] + 1) * (K["NC"] + 1) * (K["NV"] + 1) * (K["NC"] + 1)


@pure
def cmd_rejected(cmd: int, snap: tuple[int, ...], dev: tuple[int, ...], col_target: tuple[int, ...]) -> bool:
    """``command-error``: does the architecture reject command ``cmd``, judged from the tables as
    they were when it was issued (``snap``, the codes of :func:`ce_code`)? MAPTI on an unmapped
    device (MAPTI_UNMAPPED_DEVICE); DISCARD, MOVI, INT, CLEAR, INV of an event with no ITE
    (*_UNMAPPED_INTERRUPT); MOVI from or to an unmapped collection (MOVI_UNMAPPED_COLLECTION);
    INVALL of an unmapped collection (INVALL_UNMAPPED_COLLECTION). A MAPTI of an event already
    mapped is UNPREDICTABLE, not rejected; KVM's extra refusals (DISCARD, INT of an event whose
    collection is unmapped) are not required to be errors, so they are not checked."""
    op = CMD_OP[cmd]
    if op == MAPTI:
        return not dev[CMD_A[cmd]]
    if op == INVALL:
        return col_target[CMD_A[cmd]] >= NC
    if op in (DISCARD, MOVI, INT, CLEAR, INV):
        ite_part = snap[CMD_A[cmd] * NE + CMD_B[cmd]] // ((NV + 1) * (NC + 1))  # (itv * (NCOL+1) + c) * (NC+1) + tc
        tc = ite_part % (NC + 1)
        itv = ite_part // (NC + 1) // (NCOL + 1)
        if itv == 0:
            return True
        if op == MOVI:
            return tc >= NC or col_target[CMD_C[cmd]] >= NC
    return False


@pure
def no_dup(lr_state: tuple[tuple[int, ...], ...], lr_intid: tuple[tuple[int, ...], ...]) -> bool:
    for v in range(NC):
        for a in range(NL):
            for b in range(a + 1, NL):
                if lr_state[v][a] and lr_state[v][b] and lr_intid[v][a] == lr_intid[v][b]:
                    return False
    return True


@pure
def at_rest(pc_vcpu: tuple[int, ...], pc_msi: tuple[int, ...]) -> bool:
    """Every process is at its start (the engine also evaluates final properties in deadlocked
    states; there they would only repeat the deadlock, so they hold vacuously)."""
    return not any(pc_vcpu) and not any(pc_msi)


@pure
def cleaned(gone: tuple[int, ...], dev: tuple[int, ...], ite: tuple[int, ...], cache: tuple[int, ...]) -> bool:
    """Every device removed by MAPD V=0 left nothing: no its_device, no ITE, no cache entry."""
    for d in range(ND):
        if not gone[d]:
            continue
        if dev[d]:
            return False
        for e in range(NE):
            if ite[d * NE + e] or cache[d * NE + e]:
                return False
    return True


@pure
def refs_balanced(alive: tuple[int, ...], ref: tuple[int, ...], vcpu: tuple[int, ...], xa: tuple[int, ...],
                  ite: tuple[int, ...], ite_irq: tuple[int, ...], cache: tuple[int, ...]) -> bool:
    for o in range(NO):
        if not alive[o]:
            continue
        held = (1 if vcpu[o] else 0) + sum(1 for q in range(NQ) if ite[q] and ite_irq[q] == o + 1) + \
            sum(1 for c in cache if c == o + 1)
        if ref[o] != held or held == 0 or xa[o // NPOOL] != o + 1:
            return False
    return True


@invariant("duplicate-lr")
def no_duplicate_lr(s):
    """No vCPU has two valid LRs with the same INTID."""
    return no_dup(s.lr_state, s.lr_intid)


@final("msi-delivered")
def msi_delivered(s):
    """Every MSI owed to the guest has been delivered."""
    return not at_rest(s.pc_vCPU, s.pc_msi) or not any(s.owed[q] for q in range(NQ))


@final("device-cleaned-up")
def device_cleaned_up(s):
    """Nothing is left of a device after MAPD V=0."""
    return not at_rest(s.pc_vCPU, s.pc_msi) or cleaned(s.dev_gone, s.dev, s.ite, s.cache)


@final("queue-consumed")
def queue_consumed(s):
    """Every scripted command has been issued and consumed (none is left queued: CREADR == CWRITER)."""
    return not at_rest(s.pc_vCPU, s.pc_msi) or (all(s.cmd_next[v] == SCRIPT_LEN[v] for v in range(NC))
                                                and s.cmd_pend == 0)


@final("leak")
def no_leak(s):
    """At rest every allocated vgic_irq is reachable and counts exactly its references."""
    return not at_rest(s.pc_vCPU, s.pc_msi) or refs_balanced(s.o_alive, s.o_ref, s.o_vcpu, s.xa, s.ite, s.ite_irq,
                                                              s.cache)
