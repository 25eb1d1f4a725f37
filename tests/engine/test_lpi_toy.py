"""The lpi-toy benchmark (``shared/bench/lpi-toy.md``) as a test of the whole level-1 engine.

Counts are compared with the reference figures that SPIN, TLC and a hand-written BFS agree on,
and, for 2x2, with an independent plain-Python BFS written here straight from the benchmark's
definition (it shares no code with the engine). 3x4 belongs to ``itsrace bench`` only.
"""

from __future__ import annotations

from collections import deque

import pytest

from itsrace.engine import FAIL, PASS, check_model, compile_model, replay
from itsrace.models.lpi_toy import build

# (vcpus, lpis) -> (distinct states, transitions); 3x3 from shared/bench/lpi-toy.md.
REFERENCE = {(3, 3): (273_176, 3_200_316)}
SHORTEST_BUG = [
    "Map(l=0, c=0)", "Arrive(l=0)", "Inject(c=0, l=0)", "Arrive(l=0)", "Movi(l=0, c=1)", "Inject(c=1, l=0)",
]


State = tuple[tuple[int, ...], ...]  # (pend, target, lr, lrst, running)


def reference_counts(nc: int, nl: int, bug: bool = False) -> tuple[int, int]:
    """Distinct states and transitions of lpi-toy by a naive BFS over tuples (the spec, verbatim)."""
    none, unmapped = nl, nc
    init: State = ((0,) * nl, (unmapped,) * nl, (none,) * nc, (0,) * nc, (0,) * nc)

    def successors(state: State) -> list[State]:
        pend, target, lr, lrst, running = (list(x) for x in state)
        out: list[State] = []

        def emit(p: list[int], t: list[int], r: list[int], st: list[int], run: list[int]) -> None:
            out.append((tuple(p), tuple(t), tuple(r), tuple(st), tuple(run)))

        for i in range(nl):
            if target[i] != unmapped and pend[i] == 0:  # Arrive
                emit(pend[:i] + [1] + pend[i + 1:], target, lr, lrst, running)
            for c in range(nc):
                if target[i] == unmapped:  # Map
                    emit(pend, target[:i] + [c] + target[i + 1:], lr, lrst, running)
                if target[i] != unmapped and target[i] != c:  # Movi
                    emit(pend, target[:i] + [c] + target[i + 1:], lr, lrst, running)
        for c in range(nc):
            for i in range(nl):  # Inject
                if (not running[c] and lr[c] == none and pend[i] == 1 and target[i] == c
                        and (bug or all(lr[k] != i for k in range(nc)))):
                    emit(pend[:i] + [0] + pend[i + 1:], target, lr[:c] + [i] + lr[c + 1:],
                         lrst[:c] + [1] + lrst[c + 1:], running)
            if not running[c]:  # Enter
                emit(pend, target, lr, lrst, running[:c] + [1] + running[c + 1:])
            if running[c]:  # Exit
                emit(pend, target, lr, lrst, running[:c] + [0] + running[c + 1:])
            if running[c] and lrst[c] == 1:  # Ack
                emit(pend, target, lr, lrst[:c] + [2] + lrst[c + 1:], running)
            if running[c] and lrst[c] == 2:  # Eoi
                emit(pend, target, lr[:c] + [none] + lr[c + 1:], lrst[:c] + [0] + lrst[c + 1:], running)
        return out

    seen = {init}
    queue = deque([init])
    transitions = 0
    while queue:
        for t in successors(queue.popleft()):
            transitions += 1
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return len(seen), transitions


def test_reference_bfs_agrees_with_the_published_2x2_count() -> None:
    # Guards the guard: the hand-written BFS must itself match the benchmark's 2x2 figure.
    assert reference_counts(2, 2)[0] == 1_252


SEARCHES = [
    pytest.param("bfs", False, id="bfs-exact"),
    pytest.param("dfs", False, id="dfs-exact"),
    pytest.param("bfs", True, id="bfs-fingerprints"),
]


@pytest.mark.parametrize(
    ("strategy", "fingerprints"), SEARCHES
)
def test_2x2_counts_match_an_independent_bfs(strategy: str, fingerprints: bool) -> None:
    states, transitions = reference_counts(2, 2)
    result = check_model(build(2, 2), strategy=strategy, fingerprints=fingerprints, progress=False)
    assert result.verdict == PASS
    assert result.violations == []
    assert result.stats.distinct_states == states == 1_252
    assert result.stats.transitions == transitions


@pytest.mark.parametrize(("strategy", "fingerprints"), SEARCHES)
def test_3x3_counts_match_the_reference_figures(strategy: str, fingerprints: bool) -> None:
    result = check_model(build(3, 3), strategy=strategy, fingerprints=fingerprints, progress=False)
    assert result.verdict == PASS
    assert (result.stats.distinct_states, result.stats.transitions) == REFERENCE[(3, 3)]
    assert result.stats.queue == 0  # nothing left unexplored


def test_bfs_depth_is_the_eccentricity_of_the_initial_state() -> None:
    # The BFS level of the deepest state, cross-checked with the independent BFS's levels.
    result = check_model(build(2, 2), progress=False)
    assert result.stats.depth == _reference_depth(2, 2)


def _reference_depth(nc: int, nl: int) -> int:
    c = compile_model(build(nc, nl))
    level = {s: 0 for s in c.initial}
    queue = deque(c.initial)
    while queue:
        s = queue.popleft()
        for _, t in c.successors(s):
            if t not in level:
                level[t] = level[s] + 1
                queue.append(t)
    return max(level.values())


@pytest.mark.parametrize("fingerprints", [False, True], ids=["exact", "fingerprints"])
@pytest.mark.parametrize("size", [(2, 2), (3, 3)], ids=["2x2", "3x3"])
def test_bug_mode_gives_exactly_the_6_step_shortest_counterexample(size: tuple[int, int], fingerprints: bool) -> None:
    model = build(*size, bug=True)
    result = check_model(model, fingerprints=fingerprints, progress=False)
    assert result.verdict == FAIL
    assert [v.property for v in result.violations] == ["NoDoubleResidency"]
    violation = result.violations[0]
    assert violation.kind == "invariant"
    assert [step.action for step in violation.trace.steps] == SHORTEST_BUG
    assert violation.trace.final["lr[0]"] == violation.trace.final["lr[1]"] == 0
    assert replay(compile_model(model), violation.trace).reproduces


def test_bug_mode_counts_match_the_independent_bfs_when_not_stopping() -> None:
    # With the bug the invariant fails, but the graph is still well defined: exploring all of it
    # must give the reference BFS's numbers (the violated states are expanded too).
    states, transitions = reference_counts(2, 2, bug=True)
    result = check_model(build(2, 2, bug=True), stop_on_violation=False, progress=False)
    assert result.verdict == FAIL
    assert (result.stats.distinct_states, result.stats.transitions) == (states, transitions)


def test_every_action_fires_in_the_correct_model() -> None:
    result = check_model(build(2, 2), progress=False)
    assert result.stats.never_fired == []
    fired = {name: counts[0] for name, counts in result.stats.coverage.items()}
    assert sum(fired.values()) == result.stats.transitions
    assert set(fired) >= {"Arrive(l=0)", "Map(l=1, c=0)", "Inject(c=1, l=1)", "Eoi(c=0)"}
