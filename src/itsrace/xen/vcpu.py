# mypy: disable-error-code="valid-type"
"""vCPUs: guest mode, traps into Xen, and the guest's own actions on its list registers.

Each vCPU is pinned to its pCPU and is never descheduled, so it is always ``current`` there.
One run of the ``vCPU`` process is one round trip: the guest traps (to issue an ITS command, or
because an interrupt, a kick or a spontaneous exit takes it out), Xen syncs the LRs
(``enter_hypervisor_head`` -> ``gic_clear_lrs``), handles the trap with interrupts enabled,
and returns to the guest with interrupts disabled (``leave_hypervisor_tail`` -> ``gic_inject``).

While a vCPU is in guest mode the guest acknowledges (pending -> active) and EOIs (active ->
invalid) what is in its LRs: level-1 actions, because the guest needs no Xen code for it (LPIs
have no EOI maintenance interrupt). The guest also writes its LPI property table (``PROP``).
"""

from __future__ import annotations

from itsrace.engine.lang.model import check, require
from itsrace.engine.lang.process import (
    atomic,
    await_,
    local_irq_disable,
    local_irq_enable,
    spin_lock,
    spin_unlock,
)
from itsrace.hyp.lang import action, procedure, process, pure
from itsrace.hyp.scenario import GICR_CTLR, GITS_CTLR, REG_WRITES
from itsrace.xen.consts import (
    ACTIVE_STATE,
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
    LR_ACTIVE,
    LR_INVALID,
    LR_PENDING,
    MAPC,
    MAPD,
    MAPTI,
    MAX_BATCH,
    MOVI,
    NACT,
    NBATCH,
    NC,
    NCMD,
    NE,
    NL,
    NPC,
    NQ,
    NV,
    OPS_USED,
    PROP,
    RW_A,
    RW_B,
    RW_C,
    RW_D,
    RW_KIND,
    SCRIPT,
    SCRIPT_LEN,
    UNIV,
    UNIV_VCPU,
    VCPU_PCPU,
)
from itsrace.xen.guest_regs import (
    queue_drained,
    vgic_v3_its_write_ctlr,
    vgic_v3_its_write_cwriter,
    vgic_v3_rdistr_write_ctlr,
)
from itsrace.xen.its_cmds import (
    its_handle_clear,
    its_handle_discard,
    its_handle_int,
    its_handle_inv,
    its_handle_invall,
    its_handle_mapc,
    its_handle_mapd,
    its_handle_mapti,
    its_handle_movi,
)
from itsrace.xen.lr import gic_clear_lrs, gic_inject
from itsrace.xen.pending_irq import lr_pending_empty
from itsrace.xen.properties import (
    cmd_rejected,
    gv_code,
    pending_at,
    soon_targets,
    table_target,
    target_ok,
)


@pure
def may_exit(act: int, v: int, kick: int, uie: int, lr_state: tuple[int, ...], lr_mask: tuple[int, ...],
             exits_left: int, lrq: tuple[int, ...], cmd_next: int, cmds_left: int) -> bool:
    """Can vCPU ``v``'s guest leave guest mode for reason ``act``?

    ``act == 0``: an interrupt or trap that is not an ITS command: a kick (event-check SGI), the
    underflow maintenance interrupt (UIE and at most one valid LR), work Xen has not yet seen
    (something waiting in lr_pending, or a used LR whose state only a sync will read: some exit,
    a timer tick, always comes), or one of the scenario's spontaneous exits.
    ``act == 1``: the guest writes GITS_CWRITER for its next scripted command.
    ``act >= 2``: the guest issues universe command ``act - 2``."""
    if act == 0:
        valid = sum(1 for st in lr_state if st != LR_INVALID)
        return bool(kick or (uie and valid <= 1) or exits_left > 0 or not lr_pending_empty(lrq, v) or any(lr_mask))
    if act == 1:
        return cmd_next < SCRIPT_LEN[v] and CMD_OP[BATCH[SCRIPT[v][cmd_next]][0]] != PROP
    return UNIV_VCPU[v] and cmds_left > 0 and CMD_OP[BATCH[UNIV[act - 2]][0]] != PROP


