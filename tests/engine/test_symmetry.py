"""Symmetry reduction: the canonicaliser against a brute-force reference, and the validator."""

from __future__ import annotations

import random
import warnings

import pytest

from itsrace.engine import Model, ModelError, check, check_model, compile_model, replay, require
from itsrace.engine.lang.layout import Layout
from itsrace.engine.reduce.symmetry import (
    all_permutations,
    build_canonicaliser,
    canonicaliser,
    group_size,
    permute_state,
    random_permutation,
    symmetric_check,
    validate_symmetry,
)
from itsrace.models import lpi_toy


def reachable(model: Model) -> set[int]:
    c = compile_model(model)
    seen = set(c.initial)
    frontier = list(seen)
    while frontier:
        nxt = []
        for s in frontier:
            for _, t in c.successors(s):
                if t >= 0 and t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return seen


def orbits(model: Model, states: set[int]) -> int:
    layout = Layout(model)
    perms = all_permutations(model)
    return len({min(permute_state(layout, s, p) for p in perms) for s in states})


# -- lpi-toy: exact mode gives exactly the orbits ---------------------------------------------------


def test_lpi_toy_2x2_exact_mode_stores_one_state_per_orbit() -> None:
    m = lpi_toy.build(2, 2)
    states = reachable(m)
    assert len(states) == 1252
    n_orbits = orbits(m, states)
    exact = check_model(m, canon=build_canonicaliser(m, exact=True))
    fast = check_model(m, canon=build_canonicaliser(m))
    assert exact.verdict == fast.verdict == "pass"
    assert exact.stats.distinct_states == n_orbits
    assert n_orbits <= fast.stats.distinct_states < len(states)


def test_lpi_toy_3x3_exact_mode_matches_the_reference_orbit_count() -> None:
    m = lpi_toy.build(3, 3)
    exact = check_model(m, canon=canonicaliser(m, exact=True))
    assert exact.verdict == "pass"
    assert exact.stats.distinct_states == 8066  # shared/bench/lpi-toy.md
    fast = check_model(m, canon=canonicaliser(m))
    assert 8066 <= fast.stats.distinct_states < 273176


def test_every_canonical_form_is_in_the_orbit_and_exact_forms_agree_across_the_orbit() -> None:
    m = lpi_toy.build(2, 3)
    layout = Layout(m)
    perms = all_permutations(m)
    exact, fast = build_canonicaliser(m, exact=True), build_canonicaliser(m)
    refined = build_canonicaliser(m, refine=True)
    for s in sorted(reachable(m))[::3]:
        orbit = {permute_state(layout, s, p) for p in perms}
        forms = {exact(t) for t in orbit}
        assert len(forms) == 1 and forms <= orbit
        assert fast(s) in orbit and refined(s) in orbit


def test_bug_mode_counterexample_is_shortest_and_replays() -> None:
    m = lpi_toy.build(3, 3, bug=True)
    c = compile_model(m)
    for exact in (False, True):
        r = check_model(m, canon=canonicaliser(m, exact))
        assert r.violated == {"NoDoubleResidency"}
        trace = r.violations[0].trace
        assert len(trace) == 6  # symmetry keeps BFS levels: still a shortest counterexample
        assert replay(c, trace).reproduces


# -- unusual declarations: the generic refinement and the relabelling --------------------------------


def varied_model() -> Model:
    """Every way of using a scalarset the canonicaliser supports, in one layout."""
    m = Model("varied")
    m.scalarset("p", 3)
    m.scalarset("q", 2)
    m.scalarset("one", 1)  # size 1: ignored
    m.var("a", range(3), 3, sym="p")  # plain array
    m.var("nxt", range(4), 3, sym="p", sym_value="p")  # values of its own scalarset; 3 = none
    m.var("m2", range(2), (3, 3), sym=("p", "p"))  # a relation on p
    m.var("mix", range(3), (2, 3), sym=(None, "p"))  # a fixed dimension and a permuted one
    m.var("pq", (-1, 2), (3, 2), sym=("p", "q"), sym_value="q")  # -1: a sentinel below 0
    m.var("owner", range(4), sym_value="p")  # a scalar naming a p
    m.var("qv", range(2), 2, sym="q")
    m.var("solo", range(2), 1, sym="one")
    m.var("plain", range(5))

    @m.action
    def Nop(s):  # the model needs an action to compile; nothing here is checked
        require(s.plain < 4)
        s.plain = s.plain + 1

    return m


def random_state(layout: Layout, rng: random.Random) -> int:
    s = 0
    for sl in layout.slots:
        s |= rng.randint(0, sl.hi - sl.lo) << sl.off
    return s


@pytest.mark.parametrize("refine", [None, True])
def test_canonicaliser_on_varied_declarations(refine: bool | None) -> None:
    m = varied_model()
    layout = Layout(m)
    assert group_size(m) == 12
    perms = all_permutations(m)
    exact = build_canonicaliser(m, exact=True, refine=refine, cache_size=0)
    fast = build_canonicaliser(m, refine=refine)
    rng = random.Random(7)
    for _ in range(150):
        s = random_state(layout, rng)
        orbit = {permute_state(layout, s, p) for p in perms}
        e = exact(s)
        assert e in orbit and fast(s) in orbit
        pi = random_permutation(m, rng)
        assert exact(permute_state(layout, s, pi)) == e
    # states with many ties (few distinct values) exercise the slow path and the enumeration
    for _ in range(150):
        s = 0
        for sl in layout.slots:
            s |= rng.choice((0, 0, 0, 1)) % (sl.hi - sl.lo + 1) << sl.off
        orbit = {permute_state(layout, s, p) for p in perms}
        assert exact(s) in orbit and fast(s) in orbit
        assert {exact(t) for t in orbit} == {exact(s)}


