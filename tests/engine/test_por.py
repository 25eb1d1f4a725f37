"""Partial-order reduction: ample sets are persistent, each condition (C1-C3) is needed, and the
reduced search finds what the full one finds on purpose-built models."""

from __future__ import annotations

from collections import deque

import pytest

from itsrace.engine import Model, ModelError, check, check_model, compile_model, replay, require
from itsrace.engine.lang.compile import Compiled
from itsrace.engine.reduce.por import (
    PorInfo,
    PorStats,
    ample_set,
    analyse,
    por_check,
    reduced_check,
)
from itsrace.models import lpi_toy

# -- purpose-built models -----------------------------------------------------------------------------


def steppers(n: int = 3, length: int = 3, watched: int = 0) -> Model:
    """``n`` independent processes, each counting its own variable up to ``length``; the
    invariant watches only counter ``watched`` (never violated). Full: (length+1)**n states."""
    m = Model(f"steppers-{n}")
    m.var("c", range(length + 1), n)

    @m.action(i=range(n))
    def Step(s, i):
        require(s.c[i] < length)
        s.c[i] = s.c[i] + 1

    @m.invariant
    def Watched(s):
        return s.c[watched] <= length

    m.check_deadlock = False
    return m


def blink_and_set() -> Model:
    """The ignoring problem: process A blinks ``a`` forever (invisible, independent of B); B sets
    ``b`` once, which violates the invariant. An ample set {A} at every state closes the cycle
    a=0 -> 1 -> 0 without ever letting B run: only the cycle proviso (C3) saves the day."""
    m = Model("blink-and-set")
    m.var("a", bool)
    m.var("b", bool)

    @m.action
    def Blink(s):
        s.a = 1 - s.a

    @m.action
    def SetB(s):
        require(s.b == 0)
        s.b = 1

    @m.invariant
    def BNeverSet(s):
        return s.b == 0

    return m


def pass_through() -> Model:
    """Visibility (C2): X raises ``x`` and lowers it again (two steps of one process), Y raises
    ``y``; the invariant fails only while both are up. Running X to completion first, then Y,
    is a valid interleaving that never shows the violation: only visibility prevents the
    reduction from choosing it."""
    m = Model("pass-through")
    m.var("px", range(3))
    m.var("x", bool)
    m.var("y", bool)

    @m.action
    def XUp(s):
        require(s.px == 0)
        s.x = 1
        s.px = 1

    @m.action
    def XDown(s):
        require(s.px == 1)
        s.x = 0
        s.px = 2

    @m.action
    def YUp(s):
        require(s.y == 0)
        s.y = 1

    @m.invariant
    def NotBoth(s):
        return not (s.x == 1 and s.y == 1)

    m.check_deadlock = False
    return m


def quiet_final() -> Model:
    """Final properties at quiescent, non-terminal states: B (declared first, so its step is
    the preferred ample set) sets ``b``; A counts ``a`` to 2. States with ``b == 0`` are
    quiescent; the final property fails in (a=1, b=0), which is not terminal. An ample set {B}
    in the initial state would skip it: the quiescence and final reads make both visible."""
    m = Model("quiet-final")
    m.var("b", bool)
    m.var("a", range(3))

    @m.action
    def B(s):
        require(s.b == 0)
        s.b = 1

    @m.action
    def A(s):
        require(s.a < 2)
        s.a = s.a + 1

    @m.quiescent
    def Idle(s):
        return s.b == 0

    @m.final
    def NotHalfway(s):
        return s.a != 1

    m.check_deadlock = False
    return m


def lock_inversion() -> Model:
    """Two processes take two locks in opposite orders (a deadlock); each then releases both and
    checks (an assertion) that it held them. A third, unrelated process counts to 2."""
    m = Model("lock-inversion")
    m.var("pc", range(4), 2)
    m.var("lock", range(3), 2)  # 0 free, else owner + 1
    m.var("z", range(3))

    @m.action(me=range(2))
    def Take1(s, me):
        require(s.pc[me] == 0 and s.lock[me] == 0)
        s.lock[me] = me + 1
        s.pc[me] = 1

    @m.action(me=range(2))
    def Take2(s, me):
        require(s.pc[me] == 1 and s.lock[1 - me] == 0)
        s.lock[1 - me] = me + 1
        s.pc[me] = 2

    @m.action(me=range(2))
    def Release(s, me):
        require(s.pc[me] == 2)
        check(s.lock[0] == me + 1 and s.lock[1] == me + 1, "held")
        s.lock[0] = 0
        s.lock[1] = 0
        s.pc[me] = 3

    @m.action
    def Count(s):
        require(s.z < 2)
        s.z = s.z + 1

    @m.at_rest
    def Done(s):
        return s.pc[0] == 3 and s.pc[1] == 3

    return m


