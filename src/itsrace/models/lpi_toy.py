"""``lpi-toy``: LPI delivery through one list register per vCPU (``shared/bench/lpi-toy.md``).

The benchmark model shared with SPIN, TLC and a hand-written BFS: with every reduction off, a
checker must report exactly the reference distinct-state counts (2x2: 1,252; 3x3: 273,176;
3x4: 4,768,904). ``bug=True`` drops the "not already in some LR" clause from ``Inject``, and
``NoDoubleResidency`` then fails with a 6-step shortest counterexample.
"""

from __future__ import annotations

from itsrace.engine import Model, require


def build(vcpus: int = 3, lpis: int = 4, bug: bool = False) -> Model:
    """The lpi-toy model with ``vcpus`` vCPUs (one LR each) and ``lpis`` LPIs."""
    NC, NL = vcpus, lpis
    NONE = NL  # lr[c] holds no LPI
    UNMAPPED = NC  # target[l] is no vCPU
    m = Model(f"lpi-toy-{NC}x{NL}{'-bug' if bug else ''}", doc=__doc__ or "")
    m.scalarset("vcpu", NC)
    m.scalarset("lpi", NL)
    m.var("pend", bool, NL, init=0, sym="lpi", doc="LPI pending in the virtual pending table")
    m.var("target", range(NC + 1), NL, init=UNMAPPED, sym="lpi", sym_value="vcpu", doc="vCPU the LPI is mapped to")
    m.var("lr", range(NL + 1), NC, init=NONE, sym="vcpu", sym_value="lpi", doc="LPI held in the vCPU's LR")
    m.var("lrst", range(3), NC, init=0, sym="vcpu", doc="LR state: 0 invalid, 1 pending, 2 active")
    m.var("running", bool, NC, init=0, sym="vcpu", doc="vCPU in guest mode")
    m.meta.update(vcpus=NC, lpis=NL, bug=bug)

    @m.action(l=range(NL))
    def Arrive(s, l):
        require(s.target[l] != UNMAPPED and s.pend[l] == 0)
        s.pend[l] = 1

    @m.action(l=range(NL), c=range(NC))
    def Map(s, l, c):
        require(s.target[l] == UNMAPPED)
        s.target[l] = c

    @m.action(l=range(NL), c=range(NC))
    def Movi(s, l, c):
        require(s.target[l] != UNMAPPED and s.target[l] != c)
        s.target[l] = c

    if bug:
        @m.action(c=range(NC), l=range(NL))
        def Inject(s, c, l):
            require(not s.running[c] and s.lr[c] == NONE and s.pend[l] == 1 and s.target[l] == c)
            s.lr[c] = l
            s.lrst[c] = 1
            s.pend[l] = 0
    else:
        @m.action(c=range(NC), l=range(NL))
        def Inject(s, c, l):  # noqa: F811 - one of the two variants is registered
            require(not s.running[c] and s.lr[c] == NONE and s.pend[l] == 1 and s.target[l] == c
                    and all(s.lr[k] != l for k in range(NC)))
            s.lr[c] = l
            s.lrst[c] = 1
            s.pend[l] = 0

    @m.action(c=range(NC))
    def Enter(s, c):
        require(not s.running[c])
        s.running[c] = 1

    @m.action(c=range(NC))
    def Exit(s, c):
        require(s.running[c])
        s.running[c] = 0

    @m.action(c=range(NC))
    def Ack(s, c):
        require(s.running[c] and s.lrst[c] == 1)
        s.lrst[c] = 2

    @m.action(c=range(NC))
    def Eoi(s, c):
        require(s.running[c] and s.lrst[c] == 2)
        s.lrst[c] = 0
        s.lr[c] = NONE

    @m.invariant
    def NoDoubleResidency(s):
        """No two different vCPUs hold the same LPI in their list registers."""
        return all(s.lr[a] == NONE or s.lr[a] != s.lr[b] for a in range(NC) for b in range(NC) if a < b)

    return m
