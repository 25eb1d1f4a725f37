"""``itsrace replay TRACE.json`` and the model registry it rebuilds models from.

Exit status: 0 reproduces, 1 diverges or does not reproduce, 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from itsrace.cli.main import main
from itsrace.engine import ModelError, Trace
from itsrace.engine.lang.registry import MODELS, get, model_for_trace, parse_value
from itsrace.engine.lang.spec import spec_of


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def bug_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A counterexample saved by ``itsrace bench --bug --trace-out``."""
    path = tmp_path / "bug.json"
    code, _, _ = run(capsys, "bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--bug", "--trace-out", str(path))
    assert code == 1 and path.exists()
    return path


def edit(path: Path, change: Any) -> Path:
    data = json.loads(path.read_text())
    change(data)
    out = path.with_name("edited.json")
    out.write_text(json.dumps(data))
    return out


# -- reproduces -----------------------------------------------------------------------------------
def test_a_saved_counterexample_reproduces(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    code, out, err = run(capsys, "replay", str(bug_trace))
    assert code == 0 and err == ""
    assert out.splitlines()[-1] == "reproduces: invariant 'NoDoubleResidency' is violated"
    assert "6. Inject(c=1, l=0)" in out  # the trace is printed first


def test_quiet_prints_only_the_verdict(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    code, out, _ = run(capsys, "replay", str(bug_trace), "--quiet")
    assert code == 0
    assert out == "reproduces: invariant 'NoDoubleResidency' is violated\n"


def test_trace_style_compact(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    code, out, _ = run(capsys, "replay", str(bug_trace), "--trace-style", "compact")
    assert code == 0
    assert "3. Inject(c=0, l=0) | pend[0]=1->0 lr[0]=2->0 lrst[0]=0->1 | " in out


# -- diverges ----------------------------------------------------------------------------------------
def test_a_tampered_step_diverges_with_exit_1(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    tampered = edit(bug_trace, lambda d: d["steps"][4]["changes"].update({"target[0]": [0, 0]}))
    code, out, _ = run(capsys, "replay", str(tampered), "-q")
    assert code == 1
    assert out.startswith("diverges at step 5: 'Movi(l=0, c=1)' gives target[0]=1 (trace: 0)")


def test_a_disabled_step_diverges(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    tampered = edit(bug_trace, lambda d: d["steps"][0].update({"action": "Ack(c=0)"}))
    code, out, _ = run(capsys, "replay", str(tampered), "-q")
    assert code == 1
    assert out.strip() == "diverges at step 1: 'Ack(c=0)' is not enabled here"


def test_a_trace_that_ends_early_does_not_reproduce(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    tampered = edit(bug_trace, lambda d: d.update({"steps": d["steps"][:5]}))
    code, out, _ = run(capsys, "replay", str(tampered), "-q")
    assert code == 1
    assert out.strip() == "does not reproduce: invariant 'NoDoubleResidency' holds at the end"


def test_replaying_on_the_fixed_variant_shows_where_the_fix_bites(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    code, out, _ = run(capsys, "replay", str(bug_trace), "-q", "--set", "bug=false")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "note: the trace was found in model lpi-toy-2x2-bug; replaying it on lpi-toy-2x2"
    assert lines[1] == "diverges at step 6: 'Inject(c=1, l=0)' is not enabled here"


def test_edited_parameters_in_the_file_are_used(capsys: pytest.CaptureFixture[str], bug_trace: Path) -> None:
    tampered = edit(bug_trace, lambda d: d["params"].update({"vcpus": 3}))
    code, out, _ = run(capsys, "replay", str(tampered), "-q")
    assert code == 1
    assert "diverges at step 0" in out  # a 3-vCPU model has variables the trace does not


# -- bad input -------------------------------------------------------------------------------------
BAD_FILES = {
    "missing": None,
    "not-json": "{oops",
    "not-a-trace": '{"hello": 1}',
    "bad-field": "TAMPER",
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_missing_or_malformed_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bug_trace: Path, case: str
) -> None:
    path = tmp_path / f"{case}.json"
    content = BAD_FILES[case]
    if content == "TAMPER":
        path = edit(bug_trace, lambda d: d["initial"].update({"lr[0]": "two"}))
    elif content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "replay", str(path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("itsrace: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["params"].update({"model": "nope"}), "unknown model 'nope'"),
        (lambda d: d["params"].update({"vcpus": 0}), "--vcpus must be at least 1"),
        (lambda d: d["params"].update({"vcpus": "two"}), "must be an integer"),
        (lambda d: d["params"].update({"colour": 1}), "no parameter(s) colour"),
    ],
    ids=["unknown-model", "out-of-range", "wrong-type", "unknown-param"],
)
def test_bad_model_parameters_are_bad_input(
    capsys: pytest.CaptureFixture[str], bug_trace: Path, change: Any, message: str
) -> None:
    code, _, err = run(capsys, "replay", str(edit(bug_trace, change)))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("item", ["bug", "=1", "bug=maybe"])
def test_bad_set_options_are_bad_input(capsys: pytest.CaptureFixture[str], bug_trace: Path, item: str) -> None:
    code, _, err = run(capsys, "replay", str(bug_trace), "--set", item)
    assert code == 2 and len(err.strip().splitlines()) == 1


# -- the registry ------------------------------------------------------------------------------------
def test_the_registry_rebuilds_a_model_from_trace_params() -> None:
    model = model_for_trace("lpi-toy-2x3-bug", {"model": "lpi-toy", "vcpus": 2, "lpis": 3, "bug": True})
    assert model.name == "lpi-toy-2x3-bug"
    assert model.vars["lr"].shape == (2,) and model.vars["pend"].shape == (3,)


def test_traces_without_a_model_parameter_fall_back_to_the_trace_model_name() -> None:
    assert model_for_trace("lpi-toy", {"vcpus": 2, "lpis": 2}).name == "lpi-toy-2x2"


def test_missing_parameters_take_their_defaults() -> None:
    entry = get("lpi-toy")
    assert entry.resolve({}) == {"vcpus": 3, "lpis": 4, "bug": False}
    assert entry.trace_params({"vcpus": 2}) == {"model": "lpi-toy", "vcpus": 2, "lpis": 4, "bug": False}


def test_parameter_values_are_checked() -> None:
    entry = get("lpi-toy")
    with pytest.raises(ModelError, match="must be true or false"):
        entry.resolve({"bug": 1})
    with pytest.raises(ModelError, match="must be an integer"):
        entry.resolve({"vcpus": True})
    with pytest.raises(ModelError, match="at most"):
        entry.resolve({"lpis": 10_000})
    with pytest.raises(ModelError, match="unknown model"):
        get("nope")


def test_command_line_values() -> None:
    assert parse_value("3") == 3 and parse_value(" -1 ") == -1
    assert parse_value("true") is True and parse_value("OFF") is False
    with pytest.raises(ModelError):
        parse_value("three")


def test_every_registered_model_builds_with_its_smallest_parameters() -> None:
    for entry in MODELS.values():
        assert callable(entry.builder())
        model = entry.build({p.name: p.lo if p.lo is not None else p.default for p in entry.params})
        assert model.actions


def test_registry_models_carry_their_spec() -> None:
    model = get("lpi-toy").build({"vcpus": 2, "lpis": 2})
    spec = spec_of(model)
    assert spec is not None and spec.build().name == model.name == "lpi-toy-2x2"
    assert spec.kwargs == {"vcpus": 2, "lpis": 2, "bug": False}


def test_saved_trace_matches_the_registry_spelling(bug_trace: Path) -> None:
    trace = Trace.load(str(bug_trace))
    assert model_for_trace(trace.model, trace.params).name == trace.model