def assertion_race() -> Model:
    """An assertion that fails only in some interleavings: W writes ``v`` twice (two steps); R
    gets ready (one step) and then checks that ``v`` is not 1; Z counts, unrelated to both."""
    m = Model("assertion-race")
    m.var("pw", range(3))
    m.var("v", range(3))
    m.var("pr", range(3))
    m.var("z", range(3))

    @m.action
    def W1(s):
        require(s.pw == 0)
        s.v = 1
        s.pw = 1

    @m.action
    def W2(s):
        require(s.pw == 1)
        s.v = 2
        s.pw = 2

    @m.action
    def RReady(s):
        require(s.pr == 0)
        s.pr = 1

    @m.action
    def RCheck(s):
        require(s.pr == 1)
        check(s.v != 1, "never-one")
        s.pr = 2

    @m.action
    def Z(s):
        require(s.z < 2)
        s.z = s.z + 1

    m.check_deadlock = False
    return m


# -- helpers ---------------------------------------------------------------------------------------------


def reachable(c: Compiled) -> list[int]:
    seen = dict.fromkeys(c.initial)
    queue = deque(seen)
    while queue:
        s = queue.popleft()
        for _, t in c.successors(s):
            if t >= 0 and t not in seen:
                seen[t] = None
                queue.append(t)
    return list(seen)


def assert_persistent(c: Compiled, s: int, ample: list[int]) -> None:
    """Semantic check of C1: from ``s``, along every path of actions outside ``ample``, every
    ample action stays enabled with the same outcome and commutes with the path's actions."""
    amp = set(ample)
    succ0 = dict(c.successors(s))

    def fire(u: int, k: int) -> int | None:
        return dict(c.successors(u)).get(k)

    seen = {s}
    queue = deque([s])
    while queue:
        u = queue.popleft()
        succ = dict(c.successors(u))
        for a in amp:
            assert a in succ, f"ample action {c.actions[a].name} disabled by actions outside the ample set"
            assert (succ[a] < 0) == (succ0[a] < 0)
        for b, v in succ.items():
            if b in amp or v < 0:
                continue
            for a in amp:
                ua = succ[a]
                if ua < 0:
                    continue
                assert fire(ua, b) == fire(v, a), (
                    f"{c.actions[a].name} and {c.actions[b].name} do not commute"
                )
            if v not in seen:
                seen.add(v)
                queue.append(v)


def check_all_ample_sets(m: Model) -> int:
    """Check every reachable state's ample set; return how many states had a proper one."""
    c = compile_model(m)
    info = analyse(c)
    proper = 0
    for s in reachable(c):
        ample = ample_set(c, s)
        enabled = {k for k, _ in c.successors(s)}
        assert set(ample) <= enabled and (ample or not enabled)  # C0
        if set(ample) != enabled:
            proper += 1
            assert not any(info.visible >> k & 1 for k in ample)  # C2
            assert_persistent(c, s, ample)  # C1
    return proper


# -- ample sets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [steppers, blink_and_set, lock_inversion, assertion_race, lambda: lpi_toy.build(2, 2)],
    ids=["steppers", "blink", "lock-inversion", "assertion-race", "lpi-2x2"],
)
def test_ample_sets_are_persistent_and_invisible(build: object) -> None:
    proper = check_all_ample_sets(build())  # type: ignore[operator]
    assert proper > 0  # the check is not vacuous: every one of these models reduces somewhere


@pytest.mark.parametrize("build", [pass_through, quiet_final])
def test_visible_actions_are_never_reduced(build: object) -> None:
    """Every action of these two models changes what a property reads."""
    assert check_all_ample_sets(build()) == 0  # type: ignore[operator]


def test_textbook_ample_sets_are_persistent() -> None:
    philosophers = pytest.importorskip("itsrace.models.philosophers")
    peterson = pytest.importorskip("itsrace.models.peterson")
    assert check_all_ample_sets(philosophers.build(3, fixed=True)) > 0
    assert check_all_ample_sets(peterson.build(merge_local=False)) > 0


def test_lock_checks_do_not_make_every_lock_operation_dependent() -> None:
    """The level-2 lock-discipline check reads every lock, but only as ``lock != pid + 1``:
    another philosopher's lock operation on a fork can never make that comparison change."""
    philosophers = pytest.importorskip("itsrace.models.philosophers")
    c = compile_model(philosophers.build(3))
    info = analyse(c)
    names = [a.name for a in c.actions]
    a = names.index("phil0 philosopher: spin_unlock(s.fork[first])")
    b = names.index("phil1 philosopher: spin_lock(s.fork[second])")  # fork 2, which phil0 never takes
    assert c.actions[b].writes & c.actions[a].reads  # statically, a conflict ...
    assert not info.dep[a] >> b & 1  # ... that the value analysis rules out


