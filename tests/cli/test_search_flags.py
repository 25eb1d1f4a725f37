"""The search flags shared by ``itsrace bench`` and ``itsrace check`` (``cli/searchopts.py``):
each reaches the engine function it names, gives the same verdict as the plain search, and a
combination the engine cannot do is refused with one line and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itsrace.cli.main import main

TOY = ["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json"]


def bench(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, object]]:
    code = main([*TOY, *extra])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def test_symmetry_exact_gives_the_reference_orbit_count(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "lpi-toy", "--vcpus", "3", "--lpis", "3", "--symmetry", "exact", "--json"])
    rec = json.loads(capsys.readouterr().out)
    assert code == 0 and rec["verdict"] == "pass"
    assert rec["distinct_states"] == 8066  # shared/bench/lpi-toy.md: orbits of 3x3


@pytest.mark.parametrize("flags", [["--por"], ["--symmetry", "fast"], ["--symmetry", "exact", "--por"]])
def test_reductions_keep_the_verdicts(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    code, rec = bench(capsys, *flags)
    assert code == 0 and rec["verdict"] == "pass"
    assert 0 < int(rec["distinct_states"]) <= 1252  # type: ignore[call-overload]
    code, rec = bench(capsys, "--bug", *flags)
    assert code == 1 and rec["verdict"] == "fail"
    assert [v["property"] for v in rec["violations"]] == ["NoDoubleResidency"]  # type: ignore[attr-defined]


def test_sleep_sets_visit_every_state_with_fewer_transitions(capsys: pytest.CaptureFixture[str]) -> None:
    _, plain = bench(capsys)
    code, rec = bench(capsys, "--sleep")
    assert code == 0 and rec["verdict"] == "pass"
    assert rec["distinct_states"] == plain["distinct_states"] == 1252
    assert int(rec["transitions"]) < int(plain["transitions"])  # type: ignore[call-overload]
    code, rec = bench(capsys, "--bug", "--sleep")
    assert code == 1 and [v["property"] for v in rec["violations"]] == ["NoDoubleResidency"]  # type: ignore[attr-defined]


def test_workers_give_the_same_counts(capsys: pytest.CaptureFixture[str]) -> None:
    _, one = bench(capsys)
    code, two = bench(capsys, "--workers", "2")
    assert code == 0
    assert (two["distinct_states"], two["transitions"]) == (one["distinct_states"], one["transitions"]) == (1252, 7280)


def test_swarm_finds_the_bug_and_never_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, rec = bench(capsys, "--bug", "--swarm", "3")
    assert code == 1 and rec["verdict"] == "fail"
    code, rec = bench(capsys, "--swarm", "1")
    assert code == 3 and rec["verdict"] == "inconclusive"


def test_checkpoint_then_resume_gives_the_uninterrupted_counts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ckpt = str(tmp_path / "run.ckpt")
    args = ["bench", "lpi-toy", "--vcpus", "3", "--lpis", "3", "--json"]
    code = main([*args, "--max-states", "50000", "--checkpoint", ckpt])
    first = json.loads(capsys.readouterr().out)
    assert code == 3 and first["verdict"] == "inconclusive"
    code = main([*args, "--resume", ckpt])
    resumed = json.loads(capsys.readouterr().out)
    assert code == 0 and resumed["verdict"] == "pass"
    assert (resumed["distinct_states"], resumed["transitions"]) == (273176, 3200316)


@pytest.mark.parametrize("flags", [
    ["--workers", "2", "--por"],
    ["--workers", "2", "--fingerprints"],
    ["--dfs", "--fingerprints"],
    ["--swarm", "2", "--symmetry", "fast"],
    ["--backend", "ray"],
    ["--ray-address", "auto"],
    ["--workers", "0"],
    ["--swarm", "0"],
    ["--por", "--dfs"],
    ["--symmetry", "lots"],
    ["--sleep", "--por"],
    ["--sleep", "--symmetry", "fast"],
    ["--sleep", "--workers", "2"],
])
def test_impossible_combinations_are_one_line_errors(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        code = main([*TOY, *flags])
        raise SystemExit(code)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err


def test_check_accepts_the_same_flags(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["check", "--scenario", "spurious-after-remove", "--json"]
    code = main(base)
    plain = json.loads(capsys.readouterr().out)
    for flags in (["--por"], ["--sleep"], ["--fingerprints"], ["--workers", "2"]):
        code = main([*base, *flags])
        rec = json.loads(capsys.readouterr().out)
        assert code == 1
        assert rec["verdict"] == plain["verdict"] == "fail"
        assert rec["violated"] == plain["violated"]
