# mypy: ignore-errors
"""Exploration, test-only property (not in the catalogue): once a write that clears a
redistributor's EnableLPIs has completed (``vgic_cpu->ctlr`` back to 0 from RWP), no LPI is queued
on that vCPU's ap_list, so none reaches its list registers (docs/findings.md section 7, K2)."""

from __future__ import annotations

from itsrace.hyp.design import Design
from itsrace.kvm.consts import NO

DESIGN = Design("explore:lpis-stay-disabled", base="kvm",
                summary="no LPI is queued on a vCPU whose EnableLPIs has been cleared")


@DESIGN.invariant("lpi-after-enable-lpis-cleared")
def nothing_queued_while_disabled(s):
    """lpis_en[v] == 0 (the disable completed): v's ap_list holds nothing."""
    return all(not (s.o_alive[o] and s.o_vcpu[o] != 0 and s.lpis_en[s.o_vcpu[o] - 1] == 0) for o in range(NO))
