# mypy: disable-error-code="valid-type"
"""``irq-lock``: why a lock shared with an interrupt handler must be taken with interrupts off.

A task on CPU 0 updates a counter under spinlock ``lock``; an interrupt handler on the same CPU
updates it under the same lock. With plain ``spin_lock`` in the task, the interrupt can arrive
while the task holds the lock: the handler then spins on a lock whose holder cannot run until
the handler returns. The checker reports ``deadlock`` (a shortest trace: the task takes the
lock, the interrupt arrives, the handler spins).

With ``irqsave=True`` the task uses ``spin_lock_irqsave``/``spin_unlock_irqrestore``: the
interrupt cannot arrive while the task holds the lock, and every property holds. A second
CPU's task (``cpus=2``) shows that the same handler *may* spin on a lock held by another CPU:
that one is released, so it is not a deadlock.

Level-2 semantics used here (``docs/processes.md``, "Interrupt context"): an ``irq=True``
process starts only while interrupts are enabled on its CPU, and while it runs, the other
processes on that CPU do not step.
"""

from __future__ import annotations

from itsrace.engine import Model
from itsrace.engine.lang.process import (
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
)


def build(irqsave: bool = False, cpus: int = 1, merge_local: bool = True) -> Model:
    """The model; ``irqsave`` fixes the bug, ``cpus`` adds tasks on other CPUs."""
    m = Model(f"irq-lock{'-irqsave' if irqsave else ''}-{cpus}cpu", doc=__doc__ or "")
    m.var("count", range(4), doc="a counter protected by 'lock'")
    m.spinlock("lock", doc="protects 'count'; taken by tasks and by the interrupt handler")

    if irqsave:
        @m.process(instances=cpus, name="task{}", cpu=lambda i: i, merge_local=merge_local)
        def task(self, s):
            """Increment the counter with interrupts disabled while holding the lock."""
            spin_lock_irqsave(s.lock)
            v: range(4) = s.count
            v = (v + 1) % 4  # local work: merged into the load when merge_local=True
            s.count = v
            spin_unlock_irqrestore(s.lock)
    else:
        @m.process(instances=cpus, name="task{}", cpu=lambda i: i, merge_local=merge_local)
        def task(self, s):  # noqa: F811 - one of the two variants is registered
            """Increment the counter; an interrupt may arrive while the lock is held."""
            spin_lock(s.lock)
            v: range(4) = s.count
            v = (v + 1) % 4
            s.count = v
            spin_unlock(s.lock)

    @m.process(name="irq", cpu=0, irq=True, merge_local=merge_local)
    def handler(self, s):
        """The interrupt handler on CPU 0: it takes the same lock."""
        spin_lock(s.lock)
        s.count = (s.count + 1) % 4
        spin_unlock(s.lock)

    return m
