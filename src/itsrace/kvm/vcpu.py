# mypy: disable-error-code="valid-type"
"""vCPUs: KVM's run loop around guest mode, the CWRITER trap, and the guest's own actions on
its list registers.

One run of the ``vCPU`` process is one round trip: the guest exits (to write GITS_CWRITER, or
because a kick, an interrupt or a spontaneous exit takes it out), KVM syncs the vGIC
(``kvm_vgic_sync_hwstate``: fold the LRs, prune the ap_list), handles the MMIO write
(``vgic_mmio_write_its_cwriter``), flushes the vGIC (``kvm_vgic_flush_hwstate``: populate the LRs
from the ap_list) and re-enters the guest. vCPU threads are not preempted in the model and take
no host interrupts (MSIs come from injector threads, :mod:`itsrace.kvm.msi`), so interrupt
masking is not modelled.

While a vCPU is in guest mode the guest acknowledges (pending -> active) and EOIs (active ->
invalid) what is in its LRs (level-1 actions), and writes its LPI property table (``PROP``).
"""

from __future__ import annotations

from itsrace.engine.lang.model import check, require
from itsrace.engine.lang.process import atomic, await_, spin_lock, spin_unlock
from itsrace.hyp.lang import action, procedure, process, pure
from itsrace.kvm.cache import vgic_its_invalidate_all_caches, vgic_its_invalidate_cache
from itsrace.kvm.consts import (
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
    GICR_CTLR,
    GITS_CTLR,
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
    MOVALL,
    MOVI,
    NACT,
    NBATCH,
    NC,
    NCMD,
    NCOL,
    NE,
    NO,
    NQ,
    NV,
    OPS_USED,
    PROP,
    REG_WRITES,
    SCRIPT,
    SCRIPT_LEN,
    UNIV,
    UNIV_VCPU,
)
from itsrace.kvm.its_cmds import (
    vgic_its_cmd_handle_clear,
    vgic_its_cmd_handle_discard,
    vgic_its_cmd_handle_int,
    vgic_its_cmd_handle_inv,
    vgic_its_cmd_handle_invall,
    vgic_its_cmd_handle_mapc,
    vgic_its_cmd_handle_mapd,
    vgic_its_cmd_handle_mapi,
    vgic_its_cmd_handle_movall,
    vgic_its_cmd_handle_movi,
)
from itsrace.kvm.properties import (
    ce_code,
    cmd_rejected,
    pending_at,
    soon_targets,
    table_target,
    target_ok,
)
from itsrace.kvm.vgic import kvm_vgic_flush_hwstate, kvm_vgic_sync_hwstate, vgic_flush_pending_lpis


@pure
def may_exit(act: int, v: int, kick: int, lr_intid: tuple[int, ...], exits_left: int, vcpu: tuple[int, ...],
             cmd_next: int, cmds_left: int) -> bool:
    """Can vCPU ``v``'s guest leave guest mode for reason ``act``?

    ``act == 0``: an exit that is not a CWRITER write: a kick (KVM_REQ_IRQ_PENDING), work KVM has
    not seen yet (a used LR, whose state only a sync reads, or an LPI on the ap_list: some exit,
    a timer tick, always comes), or one of the scenario's spontaneous exits.
    ``act == 1``: the guest writes GITS_CWRITER for its next scripted command.
    ``act >= 2``: the guest issues universe command ``act - 2``."""
    if act == 0:
        return bool(kick or exits_left > 0 or any(lr_intid) or any(x == v + 1 for x in vcpu))
    if act == 1:
        return cmd_next < SCRIPT_LEN[v] and CMD_OP[BATCH[SCRIPT[v][cmd_next]][0]] != PROP
    return UNIV_VCPU[v] and cmds_left > 0 and CMD_OP[BATCH[UNIV[act - 2]][0]] != PROP


@pure
def gv_mapti_valid(gv_dev: tuple[int, ...], gv_lpi: tuple[int, ...], col_target: tuple[int, ...],
                   dev: int, ev: int, V: int, col: int) -> bool:
    """Is MAPTI (dev, ev -> V, col) one the guest may rely on? The device is mapped, the
    collection is mapped, the event is not, and no other event maps V (the guest's view)."""
    return bool(gv_dev[dev] and col_target[col] < NC and gv_lpi[dev * NE + ev] == 0
                and all(x != V for x in gv_lpi))


