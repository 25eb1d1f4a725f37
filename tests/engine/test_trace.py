"""Traces: their content, the JSON round trip, and ``replay`` (reproduction and divergence)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from itsrace.engine import (
    Model,
    ModelError,
    Trace,
    TraceStep,
    check,
    check_model,
    compile_model,
    replay,
    require,
)
from itsrace.engine.lang.compile import Compiled
from itsrace.models.lpi_toy import build as lpi_toy

LPI_FILE = str(Path(lpi_toy.__code__.co_filename))


@pytest.fixture(scope="module")
def bug() -> tuple[Compiled, Trace]:
    """The lpi-toy 2x2 bug: compiled model and its 6-step counterexample."""
    model = lpi_toy(2, 2, bug=True)
    result = check_model(model, progress=False)
    return compile_model(model), result.violations[0].trace


def fresh(trace: Trace) -> Trace:
    return copy.deepcopy(trace)


# -- content -------------------------------------------------------------------------------------------
def test_a_step_records_action_location_reads_and_changes(bug: tuple[Compiled, Trace]) -> None:
    _, trace = bug
    assert (trace.model, trace.property, trace.kind) == ("lpi-toy-2x2-bug", "NoDoubleResidency", "invariant")
    inject = trace.steps[2]
    assert inject.action == inject.label == "Inject(c=0, l=0)"
    assert inject.process is None  # level 1: actions belong to no process
    file, _, line = inject.where.rpartition(":")
    assert file == LPI_FILE and int(line) > 0
    source_line = Path(file).read_text().splitlines()[int(line) - 1]
    assert "require(" in source_line  # the action's first statement: its guard
    assert inject.reads == {"pend[0]": 1, "target[0]": 0, "lr[0]": 2, "running[0]": 0}
    assert inject.changes == {"pend[0]": [1, 0], "lr[0]": [2, 0], "lrst[0]": [0, 1]}


def test_initial_and_final_states_are_complete(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    labels = [sl.label for sl in c.layout.slots]
    assert list(trace.initial) == labels and list(trace.final) == labels
    assert trace.initial["target[0]"] == 2  # UNMAPPED
    assert (trace.final["lr[0]"], trace.final["lr[1]"]) == (0, 0)  # the double residency


def test_applying_the_changes_to_the_initial_state_gives_the_final_state(bug: tuple[Compiled, Trace]) -> None:
    _, trace = bug
    state = dict(trace.initial)
    for step in trace.steps:
        for label, (old, new) in step.changes.items():
            assert state[label] == old
            state[label] = new
    assert state == trace.final


# -- JSON ---------------------------------------------------------------------------------------------
def test_json_round_trip(bug: tuple[Compiled, Trace], tmp_path: Path) -> None:
    _, trace = bug
    trace = fresh(trace)
    trace.params = {"model": "lpi-toy", "vcpus": 2, "lpis": 2, "bug": True}
    assert Trace.from_json(trace.to_json()) == trace
    path = tmp_path / "bug.json"
    trace.save(str(path))
    loaded = Trace.load(str(path))
    assert loaded == trace and loaded.params["bug"] is True
    data = json.loads(path.read_text())
    assert data["format"] == "itsrace-trace/1"
    assert [s["action"] for s in data["steps"]][-1] == "Inject(c=1, l=0)"


def test_json_round_trip_of_an_assertion_trace() -> None:
    m = Model("probe")
    m.var("x", range(3))

    @m.action
    def Inc(s):
        require(s.x < 2)
        s.x = s.x + 1

    @m.action
    def Probe(s):
        check(s.x != 2, "NotTwo")

    m.check_deadlock = False
    trace = check_model(m, progress=False).violations[0].trace
    again = Trace.from_json(trace.to_json())
    assert again == trace
    assert again.steps[-1].note == "check failed: NotTwo"
    assert replay(compile_model(m), again).reproduces


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not an itsrace trace"),
        ('{"format": "other/1"}', "not an itsrace trace"),
        ('{"format": "itsrace-trace/1", "model": "m"}', "missing or has a malformed field"),
    ],
)
def test_malformed_json_is_a_model_error(text: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        Trace.from_json(text)


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["initial"].update({"lr[0]": "two"}),
        lambda d: d["steps"][0].update({"changes": {"target[0]": [2]}}),
        lambda d: d["steps"][0].update({"action": 7}),
        lambda d: d["steps"][0].update({"surprise": 1}),
        lambda d: d.update({"params": [1, 2]}),
        lambda d: d.update({"kind": None}),
    ],
    ids=["initial-value", "change-pair", "action-type", "extra-field", "params-type", "kind-type"],
)
def test_fields_of_the_wrong_type_are_rejected(bug: tuple[Compiled, Trace], damage: object) -> None:
    _, trace = bug
    data = json.loads(trace.to_json())
    damage(data)  # type: ignore[operator]
    with pytest.raises(ModelError, match="malformed"):
        Trace.from_json(json.dumps(data))


def test_loading_a_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read trace"):
        Trace.load(str(tmp_path / "nope.json"))


# -- replay -----------------------------------------------------------------------------------------
def test_replay_reproduces_a_found_trace(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    result = replay(c, trace)
    assert result.reproduces and result.diverged_at is None
    assert "NoDoubleResidency" in result.message


def test_replay_reproduces_after_a_json_round_trip(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    assert replay(c, Trace.from_json(trace.to_json())).reproduces


def test_replay_reports_a_changed_value(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    tampered = fresh(trace)
    tampered.steps[2].changes["lr[0]"] = [2, 1]  # Inject(c=0, l=0) puts LPI 0, not 1, in the LR
    result = replay(c, tampered)
    assert not result.reproduces
    assert result.diverged_at == 3
    assert "lr[0]=0 (trace: 1)" in result.message


def test_replay_reports_a_changed_old_value(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    tampered = fresh(trace)
    tampered.steps[4].changes["target[0]"] = [1, 1]  # before Movi, target[0] is 0
    result = replay(c, tampered)
    assert (result.reproduces, result.diverged_at) == (False, 5)
    assert "target[0]" in result.message


def test_replay_reports_a_missing_change(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    tampered = fresh(trace)
    del tampered.steps[1].changes["pend[0]"]
    result = replay(c, tampered)
    assert (result.reproduces, result.diverged_at) == (False, 2)


def test_replay_reports_an_unknown_action(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    tampered = fresh(trace)
    tampered.steps[3].action = "Teleport(l=0)"
    result = replay(c, tampered)
    assert (result.reproduces, result.diverged_at) == (False, 4)
    assert "no action 'Teleport(l=0)'" in result.message


def test_replay_reports_a_disabled_action(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    tampered = fresh(trace)
    tampered.steps[1].action = "Eoi(c=0)"  # vCPU 0 is not running, nothing to EOI
    result = replay(c, tampered)
    assert (result.reproduces, result.diverged_at) == (False, 2)
    assert "not enabled" in result.message


def test_replay_reports_a_trace_that_no_longer_violates(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    shortened = fresh(trace)
    shortened.steps = shortened.steps[:5]
    result = replay(c, shortened)
    assert not result.reproduces and result.diverged_at is None
    assert "holds at the end" in result.message


def test_replay_against_the_fixed_model_diverges_where_the_fix_bites(bug: tuple[Compiled, Trace]) -> None:
    _, trace = bug
    result = replay(compile_model(lpi_toy(2, 2)), trace)
    assert (result.reproduces, result.diverged_at) == (False, 6)  # the second Inject is now refused


def test_replay_refuses_a_trace_that_does_not_start_in_an_initial_state(bug: tuple[Compiled, Trace]) -> None:
    c, trace = bug
    tampered = fresh(trace)
    tampered.initial["lr[1]"] = 0  # as if LPI 0 were already in vCPU 1's LR
    result = replay(c, tampered)
    assert (result.reproduces, result.diverged_at) == (False, 0)
    assert "initial state" in result.message


@pytest.mark.parametrize("change", ["unknown", "missing", "domain"])
def test_replay_refuses_an_initial_state_of_another_shape(bug: tuple[Compiled, Trace], change: str) -> None:
    c, trace = bug
    tampered = fresh(trace)
    if change == "unknown":
        tampered.initial["lr[7]"] = 0
    elif change == "missing":
        del tampered.initial["running[1]"]
    else:
        tampered.initial["lrst[0]"] = 9
    result = replay(c, tampered)
    assert (result.reproduces, result.diverged_at) == (False, 0)


def test_replay_of_deadlock_and_final_traces() -> None:
    m = Model("stops")
    m.var("x", range(3))
    m.var("stopped", bool)

    @m.action
    def Inc(s):
        require(s.x < 2 and not s.stopped)
        s.x = s.x + 1

    @m.action
    def Stop(s):
        require(not s.stopped)
        s.stopped = 1

    @m.final
    def Counted(s):
        return s.x == 2

    result = check_model(m, stop_on_violation=False, progress=False)
    c = compile_model(m)
    traces = {v.kind: v.trace for v in result.violations}
    assert set(traces) == {"deadlock", "final"}
    for trace in traces.values():
        assert replay(c, trace).reproduces, trace.kind
    # Extending the deadlock trace past its end (a step that is not enabled) diverges there.
    longer = fresh(traces["deadlock"])
    longer.steps.append(TraceStep("Inc", None, "Inc", "", {}, {"x": [0, 1]}))
    assert replay(c, longer).diverged_at == len(longer.steps)


def test_fingerprint_traces_equal_exact_traces(bug: tuple[Compiled, Trace]) -> None:
    # Fingerprint mode keeps no parents and rebuilds the trace by a second search.
    _, trace = bug
    again = check_model(lpi_toy(2, 2, bug=True), fingerprints=True, progress=False).violations[0].trace
    assert again == trace
