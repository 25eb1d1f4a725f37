"""What terminal users expect: readable trace styles at any width, colour only on a terminal,
no progress when piped, --coverage, --html (and its bad paths), replay in C terms, python -m."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from itsrace.cli.main import main
from itsrace.engine import Trace
from itsrace.engine.explore.report import format_trace
from itsrace.schemas import load as load_schema


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """``itsrace check`` on Xen 4.10's use-after-free, output piped: (trace file, stdout, stderr)."""
    path = tmp_path_factory.mktemp("tr") / "uaf.json"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["check", "--scenario", "spurious-after-remove", "--trace-out", str(path)]) == 1
    return path, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def hyp_trace(checked: tuple[Path, str, str]) -> Path:
    return checked[0]


@pytest.mark.parametrize("style", ["timeline", "steps", "compact"])
@pytest.mark.parametrize("width", [80, 100, 150])
def test_every_engine_trace_style_fits_the_width(style: str, width: int, hyp_trace: Path) -> None:
    text = format_trace(Trace.load(str(hyp_trace)), style, width=width)
    assert max(len(line) for line in text.splitlines()) <= width


def test_replay_takes_the_terminal_width(hyp_trace: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = run(["replay", str(hyp_trace), "--trace-style", "steps"], capsys)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 100


def test_replay_defaults_to_the_per_cpu_view_in_c_terms(hyp_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["replay", str(hyp_trace)], capsys)
    assert code == 0
    flat = re.sub(r"[\s|]+", " ", out)  # the failing step's cell, unwrapped
    assert "pCPU1 (vCPU0)" in out and "vgic-v3-its.c:607" in out and "it was freed at step 25" in flat


@pytest.mark.parametrize("style", ["timeline", "steps", "compact"])
def test_generic_views_of_a_hypervisor_trace_leave_locals_out_of_the_state(
        style: str, hyp_trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["replay", str(hyp_trace), "--trace-style", style], capsys)
    initial = out[out.index("initial:"):].split("\n 1. ")[0].split("\n(model)")[0]
    assert code == 0 and "p_alive=[1]" in initial and "vgic_lock=[0]" in initial
    assert "pc_" not in initial and "gicv3_do_LPI_" not in initial and "vCPU_" not in initial
    assert len(initial.splitlines()) <= 8
    assert re.search(r"(^|\| )23\. ", out, re.M)  # every step is still there


def test_cpu_style_needs_a_hypervisor_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bug.json"
    run(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--bug", "--trace-out", str(path)], capsys)
    code, _, err = run(["replay", str(path), "--trace-style", "cpu"], capsys)
    assert code == 2 and err.count("\n") == 1 and "hypervisor-model trace" in err


def test_piped_output_has_no_colour_and_no_progress(checked: tuple[Path, str, str]) -> None:
    _path, out, err = checked
    assert err == "" and "\x1b[" not in out
    assert out.startswith("xen-4.10 on spurious-after-remove: FAIL") and "vgic-v3-its.c:607" in out


def test_coverage_and_html_of_a_passing_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.html"
    code, out, _ = run(["check", "--scenario", "discard-vs-lpi", "--coverage", "--html", str(path)], capsys)
    assert code == 0
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("coverage: "))
    listed = [line for line in lines[head + 1:] if line.startswith("  ")]
    assert int(lines[head].split()[1]) == len(listed) > 0  # e.g. the error paths of the commands
    assert lines[-1] == f"HTML report: {path}"
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "No counterexample" in text


@pytest.mark.parametrize("argv", [
    ["check", "--scenario", "discard-vs-lpi", "--html", "/nonexistent-dir/r.html"],
    ["check", "--scenario", "discard-vs-lpi", "--html", "/"],
    ["matrix", "--designs", "xen-4.10", "--scenarios", "discard-vs-lpi", "--html", "/nonexistent-dir/r.html"],
    ["check", "--html", "r.html"],
])
def test_bad_html_paths_are_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("itsrace: error: ")


def test_matrix_json_and_html_links_failing_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.html"
    code, out, _ = run(["matrix", "--designs", "xen-4.10,inject-read-locked", "--scenarios", "spurious-after-remove",
                        "--jobs", "1", "--json", "--html", str(path)], capsys)
    assert code == 1
    rows = json.loads(out)
    assert [r["verdict"] for r in rows] == ["fail", "pass"] and all(r["schema_version"] == 1 for r in rows)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(rows, load_schema("matrix"), cls=jsonschema.Draft202012Validator)
    del rows[0]["scenario_arg"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rows, load_schema("matrix"), cls=jsonschema.Draft202012Validator)
    text = path.read_text()
    assert '<a href="#cx-0-0">UAF</a>' in text and 'id="cx-0-0"' in text
    assert text.count('class="counterexample"') == 1  # the passing cell has none


def test_python_dash_m_and_version() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    res = subprocess.run([sys.executable, "-m", "itsrace", "--version"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("itsrace ")


def test_traces_carry_a_schema_version(hyp_trace: Path) -> None:
    saved = json.loads(hyp_trace.read_text())
    assert saved["format"] == "itsrace-trace/1" and saved["schema_version"] == 1


def test_the_progress_line_shows_states_rate_depth_and_elapsed() -> None:
    from itsrace.cli.render import ProgressLine, progress_for
    from itsrace.engine.explore.search import ProgressInfo

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    line = progress_for(True, out)
    assert isinstance(line, ProgressLine)
    line(ProgressInfo(states=1000, queue=5, depth=3, elapsed=2.0, rate=500.0, memory=80 * 2**20))
    assert re.match(r"^\r  states +1,000  depth +3 +500 st/s  elapsed +2 s  mem +80 MiB \x1b\[K$", out.getvalue())
    line(ProgressInfo(states=2000, queue=0, depth=4, elapsed=3.0, rate=666.0, memory=0, final=True))
    assert out.getvalue().endswith("\n")
    # piped, or asked not to: no line at all
    assert progress_for(True, io.StringIO()) is False and progress_for(False, out) is False
