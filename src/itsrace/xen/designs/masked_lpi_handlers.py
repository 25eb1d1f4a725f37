# mypy: disable-error-code="valid-type"
"""``masked-lpi-handlers``: Xen 4.13's interrupt handling, LPI handlers run with interrupts masked.

In 4.10 ``gic_interrupt`` unmasks interrupts around ``do_LPI`` (gic.c:784-786), and
``gicv3_do_LPI`` drops the running priority at once (EOIR1, gic-v3-lpi.c:179), so another host
LPI can preempt the handler on pCPU0 (``lpi_nesting = 2`` in a scenario). Commit 3455cd598c
("xen/arm: gic: Defer the decision to unmask interrupts to do_{LPI, IRQ}()", first in 4.13)
removed the ``local_irq_enable``/``local_irq_disable`` pair around ``do_LPI``; ``gicv3_do_LPI``
does not unmask either, so LPIs are handled one at a time, each to the end, and the next one is
read in ``gic_interrupt``'s loop. The override is the base handler with interrupts masked from
the exception entry to the ``eret``: a second handler instance (``lpi_nesting = 2``) can only
arrive once the first has returned, so handlers never nest. With ``lpi_nesting = 1`` it is the
base handler step for step.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_, local_irq_disable, local_irq_enable
from itsrace.hyp.design import Design
from itsrace.xen.consts import C0, NC, NE, NEST, NQ, NV, TRIG_MAX
from itsrace.xen.lr import gic_clear_lrs, gic_inject
from itsrace.xen.vgic import vgic_vcpu_inject_lpi

DESIGN = Design(
    "masked-lpi-handlers", base="xen-4.10",
    summary="Xen 4.13: gic_interrupt keeps interrupts masked around do_LPI, so LPI handlers never nest",
    source="xen-project/xen 3455cd598c (RELEASE-4.13.0 gic.c:379-407); gic.c:768-798 in 4.10",
)


@DESIGN.override
def gicv3_do_LPI(self, s, P: range(NQ)):
    """gic_interrupt -> gicv3_do_LPI for host LPI ``P``, interrupts masked throughout."""
    with atomic():  # gic_interrupt: ack (IAR), interrupts stay masked; gicv3_do_LPI: EOIR1
        await_(s.host_pend[P] == 1)
        s.host_pend[P] = 0
        if NEST > 1:  # the exception entry masks interrupts; nothing unmasks them before the eret
            local_irq_disable()
        if C0 < NC:
            from_guest: bool = s.in_guest[C0]
            s.in_guest[C0] = 0
    if C0 < NC:
        if from_guest:  # enter_hypervisor_head: the trap from guest mode syncs the LRs
            gic_clear_lrs(self, s, 0, C0)
    with atomic():  # hlpi.data = read_u64_atomic(&host_lpis[P]); virt_lpi == INVALID_LPI?
        virt: range(-1, NV + 1) = s.host_lpi[P]
        # ghost: as in the base handler (the vITS translates the MSI here)
        if virt > 0 and (s.msi_v[P] == virt or (s.dte[P // NE] and s.itte_lpi[P] == virt)):
            s.trig[virt - 1] = min(s.trig[virt - 1] + 1, TRIG_MAX)
    if virt > 0:
        vgic_vcpu_inject_lpi(self, s, 0, virt)
    if C0 < NC:
        if from_guest:  # leave_hypervisor_tail: gic_inject, back to the guest
            gic_inject(self, s, 0, C0)
            if NEST > 1:
                with atomic():  # eret: back to the guest, interrupts unmasked
                    s.in_guest[C0] = 1
                    local_irq_enable()
            else:
                s.in_guest[C0] = 1
        elif NEST > 1:
            local_irq_enable()  # eret to the interrupted Xen code
    elif NEST > 1:
        local_irq_enable()  # eret to the interrupted Xen code
