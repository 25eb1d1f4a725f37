"""Checkpoints: an interrupted search resumed from its checkpoint ends exactly like an
uninterrupted one (counts, transitions, coverage, verdict, traces), whatever stopped it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from itsrace.engine import Limits, ModelError, check_model, replay
from itsrace.engine.explore import checkpoint as ck
from itsrace.engine.lang.spec import ModelSpec
from itsrace.engine.scale.parallel import check_parallel
from itsrace.engine.scale.resume import resume

SRC = str(Path(__file__).resolve().parents[2] / "src")


def lpi(vcpus: int, lpis: int, bug: bool = False) -> ModelSpec:
    return ModelSpec("itsrace.models.lpi_toy", "build", {"vcpus": vcpus, "lpis": lpis, "bug": bug})


def summary(r: Any) -> tuple[Any, ...]:
    return (r.verdict, r.stats.distinct_states, r.stats.transitions, r.stats.depth, r.stats.coverage,
            sorted((v.property, len(v.trace)) for v in r.violations))


@pytest.fixture(scope="module")
def ref33() -> Any:
    return check_model(lpi(3, 3).build(), progress=False)


def test_state_limit_then_resume_is_exact_bfs(tmp_path: Path, ref33: Any) -> None:
    path = tmp_path / "run.ckpt"
    first = check_model(lpi(3, 3).build(), progress=False, limits=Limits(max_states=60_000), checkpoint=path)
    assert first.verdict == "inconclusive" and "state limit" in first.reason and str(path) in first.reason
    assert 60_000 <= first.stats.distinct_states < ref33.stats.distinct_states
    # a second interruption, then the rest: three runs in all
    second = check_model(lpi(3, 3).build(), progress=False, limits=Limits(max_states=150_000), resume=path,
                         checkpoint=path)
    assert second.verdict == "inconclusive" and second.stats.distinct_states >= 150_000
    final = check_model(lpi(3, 3).build(), progress=False, resume=path)
    assert summary(final) == summary(ref33)
    assert [f for f in os.listdir(tmp_path) if f != "run.ckpt"] == []  # no temporary files left


@pytest.mark.parametrize("mode", [{"strategy": "dfs"}, {"fingerprints": True}])
def test_state_limit_then_resume_is_exact_other_modes(tmp_path: Path, mode: dict[str, Any]) -> None:
    spec = lpi(2, 3)
    ref = check_model(spec.build(), progress=False, **mode)
    path = tmp_path / "run.ckpt"
    first = check_model(spec.build(), progress=False, limits=Limits(max_states=ref.stats.distinct_states // 3),
                        checkpoint=path, chunk=256, **mode)
    assert first.verdict == "inconclusive"
    final = resume(path, progress=False)  # model rebuilt from the spec in the file
    assert summary(final) == summary(ref)


def test_violations_found_before_the_interruption_are_kept(tmp_path: Path) -> None:
    spec = lpi(2, 3, bug=True)
    ref = check_model(spec.build(), progress=False, stop_on_violation=False)
    path = tmp_path / "bug.ckpt"
    first = check_model(spec.build(), progress=False, stop_on_violation=False,
                        limits=Limits(max_states=ref.stats.distinct_states // 2), checkpoint=path, chunk=256)
    assert first.violated == {"NoDoubleResidency"}  # found at depth 6, long before the limit
    final = check_model(spec.build(), progress=False, stop_on_violation=False, resume=path)
    assert summary(final) == summary(ref)
    assert replay(spec.compile(), final.violations[0].trace).reproduces


def _interrupt_after(c: Any, chunks: int, sig: int) -> Any:
    """Make the search deliver ``sig`` to this process after ``chunks`` calls of expand; return
    the original expand function."""
    inner = c.expand
    calls = [0]

    def expand(*args: Any) -> int:
        calls[0] += 1
        if calls[0] == chunks:
            os.kill(os.getpid(), sig)
        return int(inner(*args))

    c.expand = expand
    return inner


def test_ctrl_c_checkpoints_and_restores_handler(tmp_path: Path, ref33: Any) -> None:
    spec = lpi(3, 3)
    c = spec.compile()
    path = tmp_path / "int.ckpt"
    before = signal.getsignal(signal.SIGINT)
    inner = _interrupt_after(c, 20, signal.SIGINT)
    try:
        first = check_model(c, progress=False, checkpoint=path, chunk=1024)
    finally:
        c.expand = inner
    assert signal.getsignal(signal.SIGINT) is before
    assert first.verdict == "inconclusive" and first.reason.startswith("interrupted")
    final = check_model(c, progress=False, resume=path)
    assert summary(final) == summary(ref33)


def test_sigterm_in_a_subprocess_then_resume(tmp_path: Path, ref33: Any) -> None:
    path = tmp_path / "term.ckpt"
    script = textwrap.dedent(f"""
        import json, os, signal, sys
        from itsrace.engine import check_model
        from itsrace.engine.lang.spec import ModelSpec
        marker = lambda *a: None
        signal.signal(signal.SIGTERM, marker)
        c = ModelSpec("itsrace.models.lpi_toy", "build", {{"vcpus": 3, "lpis": 3}}).compile()
        inner, calls = c.expand, [0]
        def expand(*args):
            calls[0] += 1
            if calls[0] == 30:
                os.kill(os.getpid(), signal.SIGTERM)   # as a job scheduler would
            return inner(*args)
        c.expand = expand
        r = check_model(c, progress=False, checkpoint={str(path)!r}, chunk=1024)
        print(json.dumps({{"verdict": r.verdict, "reason": r.reason, "states": r.stats.distinct_states,
                          "restored": signal.getsignal(signal.SIGTERM) is marker}}))
    """)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["verdict"] == "inconclusive" and info["reason"].startswith("terminated (SIGTERM)")
    assert info["restored"] and 0 < info["states"] < ref33.stats.distinct_states
    final = check_model(lpi(3, 3).build(), progress=False, resume=path)
    assert summary(final) == summary(ref33)


def test_parallel_and_single_checkpoints_are_interchangeable(tmp_path: Path, ref33: Any) -> None:
    spec = lpi(3, 3)
    path = tmp_path / "par.ckpt"
    first = check_parallel(spec, workers=2, progress=False, limits=Limits(max_states=80_000), checkpoint=path)
    assert first.verdict == "inconclusive" and ck.read_header(path).writer == "processes"
    final = check_model(spec.build(), progress=False, resume=path)
    assert summary(final)[:4] == summary(ref33)[:4]
    # and the other way round: a single-process checkpoint taken mid-level, resumed by 2 workers
    path2 = tmp_path / "single.ckpt"
    check_model(spec.build(), progress=False, limits=Limits(max_states=80_000), checkpoint=path2, chunk=512)
    final2 = resume(path2, workers=2, progress=False)  # model rebuilt from the recorded spec
    assert summary(final2)[:4] == summary(ref33)[:4]


def test_parallel_checkpoint_keeps_exact_parents(tmp_path: Path) -> None:
    """Workers keep some parents in their caches; a checkpoint must gather the real ones, or
    the resumed run could not build its trace."""
    spec = lpi(2, 3, bug=True)
    ref = check_model(spec.build(), progress=False, stop_on_violation=False)
    path = tmp_path / "bugpar.ckpt"
    first = check_parallel(spec, workers=2, progress=False, stop_on_violation=False, checkpoint=path,
                           limits=Limits(max_states=ref.stats.distinct_states // 2))
    assert first.verdict == "fail" and "state limit" in first.reason
    final = check_model(spec.build(), progress=False, stop_on_violation=False, resume=path)
    assert summary(final)[:4] == summary(ref)[:4]
    header, st = ck.load(path)
    parents = dict(zip(st.visited, st.parents or [], strict=True))
    c = spec.compile()
    for s, p in list(parents.items())[:: max(1, len(parents) // 500)]:  # every parent is a predecessor
        assert p is None or any(t == s for _, t in c.successors(p))
    assert replay(c, final.violations[0].trace).reproduces


# -- refusing bad checkpoints, with one-line errors ------------------------------------------------
@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ck") / "small.ckpt"
    check_model(lpi(2, 2).build(), progress=False, limits=Limits(max_states=300), checkpoint=path, chunk=64)
    return path


def _one_line(exc: pytest.ExceptionInfo[ModelError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_corrupt_and_truncated_files(tmp_path: Path, small_ckpt: Path) -> None:
    bad = tmp_path / "garbage.ckpt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelError) as e:
        check_model(lpi(2, 2).build(), resume=bad)
    assert "corrupt" in _one_line(e)
    data = small_ckpt.read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ModelError, match="corrupt"):
        check_model(lpi(2, 2).build(), resume=cut)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # a flipped byte inside a member: CRC mismatch
    (tmp_path / "flip.ckpt").write_bytes(bytes(flipped))
    with pytest.raises(ModelError):
        check_model(lpi(2, 2).build(), resume=tmp_path / "flip.ckpt")
    with pytest.raises(ModelError, match="does not exist"):
        check_model(lpi(2, 2).build(), resume=tmp_path / "missing.ckpt")


def test_mismatching_model_or_options(small_ckpt: Path) -> None:
    with pytest.raises(ModelError) as e:
        check_model(lpi(2, 3).build(), resume=small_ckpt)
    assert "differs from model 'lpi-toy-2x3'" in _one_line(e)
    with pytest.raises(ModelError) as e:
        check_model(lpi(2, 2).build(), resume=small_ckpt, fingerprints=True)
    assert "other options" in _one_line(e) and "fingerprints" in str(e.value)
    with pytest.raises(ModelError, match="other options"):
        check_model(lpi(2, 2).build(), resume=small_ckpt, strategy="dfs")


def test_format_version_is_checked(tmp_path: Path, small_ckpt: Path) -> None:
    header, st = ck.load(small_ckpt)
    header.version = ck.VERSION + 1
    newer = tmp_path / "newer.ckpt"
    ck.save(newer, header, st)
    with pytest.raises(ModelError) as e:
        check_model(lpi(2, 2).build(), resume=newer)
    assert "format version" in _one_line(e)


def test_round_trip_of_wide_states(tmp_path: Path) -> None:
    states = [0, 1, (1 << 70) + 5, (1 << 130) - 1]
    arr = ck.ints_to_array(states, 130)
    assert arr.dtype == np.uint8 and ck.array_to_ints(arr) == states
    parents = [None, 0, 1, (1 << 70) + 5]
    header = ck.Header("m", "d", 130, None, ck.options_key("bfs", False, True, False))
    st = ck.SearchState("bfs", False, 2, frontier=states[2:], next=[states[1]], visited=states, parents=parents,
                        transitions=9, fired=[1, 2], gained=[3, 4], found=[("P", "invariant", states[3], -1)])
    ck.save(tmp_path / "w.ckpt", header, st)
    h2, st2 = ck.load(tmp_path / "w.ckpt")
    assert (h2.bits, st2.visited, st2.parents, st2.frontier, st2.next, st2.found) == (
        130, states, parents, states[2:], [states[1]], st.found)


# -- a checkpoint is data: it never runs a Python file by itself -------------------------------------
def test_resume_runs_a_model_file_only_when_allowed(tmp_path: Path) -> None:
    model_file = tmp_path / "mymodel.py"
    model_file.write_text("from itsrace.models.lpi_toy import build as lpi\n\n\ndef build():\n"
                          "    return lpi(vcpus=2, lpis=2)\n")
    spec = ModelSpec(str(model_file), "build", {})
    path = tmp_path / "m.ckpt"
    first = check_model(spec.build(), progress=False, limits=Limits(max_states=300), checkpoint=path, chunk=64)
    assert first.verdict == "inconclusive"
    with pytest.raises(ModelError) as info:
        resume(path, progress=False)
    assert "mymodel.py" in _one_line(info) and "allow_code" in str(info.value)
    final = resume(path, progress=False, allow_code=[str(model_file)])
    assert summary(final) == summary(check_model(lpi(2, 2).build(), progress=False))


def test_resume_refuses_a_design_file_named_in_the_spec(tmp_path: Path) -> None:
    from itsrace.engine.explore import checkpoint as ckpt
    from itsrace.engine.lang.registry import code_files_of_spec

    spec = ModelSpec("itsrace.catalog", "build_from_names", {"design": "evil.py", "scenario": "discard-vs-lpi"})
    assert code_files_of_spec(spec) == ["evil.py"]
    path = tmp_path / "h.ckpt"
    check_model(lpi(2, 2).build(), progress=False, limits=Limits(max_states=300), checkpoint=path, chunk=64)
    header, state = ckpt.load(path, raw=True)
    header.spec = spec.to_dict()
    ckpt.save(path, header, state)
    with pytest.raises(ModelError, match="would run the Python file 'evil.py'"):
        resume(path, progress=False)