@pure
def queue_drained(act: int, v: int, cmd_next: int, cmd_pend: int) -> bool:
    """The guest writes GITS_CWRITER again only once GITS_CREADR has reached it (a Linux guest
    waits for its commands' completion): commands queued while the ITS is disabled hold the
    next CWRITER write back. Register writes do not wait."""
    if cmd_pend == 0 or act == 0:
        return True
    return CMD_OP[BATCH[command_of(act, v, cmd_next)][0]] in REG_WRITES


@pure
def command_of(act: int, v: int, cmd_next: int) -> int:
    """The batch id the exit issues (0 for an interrupt exit)."""
    if act == 1:
        return SCRIPT[v][cmd_next]
    if act >= 2:
        return UNIV[act - 2]
    return 0


@process(lambda K: dict(instances=range(K["NC"]), name="vCPU{}"))
def vcpu(self, s, act: range(NACT)):
    """One round trip of vCPU ``self`` out of guest mode and back (kvm_arch_vcpu_ioctl_run)."""
    with atomic():  # the guest exits
        await_(s.in_guest[self] == 1 and may_exit(act, self, s.kick[self], s.lr_intid[self], s.exits_left[self],
                                                  s.o_vcpu, s.cmd_next[self], s.cmds_left)
               and queue_drained(act, self, s.cmd_next[self], s.cmd_pend))
        s.in_guest[self] = 0
        batch: range(NBATCH) = command_of(act, self, s.cmd_next[self])
        if act == 0 and not s.kick[self] and not any(s.lr_intid[self]) and not any(
                s.o_vcpu[o] == self + 1 for o in range(NO)):
            s.exits_left[self] = s.exits_left[self] - 1
        if act == 1:
            s.cmd_next[self] = s.cmd_next[self] + 1
        if act >= 2:
            s.cmds_left = s.cmds_left - 1
        for V in range(1, NV + 1):  # ghost (delivery-target): what the written commands re-target
            s.dt_soon[self][V - 1] = soon_targets(act, batch, s.gv_lpi, s.gv_col, s.col_target, V)
        s.kick[self] = 0  # the request is consumed on the way in again
    kvm_vgic_sync_hwstate(self, s, self)
    if act != 0:
        if REG_WRITES & OPS_USED:  # a scenario with guest register writes: dispatch on the register
            dispatch_mmio_write(self, s, batch)
        else:
            vgic_mmio_write_its_cwriter(self, s, batch)
    kvm_vgic_flush_hwstate(self, s, self)
    with atomic():  # enter the guest
        s.in_guest[self] = 1


@procedure
def dispatch_mmio_write(self, s, b: range(NBATCH)):
    """dispatch_mmio_access -> vgic_mmio_write_* (vgic-mmio.c): the register the guest wrote:
    a redistributor's GICR_CTLR, GITS_CTLR, or GITS_CWRITER (its queued commands)."""
    if CMD_OP[BATCH[b][0]] == GICR_CTLR:
        vgic_mmio_write_v3r_ctlr(self, s, CMD_A[BATCH[b][0]], CMD_B[BATCH[b][0]])
    elif CMD_OP[BATCH[b][0]] == GITS_CTLR:
        vgic_mmio_write_its_ctlr(self, s, CMD_A[BATCH[b][0]])
    else:
        vgic_mmio_write_its_cwriter(self, s, b)


@procedure
def vgic_mmio_write_its_cwriter(self, s, b: range(NBATCH)):
    """vgic_mmio_write_its_cwriter (vgic-its.c): under cmd_lock, move CWRITER past the batch and
    vgic_its_process_commands."""
    spin_lock(s.cmd_lock)  # [its.c:1571]
    if GITS_CTLR in OPS_USED:  # only a scenario that can disable the ITS can leave commands queued
        with atomic():  # its->cwriter = reg
            s.cmd_pend = b + 1
    vgic_its_process_commands(self, s, b)
    spin_unlock(s.cmd_lock)  # [its.c:1583]


