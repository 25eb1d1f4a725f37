# mypy: disable-error-code="valid-type"
"""``philosophers``: Dijkstra's dining philosophers, with forks as spinlocks.

``n`` philosophers sit at a round table with one fork between neighbours (``fork[i]`` is to the
left of philosopher ``i``, ``fork[i+1 mod n]`` to the right). To eat, a philosopher takes the
left fork, then the right one, eats, and puts both down, forever.

If every philosopher takes the left fork at the same time, each waits for a right fork that its
neighbour holds: no step is enabled and nobody is at rest, which is the built-in ``deadlock``
property. The shortest trace has ``n`` steps (everyone takes the left fork).

``fixed=True`` breaks the cycle the textbook way: the last philosopher takes the right fork
first. Forks are then taken in increasing index order by everyone, a global lock order, so no
cycle of waiting is possible and the model passes. The invariant ``neighbours_not_both_eating``
holds in both versions (the forks are locks).
"""

from __future__ import annotations

from itsrace.engine import Model
from itsrace.engine.lang.process import spin_lock, spin_unlock


def build(n: int = 3, fixed: bool = False, merge_local: bool = True) -> Model:
    """``n`` philosophers; ``fixed`` makes the last one take the right fork first."""
    m = Model(f"philosophers-{n}{'-fixed' if fixed else ''}", doc=__doc__ or "")
    m.spinlock("fork", n, doc="fork[i] lies between philosophers i-1 and i")
    m.var("eating", bool, n, doc="philosopher i is eating")

    @m.process(instances=n, name="phil{}", merge_local=merge_local)
    def philosopher(self, s):
        """Think, take two forks, eat, put them down."""
        # Constants per instance (computed once from self, no state): which fork comes first.
        left, right = self, (self + 1) % n
        swap = fixed and self == n - 1  # the fix: the last philosopher reaches right first
        first, second = (right, left) if swap else (left, right)
        spin_lock(s.fork[first])
        spin_lock(s.fork[second])
        s.eating[self] = 1
        s.eating[self] = 0
        spin_unlock(s.fork[second])
        spin_unlock(s.fork[first])

    @m.invariant
    def neighbours_not_both_eating(s):
        """Two neighbours never eat at the same time (they share a fork)."""
        return all(not (s.eating[i] and s.eating[(i + 1) % n]) for i in range(n))

    return m
