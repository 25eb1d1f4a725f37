# mypy: ignore-errors
"""Test-only fault: its_discard_event does not invalidate the host LPI entry."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.xen.consts import ND, NE

DESIGN = Design("fault:forget-host-entry", base="xen-4.10", summary="its_discard_event does not invalidate the host LPI entry")


@DESIGN.override
def gicv3_remove_guest_event(self, s, dev: range(ND), ev: range(NE)):
    """gicv3_remove_guest_event (gic-v3-its.c:865): under its_devices_lock, host entry :=
    {INVALID_LPI, d} with one 64-bit write (gicv3_lpi_update_host_entry)."""
    with atomic():  # D6: host entry := {INVALID_LPI, d}
        spin_lock(s.devs_lock)
        spin_unlock(s.devs_lock)