@procedure
def vgic_its_process_commands(self, s, b: range(NBATCH)):
    """vgic_its_process_commands (vgic-its.c), cmd_lock held: if the ITS is enabled, handle each
    queued command and advance CREADR (also when it failed)."""
    if s.its_enabled:  # [its.c:1532 vgic_its_process_commands] vgic_its_process_commands: commands are only processed when the ITS is enabled
        j: range(MAX_BATCH + 1) = 0
        while j < BATCH_LEN[b]:
            cmd: range(NCMD) = BATCH[b][j]
            vgic_its_handle_command(self, s, cmd)
            with atomic():  # [its.c:1550 vgic_its_process_commands] its->creadr += ITS_CMD_SIZE: the command is consumed
                # ghost (command-error): a command the architecture rejects changed nothing the guest
                # can see (ce_snap: each event's view when the previous command completed)
                check(not cmd_rejected(cmd, s.ce_snap, s.dev, s.col_target) or all(
                    ce_code(q, s.ite, s.ite_irq, s.ite_col, s.col_target, s.cache, s.o_alive, s.o_target)
                    == s.ce_snap[q] for q in range(NQ)), "command-error")
                for q in range(NQ):
                    s.ce_snap[q] = ce_code(q, s.ite, s.ite_irq, s.ite_col, s.col_target, s.cache, s.o_alive,
                                           s.o_target)
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
                            s.gv_col[CMD_A[cmd] * NE + e] = NCOL
                            s.owed[CMD_A[cmd] * NE + e] = 0
                if CMD_OP[cmd] == MAPTI:
                    if gv_mapti_valid(s.gv_dev, s.gv_lpi, s.col_target, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd] + 1,
                                      CMD_D[cmd]):
                        s.gv_lpi[CMD_A[cmd] * NE + CMD_B[cmd]] = CMD_C[cmd] + 1
                        s.gv_col[CMD_A[cmd] * NE + CMD_B[cmd]] = CMD_D[cmd]
                        s.gv_dirty[CMD_C[cmd]] = 0
                if CMD_OP[cmd] == MOVI:
                    if s.gv_lpi[CMD_A[cmd] * NE + CMD_B[cmd]] != 0 and s.col_target[CMD_C[cmd]] < NC:
                        s.gv_col[CMD_A[cmd] * NE + CMD_B[cmd]] = CMD_C[cmd]
                if CMD_OP[cmd] == DISCARD:
                    s.gv_lpi[CMD_A[cmd] * NE + CMD_B[cmd]] = 0
                    s.gv_col[CMD_A[cmd] * NE + CMD_B[cmd]] = NCOL
                    s.owed[CMD_A[cmd] * NE + CMD_B[cmd]] = 0
                if CMD_OP[cmd] == CLEAR:  # the guest cleared the pending state itself
                    s.owed[CMD_A[cmd] * NE + CMD_B[cmd]] = 0
                if CMD_OP[cmd] == MAPC:
                    if CMD_C[cmd] == 0:
                        for q in range(NQ):
                            if s.gv_col[q] == CMD_A[cmd]:
                                s.gv_lpi[q] = 0
                                s.gv_col[q] = NCOL
                                s.owed[q] = 0
                if GITS_CTLR in OPS_USED:
                    if j == BATCH_LEN[b] - 1:
                        s.cmd_pend = 0  # creadr == cwriter
                # ghost (delivery-target): a re-targeted INTID keeps its old target while a trigger
                # from before the change may be pending
                for V in range(1, NV + 1):
                    if table_target(s.ite, s.ite_irq, s.ite_col, s.col_target, V) != s.dt_cur[V - 1]:
                        if s.dt_cur[V - 1] < NC and pending_at(V, s.trig, s.msi_v):
                            s.dt_old[V - 1] = s.dt_old[V - 1] | (1 << s.dt_cur[V - 1])
                        s.dt_cur[V - 1] = table_target(s.ite, s.ite_irq, s.ite_col, s.col_target, V)
                    if j + 1 == BATCH_LEN[b]:
                        s.dt_soon[self][V - 1] = 0
            j = j + 1


