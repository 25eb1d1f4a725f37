# mypy: ignore-errors
"""Exploration, test-only: v2 of the K1 fix (docs/findings.md section 7), "KVM: arm64: vgic-its:
Serialize translation cache invalidation under its_lock" (Hyunwoo Kim, 2 June 2026). Withdrawn the
same day: ``vgic_its_invalidate_all_caches`` can run under ``vcpu->mutex``, and taking
``kvm->lock`` there inverts their order (Oliver Upton's reply); neither mutex is in the model, so
the model cannot see that. v1 is the shipped design ``kvm-invalidate-put-erased``.

``vgic_its_invalidate_cache`` walks the translation cache and puts each entry's reference; the
command handlers hold ``its_lock`` around it, but ``vgic_mmio_write_its_ctlr`` holds only
``cmd_lock`` and ``vgic_its_invalidate_all_caches`` (EnableLPIs cleared) holds neither, so two
walks can put the same entry. The patch takes ``its_lock`` in both (and walks ``kvm->devices``
under ``kvm->lock`` instead of RCU: one ITS here, so that lock is not modelled).
"""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.kvm.cache import vgic_its_invalidate_cache
from itsrace.kvm.consts import NBATCH, NQ
from itsrace.kvm.vcpu import vgic_its_process_commands

DESIGN = Design("explore:invalidate-its-lock", base="kvm",
                summary="K1 fix v2 (withdrawn): every translation-cache invalidation under its_lock",
                source="[PATCH v2] KVM: arm64: vgic-its: Serialize translation cache invalidation under its_lock "
                       "(stable@vger.kernel.org, 2026-06-02)")


@DESIGN.override
def vgic_its_invalidate_all_caches(self, s):
    """vgic_its_invalidate_all_caches with the patch: guard(mutex)(&its->its_lock) around the walk."""
    spin_lock(s.its_lock)
    vgic_its_invalidate_cache(self, s)
    spin_unlock(s.its_lock)


@DESIGN.override
def vgic_mmio_write_its_ctlr(self, s, en: range(2)):
    """vgic_mmio_write_its_ctlr with the patch: the invalidation on disable under its_lock."""
    spin_lock(s.cmd_lock)
    with atomic():  # its->enabled = !!(val & GITS_CTLR_ENABLE)
        s.its_enabled = en
        if en == 0:  # ghost: the guest no longer expects MSIs to be translated
            s.gv_its_en = 0
            for q in range(NQ):
                s.owed[q] = 0
    if en == 0:
        spin_lock(s.its_lock)  # guard(mutex)(&its->its_lock)
        vgic_its_invalidate_cache(self, s)
        spin_unlock(s.its_lock)
    with atomic():  # vgic_its_process_commands: its->cwriter != its->creadr?
        pb: range(NBATCH + 1) = s.cmd_pend
    if pb != 0:
        vgic_its_process_commands(self, s, pb - 1)
    spin_unlock(s.cmd_lock)
    if en == 1:
        with atomic():  # the write has completed: ghost: the guest expects translations again
            s.gv_its_en = 1
