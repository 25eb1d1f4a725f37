# mypy: ignore-errors
"""Test-only fault: a model bug, not a NULL pointer: vgic_vcpu_inject_lpi reads the host entry of
a host LPI one past the last (an index outside the array). The checker must stop with one line
naming this file and line, not crash and not report a property."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic
from itsrace.hyp.design import Design
from itsrace.xen.consts import NPC, NQ, NV
from itsrace.xen.vgic import vgic_vcpu_inject_irq

DESIGN = Design("fault:index-out-of-range", base="xen-4.10", summary="reads host_lpi[NQ]: a model bug")


@DESIGN.override
def vgic_vcpu_inject_lpi(self, s, cpu: range(NPC), V: range(1, NV + 1)):
    """Reads one entry past the host LPI table."""
    with atomic():
        x: range(-1, NV + 1) = s.host_lpi[V + NQ - 1]
    if x > 0:
        vgic_vcpu_inject_irq(self, s, cpu, 0, V)