@procedure
def vgic_its_handle_command(self, s, cmd: range(NCMD)):
    """vgic_its_handle_command (vgic-its.c): under its_lock, dispatch on the command. SYNC does
    nothing (KVM is always in sync)."""
    ret: range(2) = 0
    spin_lock(s.its_lock)  # [its.c:1413]
    if MAPD in OPS_USED:
        if CMD_OP[cmd] == MAPD:
            ret = vgic_its_cmd_handle_mapd(self, s, CMD_A[cmd], CMD_B[cmd])
    if MAPC in OPS_USED:
        if CMD_OP[cmd] == MAPC:
            ret = vgic_its_cmd_handle_mapc(self, s, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd])
    if MAPTI in OPS_USED:
        if CMD_OP[cmd] == MAPTI:
            ret = vgic_its_cmd_handle_mapi(self, s, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd] + 1, CMD_D[cmd])
    if DISCARD in OPS_USED:
        if CMD_OP[cmd] == DISCARD:
            ret = vgic_its_cmd_handle_discard(self, s, CMD_A[cmd], CMD_B[cmd])
    if INT in OPS_USED:
        if CMD_OP[cmd] == INT:
            ret = vgic_its_cmd_handle_int(self, s, CMD_A[cmd], CMD_B[cmd])
    if MOVI in OPS_USED:
        if CMD_OP[cmd] == MOVI:
            ret = vgic_its_cmd_handle_movi(self, s, CMD_A[cmd], CMD_B[cmd], CMD_C[cmd])
    if CLEAR in OPS_USED:
        if CMD_OP[cmd] == CLEAR:
            ret = vgic_its_cmd_handle_clear(self, s, CMD_A[cmd], CMD_B[cmd])
    if INV in OPS_USED:
        if CMD_OP[cmd] == INV:
            ret = vgic_its_cmd_handle_inv(self, s, CMD_A[cmd], CMD_B[cmd])
    if INVALL in OPS_USED:
        if CMD_OP[cmd] == INVALL:
            ret = vgic_its_cmd_handle_invall(self, s, CMD_A[cmd])
    if MOVALL in OPS_USED:
        if CMD_OP[cmd] == MOVALL:
            ret = vgic_its_cmd_handle_movall(self, s, CMD_A[cmd], CMD_B[cmd])
    spin_unlock(s.its_lock)  # [its.c:1453]
    return ret


# -- guest register writes (KVM's GICR_CTLR and GITS_CTLR handlers) ------------------------------------
@pure
def targets(col_target: tuple[int, ...], gv_col: int, v: int) -> bool:
    """The guest's view maps the event to a collection whose target is vCPU v."""
    return gv_col != NCOL and col_target[gv_col] == v


@procedure
def vgic_mmio_write_v3r_ctlr(self, s, v: range(NC), en: range(2)):
    """vgic_mmio_write_v3r_ctlr (vgic-mmio-v3.c) on vCPU v's redistributor, from whichever vCPU
    wrote it, with no ITS lock. Clearing EnableLPIs: cmpxchg ENABLE_LPIS -> RWP (a disable already
    under way wins), vgic_flush_pending_lpis, vgic_its_invalidate_all_caches, then 0. Setting it:
    cmpxchg 0 -> ENABLE_LPIS, then vgic_enable_lpis, which syncs nothing: the guest's pending
    table is all zero and it said so (GICR_PENDBASER.PTZ)."""
    ok: bool = False
    with atomic():  # ctlr = atomic_cmpxchg_acquire(&vgic_cpu->ctlr, ...)
        if en == 0:
            ok = s.lpis_en[v] == 1
            if ok:
                s.lpis_en[v] = 2  # GICR_CTLR_RWP: vgic_lpis_enabled() is false from here on
            # ghost: the guest no longer expects LPIs on this redistributor
            s.gv_lpis_en[v] = 0
            for q in range(NQ):
                if targets(s.col_target, s.gv_col[q], v):
                    s.owed[q] = 0
        else:
            ok = s.lpis_en[v] == 0
            if ok:
                s.lpis_en[v] = 1  # vgic_enable_lpis: PTZ set, its_sync_lpi_pending_table not called
    if en == 0 and ok:
        vgic_flush_pending_lpis(self, s, v)
        vgic_its_invalidate_all_caches(self, s)
        with atomic():  # atomic_set_release(&vgic_cpu->ctlr, 0)
            s.lpis_en[v] = 0
    if en == 1:
        with atomic():  # the write has completed: ghost: the guest expects LPIs again
            s.gv_lpis_en[v] = 1