# -- each condition is needed: disabling it makes the search miss a violation -------------------------


def test_cycle_proviso_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    m = blink_and_set()
    assert check_model(m).violated == {"BNeverSet"}
    for proviso in ("graph", "depth"):
        r = por_check(m, proviso=proviso)
        assert r.violated == {"BNeverSet"}
        assert replay(compile_model(m), r.violations[0].trace).reproduces
    import itsrace.engine.reduce.por as por

    monkeypatch.setattr(por, "_back_edge_sources", lambda partial: [])
    assert por_check(m).verdict == "pass"  # ignoring B forever: wrong


def test_visibility_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    m = pass_through()
    assert check_model(m).violated == {"NotBoth"}
    r = por_check(m)
    assert r.violated == {"NotBoth"}
    assert replay(compile_model(m), r.violations[0].trace).reproduces
    c = compile_model(m)
    info = analyse(c)
    monkeypatch.setattr(info, "visible", 0)
    assert por_check(c).verdict == "pass"  # X ran to completion before Y: wrong


def test_final_properties_at_quiescent_states(monkeypatch: pytest.MonkeyPatch) -> None:
    m = quiet_final()
    assert check_model(m, stop_on_violation=False).violated == {"NotHalfway"}
    r = por_check(m, stop_on_violation=False)
    assert r.violated == {"NotHalfway"}
    assert replay(compile_model(m), r.violations[0].trace).reproduces
    c = compile_model(m)
    monkeypatch.setattr(analyse(c), "visible", 0)
    assert por_check(c).verdict == "pass"  # the quiescent state (a=1, b=0) was skipped: wrong


def test_persistence_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    """With an empty dependency relation the ample set is any single invisible action; in the
    assertion race that runs W to completion before R is ready, and the failed check is never
    seen (a correct ample set for W1 contains RReady: W1 writes what RCheck reads, and RReady
    is what enables RCheck)."""
    m = assertion_race()
    assert check_model(m).violated == {"never-one"}
    r = por_check(m)
    assert r.violated == {"never-one"}
    assert replay(compile_model(m), r.violations[0].trace).reproduces
    c = compile_model(m)
    info = analyse(c)
    monkeypatch.setattr(info, "dep", [0] * len(info.dep))
    monkeypatch.setattr(info, "nes", [lambda s: 0] * len(info.nes))
    assert por_check(c).verdict == "pass"


# -- verdicts, reductions, traces ----------------------------------------------------------------------


def test_independent_processes_reduce_to_a_few_states() -> None:
    m = steppers(n=4, length=3)
    full = check_model(m)
    assert full.stats.distinct_states == 4**4
    r = por_check(m)
    assert r.verdict == "pass"
    assert r.stats.distinct_states <= 4 * 4  # one interleaving (plus the watched counter's order)
    assert isinstance(r.stats, PorStats) and r.stats.reduced_states > 0
    assert r.stats.never_fired == []  # every action still fires somewhere


def test_deadlock_and_assertion_are_found_with_replayable_traces() -> None:
    m = lock_inversion()
    full = check_model(m, stop_on_violation=False)
    assert full.violated == {"deadlock"}
    c = compile_model(m)
    for proviso in ("graph", "depth"):
        r = por_check(m, stop_on_violation=False, proviso=proviso)
        assert r.violated == full.violated
        for v in r.violations:
            assert replay(c, v.trace).reproduces, v.property


def test_por_with_fingerprints_and_limits() -> None:
    m = lock_inversion()
    r = por_check(m, fingerprints=True, stop_on_violation=False)
    assert r.violated == {"deadlock"}
    assert r.stats.collision_probability == 0.0
    assert replay(compile_model(m), r.violations[0].trace).reproduces
    from itsrace.engine import Limits

    big = steppers(n=4, length=3)
    assert por_check(big, limits=Limits(max_states=3)).verdict == "inconclusive"
    assert por_check(big, limits=Limits(max_depth=2)).verdict == "inconclusive"


def test_textbook_models_keep_their_verdicts() -> None:
    philosophers = pytest.importorskip("itsrace.models.philosophers")
    m = philosophers.build(5, fixed=True)
    full = check_model(m)
    r = por_check(m)
    assert r.verdict == full.verdict == "pass"
    assert r.stats.distinct_states < full.stats.distinct_states


