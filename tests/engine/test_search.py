"""The search: verdicts, properties of every kind, limits, coverage, progress display.

Small throwaway models whose reachable states can be counted by hand; each test says what the
answer must be and why.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from itsrace.engine import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Limits,
    Model,
    ModelError,
    Result,
    check,
    check_model,
    require,
)
from itsrace.engine.explore.search import _Progress
from itsrace.models.lpi_toy import build as lpi_toy

STRATEGIES = [
    pytest.param({"strategy": "bfs"}, id="bfs"),
    pytest.param({"strategy": "dfs"}, id="dfs"),
    pytest.param({"fingerprints": True}, id="fingerprints"),
]


def steps(result: Result, prop: str) -> list[str]:
    violation = next(v for v in result.violations if v.property == prop)
    return [step.action for step in violation.trace.steps]


def counter(limit: int = 4) -> Model:
    """x counts up to ``limit``; ``Stop`` freezes it. Terminal states: every stopped x, and x == limit."""
    m = Model("counter")
    m.var("x", range(limit + 1))
    m.var("stopped", bool)

    @m.action
    def Inc(s):
        require(s.x < limit and not s.stopped)
        s.x = s.x + 1

    @m.action
    def Stop(s):
        require(not s.stopped)
        s.stopped = 1

    return m


# -- verdicts and invariants ------------------------------------------------------------------------
@pytest.mark.parametrize("how", STRATEGIES)
def test_a_holding_invariant_passes_with_exact_counts(how: dict[str, Any]) -> None:
    m = counter()
    m.check_deadlock = False

    @m.invariant
    def Bounded(s):
        return s.x <= 4

    result = check_model(m, progress=False, **how)
    assert result.verdict == PASS and result.violations == [] and result.reason == ""
    # 5 values of x, stopped or not: 10 states; Inc fires from x = 0..3 unstopped, Stop from all 5.
    assert result.stats.distinct_states == 10
    assert result.stats.transitions == 4 + 5


def test_an_invariant_violation_gives_a_shortest_trace() -> None:
    m = counter()
    m.check_deadlock = False

    @m.invariant
    def BelowThree(s):
        """x never reaches 3."""
        return s.x < 3

    result = check_model(m, progress=False)
    assert result.verdict == FAIL
    (v,) = result.violations
    assert (v.property, v.kind, v.doc) == ("BelowThree", "invariant", "x never reaches 3.")
    assert steps(result, "BelowThree") == ["Inc", "Inc", "Inc"]
    assert v.trace.initial == {"x": 0, "stopped": 0} and v.trace.final == {"x": 3, "stopped": 0}
    assert [st.changes for st in v.trace.steps] == [{"x": [0, 1]}, {"x": [1, 2]}, {"x": [2, 3]}]


def test_an_invariant_false_in_the_initial_state_gives_an_empty_trace() -> None:
    m = counter()

    @m.invariant
    def Positive(s):
        return s.x > 0

    result = check_model(m, progress=False)
    assert steps(result, "Positive") == []
    assert result.violations[0].trace.final == {"x": 0, "stopped": 0}


# -- assertions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["check", "assert"])
def test_assertions_fail_inside_the_action_that_runs_them(form: str) -> None:
    m = counter()
    m.check_deadlock = False
    if form == "check":
        @m.action
        def Probe(s):
            require(not s.stopped)
            check(s.x != 2, "NotTwo")
    else:
        @m.action
        def Probe(s):
            require(not s.stopped)
            assert s.x != 2, "NotTwo"

    result = check_model(m, progress=False)
    assert result.verdict == FAIL
    (v,) = result.violations
    assert (v.property, v.kind) == ("NotTwo", "assertion")
    # Two increments, then the probe that fails: the last step is the failing check itself.
    assert steps(result, "NotTwo") == ["Inc", "Inc", "Probe"]
    assert v.trace.steps[-1].note == "check failed: NotTwo"
    assert v.trace.steps[-1].changes == {}


def test_registered_assertions_keep_their_documentation() -> None:
    m = counter()
    m.check_deadlock = False
    m.assertion("NotTwo", doc="x is never 2 when probed")

    @m.action
    def Probe(s):
        check(s.x != 2, "NotTwo")

    result = check_model(m, progress=False)
    assert result.violations[0].doc == "x is never 2 when probed"


# -- deadlock, at_rest, finals, quiescence ----------------------------------------------------------
def test_a_state_without_successors_is_a_deadlock() -> None:
    result = check_model(counter(), progress=False)
    assert result.verdict == FAIL
    (v,) = result.violations
    assert (v.property, v.kind) == ("deadlock", "deadlock")
    assert steps(result, "deadlock") == ["Stop"]  # the shortest way to get stuck


def test_at_rest_states_are_a_normal_end() -> None:
    m = counter()

    @m.at_rest
    def StoppedOrFull(s):
        return s.stopped == 1 or s.x == 4

    assert check_model(m, progress=False).verdict == PASS


def test_at_rest_does_not_excuse_other_terminal_states() -> None:
    m = counter()

    @m.at_rest
    def Full(s):
        return s.x == 4

    result = check_model(m, progress=False)
    assert result.violated == {"deadlock"}
    assert steps(result, "deadlock") == ["Stop"]


def test_deadlock_checking_can_be_switched_off() -> None:
    m = counter()
    m.check_deadlock = False
    assert check_model(m, progress=False).verdict == PASS
    assert "deadlock" not in m.property_names()


def test_final_properties_are_checked_in_terminal_states() -> None:
    m = counter()
    m.check_deadlock = False

    @m.final
    def EndsHigh(s):
        """Whenever the counter comes to rest, it has counted at least to 2."""
        return s.x >= 2

    result = check_model(m, progress=False)
    assert result.verdict == FAIL
    (v,) = result.violations
    assert (v.property, v.kind) == ("EndsHigh", "final")
    assert steps(result, "EndsHigh") == ["Stop"]


def test_final_properties_are_not_checked_in_states_that_can_move() -> None:
    m = counter()
    m.check_deadlock = False

    @m.final
    def OnlyAtTheEnd(s):
        return s.stopped == 1 or s.x == 4  # false in every non-terminal state

    assert check_model(m, progress=False).verdict == PASS


def test_quiescent_states_count_as_at_rest_for_final_properties() -> None:
    # An idle loop keeps one action enabled forever: without quiescence no state is terminal
    # and the final property would never be checked.
    m = Model("idle")
    m.var("work", range(3))
    m.var("tick", bool)

    @m.action
    def Work(s):
        require(s.work < 2)
        s.work = s.work + 1

    @m.action
    def Idle(s):
        s.tick = 1 - s.tick

    @m.final
    def TickedDown(s):
        return s.tick == 0

    assert check_model(m, progress=False).verdict == PASS  # no terminal state, nothing checked

    @m.quiescent
    def NoWorkLeft(s):
        return s.work == 2

    result = check_model(m, progress=False)
    assert result.violated == {"TickedDown"}
    assert sorted(steps(result, "TickedDown")) == ["Idle", "Work", "Work"]  # shortest: 3 steps


# -- every violation, each with its own shortest trace ----------------------------------------------
def many_bugs() -> Model:
    m = counter()

    @m.invariant
    def BelowThree(s):
        return s.x < 3

    @m.action
    def Probe(s):
        require(not s.stopped)
        check(s.x != 1, "NotOne")

    @m.final
    def EndsHigh(s):
        return s.x >= 2

    return m


@pytest.mark.parametrize("how", STRATEGIES)
def test_stop_on_violation_false_finds_every_violated_property(how: dict[str, Any]) -> None:
    result = check_model(many_bugs(), stop_on_violation=False, progress=False, **how)
    assert result.verdict == FAIL
    assert result.violated == {"BelowThree", "NotOne", "EndsHigh", "deadlock"}
    kinds = {v.property: v.kind for v in result.violations}
    assert kinds == {"BelowThree": "invariant", "NotOne": "assertion", "EndsHigh": "final", "deadlock": "deadlock"}
    # Every trace ends where its own property fails (whatever the search order).
    for v in result.violations:
        if v.kind == "invariant":
            assert v.trace.final["x"] >= 3
        if v.kind in ("final", "deadlock"):
            assert v.trace.final["stopped"] == 1 or v.trace.final["x"] == 4


def test_stop_on_violation_false_gives_each_property_its_shortest_trace_with_bfs() -> None:
    result = check_model(many_bugs(), stop_on_violation=False, progress=False)
    assert steps(result, "BelowThree") == ["Inc", "Inc", "Inc"]
    assert steps(result, "NotOne") == ["Inc", "Probe"]
    assert steps(result, "EndsHigh") == ["Stop"]
    assert steps(result, "deadlock") == ["Stop"]


def test_stop_on_violation_stops_at_the_first() -> None:
    result = check_model(many_bugs(), progress=False)
    assert len(result.violations) == 1
    # Three properties fail in states of depth 1; successors are generated in declaration order,
    # so (x=1) from Inc is expanded before (stopped) from Stop, and its Probe fails first.
    assert result.violations[0].property == "NotOne"


# -- multiple initial states -----------------------------------------------------------------------
def test_every_initial_state_is_explored() -> None:
    m = counter()
    m.check_deadlock = False

    @m.initial
    def starts() -> Iterator[dict[str, int]]:
        yield {"x": 3}
        yield {"x": 0, "stopped": 1}
        yield {"x": 3}  # duplicates count once

    @m.invariant
    def NotTwo(s):
        return s.x != 2

    result = check_model(m, progress=False)
    # From x=3: (3,0) (4,0) (3,1) (4,1); from (0,1): itself. x=2 is unreachable now.
    assert result.verdict == PASS
    assert result.stats.distinct_states == 5


def test_a_trace_starts_from_the_initial_state_it_came_from() -> None:
    m = counter()
    m.check_deadlock = False

    @m.initial
    def starts() -> Iterator[dict[str, int]]:
        yield {"x": 0}
        yield {"x": 2}

    @m.invariant
    def BelowFour(s):
        return s.x < 4

    result = check_model(m, progress=False)
    assert steps(result, "BelowFour") == ["Inc", "Inc"]
    assert result.violations[0].trace.initial == {"x": 2, "stopped": 0}


# -- coverage -----------------------------------------------------------------------------------------
def test_coverage_counts_firings_and_new_states_per_action_instance() -> None:
    m = counter()
    m.check_deadlock = False

    @m.action(v=range(2))
    def Reset(s, v):
        require(s.x == 4 and v == 0)  # Reset(v=1) can never fire
        s.x = v

    result = check_model(m, progress=False)
    cov = result.stats.coverage
    assert set(cov) == {"Inc", "Stop", "Reset(v=0)", "Reset(v=1)"}
    assert cov["Inc"] == [4, 4]  # fired 4 times, each time reaching a new state
    assert cov["Stop"] == [5, 5]
    assert cov["Reset(v=0)"] == [2, 0]  # from (4, running) and (4, stopped): both known states
    assert cov["Reset(v=1)"] == [0, 0]
    assert result.stats.never_fired == ["Reset(v=1)"]
    assert sum(fired for fired, _ in cov.values()) == result.stats.transitions
    assert sum(new for _, new in cov.values()) == result.stats.distinct_states - 1


def test_a_guard_that_is_never_true_is_reported_as_never_fired() -> None:
    m = counter()
    m.check_deadlock = False

    @m.action
    def Impossible(s):
        require(s.x == 4 and not s.stopped and s.x < 4)
        s.stopped = 1

    assert check_model(m, progress=False).stats.never_fired == ["Impossible"]


# -- limits ------------------------------------------------------------------------------------------
LIMITS = [
    pytest.param(Limits(max_states=50), "state limit", id="max_states"),
    pytest.param(Limits(max_seconds=0.0), "time limit", id="max_seconds"),  # expires at once
    pytest.param(Limits(max_memory=1), "memory limit", id="max_memory"),  # 1 byte: exceeded at once
    pytest.param(Limits(max_depth=3), "depth limit", id="max_depth"),
]


@pytest.mark.parametrize(("limits", "why"), LIMITS)
@pytest.mark.parametrize("how", [STRATEGIES[0], STRATEGIES[2]])
def test_limits_give_inconclusive_with_statistics(limits: Limits, why: str, how: dict[str, Any]) -> None:
    full = check_model(lpi_toy(2, 2), progress=False, **how).stats
    result = check_model(lpi_toy(2, 2), limits=limits, progress=False, **how)
    assert result.verdict == INCONCLUSIVE
    assert why in result.reason
    assert result.violations == []
    assert 0 < result.stats.distinct_states < full.distinct_states
    assert result.stats.transitions > 0 and result.stats.peak_rss_bytes > 0
    assert result.stats.coverage  # statistics are kept


@pytest.mark.parametrize(("limits", "why"), LIMITS[:3])
def test_limits_stop_dfs_too(limits: Limits, why: str) -> None:
    result = check_model(lpi_toy(3, 3), limits=limits, strategy="dfs", chunk=64, progress=False)
    assert result.verdict == INCONCLUSIVE and why in result.reason
    assert 0 < result.stats.distinct_states < 273_176


def test_a_depth_limit_reports_the_level_it_stopped_at() -> None:
    result = check_model(lpi_toy(2, 2), limits=Limits(max_depth=3), progress=False)
    assert result.stats.depth == 3
    # States of levels 0..3 were discovered; only 0..2 were expanded.
    assert result.stats.queue > 0


def test_a_limit_never_turns_into_a_pass_even_when_it_hides_a_bug() -> None:
    result = check_model(lpi_toy(2, 2, bug=True), limits=Limits(max_depth=5), progress=False)
    assert result.verdict == INCONCLUSIVE  # the bug is 6 steps deep


def test_a_violation_found_before_a_limit_is_still_a_failure() -> None:
    result = check_model(lpi_toy(2, 2, bug=True), limits=Limits(max_states=10_000), progress=False)
    assert result.verdict == FAIL


def test_unknown_strategies_are_rejected() -> None:
    with pytest.raises(ModelError, match="strategy"):
        check_model(counter(), strategy="random-walk", progress=False)


# -- statistics ---------------------------------------------------------------------------------------
def test_statistics_are_consistent() -> None:
    stats = check_model(lpi_toy(2, 2), progress=False).stats
    d = stats.as_dict()
    assert d["distinct_states"] == 1_252 and d["transitions"] == stats.transitions
    assert stats.states_per_second > 0 and stats.seconds > 0
    assert stats.collision_probability is None  # exact visited set
    assert check_model(lpi_toy(2, 2), fingerprints=True, progress=False).stats.collision_probability == 0.0


# -- progress display --------------------------------------------------------------------------------------
def test_progress_is_silent_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    prog = _Progress(None)  # decide from the terminal: under capsys stderr is not a TTY
    assert prog.enabled is False
    prog.update(10, 5, 1, 0.0, force=True)
    prog.done()
    check_model(lpi_toy(2, 2), progress=None)
    assert capsys.readouterr().err == ""


def test_progress_prints_one_updating_line_when_forced(capsys: pytest.CaptureFixture[str]) -> None:
    prog = _Progress(True)
    prog.update(12_345, 678, 9, 0.0, force=True)
    prog.done()
    err = capsys.readouterr().err
    assert err.startswith("\r") and err.endswith("\n")
    assert "12,345" in err and "queue" in err and "depth" in err and "st/s" in err


def test_progress_can_be_forced_on_for_a_search(capsys: pytest.CaptureFixture[str]) -> None:
    check_model(lpi_toy(2, 2), progress=True)
    err = capsys.readouterr().err
    assert "states" in err and err.endswith("\n")
    check_model(lpi_toy(2, 2), progress=False)
    assert capsys.readouterr().err == ""


def test_dfs_honours_max_depth_and_reports_real_depth() -> None:
    """DFS stops expanding at max_depth (inconclusive, never pass) and its depth is a path length."""
    bounded = check_model(lpi_toy(2, 2), strategy="dfs", limits=Limits(max_depth=5), progress=False)
    assert bounded.verdict == "inconclusive" and "depth limit" in bounded.reason
    assert bounded.stats.depth == 5
    assert bounded.stats.distinct_states < 1252
    full = check_model(lpi_toy(2, 2), strategy="dfs", progress=False)
    assert full.verdict == "pass" and full.stats.distinct_states == 1252
    assert full.stats.depth >= 16  # no discovery path is shorter than the BFS depth


def test_dfs_with_fingerprints_is_refused() -> None:
    with pytest.raises(ModelError, match="breadth-first"):
        check_model(lpi_toy(2, 2), strategy="dfs", fingerprints=True, progress=False)
