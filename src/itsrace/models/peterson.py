# mypy: disable-error-code="valid-type"
"""``peterson``: Peterson's mutual exclusion for two processes, as level-2 processes.

Each process announces interest (``flag[self] = 1``), politely gives the other the turn
(``turn = other``), then waits until the other is not interested or it is its own turn. The
wait reads ``flag`` and ``turn`` in separate steps (two atomic loads, as real hardware would),
which is enough: the ``mutex`` invariant (at most one process in its critical section) holds in
every reachable state.

The critical section is marked with a ghost counter ``crit``, incremented on entry and
decremented on exit, so mutual exclusion is the one-line invariant ``s.crit <= 1``. Swap the two
announcement statements (``swap=True``: give the turn away *before* raising the flag) and the
algorithm breaks: the checker prints a shortest interleaving with both processes inside.

Processes restart forever, so there is no terminal state and no deadlock to find; what Peterson
also guarantees (progress, bounded waiting) are liveness properties this checker does not state.
"""

from __future__ import annotations

from itsrace.engine import Model
from itsrace.engine.lang.process import skip


def build(swap: bool = False, merge_local: bool = True) -> Model:
    """Peterson's algorithm; ``swap=True`` orders the two announcements wrongly (a bug)."""
    m = Model(f"peterson{'-swapped' if swap else ''}", doc=__doc__ or "")
    m.var("flag", bool, 2, doc="flag[i]: process i wants to enter")
    m.var("turn", range(2), doc="who yields: the process whose turn it is may enter")
    m.var("crit", range(3), doc="ghost: number of processes in their critical section")

    @m.process(instances=2, name="P{}", merge_local=merge_local)
    def peterson(self, s):
        """Enter and leave the critical section forever."""
        if swap:
            s.turn = 1 - self
            s.flag[self] = 1
        else:
            s.flag[self] = 1
            s.turn = 1 - self
        while True:  # wait until the other is not interested or it is my turn
            other_wants: bool = s.flag[1 - self]
            if not other_wants:
                break
            t: range(2) = s.turn
            if t == self:
                break
            skip()
        s.crit = s.crit + 1  # critical section: enter ...
        s.crit = s.crit - 1  # ... and leave
        s.flag[self] = 0

    @m.invariant
    def mutex(s):
        """At most one process is in its critical section."""
        return s.crit <= 1

    return m
