"""The multi-process search: same verdicts, counts and shortest traces as one process.

Workers rebuild models from a ModelSpec, so the extra test models below are module-level
builders named by this file's path.
"""

from __future__ import annotations

import numpy as np
import pytest

from itsrace.engine import Model, ModelError, check_model, replay, require
from itsrace.engine.lang.spec import ModelSpec, spec_of
from itsrace.engine.scale.parallel import (
    LAST_RUN,
    check_parallel,
    choose_partition,
    owner_of,
    owners_array,
    split_by_owner,
)

LPI = "itsrace.models.lpi_toy"


def lpi(vcpus: int, lpis: int, bug: bool = False) -> ModelSpec:
    return ModelSpec(LPI, "build", {"vcpus": vcpus, "lpis": lpis, "bug": bug})


def build_deadlock(wide: bool = False, safe_invariant: bool = True) -> Model:
    """Two processes taking two locks in opposite orders; Q starts after four warm-up steps and
    the deadlock is only total once ``noise`` reached 7: the shortest one is 13 steps. ``wide`` adds a constant 70-bit array so that states
    no longer fit in 64 bits."""
    m = Model("deadlock-wide" if wide else "deadlock")
    m.var("p", range(3), init=0)
    m.var("q", range(3), init=0)
    m.var("l1", range(3), init=0)  # 0 free, 1 held by P, 2 held by Q
    m.var("l2", range(3), init=0)
    m.var("warm", range(5), init=0)
    m.var("done", range(4), init=0)
    m.var("noise", range(8), init=0)  # independent: multiplies the states, not the deadlock depth
    if wide:
        m.var("pad", range(128), 10, init=5)

    @m.action
    def P0(s):
        require(s.p == 0 and s.l1 == 0 and s.done < 3)
        s.l1 = 1
        s.p = 1

    @m.action
    def P1(s):
        require(s.p == 1 and s.l2 == 0)
        s.l2 = 1
        s.p = 2

    @m.action
    def P2(s):
        require(s.p == 2)
        s.l1 = 0
        s.l2 = 0
        s.p = 0
        s.done = s.done + 1

    @m.action
    def Warm(s):
        require(s.warm < 4)
        s.warm = s.warm + 1

    @m.action
    def Noise(s):
        require(s.noise < 7)
        s.noise = s.noise + 1

    @m.action
    def Q0(s):
        require(s.q == 0 and s.warm == 4 and s.l2 == 0)
        s.l2 = 2
        s.q = 1

    @m.action
    def Q1(s):
        require(s.q == 1 and s.l1 == 0)
        s.l1 = 2
        s.q = 2

    @m.action
    def Q2(s):
        require(s.q == 2)
        s.l1 = 0
        s.l2 = 0
        s.q = 0

    if safe_invariant:
        @m.invariant
        def LocksConsistent(s):
            return (s.l1 == 1) == (s.p >= 1) or s.l1 == 2

    return m


def build_broken() -> Model:
    """An action that steps outside its variable's domain: a model error at run time."""
    m = Model("broken")
    m.var("x", range(4), init=0)

    @m.action
    def Up(s):
        s.x = s.x + 1

    return m


def here(function: str, **kwargs: object) -> ModelSpec:
    return ModelSpec(__file__, function, dict(kwargs))


def same_counts(a, b) -> None:  # type: ignore[no-untyped-def]
    assert (a.verdict, a.stats.distinct_states, a.stats.transitions, a.stats.depth) == (
        b.verdict, b.stats.distinct_states, b.stats.transitions, b.stats.depth)
    assert {k: v[0] for k, v in a.stats.coverage.items()} == {k: v[0] for k, v in b.stats.coverage.items()}


@pytest.mark.parametrize("size,workers,partition", [((2, 2), 3, "auto"), ((3, 3), 2, "auto"), ((3, 3), 2, "hash")])
def test_same_counts_as_one_process(size: tuple[int, int], workers: int, partition: str) -> None:
    spec = lpi(*size)
    single = check_model(spec.build(), progress=False)
    par = check_parallel(spec, workers=workers, progress=False, partition=partition)
    assert par.verdict == "pass" and not par.violations
    same_counts(par, single)
    assert par.stats.distinct_states == {(2, 2): 1_252, (3, 3): 273_176}[size]
    assert sum(LAST_RUN["worker_states"]) == par.stats.distinct_states and min(LAST_RUN["worker_states"]) > 0