@pure
def gv_mapti_valid(gv_dev: tuple[int, ...], gv_lpi: tuple[int, ...], col_vcpu: tuple[int, ...],
                   dev: int, ev: int, V: int, col: int) -> bool:
    """Is MAPTI (dev, ev -> V, col) one the guest may rely on? The device is mapped, the
    collection is mapped, the event is not, and no other event maps V (the guest's view)."""
    return bool(gv_dev[dev] and col_vcpu[col] < NC and gv_lpi[dev * NE + ev] == 0
                and all(x != V for x in gv_lpi))


@pure
def command_of(act: int, v: int, cmd_next: int) -> int:
    """The batch id the trap issues (0 for an interrupt exit)."""
    if act == 1:
        return SCRIPT[v][cmd_next]
    if act >= 2:
        return UNIV[act - 2]
    return 0


@process(lambda K: dict(instances=range(K["NC"]), name="vCPU{}", cpu=lambda v: K["VCPU_PCPU"][v]))
def vcpu(self, s, act: range(NACT)):
    """One round trip of vCPU ``self`` from guest mode into Xen and back."""
    with atomic():  # [entry.S:202 guest_sync] the guest traps into Xen
        await_(s.in_guest[self] == 1 and may_exit(act, self, s.kick[self], s.uie[self], s.lr_state[self],
                                                  s.lr_mask[self], s.exits_left[self], s.p_lrq, s.cmd_next[self],
                                                  s.cmds_left)
               and queue_drained(act, command_of(act, self, s.cmd_next[self]), s.cmd_pend))
        s.in_guest[self] = 0
        batch: range(NBATCH) = command_of(act, self, s.cmd_next[self])
        if act == 0 and not s.kick[self] and not (s.uie[self] and sum(
                (s.lr_state[self][k] != LR_INVALID) for k in range(NL)) <= 1) and lr_pending_empty(s.p_lrq, self) \
                and not any(s.lr_mask[self][k] for k in range(NL)):
            s.exits_left[self] = s.exits_left[self] - 1
        if act == 1:
            s.cmd_next[self] = s.cmd_next[self] + 1
        if act >= 2:
            s.cmds_left = s.cmds_left - 1
        for V in range(1, NV + 1):  # ghost (delivery-target): what the written commands re-target
            s.dt_soon[self][V - 1] = soon_targets(act, batch, s.gv_lpi, s.itte_col, s.col_vcpu, V)
        s.kick[self] = 0  # a pending event-check SGI is taken on the way
        s.uie[self] = 0  # gic_clear_lrs: update_hcr_status(GICH_HCR_UIE, false)
    gic_clear_lrs(self, s, VCPU_PCPU[self], self)  # enter_hypervisor_head
    if act != 0:
        if REG_WRITES & OPS_USED:  # a scenario with guest register writes: dispatch on the register
            dispatch_mmio_write(self, s, VCPU_PCPU[self], batch)
        else:
            vgic_its_handle_cmds(self, s, VCPU_PCPU[self], batch)
    local_irq_disable()  # [traps.c:2300 leave_hypervisor_tail] leave_hypervisor_tail
    gic_inject(self, s, VCPU_PCPU[self], self)
    with atomic():  # [entry.S:321 return_from_trap] return to the guest (eret unmasks interrupts)
        s.in_guest[self] = 1
        local_irq_enable()


