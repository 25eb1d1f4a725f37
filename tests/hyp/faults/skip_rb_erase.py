# mypy: ignore-errors
"""Test-only fault: MAPD V=0 frees the device but leaves it in the its_devices rbtree."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.xen.consts import ND, NE, NPC
from itsrace.xen.its_cmds import its_unmap_device, remove_mapped_guest_device

DESIGN = Design("fault:skip-rb-erase", base="xen-4.10", summary="MAPD V=0 frees the device but leaves it in the its_devices rbtree")


@DESIGN.override
def its_handle_mapd(self, s, cpu: range(NPC), dev: range(ND), valid: range(2)):
    """its_handle_mapd (vgic-v3-its.c:658) with gicv3_its_map_guest_device (gic-v3-its.c:637)
    for Dom0 (guest DeviceID = host DeviceID)."""
    if valid:
        with atomic():  # its_devices_lock; -EBUSY if mapped; xzalloc pend_irqs; host MAPD; rb_insert
            spin_lock(s.devs_lock)
            busy: bool = s.host_dev[dev]
            if not busy:
                s.host_dev[dev] = 1
                for e in range(NE):
                    s.p_alive[dev * NE + e] = 1
                    s.p_heads[dev * NE + e] = 0
                    s.p_queued[dev * NE + e] = 0
                    s.p_active[dev * NE + e] = 0
                    s.p_visible[dev * NE + e] = 0
                    s.p_enabled[dev * NE + e] = 0
                    s.p_pristine[dev * NE + e] = 0
                    s.p_irq[dev * NE + e] = 0
                    s.p_lr[dev * NE + e] = 0
                    s.p_prio[dev * NE + e] = 0
                    s.p_lpiprio[dev * NE + e] = 0
                    s.p_vcpu[dev * NE + e] = 0
                    s.p_infl[dev * NE + e] = 0
                    s.p_lrq[dev * NE + e] = 0
            spin_unlock(s.devs_lock)
        if busy:
            return 1
        with atomic():  # gicv3_allocate_host_lpi_block ({INVALID_LPI, d}); host MAPTI + INV; SYNC
            for e in range(NE):
                s.host_lpi[dev * NE + e] = 0
            s.hits_dev[dev] = 1
        with atomic():  # its_set_itt_address under its_lock
            spin_lock(s.its_lock)
            s.dte[dev] = 1
            spin_unlock(s.its_lock)
        return 0
    its_unmap_device(self, s, cpu, dev)
    with atomic():  # gicv3_its_map_guest_device(valid = 0): find the device, rb_erase
        spin_lock(s.devs_lock)
        found: bool = s.host_dev[dev]
        spin_unlock(s.devs_lock)
    if found:
        remove_mapped_guest_device(self, s, dev)
    with atomic():  # its_set_itt_address(INVALID_PADDR) under its_lock
        spin_lock(s.its_lock)
        s.dte[dev] = 0
        spin_unlock(s.its_lock)
    return 0