def test_partition_choice_prefers_slots_transitions_rarely_change() -> None:
    c = lpi(3, 3).compile()
    choice = choose_partition(c, 2)
    assert choice.mask is not None and choice.cross < 1 / 3 and choice.balance <= 1.1
    assert all(not name.startswith("target") for name in choice.slots)  # Map/Movi change targets often
    assert choose_partition(c, 1).mask is None
    assert choose_partition(here("build_deadlock", wide=True).compile(), 2).mask is None  # > 64 bits


def test_bug_gives_shortest_trace_that_replays() -> None:
    spec = lpi(3, 3, bug=True)
    single = check_model(spec.build(), progress=False)
    par = check_parallel(spec, workers=2, progress=False)
    assert par.verdict == single.verdict == "fail"
    [v] = par.violations
    assert v.property == "NoDoubleResidency" and v.kind == "invariant"
    assert len(v.trace) == len(single.violations[0].trace) == 6
    assert replay(spec.compile(), v.trace).reproduces


@pytest.mark.parametrize("wide", [False, True])
def test_deadlock_found_and_full_counts_without_stopping(wide: bool) -> None:
    spec = here("build_deadlock", wide=wide)
    c = spec.compile()
    assert (c.layout.bits > 64) == wide
    single = check_model(spec.build(), progress=False)
    par = check_parallel(spec, workers=2, progress=False)
    assert par.verdict == "fail" and [v.kind for v in par.violations] == ["deadlock"]
    assert len(par.violations[0].trace) == len(single.violations[0].trace) == 13
    assert replay(c, par.violations[0].trace).reproduces
    # keep going after the deadlock: the whole graph is explored, counts must be exact
    single_all = check_model(spec.build(), progress=False, stop_on_violation=False)
    par_all = check_parallel(spec, workers=2, progress=False, stop_on_violation=False, cache=not wide)
    same_counts(par_all, single_all)
    assert par_all.violated == single_all.violated == {"deadlock"}


def test_limits_give_inconclusive_never_pass() -> None:
    from itsrace.engine import Limits

    r = check_parallel(lpi(3, 3), workers=2, progress=False, limits=Limits(max_states=50_000))
    assert r.verdict == "inconclusive" and "state limit" in r.reason
    assert r.stats.distinct_states >= 50_000
    r = check_parallel(lpi(3, 3), workers=2, progress=False, limits=Limits(max_depth=5))
    assert r.verdict == "inconclusive" and "depth limit" in r.reason and r.stats.depth == 5


def test_model_error_in_worker_is_reported() -> None:
    with pytest.raises(ModelError, match="outside its domain"):
        check_parallel(here("build_broken"), workers=2, progress=False)


def test_needs_a_spec() -> None:
    m = Model("adhoc")
    m.var("x", range(2))

    @m.action
    def Flip(s):
        s.x = 1 - s.x

    with pytest.raises(ModelError, match="ModelSpec"):
        check_parallel(m, workers=2, progress=False)
    built = lpi(2, 2).build()
    assert spec_of(built) == lpi(2, 2)
    r = check_parallel(built, workers=2, progress=False)  # a model built from a spec is fine
    assert (r.verdict, r.stats.distinct_states) == ("pass", 1_252)


def test_owner_functions_agree() -> None:
    rng = np.random.default_rng(7)
    states = [int(x) for x in rng.integers(0, 2**63, size=2000, dtype=np.int64)] + [0, 1, 2**64 - 1]
    arr = np.array(states, dtype=np.uint64)
    for n in (1, 2, 3, 5):
        assert owners_array(arr, n).tolist() == [owner_of(s, n) for s in states]
        assert owners_array(arr, n, 0xFF0).tolist() == [owner_of(s, n, 0xFF0) for s in states]
        parts = split_by_owner(states, 64, n)
        assert sorted(sum(parts, [])) == sorted(states)
        assert all(owner_of(s, n) == d for d, p in enumerate(parts) for s in p)
    counts = np.bincount(owners_array(np.arange(100_000, dtype=np.uint64), 2).astype(np.int64))
    assert abs(int(counts[0]) - int(counts[1])) < 2_000  # consecutive packed states spread evenly
    wide = [(1 << 90) + i for i in range(100)]
    assert {owner_of(s, 2) for s in wide} == {0, 1}