@procedure
def vgic_its_handle_cmds(self, s, cpu: range(NPC), b: range(NBATCH)):
    """GITS_CWRITER write (vgic-v3-its.c:1308) -> vgic_its_handle_cmds (vgic-v3-its.c:909):
    under vcmd_lock, run the queued commands, advancing CREADR after each (also when the command
    failed)."""
    spin_lock(s.vcmd_lock)  # [vgic-v3-its.c:1311 vgic_v3_its_mmio_write]
    j: range(MAX_BATCH + 1) = 0
    if GITS_CTLR in OPS_USED:  # only a scenario that can disable the ITS sees `if ( its->enabled )` fail
        j = vgic_v3_its_write_cwriter(self, s, b)
    while j < BATCH_LEN[b]:
        cmd: range(NCMD) = BATCH[b][j]
        its_handle_command(self, s, cpu, cmd)
        with atomic():  # [vgic-v3-its.c:970] write_u64_atomic(&its->creadr, ...): the command is consumed
            # ghost (command-error): a command the architecture rejects changed nothing the guest
            # can see (ce_snap: each event's view when the previous command completed); after
            # Dom0 wrote its tables behind the ITS (gv_wild) the guest is owed nothing
            check(s.gv_wild or not cmd_rejected(cmd, s.ce_snap, s.dte, s.col_vcpu) or all(
                gv_code(q, s.dte, s.itte_lpi, s.itte_col, s.col_vcpu, s.host_lpi, s.tree, s.p_vcpu) == s.ce_snap[q]
                for q in range(NQ)), "command-error")
            for q in range(NQ):
                s.ce_snap[q] = gv_code(q, s.dte, s.itte_lpi, s.itte_col, s.col_vcpu, s.host_lpi, s.tree, s.p_vcpu)
            # ghost: what the guest may now expect, from its own view of the commands it issued
            if CMD_OP[cmd] == MAPD:
                if CMD_B[cmd] == 1:
                    if not s.gv_dev[CMD_A[cmd]]:
                        s.gv_dev[CMD_A[cmd]] = 1
                        s.dev_gone[CMD_A[cmd]] = 0
                else:
                    s.gv_dev[CMD_A[cmd]] = 0
                    s.dev_gone[CMD_A[cmd]] = 1
                    for e in range(NE):
                        s.gv_lpi[CMD_A[cmd] * NE + e] = 0
                        s.owed[CMD_A[cmd] * NE + e] = 0
            if CMD_OP[cmd] == MAPTI:
                if gv_mapti_valid(s.gv_dev, s.gv_lpi, s.col_vcpu, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd] + 1, CMD_D[cmd]):
                    s.gv_lpi[CMD_A[cmd] * NE + CMD_B[cmd]] = CMD_C[cmd] + 1
                    s.gv_dirty[CMD_C[cmd]] = 0
            if CMD_OP[cmd] == DISCARD:
                s.gv_lpi[CMD_A[cmd] * NE + CMD_B[cmd]] = 0
                s.owed[CMD_A[cmd] * NE + CMD_B[cmd]] = 0
            if CMD_OP[cmd] == CLEAR:  # the guest cleared the pending state itself
                s.owed[CMD_A[cmd] * NE + CMD_B[cmd]] = 0
            if CMD_OP[cmd] == MAPC:
                if CMD_C[cmd] == 0:
                    for q in range(NQ):
                        if s.itte_col[q] == CMD_A[cmd]:
                            s.gv_lpi[q] = 0
                            s.owed[q] = 0
            # ghost (delivery-target): a vLPI whose target changed keeps its old target for the
            # one delivery of a trigger already pending when the command completed
            for V in range(1, NV + 1):
                if table_target(s.dte, s.itte_lpi, s.itte_col, s.col_vcpu, V) != s.dt_cur[V - 1]:
                    if s.dt_cur[V - 1] < NC and pending_at(V, s.trig, s.host_pend, s.msi_v):
                        s.dt_old[V - 1] = s.dt_old[V - 1] | (1 << s.dt_cur[V - 1])
                    s.dt_cur[V - 1] = table_target(s.dte, s.itte_lpi, s.itte_col, s.col_vcpu, V)
                if j + 1 == BATCH_LEN[b]:
                    s.dt_soon[self][V - 1] = 0
        j = j + 1
    spin_unlock(s.vcmd_lock)  # [vgic-v3-its.c:1320 vgic_v3_its_mmio_write]


@procedure
def dispatch_mmio_write(self, s, cpu: range(NPC), b: range(NBATCH)):
    """handle_mmio (io.c:103) -> the handler of the register the guest wrote: a redistributor's
    GICR_CTLR, GITS_CTLR (itsrace.xen.guest_regs), or GITS_CWRITER."""
    if CMD_OP[BATCH[b][0]] == GICR_CTLR:
        vgic_v3_rdistr_write_ctlr(self, s, cpu, CMD_A[BATCH[b][0]], CMD_B[BATCH[b][0]])
    elif CMD_OP[BATCH[b][0]] == GITS_CTLR:
        vgic_v3_its_write_ctlr(self, s, cpu, CMD_A[BATCH[b][0]])
    else:
        vgic_its_handle_cmds(self, s, cpu, b)


