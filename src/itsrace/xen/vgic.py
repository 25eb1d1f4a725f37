# mypy: disable-error-code="valid-type"
"""vgic.c and gic-v3-lpi.c: injecting a virtual LPI (Xen RELEASE-4.10.0).

Lock order (top of vgic-v3-its.c; the model checks it as ``lock-order``):
``vcmd_lock -> its_lock -> its_devices_lock -> v->arch.vgic.lock -> pend_lpi_tree_lock``.
"""

from __future__ import annotations

from itsrace.engine.lang.process import (
    atomic,
    check,
    lockfree,
    spin_lock_irqsave,
    spin_unlock_irqrestore,
)
from itsrace.hyp.lang import procedure
from itsrace.xen.consts import (
    NC,
    NPC,
    NPRIO,
    NPTR,
    NV,
)
from itsrace.xen.lr import gic_raise_guest_irq, gic_raise_inflight_irq
from itsrace.xen.pending_irq import (
    GEN,
    SLOT,
    is_current,
    vgic_v3_lpi_get_priority,
    vgic_v3_lpi_to_pending,
)


@procedure
def vgic_vcpu_inject_lpi(self, s, cpu: range(NPC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_lpi (gic-v3-lpi.c:139), from gicv3_do_LPI and from the INT command.
    The pointer from the first lookup is dereferenced with no lock held (line 152); Xen's own
    comment at lines 141-145 admits that nothing keeps the pending_irq valid meanwhile."""
    r: range(NPTR) = vgic_v3_lpi_to_pending(self, s, V)  # first lookup
    if r == 0:
        return
    with atomic():  # [gic-v3-lpi.c:152] vcpu_id = ACCESS_ONCE(p->lpi_vcpu_id), no lock held
        check(s.p_alive[SLOT(r)] == 1, "use-after-free")
        check(s.p_gen[SLOT(r)] == GEN(r), "use-after-reinit")
        vid: range(NC + 1) = lockfree(s.p_vcpu[SLOT(r)], "ACCESS_ONCE(p->lpi_vcpu_id), gic-v3-lpi.c:152")
    if vid >= NC:  # INVALID_VCPU_ID: DISCARD re-initialised it meanwhile
        return
    vgic_vcpu_inject_irq(self, s, cpu, vid, V)


@procedure
def vgic_vcpu_inject_irq(self, s, cpu: range(NPC), v: range(NC), V: range(1, NV + 1)):
    """vgic_vcpu_inject_irq (vgic.c:511): under v's vgic lock, look V up again, mark it QUEUED,
    then either refresh it where it already is (inflight) or raise it and add it to
    inflight_irqs. Then kick the vCPU if it runs on another pCPU (vcpu_unblock + event-check
    SGI)."""
    spin_lock_irqsave(s.vgic_lock[v])  # [vgic.c:518] spin_lock_irqsave(&v->arch.vgic.lock)
    n: range(NPTR) = vgic_v3_lpi_to_pending(self, s, V)  # second lookup, under the vgic lock
    if n == 0:
        spin_unlock_irqrestore(s.vgic_lock[v])  # [vgic.c:524]
        return
    with atomic():  # [vgic.c:535] set_bit(QUEUED); list_empty(&n->inflight)
        check(n != 0, "null-deref")
        check(s.p_alive[SLOT(n)] == 1, "use-after-free")
        check(s.p_gen[SLOT(n)] == GEN(n), "use-after-reinit")
        s.p_queued[SLOT(n)] = 1
        infl: range(NC + 1) = s.p_infl[SLOT(n)]
    if infl != 0:
        gic_raise_inflight_irq(self, s, cpu, v, V)
    else:
        prio: range(NPRIO) = vgic_v3_lpi_get_priority(self, s, V)
        with atomic():  # [vgic.c:543] n->priority = priority; test_bit(ENABLED)
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            s.p_prio[SLOT(n)] = prio
            en: bool = s.p_enabled[SLOT(n)]
        if en:
            gic_raise_guest_irq(self, s, cpu, v, V)
        with atomic():  # [vgic.c:550] list_add into inflight_irqs, ordered by priority
            check(s.p_alive[SLOT(n)] == 1, "use-after-free")
            check(s.p_heads[SLOT(n)] == 1, "null-deref")
            check(s.p_infl[SLOT(n)] == 0, "list-lock")
            check(s.p_lrq[SLOT(n)] in (0, v + 1), "list-lock")
            s.p_infl[SLOT(n)] = v + 1
    spin_unlock_irqrestore(s.vgic_lock[v])  # [vgic.c:560] spin_unlock_irqrestore(&v->arch.vgic.lock)
    if not is_current(cpu, v):  # vcpu_unblock(v); if running elsewhere: EVENT_CHECK SGI
        s.kick[v] = 1  # [vgic.c:562] vcpu_unblock(v); smp_send_event_check_mask: kick v's pCPU
