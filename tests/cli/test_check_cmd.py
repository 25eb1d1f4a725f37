"""``itsrace check``: exit codes, the per-CPU timeline, JSON, traces, limits, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itsrace.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_pass_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "--scenario", "discard-vs-lpi"], capsys)
    assert code == 0
    assert out.startswith("xen-4.10 on discard-vs-lpi: PASS")


def test_violation_exits_1_with_a_per_cpu_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "--design", "xen-4.10", "--scenario", "spurious-after-remove"], capsys)
    assert code == 1
    assert "violated: use-after-free" in out
    assert "pCPU0 (LPI handler)" in out and "pCPU1 (vCPU0)" in out
    assert "xfree(pend_irqs)" in out  # the free, on pCPU1
    assert "!! check failed: use-after-free" in out
    assert "vgic_vcpu_inject_lpi" in out.splitlines()[-3] or "vgic_vcpu_inject_lpi" in out


def test_json_and_trace_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    code, out, _ = run(["check", "--scenario", "mapti-vs-lpi-same-cpu", "--json", "--trace-out", str(trace)],
                       capsys)
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "fail" and data["violated"] == ["deadlock"]
    assert data["states"] > 0 and data["violations"][0]["steps"] > 0
    saved = json.loads(trace.read_text())
    assert saved["property"] == "deadlock"
    assert saved["params"]["design"] == "xen-4.10"


def test_other_trace_styles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "--scenario", "mapti-vs-lpi-same-cpu", "--trace-style", "compact"], capsys)
    assert code == 1 and "deadlock" in out


def test_limit_makes_it_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", "--scenario", "discard-vs-lpi", "--max-states", "50"], capsys)
    assert code == 3
    assert "INCONCLUSIVE" in out and "state limit" in out


def test_a_design_file(capsys: pytest.CaptureFixture[str]) -> None:
    fault = Path(__file__).parents[1] / "hyp" / "faults" / "lock_order_inverted.py"
    code, out, _ = run(["check", "--scenario", "discard-vs-lpi", "--design", str(fault)], capsys)
    assert code == 1 and "violated: lock-order" in out


@pytest.mark.parametrize("argv, needle", [
    (["check", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["check", "--design", "nope", "--scenario", "discard-vs-lpi"], "unknown design 'nope'"),
    (["check", "--scenario", "discard-vs-lpi", "--mutate", "nope"], "unrecognized arguments: --mutate"),
    (["check", "--scenario", "discard-vs-lpi", "--design", "missing.py"], "missing.py: no such design file"),
    (["check", "--scenario", "discard-vs-lpi", "--max-states", "0"], "--max-states must be at least 1"),
    (["check", "--trace-out", "x.json"], "--trace-out needs --scenario"),
])
def test_bad_input_exits_2_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(argv, capsys)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1


def test_broken_scenario_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "broken.toml"
    f.write_text('name = "b"\n[guest]\nvcpu0 = ["FROB"]\n')
    code, _, err = run(["check", "--scenario", str(f)], capsys)
    assert code == 2
    assert err.strip().splitlines() == ["itsrace: error: broken.toml: [guest] vcpu0[0]: unknown command 'FROB' "
                                        "(known: CLEAR, DISCARD, GICR_CTLR, GITS_CTLR, INT, INV, INVALL, MAPC, MAPD, MAPTI, "
                                        "MOVALL, MOVI, PROP, SYNC)"]


def test_user_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\n[setup]\nsteps = ["MAPD dev=0", "MAPC col=0 vcpu=0", '
                 '"MAPTI dev=0 ev=0 lpi=0 col=0"]\n[guest]\nvcpu0 = ["INT dev=0 ev=0"]\n')
    code, out, _ = run(["check", "--scenario", str(f)], capsys)
    assert code == 0 and "mine: PASS" in out


@pytest.mark.slow
def test_no_arguments_prints_the_verdict_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["scenario", "verdict", "states"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:-1]}
    assert rows["discard-vs-lpi"] == "PASS" and rows["spurious-after-remove"] == "FAIL"
