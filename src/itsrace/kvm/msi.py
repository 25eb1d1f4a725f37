# mypy: disable-error-code="valid-type"
"""vgic-its.c: MSIs from devices, injected by a thread that is not a vCPU (the VMM's
KVM_SIGNAL_MSI ioctl, or irqfd). One injector per event; two MSIs of the same event are sent one
after the other by it.

``vgic_its_inject_msi`` first tries the translation cache without ``its_lock`` (the fast path
irqfd also uses in atomic context), and on a miss translates under ``its_lock``.
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, await_, check, spin_lock, spin_unlock
from itsrace.hyp.lang import procedure, process, pure
from itsrace.kvm.cache import ite_intid, vgic_its_check_cache
from itsrace.kvm.consts import NC, NCOL, NO, NQ
from itsrace.kvm.irq import vgic_put_irq
from itsrace.kvm.its_cmds import vgic_its_trigger_msi
from itsrace.kvm.vgic import vgic_queue_irq_unlock


@pure
def gv_rd_enabled(gv_lpis_en: tuple[int, ...], col_target: tuple[int, ...], gv_col: int) -> bool:
    """In the guest's view, LPIs are enabled on the redistributor the event's collection targets."""
    return gv_col == NCOL or col_target[gv_col] == NC or bool(gv_lpis_en[col_target[gv_col]])


@procedure
def vgic_its_inject_cached_translation(self, s, q: range(NQ)):
    """vgic_its_inject_cached_translation (vgic-its.c): a cache hit (with its reference): set
    pending_latch under irq_lock, queue, put. Returns 1 on a hit, 0 on a miss."""
    c: range(NO + 1) = vgic_its_check_cache(self, s, q)
    if c == 0:
        return 0  # -EWOULDBLOCK
    with atomic():  # [its.c:713] raw_spin_lock_irqsave(&irq->irq_lock); irq->pending_latch = true
        spin_lock(s.irq_lock[c - 1])
        check(s.o_alive[c - 1] == 1, "use-after-free")
        s.o_pending[c - 1] = 1
    vgic_queue_irq_unlock(self, s, c - 1)
    vgic_put_irq(self, s, c - 1)
    return 1


@procedure
def vgic_its_inject_msi(self, s, q: range(NQ)):
    """vgic_its_inject_msi (vgic-its.c): the fast path, else vgic_msi_to_its and
    vgic_its_trigger_msi under its_lock."""
    hit: range(2) = vgic_its_inject_cached_translation(self, s, q)
    if hit:
        return
    spin_lock(s.its_lock)  # [its.c:739]
    vgic_its_trigger_msi(self, s, q, False)
    spin_unlock(s.its_lock)  # [its.c:741]


@process(lambda K: dict(instances=range(K["NQ"]), name="msi{}"))
def kvm_set_msi(self, s):
    """One MSI of event ``self``: the device's write reaches KVM (KVM_SIGNAL_MSI ->
    kvm_send_userspace_msi -> kvm_set_msi), which injects it.

    Ghost bookkeeping for the delivery properties: ``msi_v`` remembers the INTID the ITS mapped
    the event to when the MSI was sent (see vgic_its_check_cache for when it counts as a
    trigger), and the MSI is *owed* to the guest if the guest's completed commands map the event
    and the INTID is enabled in its view."""
    with atomic():  # the device writes GITS_TRANSLATER; the VMM (or irqfd) hands the MSI to KVM
        await_(s.msi_left[self] > 0)
        s.msi_left[self] = s.msi_left[self] - 1
        s.msi_v[self] = ite_intid(s.ite, s.ite_irq, self)
        if s.gv_lpi[self] != 0:
            if (s.prop_en[s.gv_lpi[self] - 1] and not s.gv_dirty[s.gv_lpi[self] - 1] and s.gv_its_en
                    and gv_rd_enabled(s.gv_lpis_en, s.col_target, s.gv_col[self])):
                s.owed[self] = 1
    vgic_its_inject_msi(self, s, self)
