"""``itsrace bench``: the table, JSON, files, exit codes and one-line errors.

Always with explicit small sizes: the defaults (3x4) are for measuring, not for tests. Timings
are printed, never asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itsrace.cli.main import main
from itsrace.engine import Trace

SMALL = ["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse errors exit directly
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def table(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines()[1:]:
        if not line.startswith("  "):
            break
        name, value = line.strip().split("  ", 1)
        rows[name] = value.strip()
    return rows


def test_the_table_shows_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *SMALL)
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "lpi-toy vcpus=2 lpis=2 bug=False (bfs, exact visited set)"
    rows = table(out)
    assert list(rows) == ["verdict", "distinct states", "transitions", "depth", "seconds", "states/s",
                          "peak memory", "bytes/state", "engine"]
    assert rows["verdict"] == "pass"
    assert rows["distinct states"] == "1,252"
    assert rows["depth"] == "16"
    assert rows["peak memory"].endswith("MiB")
    # aligned: every value starts in the same column
    starts = {line.index(value) for line, value in zip(out.splitlines()[1:10], rows.values(), strict=True)}
    assert len(starts) == 1


def test_dfs_reports_its_discovery_depth(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--dfs")
    assert code == 0
    assert "(dfs, exact visited set)" in out.splitlines()[0]
    rows = table(out)
    # DFS discovery paths are at least as long as the BFS depth (16 for 2x2)
    assert int(rows["depth"].replace(",", "")) >= 16
    assert rows["distinct states"] == "1,252"


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--json", "--fingerprints")
    assert code == 0
    rec = json.loads(out)
    for key in ("distinct_states", "transitions", "seconds", "peak_rss_bytes", "verdict",
                "states_per_second", "bytes_per_state", "model", "options", "params", "depth"):
        assert key in rec, key
    assert rec["model"] == "lpi-toy" and rec["model_name"] == "lpi-toy-2x2"
    assert rec["params"] == {"vcpus": 2, "lpis": 2, "bug": False}
    assert rec["options"]["fingerprints"] is True and rec["options"]["strategy"] == "bfs"
    assert (rec["verdict"], rec["distinct_states"]) == ("pass", 1_252)
    assert rec["collision_probability"] == 0.0 and rec["violations"] == []


def test_dfs_explores_the_same_graph(capsys: pytest.CaptureFixture[str]) -> None:
    _, bfs, _ = run(capsys, *SMALL, "--json")
    code, dfs, _ = run(capsys, *SMALL, "--json", "--dfs")
    assert code == 0
    a, b = json.loads(bfs), json.loads(dfs)
    assert b["options"]["strategy"] == "dfs"
    assert (a["distinct_states"], a["transitions"]) == (b["distinct_states"], b["transitions"])


def test_out_writes_the_json_record(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    code, out, _ = run(capsys, *SMALL, "--out", str(path))
    assert code == 0
    assert "distinct states" in out  # the table still goes to stdout
    rec = json.loads(path.read_text())
    assert rec["distinct_states"] == 1_252 and rec["verdict"] == "pass"


def test_bug_mode_prints_the_counterexample_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--bug")
    assert code == 1
    assert table(out)["verdict"] == "fail"
    assert "VIOLATION NoDoubleResidency" in out
    for n, action in enumerate(["Map(l=0, c=0)", "Arrive(l=0)", "Inject(c=0, l=0)", "Arrive(l=0)",
                                "Movi(l=0, c=1)", "Inject(c=1, l=0)"], start=1):
        assert f"{n}. {action}" in out
    assert "lpi_toy.py:" in out and "lr[1]=2->0" in out


def test_bug_mode_compact_style(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--bug", "--trace-style", "compact")
    assert code == 1
    assert "6. Inject(c=1, l=0) | " in out


def test_trace_out_saves_a_replayable_trace_with_its_parameters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bug.json"
    code, out, _ = run(capsys, *SMALL, "--bug", "--trace-out", str(path))
    assert code == 1 and f"trace saved to {path}" in out
    trace = Trace.load(str(path))
    assert trace.params == {"model": "lpi-toy", "vcpus": 2, "lpis": 2, "bug": True}
    assert trace.model == "lpi-toy-2x2-bug" and len(trace.steps) == 6


def test_trace_out_without_a_violation_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    code, out, _ = run(capsys, *SMALL, "--trace-out", str(path))
    assert code == 0 and "no counterexample" in out
    assert not path.exists()


def test_json_bug_mode_lists_the_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--bug", "--json")
    assert code == 1
    rec = json.loads(out)  # stdout is pure JSON, no trace text
    assert rec["verdict"] == "fail"
    assert rec["violations"][0]["property"] == "NoDoubleResidency"
    assert len(rec["violations"][0]["steps"]) == 6


def test_a_limit_gives_exit_3_and_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *SMALL, "--max-states", "100", "--json")
    rec = json.loads(out)
    assert code == 3
    assert rec["verdict"] == "inconclusive" and "state limit" in rec["reason"]
    assert 0 < rec["distinct_states"] < 1_252


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--vcpus", "0"], "--vcpus must be at least 1"),
        (["--lpis", "-3"], "--lpis must be at least 1"),
        (["--vcpus", "many"], "invalid int value"),
        (["--dfs", "--fingerprints"], "cannot be combined"),
        (["--max-states", "0"], "--max-states"),
        (["--max-seconds", "-1"], "--max-seconds"),
        (["--frobnicate"], "unrecognized arguments"),
        (["--trace-style", "fancy"], "invalid choice"),
        (["--out", "/nonexistent-dir/x.json"], "cannot write"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], extra: list[str], message: str) -> None:
    code, out, err = run(capsys, *SMALL, *extra)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


def test_an_unknown_model_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "bench", "no-such-model")
    assert code == 2
    assert err.strip() == "itsrace: error: unknown model 'no-such-model' (known: lpi-toy)"


def test_help_lists_the_models_and_their_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "--help")
    assert code == 0
    assert "lpi-toy" in out and "--vcpus" in out and "--lpis" in out and "--bug" in out
