# mypy: disable-error-code="valid-type"
"""gic-v3-lpi.c: physical LPIs, and the devices that send the MSIs behind them.

Xen maps every host LPI to host CPU 0 (gic-v3-its.c:611, "For now we map every host LPI to host
CPU 0"), so ``gicv3_do_LPI`` always runs on pCPU0, as an interrupt handler: it preempts whatever
pCPU0 runs (a vCPU in guest mode, or Xen code with interrupts enabled) and cannot start while
pCPU0 has interrupts disabled. In 4.10 ``gic_interrupt`` enables interrupts before calling it
(gic.c:784-786) and ``gicv3_do_LPI`` drops the running priority first (EOIR1, lpi.c:179), so a
second host LPI can preempt the handler on pCPU0 wherever it does not hold an irqsave lock. The
scenario's ``lpi_nesting`` bounds how many handlers may be active at once (1: none nests; 2: a
second one may preempt the first). With nesting, the handler's interrupt masking is modelled
as Xen has it: masked from the exception entry until ``gic_interrupt``'s ``local_irq_enable``
(so the LR sync of an LPI taken from guest mode is not interrupted), and again from the end of
``gic_interrupt`` through ``leave_hypervisor_tail`` to the ``eret``.

When the interrupt arrives while pCPU0 runs a vCPU in guest mode, the trap itself first syncs
the LRs (``enter_hypervisor_head`` -> ``gic_clear_lrs``) and the return to the guest places what
is queued (``leave_hypervisor_tail`` -> ``gic_inject``); the handler models both.
"""

from __future__ import annotations

from itsrace.engine.lang.model import require
from itsrace.engine.lang.process import atomic, await_, local_irq_disable, local_irq_enable
from itsrace.hyp.lang import action, process
from itsrace.xen.consts import C0, NC, NE, NEST, NQ, NV, TRIG_MAX
from itsrace.xen.lr import gic_clear_lrs, gic_inject
from itsrace.xen.vgic import vgic_vcpu_inject_lpi


@process(lambda K: dict(instances=K["NEST"], name="pCPU0:irq" if K["NEST"] == 1 else "pCPU0:irq{}", cpu=0,
                        irq=True, nests=True))
def gicv3_do_LPI(self, s, P: range(NQ)):
    """gic_interrupt -> gicv3_do_LPI (gic-v3-lpi.c:171) for host LPI ``P``."""
    with atomic():  # [gic-v3-lpi.c:179] gic_interrupt: ack (IAR); gicv3_do_LPI: EOIR1 (priority drop) first
        await_(s.host_pend[P] == 1)
        s.host_pend[P] = 0
        if NEST > 1:  # the exception entry masks interrupts (entry.S)
            local_irq_disable()
        if C0 < NC:
            from_guest: bool = s.in_guest[C0]
            s.in_guest[C0] = 0
    if C0 < NC:
        if from_guest:  # enter_hypervisor_head: the trap from guest mode syncs the LRs
            gic_clear_lrs(self, s, 0, C0)
    if NEST > 1:
        local_irq_enable()  # [gic.c:784] gic_interrupt: local_irq_enable(); do_LPI (nested LPIs from here)
    with atomic():  # [gic-v3-lpi.c:186] hlpi.data = read_u64_atomic(&host_lpis[P]); virt_lpi == INVALID_LPI?
        virt: range(-1, NV + 1) = s.host_lpi[P]
        # ghost: this is where the vITS translates the MSI. It is a trigger of vLPI virt if the
        # guest's ITT mapped the event to virt when the MSI was sent or maps it so now (an MSI
        # is a posted write: the ITS may translate it at any moment in between).
        if virt > 0 and (s.msi_v[P] == virt or (s.dte[P // NE] and s.itte_lpi[P] == virt)):
            s.trig[virt - 1] = min(s.trig[virt - 1] + 1, TRIG_MAX)
    if virt > 0:  # (rcu_lock_domain_by_id succeeds: the entry names Dom0)
        vgic_vcpu_inject_lpi(self, s, 0, virt)
    if C0 < NC:
        if from_guest:  # leave_hypervisor_tail: gic_inject, back to the guest
            if NEST > 1:
                local_irq_disable()  # [gic.c:786] local_irq_disable(); return_from_trap: leave_hypervisor_tail
            gic_inject(self, s, 0, C0)
            if NEST > 1:
                with atomic():  # eret: back to the guest, interrupts unmasked
                    s.in_guest[C0] = 1  # [entry.S:321 return_from_trap]
                    local_irq_enable()
            else:
                s.in_guest[C0] = 1  # [entry.S:321 return_from_trap]


@action(lambda K: dict(P=range(K["NQ"])), only_if=lambda K: K["MAX_MSI"] > 0)
def device_sends_msi(s, P):
    """A device writes its MSI (DeviceID, EventID) to GITS_TRANSLATER of the host ITS. If the
    host ITS maps the device, host LPI P becomes pending at the redistributor of pCPU0 (pending
    is a single bit: two MSIs before the LPI is taken are one interrupt).

    Ghost bookkeeping for the delivery properties: ``msi_v`` remembers the vLPI the guest's ITT
    mapped the event to when the MSI was sent (see gicv3_do_LPI for when it counts as a trigger),
    and the MSI is *owed* to the guest if the guest's completed commands map the event and the
    vLPI is enabled (``owed``)."""
    require(s.msi_left[P] > 0)
    s.msi_left[P] = s.msi_left[P] - 1
    if s.hits_dev[P // NE]:
        if s.dte[P // NE] and s.itte_lpi[P] != 0:
            s.msi_v[P] = s.itte_lpi[P]
        elif not s.host_pend[P]:
            s.msi_v[P] = 0
        s.host_pend[P] = 1
    if s.gv_lpi[P] != 0:
        if s.prop_en[s.gv_lpi[P] - 1] and not s.gv_dirty[s.gv_lpi[P] - 1]:
            s.owed[P] = 1
