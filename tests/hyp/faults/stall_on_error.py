# mypy: ignore-errors
"""Test-only fault: a failing command stops the command queue (CREADR is never advanced again)."""

from __future__ import annotations

from itsrace.engine.lang.model import require
from itsrace.engine.lang.process import (
    atomic,
    await_,
    local_irq_disable,
    local_irq_enable,
    spin_lock,
    spin_unlock,
)
from itsrace.hyp.design import Design
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
    LR_INVALID,
    MAPC,
    MAPD,
    MAPTI,
    MAX_BATCH,
    NACT,
    NBATCH,
    NCMD,
    NE,
    NL,
    NPC,
    NQ,
    VCPU_PCPU,
)
from itsrace.xen.lr import gic_clear_lrs, gic_inject
from itsrace.xen.pending_irq import lr_pending_empty
from itsrace.xen.vcpu import command_of, gv_mapti_valid, its_handle_command, may_exit, next_prop

DESIGN = Design("fault:stall-on-error", base="xen-4.10",
                summary="a failing command stops the command queue (CREADR is never advanced again)")
DESIGN.var("stalled", bool, doc="the command queue is stuck")


@DESIGN.override
def vcpu(self, s, act: range(NACT)):
    """One round trip of vCPU ``self`` from guest mode into Xen and back."""
    with atomic():  # the guest traps into Xen
        await_(s.in_guest[self] == 1 and (act == 0 or not s.stalled) and may_exit(act, self, s.kick[self], s.uie[self], s.lr_state[self],
                                                  s.lr_mask[self], s.exits_left[self], s.p_lrq, s.cmd_next[self],
                                                  s.cmds_left))
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
        s.kick[self] = 0  # a pending event-check SGI is taken on the way
        s.uie[self] = 0  # gic_clear_lrs: update_hcr_status(GICH_HCR_UIE, false)
    gic_clear_lrs(self, s, VCPU_PCPU[self], self)  # enter_hypervisor_head
    if act != 0:
        vgic_its_handle_cmds(self, s, VCPU_PCPU[self], batch)
    local_irq_disable()  # leave_hypervisor_tail
    gic_inject(self, s, VCPU_PCPU[self], self)
    with atomic():  # return to the guest (eret unmasks interrupts)
        s.in_guest[self] = 1
        local_irq_enable()


@DESIGN.override
def vgic_its_handle_cmds(self, s, cpu: range(NPC), b: range(NBATCH)):
    """GITS_CWRITER write (vgic-v3-its.c:1308) -> vgic_its_handle_cmds (vgic-v3-its.c:909):
    under vcmd_lock, run the queued commands, advancing CREADR after each (also when the command
    failed)."""
    spin_lock(s.vcmd_lock)
    j: range(MAX_BATCH + 1) = 0
    while j < BATCH_LEN[b] and not s.stalled:
        cmd: range(NCMD) = BATCH[b][j]
        ret: range(2) = its_handle_command(self, s, cpu, cmd)
        with atomic():  # write_u64_atomic(&its->creadr, ...): the command is consumed
            if ret != 0:
                s.stalled = 1  # the fault: the queue stops at a failing command
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
        j = j + 1
    spin_unlock(s.vcmd_lock)


@DESIGN.override
def guest_writes_property(s, v, act):
    """The guest writes an entry of its LPI property table (enable bit and priority). Xen only
    sees it at the next INV/INVALL (or MAPTI) for that vLPI; until then the guest may not expect
    the new setting. Disabling a vLPI cancels what was owed for it."""
    require(s.in_guest[v] == 1 and not s.stalled and (act == 1 or s.cmds_left > 0)
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