def test_permutation_reference_moves_indices_and_maps_values() -> None:
    m = varied_model()
    layout = Layout(m)
    s = layout.encode({"a": (0, 1, 2), "nxt": (1, 3, 0), "owner": 2})
    t = permute_state(layout, s, {"p": (1, 2, 0)})  # 0 -> 1, 1 -> 2, 2 -> 0
    d = layout.decode(t)
    assert d["a"] == (2, 0, 1)
    assert d["nxt"] == (1, 2, 3)  # nxt[0]=1 moves to nxt[1] as 2; nxt[2]=0 moves to nxt[0] as 1
    assert d["owner"] == 0


def test_no_symmetry_means_identity() -> None:
    m = Model("plain")
    m.var("x", range(3))

    @m.action
    def Inc(s):
        require(s.x < 2)
        s.x = s.x + 1

    canon = build_canonicaliser(m)
    assert all(canon(s) == s for s in range(3))
    assert validate_symmetry(m).ok


def test_memo_does_not_change_results() -> None:
    m = lpi_toy.build(2, 3)
    with_memo = build_canonicaliser(m, exact=True)
    without = build_canonicaliser(m, exact=True, cache_size=0)
    tiny = build_canonicaliser(m, exact=True, cache_size=3)
    for s in sorted(reachable(m))[::5]:
        assert with_memo(s) == without(s) == tiny(s)


def test_bad_declarations_are_model_errors() -> None:
    m = Model("bad")
    m.scalarset("p", 3)
    m.var("x", range(2), 2, sym="p")  # 2 elements, 3 identities
    with pytest.raises(ModelError, match="dimension 0 has size 2"):
        build_canonicaliser(m)
    m2 = Model("bad2")
    m2.var("x", range(2), 2, sym="nope")
    with pytest.raises(ModelError, match="unknown scalarset"):
        build_canonicaliser(m2)


# -- the validator ------------------------------------------------------------------------------------


def test_validator_accepts_lpi_toy() -> None:
    report = validate_symmetry(lpi_toy.build(2, 3), samples=60)
    assert report.ok and report.states > 0 and report.permutations > 0


def counters(
    *, partial_range: bool = False, asym_invariant: bool = False, asym_init: bool = False,
    asym_check: bool = False,
) -> Model:
    """Three interchangeable counters, optionally broken in one way."""
    m = Model("counters")
    m.check_deadlock = False  # (2, 2, 2) is terminal; not what these tests are about
    m.scalarset("p", 3)
    m.var("x", range(3), 3, init=(1, 0, 0) if asym_init else 0, sym="p")

    @m.action(p=range(2) if partial_range else range(3))
    def Inc(s, p):
        require(s.x[p] < 2)
        if asym_check:
            check(p != 2 or s.x[p] == 0, "first-only")
        s.x[p] = s.x[p] + 1

    if asym_invariant:
        @m.invariant
        def FirstSmall(s):  # the first counter may reach 2 only after the others moved
            return s.x[0] <= 1 or s.x[1] + s.x[2] > 0
    else:
        @m.invariant
        def NotAllFull(s):
            return not all(s.x[p] == 2 for p in range(3))

    return m


@pytest.mark.parametrize(
    ("broken", "what"),
    [
        ({"partial_range": True}, "successors do not commute"),
        ({"asym_invariant": True}, "invariant 'FirstSmall' is not symmetric"),
        ({"asym_init": True}, "initial states are not closed"),
        ({"asym_check": True}, "successors do not commute|failed checks differ"),
    ],
)
def test_validator_rejects_asymmetric_models(broken: dict[str, bool], what: str) -> None:
    assert validate_symmetry(counters(), samples=40).ok
    m = counters(**broken)
    with pytest.raises(ModelError, match=what):
        validate_symmetry(m, samples=40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = validate_symmetry(m, samples=40, strict=False)
    assert not report.ok and report.problems
    assert any("not symmetric" in str(w.message) for w in caught)
    with pytest.raises(ModelError):
        symmetric_check(m)


def test_asymmetric_model_would_give_a_wrong_answer() -> None:
    """Why the validator exists: with an invariant that singles out counter 0, symmetry
    reduction explores (0, 0, 2) in place of (2, 0, 0) and misses the violation."""
    m = counters(asym_invariant=True)
    assert check_model(m).violated == {"FirstSmall"}
    for exact in (False, True):
        assert check_model(m, canon=build_canonicaliser(m, exact=exact)).verdict == "pass"


def test_symmetric_check_on_a_symmetric_model() -> None:
    r = symmetric_check(counters(), exact=True, stop_on_violation=False)
    assert r.violated == {"NotAllFull"}
    assert r.stats.distinct_states == 10  # multisets of 3 values in 0..2
    assert replay(compile_model(counters()), r.violations[0].trace).reproduces
