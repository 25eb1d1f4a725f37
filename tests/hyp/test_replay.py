"""``itsrace replay`` on hypervisor-model counterexamples saved by ``itsrace check --trace-out``.

The trace records ``{"model": "hyp", "design", "scenario"}``; replay rebuilds the
same model through the registry's ``"hyp"`` entry and re-executes every step. Exit status:
0 reproduces, 1 diverges (or no longer violates), 2 bad input (one line on stderr).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from itsrace.cli.main import main
from itsrace.engine import ModelError, Trace
from itsrace.engine.lang.registry import (
    MODELS,
    TRACE_MODELS,
    Param,
    get,
    get_for_trace,
    model_for_trace,
)

# One vCPU DISCARDs event 0 while its MSI is being injected: passes on Xen 4.10, a NULL
# dereference with the ``no-inject-null-check`` fault (tests/hyp/test_properties_fail.py).
NULL_DEREF_TOML = """
name = "discard-vs-msi"
[topology]
vcpus = 1
vcpu_pcpus = [1]
[setup]
steps = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]
[guest]
vcpu0 = ["DISCARD dev=0 ev=0"]
[devices]
msis = ["dev=0 ev=0"]
[bounds]
exits = 0
"""


def run(*argv: str) -> tuple[int, str, str]:
    """Run the command line in-process; (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def uaf_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """F1 (docs/findings.md): Xen 4.10's use-after-free on ``spurious-after-remove``, saved."""
    path = tmp_path_factory.mktemp("replay") / "uaf.json"
    code, _, _ = run("check", "--design", "xen-4.10", "--scenario", "spurious-after-remove",
                     "--trace-out", str(path))
    assert code == 1 and path.exists()
    return path


def edited(src: Path, tmp_path: Path, change: Any) -> Path:
    data = json.loads(src.read_text())
    change(data)
    out = tmp_path / "edited.json"
    out.write_text(json.dumps(data))
    return out


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# -- reproduces ----------------------------------------------------------------------------------
def test_the_trace_records_how_to_rebuild_the_model(uaf_trace: Path) -> None:
    trace = Trace.load(str(uaf_trace))
    assert trace.params == {"model": "hyp", "design": "xen-4.10", "scenario": "spurious-after-remove.toml"}
    assert model_for_trace(trace.model, trace.params).name == trace.model == "xen-4.10/spurious-after-remove"


def test_a_found_counterexample_reproduces(uaf_trace: Path) -> None:
    code, out, err = run("replay", str(uaf_trace))
    assert (code, err) == (0, "")
    steps = len(Trace.load(str(uaf_trace)).steps)
    assert last_line(out) == f"reproduces: step {steps}: check 'use-after-free' fails"


def test_a_scenario_file_and_a_design_file_are_rebuilt(tmp_path: Path) -> None:
    """A user's TOML scenario and design file both change the model; replay rebuilds both (the
    design file only because the user names it), and the base design shows the violation needs
    the fault."""
    fault = str(Path(__file__).parent / "faults" / "no_inject_null_check.py")
    toml = tmp_path / "discard-vs-msi.toml"
    toml.write_text(NULL_DEREF_TOML)
    path = tmp_path / "nd.json"
    code, _, _ = run("check", "--scenario", str(toml), "--design", fault, "--trace-out", str(path))
    assert code == 1
    params = Trace.load(str(path)).params
    assert params["scenario"] == str(toml) and params["design"] == fault
    code, out, err = run("replay", "-q", str(path))
    assert code == 2 and out == "" and "never run" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run("replay", "-q", str(path), "--set", f"design={fault}")
    assert code == 0 and "check 'null-deref' fails" in out
    code, out, _ = run("replay", "-q", str(path), "--set", "design=xen-4.10")
    assert code == 1 and last_line(out).startswith(("diverges at step", "does not reproduce"))


def test_replaying_on_another_design(uaf_trace: Path, tmp_path: Path) -> None:
    """``--set design=...`` rebuilds with another design: a name, or a design file (which is
    also how a trace found with a design file is replayed: the trace records its name)."""
    code, out, _ = run("replay", "-q", str(uaf_trace), "--set", "design=null-check")
    assert code == 1 and "note: the trace was found in model xen-4.10/" in out
    assert last_line(out).startswith("diverges at step 0:")  # MAPTI's PRISTINE bit is not set
    mine = tmp_path / "mine.py"
    mine.write_text('from itsrace.hyp.design import Design\nDESIGN = Design("xen-copy", base="xen-4.10")\n')
    code, out, _ = run("replay", "-q", str(uaf_trace), "--set", f"design={mine}")
    assert code == 0 and last_line(out).startswith("reproduces:")  # same answers as xen-4.10


# -- diverges --------------------------------------------------------------------------------------
def test_a_tampered_value_diverges_at_its_step(uaf_trace: Path, tmp_path: Path) -> None:
    def tamper(data: dict[str, Any]) -> None:
        step = data["steps"][2]
        label = next(iter(step["changes"]))
        step["changes"][label][1] += 1

    code, out, err = run("replay", "-q", str(edited(uaf_trace, tmp_path, tamper)))
    assert (code, err) == (1, "")
    assert last_line(out).startswith("diverges at step 3:")


def test_a_dropped_step_diverges(uaf_trace: Path, tmp_path: Path) -> None:
    code, out, _ = run("replay", "-q", str(edited(uaf_trace, tmp_path, lambda d: d["steps"].pop(0))))
    assert code == 1 and last_line(out).startswith("diverges at step 1:")


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, needle", [
    ("design", "no-such-design", "unknown design 'no-such-design'"),
    ("scenario", "no-such-scenario", "unknown scenario 'no-such-scenario'"),
    ("scenario", "missing.toml", "missing.toml"),
    ("mutations", [], "has no parameter(s) mutations"),
    ("design", 7, "must be a non-empty string"),
])
def test_unknown_names_are_one_line_errors(uaf_trace: Path, tmp_path: Path, key: str, value: Any,
                                           needle: str) -> None:
    code, out, err = run("replay", str(edited(uaf_trace, tmp_path, lambda d: d["params"].update({key: value}))))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_bad_set_values_are_bad_input(uaf_trace: Path) -> None:
    code, _, err = run("replay", str(uaf_trace), "--set", "design=")
    assert code == 2 and "non-empty string" in err


# -- the registry's string parameters ------------------------------------------------------------
def test_string_parameters() -> None:
    entry = get_for_trace("hyp")
    assert entry.resolve({}) == {"design": "xen-4.10", "scenario": "spurious-after-remove"}
    assert entry.code_files({"design": "x.py", "scenario": "y.toml"}) == {"design": "x.py"}
    p = Param("names", str, [], "", many=True)
    assert p.check(["b", "a", "b"]) == ["a", "b"]
    with pytest.raises(ModelError, match="list of strings"):
        p.check("early-free")
    assert p.parse("x, y,,") == ["x", "y"] and p.parse("") == []
    assert Param("n", int, 0, "", lo=0).parse("3") == 3


def test_the_hypervisor_model_is_not_a_benchmark() -> None:
    """``itsrace bench`` makes an option of every benchmark parameter, as an integer or a flag;
    the hypervisor model's string parameters live in TRACE_MODELS so bench never sees them."""
    assert "hyp" in TRACE_MODELS and "hyp" not in MODELS
    with pytest.raises(ModelError, match="known: lpi-toy\\)"):
        get("hyp")
    assert all(p.kind in (int, bool) for e in MODELS.values() for p in e.params)
