# mypy: ignore-errors
"""Test-only fault on kvm: vgic_put_irq drops the last reference outside lpi_xa's lock and only
then takes the lock to release (the ordering the 2026 fix removed, without the rest of the old
code): vgic_add_lpi can find the object at zero and replace it, and the release then erases the
new object's entry."""

from __future__ import annotations

from itsrace.engine.lang.process import atomic, check, spin_lock, spin_unlock
from itsrace.hyp.design import Design
from itsrace.kvm.consts import NO
from itsrace.kvm.irq import vgic_release_lpi_locked

DESIGN = Design("fault:put-without-xa-lock", base="kvm",
                summary="vgic_put_irq decrements to zero before taking lpi_xa's lock")


@DESIGN.override
def vgic_put_irq(self, s, o: range(NO)):
    """refcount_dec_and_test, then xa_lock and release."""
    with atomic():  # refcount_dec_and_test, no lock
        check(s.o_alive[o] == 1, "use-after-free")
        check(s.o_ref[o] > 0, "double-free")
        s.o_ref[o] = s.o_ref[o] - 1
        gone: bool = s.o_ref[o] == 0
    if gone:
        spin_lock(s.xa_lock)
        vgic_release_lpi_locked(self, s, o)
        spin_unlock(s.xa_lock)
