# mypy: disable-error-code="valid-type"
"""``broken-lock``: a test-then-set lock, the classic way to get mutual exclusion wrong.

Each process spins until it *sees* the lock free (one step: load ``lock`` into a local), then
*sets* it (a second step). Between the two, the other process can see it free too; both enter
the critical section and the ``mutex`` invariant fails.

The shortest counterexample (breadth-first search finds a shortest one) has **6 steps** with
the default ``merge_local=True``: each process needs three steps to be inside, *read-and-test*
(the local test ``if seen == 0`` is merged into the load), *set* and *enter*, and nothing
shorter puts both inside. With ``merge_local=False`` the test is a step of its own and the
counterexample has **8 steps**: the verdict is the same, only the granularity differs.

The fix is an atomic test-and-set: ``with atomic(): await_(s.lock == 0); s.lock = 1``
(``fixed=True``), after which ``mutex`` holds.
"""

from __future__ import annotations

from itsrace.engine import Model
from itsrace.engine.lang.process import atomic, await_

SHORTEST = {True: 6, False: 8}  # shortest counterexample length, by merge_local


def build(fixed: bool = False, merge_local: bool = True) -> Model:
    """The broken lock; ``fixed=True`` makes test-and-set one atomic step."""
    m = Model(f"broken-lock{'-fixed' if fixed else ''}", doc=__doc__ or "")
    m.var("lock", bool, doc="1 while some process believes it holds the lock")
    m.var("crit", range(3), doc="ghost: number of processes in their critical section")

    if fixed:
        @m.process(instances=2, name="P{}", merge_local=merge_local)
        def locker(self, s):
            """Atomic test-and-set, critical section, release."""
            with atomic():
                await_(s.lock == 0)
                s.lock = 1
            s.crit = s.crit + 1
            s.crit = s.crit - 1
            s.lock = 0
    else:
        @m.process(instances=2, name="P{}", merge_local=merge_local)
        def locker(self, s):  # noqa: F811 - one of the two variants is registered
            """Test (spin until seen free), then set: two separate steps."""
            while True:
                seen: bool = s.lock  # test ...
                if seen == 0:
                    break
            s.lock = 1  # ... then set: too late, the other may have seen it free too
            s.crit = s.crit + 1
            s.crit = s.crit - 1
            s.lock = 0

    @m.invariant
    def mutex(s):
        """At most one process is in its critical section."""
        return s.crit <= 1

    return m
