"""``itsrace matrix``: designs x scenarios, each cell a complete search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itsrace.cli.main import main

SMALL = "discard-vs-lpi,mapti-vs-lpi-same-cpu,unmap-unmapped-collection"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cells_agree_with_check(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["matrix", "--designs", "xen-4.10,mapti-irqsave,kvm-refcount", "--scenarios", SMALL,
                        "--json", "--jobs", "1"], capsys)
    assert code == 1
    cells = {(c["design"], c["scenario"]): c for c in json.loads(out)}
    assert len(cells) == 9
    assert cells["xen-4.10", "mapti-vs-lpi-same-cpu"]["violated"] == ["deadlock"]
    assert cells["mapti-irqsave", "mapti-vs-lpi-same-cpu"]["verdict"] == "pass"
    assert all(c["verdict"] == "pass" for (d, _), c in cells.items() if d == "kvm-refcount")
    code, out, _ = run(["check", "--design", "mapti-irqsave", "--scenario", "unmap-unmapped-collection", "--json"],
                       capsys)
    single = json.loads(out)
    cell = cells["mapti-irqsave", "unmap-unmapped-collection"]
    assert (cell["states"], cell["violated"]) == (single["states"], single["violated"])


def test_the_table_and_parallel_cells(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["matrix", "--designs", "xen-4.10,kvm-refcount", "--scenarios", SMALL, "--jobs", "2"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["design", "S1", "S2", "S3"]
    assert lines[1].split() == ["xen-4.10", "pass", "DEADLOCK", "FREE-REF"]
    assert lines[2].split() == ["kvm-refcount", "pass", "pass", "pass"]
    assert "S2: mapti-vs-lpi-same-cpu" in out and "DEADLOCK = deadlock" in out


def test_every_cell_holds_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["matrix", "--designs", "kvm-refcount", "--scenarios", "discard-vs-lpi", "--jobs", "1"], capsys)
    assert code == 0 and "0 fail" in out


def test_a_limit_makes_a_cell_undecided(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["matrix", "--designs", "kvm-refcount", "--scenarios", "discard-vs-lpi", "--max-states", "50",
                        "--jobs", "1"], capsys)
    assert code == 3 and "limit" in out


def test_a_design_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "copy.py"
    f.write_text("from itsrace.hyp.design import Design\nDESIGN = Design('copy', base='xen-4.10')\n")
    code, out, _ = run(["matrix", "--designs", f"xen-4.10,{f}", "--scenarios", "mapti-vs-lpi-same-cpu",
                        "--json", "--jobs", "2"], capsys)
    cells = json.loads(out)
    assert [c["design"] for c in cells] == ["xen-4.10", "copy"]
    assert cells[0]["states"] == cells[1]["states"] and cells[0]["violated"] == cells[1]["violated"]


@pytest.mark.parametrize("argv, needle", [
    (["matrix", "--designs", "nope"], "unknown design 'nope'"),
    (["matrix", "--scenarios", "nope"], "unknown scenario 'nope'"),
    (["matrix", "--designs", ","], "empty list"),
    (["matrix", "--designs", "xen-4.10,xen-4.10"], "named twice"),
    (["matrix", "--jobs", "0"], "--jobs must be at least 1"),
    (["matrix", "--checkpoint", "x.ckpt"], "use itsrace check --scenario"),
    (["matrix", "--max-states", "0"], "--max-states must be at least 1"),
])
def test_bad_input_is_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == "" and needle in err and len(err.strip().splitlines()) == 1