@procedure
def its_handle_command(self, s, cpu: range(NPC), cmd: range(NCMD)):
    """The dispatch of vgic_its_handle_cmds (vgic-v3-its.c:928-968); MOVALL and SYNC are
    no-ops, as in Xen."""
    ret: range(2) = 0
    if MAPD in OPS_USED:
        if CMD_OP[cmd] == MAPD:
            ret = its_handle_mapd(self, s, cpu, CMD_A[cmd], CMD_B[cmd])
    if MAPC in OPS_USED:
        if CMD_OP[cmd] == MAPC:
            ret = its_handle_mapc(self, s, cpu, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd])
    if MAPTI in OPS_USED:
        if CMD_OP[cmd] == MAPTI:
            ret = its_handle_mapti(self, s, cpu, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd] + 1, CMD_D[cmd])
    if DISCARD in OPS_USED:
        if CMD_OP[cmd] == DISCARD:
            ret = its_handle_discard(self, s, cpu, CMD_A[cmd], CMD_B[cmd])
    if INT in OPS_USED:
        if CMD_OP[cmd] == INT:
            ret = its_handle_int(self, s, cpu, CMD_A[cmd], CMD_B[cmd])
    if MOVI in OPS_USED:
        if CMD_OP[cmd] == MOVI:
            ret = its_handle_movi(self, s, cpu, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd])
    if CLEAR in OPS_USED:
        if CMD_OP[cmd] == CLEAR:
            ret = its_handle_clear(self, s, cpu, CMD_A[cmd], CMD_B[cmd])
    if INV in OPS_USED:
        if CMD_OP[cmd] == INV:
            ret = its_handle_inv(self, s, cpu, CMD_A[cmd], CMD_B[cmd])
    if INVALL in OPS_USED:
        if CMD_OP[cmd] == INVALL:
            ret = its_handle_invall(self, s, cpu, CMD_A[cmd])
    return ret


# -- the guest on its list registers -----------------------------------------------------------------
@action(lambda K: dict(v=range(K["NC"]), k=range(K["NL"])))
def guest_acknowledges(s, v, k):
    """The guest reads ICC_IAR1_EL1 and gets LR k's vINTID: the LPI is *delivered*. The LR goes
    pending -> active (or, if the scenario models LPIs without an active state, -> invalid).

    ``spurious-delivery`` is checked here: every delivery needs its own trigger (an MSI or INT
    that translated to this vLPI); several triggers may be coalesced into one delivery. Triggers
    are not cancelled by DISCARD or MAPD V=0: an LPI already pending (at the redistributor, in
    Xen, or in an LR) when the guest discards its event may still be delivered (allowed by name:
    ``pending-at-discard``; the thread accepted it)."""
    require(s.in_guest[v] == 1 and s.lr_state[v][k] == LR_PENDING)
    check(s.lr_virq[v][k] != 0, "spurious-delivery")  # Xen wrote INTID 0 (an SGI) into the LR
    check(s.trig[s.lr_virq[v][k] - 1] > 0 or s.gv_wild, "spurious-delivery")
    check(s.gv_wild or target_ok(v, s.dt_cur[s.lr_virq[v][k] - 1], s.dt_old[s.lr_virq[v][k] - 1],
                                 table_target(s.dte, s.itte_lpi, s.itte_col, s.col_vcpu, s.lr_virq[v][k]),
                                 s.dt_soon, s.lr_virq[v][k]), "delivery-target")
    if v != s.dt_cur[s.lr_virq[v][k] - 1] and s.trig[s.lr_virq[v][k] - 1] <= 1:  # nothing pending is left there
        s.dt_old[s.lr_virq[v][k] - 1] = s.dt_old[s.lr_virq[v][k] - 1] & ~(1 << v)
    if s.trig[s.lr_virq[v][k] - 1] > 0:
        s.trig[s.lr_virq[v][k] - 1] = s.trig[s.lr_virq[v][k] - 1] - 1
    for q in range(NQ):
        if s.gv_lpi[q] == s.lr_virq[v][k]:
            s.owed[q] = 0
    s.lr_state[v][k] = LR_ACTIVE if ACTIVE_STATE else LR_INVALID


