"""Swarm search: finds violations with traces that replay, and never claims ``pass``."""

from __future__ import annotations

import pytest

from itsrace.engine import Model, ModelError, check, check_model, replay, require
from itsrace.engine.lang.spec import ModelSpec
from itsrace.engine.scale.swarm import check_swarm, shorten


def lpi(vcpus: int, lpis: int, bug: bool = False) -> ModelSpec:
    return ModelSpec("itsrace.models.lpi_toy", "build", {"vcpus": vcpus, "lpis": lpis, "bug": bug})


def build_counter_check() -> Model:
    """A deep assertion: ``Step`` fails its check when x reaches 40 while y is odd."""
    m = Model("counter-check")
    m.var("x", range(64), init=0)
    m.var("y", range(4), init=0)

    @m.action
    def Step(s):
        require(s.x < 63)
        check(s.x != 40 or s.y % 2 == 0, "even-at-40")
        s.x = s.x + 1

    @m.action
    def Toggle(s):
        s.y = (s.y + 1) % 4

    return m


def build_deadlock() -> Model:
    m = Model("stuck")
    m.var("x", range(30), init=0)

    @m.action
    def Up(s):
        require(s.x < 29)
        s.x = s.x + 1

    @m.action
    def Down(s):
        require(0 < s.x < 29)
        s.x = s.x - 1

    return m


@pytest.mark.parametrize("strategies", [("walk",), ("dfs",)])
def test_finds_the_bug_and_the_trace_replays(strategies: tuple[str, ...]) -> None:
    spec = lpi(3, 3, bug=True)
    r = check_swarm(spec, workers=1, max_steps=200_000, seconds=None, seed=3, max_depth=40, strategies=strategies,
                    progress=False)
    assert r.verdict == "fail"
    [v] = r.violations
    assert v.property == "NoDoubleResidency" and len(v.trace) >= 6
    assert replay(spec.compile(), v.trace).reproduces


def test_correct_model_is_inconclusive_never_pass() -> None:
    r = check_swarm(lpi(2, 2), workers=1, max_steps=20_000, seconds=None, progress=False)
    assert r.verdict == "inconclusive" and not r.violations
    assert "never proves" in r.reason
    exact = check_model(lpi(2, 2).build(), progress=False)
    # every state of this small model is reached; the estimate is close to the truth
    assert 0.9 * exact.stats.distinct_states <= r.stats.distinct_states <= 1.1 * exact.stats.distinct_states
    assert r.stats.transitions > 0 and not r.stats.never_fired
    assert r.stats.depth <= 1000


def test_assertion_and_deadlock_traces_replay() -> None:
    spec = ModelSpec(__file__, "build_counter_check", {})
    r = check_swarm(spec, workers=1, max_steps=100_000, seconds=None, max_depth=120, progress=False)
    assert r.verdict == "fail" and r.violations[0].kind == "assertion"
    assert replay(spec.compile(), r.violations[0].trace).reproduces
    dl = ModelSpec(__file__, "build_deadlock", {})
    r = check_swarm(dl, workers=1, max_steps=100_000, seconds=None, max_depth=200, progress=False)
    assert r.verdict == "fail" and r.violations[0].kind == "deadlock"
    assert len(r.violations[0].trace) == 29  # loops cut out and shortcuts taken: the direct path
    assert replay(dl.compile(), r.violations[0].trace).reproduces


def test_same_seed_same_result() -> None:
    spec = lpi(3, 3, bug=True)
    runs = [check_swarm(spec, workers=1, max_steps=100_000, seconds=None, seed=11, progress=False) for _ in range(2)]
    assert [s.action for s in runs[0].violations[0].trace.steps] == [s.action for s in runs[1].violations[0].trace.steps]


def test_parallel_workers_find_the_bug() -> None:
    spec = lpi(3, 4, bug=True)
    r = check_swarm(spec, workers=2, seconds=20, max_depth=60, progress=False)
    assert r.verdict == "fail"
    assert replay(spec.compile(), r.violations[0].trace).reproduces


def test_parallel_workers_correct_model_inconclusive() -> None:
    r = check_swarm(lpi(3, 3), workers=2, max_steps=5_000, seconds=None, progress=False)
    assert r.verdict == "inconclusive" and r.stats.transitions > 0 and "2 workers" in r.reason


def test_shorten_keeps_a_valid_path() -> None:
    c = ModelSpec(__file__, "build_deadlock", {}).compile()
    layout = c.layout

    def st(x: int) -> int:
        return layout.encode({"x": x})

    path = [st(x) for x in [0, 1, 2, 1, 2, 3, 2, 3, 4]]
    assert shorten(c, path) == [st(x) for x in range(5)]


def test_budget_and_option_errors() -> None:
    with pytest.raises(ModelError, match="budget"):
        check_swarm(lpi(2, 2), workers=1, seconds=None, max_steps=None)
    with pytest.raises(ModelError, match="strategy"):
        check_swarm(lpi(2, 2), workers=1, max_steps=10, strategies=("bfs",))