@procedure
def vgic_mmio_write_its_ctlr(self, s, en: range(2)):
    """vgic_mmio_write_its_ctlr (vgic-its.c): under cmd_lock (not its_lock), set its->enabled
    (CBASER and the BASERs are valid), invalidate the translation cache when disabling, then
    vgic_its_process_commands: commands queued while the ITS was disabled run now."""
    spin_lock(s.cmd_lock)
    with atomic():  # its->enabled = !!(val & GITS_CTLR_ENABLE)
        s.its_enabled = en
        if en == 0:  # ghost: the guest no longer expects MSIs to be translated
            s.gv_its_en = 0
            for q in range(NQ):
                s.owed[q] = 0
    if en == 0:
        vgic_its_invalidate_cache(self, s)
    with atomic():  # vgic_its_process_commands: its->cwriter != its->creadr?
        pb: range(NBATCH + 1) = s.cmd_pend
    if pb != 0:
        vgic_its_process_commands(self, s, pb - 1)
    spin_unlock(s.cmd_lock)
    if en == 1:
        with atomic():  # the write has completed: ghost: the guest expects translations again
            s.gv_its_en = 1


# -- the guest on its list registers -----------------------------------------------------------------
@action(lambda K: dict(v=range(K["NC"]), k=range(K["NL"])))
def guest_acknowledges(s, v, k):
    """The guest reads ICC_IAR1_EL1 and gets LR k's INTID: the LPI is *delivered*. The LR goes
    pending -> active (or, if the scenario models LPIs without an active state, -> invalid).
    ``spurious-delivery``: every delivery needs its own trigger (an MSI or INT that translated to
    this INTID); triggers are not cancelled by DISCARD or MAPD V=0."""
    require(s.in_guest[v] == 1 and s.lr_state[v][k] == LR_PENDING)
    check(s.lr_intid[v][k] != 0, "spurious-delivery")
    check(s.trig[s.lr_intid[v][k] - 1] > 0, "spurious-delivery")
    check(target_ok(v, s.dt_cur[s.lr_intid[v][k] - 1], s.dt_old[s.lr_intid[v][k] - 1],
                    table_target(s.ite, s.ite_irq, s.ite_col, s.col_target, s.lr_intid[v][k]),
                    s.dt_soon, s.lr_intid[v][k]), "delivery-target")
    if v != s.dt_cur[s.lr_intid[v][k] - 1] and s.trig[s.lr_intid[v][k] - 1] <= 1:  # nothing pending is left there
        s.dt_old[s.lr_intid[v][k] - 1] = s.dt_old[s.lr_intid[v][k] - 1] & ~(1 << v)
    s.trig[s.lr_intid[v][k] - 1] = s.trig[s.lr_intid[v][k] - 1] - 1
    for q in range(NQ):
        if s.gv_lpi[q] == s.lr_intid[v][k]:
            s.owed[q] = 0
    s.lr_state[v][k] = LR_ACTIVE if ACTIVE_STATE else LR_INVALID


@action(lambda K: dict(v=range(K["NC"]), k=range(K["NL"])))
def guest_eoi(s, v, k):
    """The guest writes ICC_EOIR1_EL1 (EOImode 0): active -> invalid, pending+active -> pending.
    No maintenance interrupt: KVM notices at the vCPU's next exit."""
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
    """The guest writes an entry of its LPI property table. KVM only reads it at the next INV,
    INVALL or MAPTI; until then the guest may not expect the new setting. Disabling an INTID
    cancels what was owed for it."""
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


__all__ = ["dispatch_mmio_write", "guest_acknowledges", "guest_eoi", "guest_writes_property", "vcpu",
           "vgic_its_process_commands", "vgic_mmio_write_its_ctlr", "vgic_mmio_write_its_cwriter",
           "vgic_mmio_write_v3r_ctlr"]