@action(lambda K: dict(W=range(max(1, K["NRW"]))), only_if=lambda K: K["NRW"] > 0)
def dom0_writes_table(s, W):
    """Dom0 writes an entry of one of its ITS tables in its own memory, behind the ITS (a
    scenario's ``[guest] rewrites``): an ITTE of an ITT, a device table entry or a collection
    table entry. Xen keeps all three in guest memory and re-reads them under ``its_lock`` on
    every command (``read_itte``, ``its_get_itt``, ``get_vcpu_from_collection``), so the next
    command sees the new value; nothing else in Xen notices. The architecture makes such writes
    UNPREDICTABLE for the guest, so from here the guest is owed no delivery (``gv_wild``); the
    memory-safety properties still hold Xen to account."""
    require(s.rw_left[W] == 1)
    s.rw_left[W] = 0
    s.gv_wild = 1
    for q in range(NQ):
        s.owed[q] = 0
    if RW_KIND[W] == 0:  # ITTE dev ev col V
        s.itte_col[RW_A[W] * NE + RW_B[W]] = RW_C[W]
        s.itte_lpi[RW_A[W] * NE + RW_B[W]] = RW_D[W]
    elif RW_KIND[W] == 1:  # DTE dev valid
        s.dte[RW_A[W]] = RW_B[W]
    else:  # CTE col vcpu valid
        s.col_vcpu[RW_A[W]] = RW_B[W] if RW_C[W] else NC


@action(lambda K: dict(v=range(K["NC"]), k=range(K["NL"])))
def guest_eoi(s, v, k):
    """The guest writes ICC_EOIR1_EL1 (EOImode 0): active -> invalid, pending+active -> pending.
    No maintenance interrupt: Xen notices at the vCPU's next exit."""
    require(s.in_guest[v] == 1 and s.lr_state[v][k] & LR_ACTIVE != 0)
    s.lr_state[v][k] = s.lr_state[v][k] & LR_PENDING


@pure
def next_prop(v: int, cmd_next: int, act: int) -> int:
    """The PROP command id the guest writes next (act 1: scripted, act >= 2: universe), or -1."""
    if act == 1:
        if cmd_next < SCRIPT_LEN[v] and CMD_OP[BATCH[SCRIPT[v][cmd_next]][0]] == PROP:
            return BATCH[SCRIPT[v][cmd_next]][0]
        return -1
    c = BATCH[UNIV[act - 2]][0]
    return c if UNIV_VCPU[v] and CMD_OP[c] == PROP else -1


@action(lambda K: dict(v=range(K["NC"]), act=range(1, K["NACT"])), only_if=lambda K: PROP in K["OPS_USED"])
def guest_writes_property(s, v, act):
    """The guest writes an entry of its LPI property table (enable bit and priority). Xen only
    sees it at the next INV/INVALL (or MAPTI) for that vLPI; until then the guest may not expect
    the new setting. Disabling a vLPI cancels what was owed for it."""
    require(s.in_guest[v] == 1 and (act == 1 or s.cmds_left > 0)
            and next_prop(v, s.cmd_next[v], act) >= 0)
    c = next_prop(v, s.cmd_next[v], act)
    s.prop_en[CMD_A[c]] = CMD_B[c]
    s.prop_prio[CMD_A[c]] = CMD_C[c]
    s.gv_dirty[CMD_A[c]] = 1
    if CMD_B[c] == 0:
        for q in range(NQ):
            if s.gv_lpi[q] == CMD_A[c] + 1:
                s.owed[q] = 0
    if act == 1:
        s.cmd_next[v] = s.cmd_next[v] + 1
    else:
        s.cmds_left = s.cmds_left - 1


__all__ = ["NC", "guest_acknowledges", "guest_eoi", "guest_writes_property", "vcpu", "vgic_its_handle_cmds"]