def test_reduced_check_entry_point() -> None:
    m = lpi_toy.build(2, 2, bug=True)
    c = compile_model(m)
    for symmetry in (None, "fast", "exact"):
        for por in (False, True):
            r = reduced_check(m, symmetry=symmetry, por=por, stop_on_violation=False)
            assert r.violated == {"NoDoubleResidency"}, (symmetry, por)
            assert replay(c, r.violations[0].trace).reproduces
    with pytest.raises(ModelError, match="symmetry mode"):
        reduced_check(m, symmetry="bogus")
    with pytest.raises(ModelError, match="breadth-first"):
        reduced_check(m, por=True, strategy="dfs")
    with pytest.raises(ModelError, match="proviso"):
        por_check(m, proviso="none")


def test_ample_set_api_and_generated_code() -> None:
    c = compile_model(steppers(n=3))
    info = analyse(c)
    assert isinstance(info, PorInfo) and analyse(c) is info  # cached
    assert len(ample_set(c, c.initial[0])) == 1
    assert "def nes_0(s):" in info.source


# -- sleep sets -----------------------------------------------------------------------------------


def loop_beside_a_failing_process() -> Model:
    """The model on which the random soundness test caught ample sets + sleep sets missing a
    failed check (docs/reductions.md, "Sleep sets"): P0 gets stuck, P1 loops forever, P2's
    second pass through P2_1 fails ``chk0``. The processes share nothing."""
    m = Model("loop-beside-a-failing-process")
    m.var("pc", range(3), 3)
    m.var("l", range(3), 3)

    @m.action
    def P0_0(s):
        require(s.pc[0] == 0)
        s.l[0] = (s.l[0] + 1) % 3
        s.pc[0] = 1

    @m.action
    def P0_1(s):
        require(s.pc[0] == 1)
        require(s.l[0] == 0)
        s.pc[0] = 2

    @m.action
    def P1_0(s):
        require(s.pc[1] == 0)
        s.l[1] = 0
        s.pc[1] = 1

    @m.action
    def P1_1(s):
        require(s.pc[1] == 1)
        require(s.l[1] == 0)
        s.pc[1] = 0

    @m.action
    def P2_0(s):
        require(s.pc[2] == 0)
        require(s.l[2] == 0)
        s.pc[2] = 1

    @m.action
    def P2_1(s):
        require(s.pc[2] == 1)
        check(s.l[2] == 0, "chk0")
        s.pc[2] = 2

    @m.action
    def P2_2(s):
        require(s.pc[2] == 2)
        require(s.l[2] == 0)
        s.l[2] = 1
        s.pc[2] = 1

    m.check_deadlock = False
    return m


def test_sleep_sets_visit_every_state_and_follow_fewer_transitions() -> None:
    for m in (steppers(3, 3), lpi_toy.build(2, 2), blink_and_set()):
        base = check_model(m, stop_on_violation=False)
        r = por_check(m, ample=False, sleep=True, stop_on_violation=False)
        assert isinstance(r.stats, PorStats)
        assert r.violated == base.violated
        assert r.stats.distinct_states == base.stats.distinct_states, m.name
        if m.name.startswith("steppers"):
            assert r.stats.transitions < base.stats.transitions
            assert r.stats.slept_transitions > 0
    # three independent counters of length 3: each of the 64 states is entered exactly once
    r = por_check(steppers(3, 3), ample=False, sleep=True)
    assert r.stats.transitions == 63


def test_sleep_sets_find_the_failed_check_that_ample_plus_sleep_missed() -> None:
    m = loop_beside_a_failing_process()
    assert check_model(m, stop_on_violation=False).violated == {"chk0"}
    assert por_check(m, stop_on_violation=False).violated == {"chk0"}  # ample sets alone
    for proviso in ("graph", "depth"):
        r = por_check(m, ample=False, sleep=True, proviso=proviso, stop_on_violation=False)
        assert r.violated == {"chk0"}
        assert replay(compile_model(m), r.violations[0].trace).reproduces


def test_sleep_sets_refuse_unsound_combinations() -> None:
    m = loop_beside_a_failing_process()
    with pytest.raises(ModelError, match="sleep sets are sound here only with full expansion"):
        por_check(m, sleep=True)
    with pytest.raises(ModelError, match="use one of them"):
        reduced_check(m, por=True, sleep=True)
    with pytest.raises(ModelError, match="symmetry"):
        por_check(lpi_toy.build(2, 2), ample=False, sleep=True, canon=lambda s: s)
    r = reduced_check(m, sleep=True, fingerprints=True, stop_on_violation=False)
    assert r.violated == {"chk0"}
