"""The compiled (C) backend gives the Python backend's results: distinct states, transitions,
depth, verdict, violated properties, shortest counterexample lengths; its traces replay on the
Python model. Compared on every shipped model, random models, lpi-toy and hypervisor scenarios.

Each comparison compiles a model with the C compiler (cached by source hash), so the default
suite keeps to small models; ``--runslow`` adds every hypervisor scenario and design."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from test_reductions_soundness import SHIPPED, describe, random_models

from itsrace.engine import (
    Limits,
    Model,
    ModelError,
    Result,
    check_model,
    compile_model,
    replay,
    require,
)
from itsrace.engine.native.build import find_compiler
from itsrace.engine.native.codegen import generate
from itsrace.engine.native.runner import NativeFallback, check, check_native
from itsrace.models import lpi_toy

pytestmark = pytest.mark.skipif(find_compiler() is None, reason="no C compiler")


def summary(r: Result) -> tuple[Any, ...]:
    return (r.verdict, r.violated, r.stats.distinct_states, r.stats.transitions, r.stats.depth,
            sorted((v.property, v.kind, len(v.trace)) for v in r.violations), r.reason)


def assert_same(model: Model, **options: Any) -> Result:
    """C and Python agree on ``model`` with ``options``; C's traces replay on the Python model."""
    c = compile_model(model)
    py = check_model(c, **options)
    nat = check_native(c, **options)
    assert nat.stats.engine == "c" and py.stats.engine == "python"
    assert summary(nat) == summary(py), f"{model.name} {options}"
    assert nat.stats.coverage == py.stats.coverage or not py.stats.coverage
    for v in nat.violations:
        rr = replay(c, v.trace)
        assert rr.reproduces, f"{model.name}: C trace for {v.property} does not replay: {rr.message}"
    return nat


@pytest.mark.parametrize("name,build", SHIPPED, ids=[n for n, _ in SHIPPED])
@pytest.mark.parametrize("stop", [True, False], ids=["stop", "all"])
def test_shipped_models(name: str, build: Any, stop: bool) -> None:
    assert_same(build(), stop_on_violation=stop)


@pytest.mark.parametrize("bug", [False, True], ids=["ok", "bug"])
def test_lpi_toy_3x3(bug: bool) -> None:
    m = lpi_toy.build(3, 3, bug=bug)
    r = assert_same(m)
    assert r.stats.distinct_states == (273_176 if not bug else r.stats.distinct_states)
    if bug:
        assert [len(v.trace) for v in r.violations] == [6]
    fp = check_native(m, fingerprints=True, stop_on_violation=False)
    exact = check_model(m, stop_on_violation=False)
    assert summary(fp)[:5] == summary(exact)[:5]
    assert [len(v.trace) for v in fp.violations] == [len(v.trace) for v in exact.violations]


@pytest.mark.parametrize("fingerprints", [False, True], ids=["exact", "fp"])
def test_workers_find_the_same_states(fingerprints: bool) -> None:
    m = lpi_toy.build(3, 3)
    one = check_model(m)
    two = check_native(m, workers=2, fingerprints=fingerprints)
    assert summary(two) == summary(one)
    bug = lpi_toy.build(3, 3, bug=True)
    r = check_native(bug, workers=2, fingerprints=fingerprints, stop_on_violation=False)
    assert r.violated == {"NoDoubleResidency"} and [len(v.trace) for v in r.violations] == [6]
    assert replay(compile_model(bug), r.violations[0].trace).reproduces


def test_limits_stop_where_python_stops() -> None:
    m = lpi_toy.build(3, 3)
    for limits in (Limits(max_states=10_000), Limits(max_depth=7), Limits(max_depth=0)):
        r = assert_same(m, limits=limits)
        assert r.verdict == "inconclusive"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_random_models(model: Model) -> None:
    note(describe(model))
    assert_same(model, stop_on_violation=False)
    assert_same(model, stop_on_violation=True)


HYP_DEFAULT = [("xen-4.10", "spurious-after-remove"), ("kvm-refcount", "sync-vs-inject"),
               ("xen-4.10", "nested-lpi-vs-discard")]  # nested handlers and the queued rwlock in C


def hyp_cases() -> list[tuple[str, str]]:
    from itsrace.hyp.scenario import scenario_names

    return [(d, s) for d in ("xen-4.10", "null-check", "unmapped-tag", "kvm-refcount")
            for s in scenario_names() if s not in ("guest", "guest-wide", "guest-2vcpu")]


@pytest.mark.parametrize("design,scenario", HYP_DEFAULT)
def test_hypervisor_scenarios(design: str, scenario: str) -> None:
    from itsrace.catalog import build_from_names

    m = build_from_names(design, scenario)
    exact = assert_same(m, stop_on_violation=False)
    fp = check_native(m, fingerprints=True, stop_on_violation=False)  # states over 64 bits: hashed keys
    assert summary(fp)[:5] == summary(exact)[:5]


@pytest.mark.parametrize("bits", [20, 40, 70], ids=["narrow", "64-bit keys", "hashed"])
def test_fingerprint_key_widths(bits: int) -> None:
    ybits = min(bits - 3, 60)
    m = Model(f"width-{bits}")
    m.var("x", range(8))
    m.var("y", range(2**ybits))
    if bits - 3 > ybits:
        m.var("z", range(2 ** (bits - 3 - ybits)))

    @m.action
    def Step(s):  # type: ignore[no-untyped-def]
        require(s.x < 7)
        s.x = s.x + 1

    @m.action
    def Reset(s):  # type: ignore[no-untyped-def]
        require(s.x == 7)
        s.x = 0
        s.y = (s.y + 2 ** (ybits - 2)) % 2**ybits  # the top bits of y: 4 values
        if bits - 3 > ybits:
            s.z = (s.z + 1) % 2

    py = check_model(m)
    fp = check_native(m, fingerprints=True)
    assert compile_model(m).layout.bits == bits
    assert summary(fp)[:5] == summary(py)[:5] and py.stats.distinct_states >= 32


@pytest.mark.slow
@pytest.mark.parametrize("design,scenario", hyp_cases())
def test_every_hypervisor_scenario(design: str, scenario: str) -> None:
    from itsrace.catalog import build_from_names

    m = build_from_names(design, scenario)
    assert_same(m, stop_on_violation=False)
    assert_same(m, stop_on_violation=True)


@pytest.mark.slow
def test_guest_scenario() -> None:
    from itsrace.catalog import build_from_names

    m = build_from_names("xen-4.10", "guest")
    r = assert_same(m, stop_on_violation=False)
    two = check_native(m, stop_on_violation=False, workers=2)
    assert summary(two) == summary(r)


# -- checkpoints ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bug", [False, True], ids=["ok", "bug"])
def test_checkpoint_and_resume_give_the_uninterrupted_counts(tmp_path: Path, bug: bool) -> None:
    m = lpi_toy.build(3, 3, bug=bug)
    ck = str(tmp_path / "run.ckpt")
    full = check_native(m, stop_on_violation=False)
    part = check_native(m, limits=Limits(max_states=3_000 if bug else 50_000), checkpoint=ck, stop_on_violation=False)
    assert part.verdict == "inconclusive" and "checkpoint saved" in part.reason
    again = check_native(m, resume=ck, checkpoint=ck, checkpoint_every=0.001, stop_on_violation=False)
    assert summary(again)[:6] == summary(full)[:6]
    assert again.stats.coverage == full.stats.coverage
    for v in again.violations:
        assert replay(compile_model(m), v.trace).reproduces


def test_checkpoints_are_interchangeable_with_python(tmp_path: Path) -> None:
    m = lpi_toy.build(3, 3)
    ck = str(tmp_path / "run.ckpt")
    full = check_model(m)
    check_native(m, limits=Limits(max_states=40_000), checkpoint=ck)
    assert summary(check_model(m, resume=ck))[:5] == summary(full)[:5]
    check_model(m, limits=Limits(max_states=40_000), checkpoint=ck)
    assert summary(check_native(m, resume=ck))[:5] == summary(full)[:5]


def test_auto_runs_small_searches_in_python_and_big_ones_in_c(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("ITSRACE_CACHE_DIR", str(tmp_path))
    small = check(lpi_toy.build(2, 2), engine="auto")
    assert small.stats.engine == "python" and not list(tmp_path.glob("*.so"))
    monkeypatch.setattr("itsrace.engine.native.runner.TRIAL_SECONDS", 0.0)
    big = check(lpi_toy.build(3, 3), engine="auto")
    assert big.stats.engine == "c" and big.stats.distinct_states == 273_176


def test_auto_trial_that_found_a_violation_in_time_still_searches_to_the_end(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The Python trial of engine=auto can find a violation and then hit its time limit: that
    partial search is not the answer when the caller wants every violated property."""
    import itsrace.engine.native.runner as runner

    monkeypatch.setenv("ITSRACE_CACHE_DIR", str(tmp_path))
    real = runner.check_python
    trials: list[Any] = []

    def trial_stops_early(c: Any, **kw: Any) -> Any:
        if not trials:  # the trial: stop it after a violation as its clock would
            kw["limits"] = Limits(max_states=8_000)
            r = real(c, **kw)
            r.reason = "time limit 0.5 s reached"
            trials.append(r)
            return r
        return real(c, **kw)

    monkeypatch.setattr(runner, "check_python", trial_stops_early)
    m = lpi_toy.build(2, 3, bug=True)
    full = check_model(m, stop_on_violation=False, progress=False)
    auto = check(m, engine="auto", stop_on_violation=False, progress=False)
    assert trials and trials[0].violations, "the simulated trial must already have found a violation"
    assert auto.reason == "" and auto.stats.distinct_states == full.stats.distinct_states
    assert auto.stats.transitions == full.stats.transitions
    assert auto.verdict == full.verdict and auto.violated == full.violated


# -- what C refuses, and how it falls back ---------------------------------------------------------
def pair(x: int) -> tuple[int, int]:
    return (x, x + 1)


def tuple_temp_model() -> Model:
    m = Model("tuple-temp")
    m.var("x", range(4))

    @m.action
    def Step(s):  # type: ignore[no-untyped-def]
        require(s.x < 2)
        t = pair(s.x)
        s.x = t[1]

    return m


def test_untranslatable_model_falls_back_with_a_notice(capsys: pytest.CaptureFixture[str]) -> None:
    m = tuple_temp_model()
    with pytest.raises(NativeFallback, match="does not translate"):
        check_native(m)
    r = check(m, engine="c")
    assert r.stats.engine == "python" and r.stats.distinct_states == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "using the Python backend" in err[0]


def test_run_time_error_is_reported_by_python_at_the_model_line(capsys: pytest.CaptureFixture[str]) -> None:
    m = Model("overflow")
    m.var("x", range(3))

    @m.action
    def Up(s):  # type: ignore[no-untyped-def]
        s.x = s.x + 1

    with pytest.raises(ModelError, match="outside its domain"):
        check(m, engine="c")
    assert "using the Python backend" in capsys.readouterr().err


def test_missing_compiler_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CC", "")
    monkeypatch.setenv("ITSRACE_CACHE_DIR", str(tmp_path))
    m = lpi_toy.build(2, 2)
    r = check(m, engine="auto")
    assert r.stats.engine == "python" and r.stats.distinct_states == 1252
    assert "no C compiler" in capsys.readouterr().err


def test_generated_c_is_kept_in_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ITSRACE_CACHE_DIR", str(tmp_path))
    m = lpi_toy.build(2, 2)
    check_native(m)
    c_files = list(tmp_path.glob("lpi-toy-2x2-*.c"))
    assert len(c_files) == 1 and "expand_state" in c_files[0].read_text()
    assert c_files[0].read_text() == generate(compile_model(m)).source


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "itsrace.cli.main", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_cli_engine_flag(tmp_path: Path) -> None:
    fresh = {"ITSRACE_CACHE_DIR": str(tmp_path)}
    r = cli("bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json", env=fresh)  # done within the trial
    assert r.returncode == 0 and '"engine": "python"' in r.stdout and r.stderr == ""
    r = cli("bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json", "--engine", "c", env=fresh)
    assert r.returncode == 0 and '"engine": "c"' in r.stdout
    r = cli("bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json", env=fresh)  # built: C from now on
    assert r.returncode == 0 and '"engine": "c"' in r.stdout
    r = cli("bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json", "--engine", "python")
    assert r.returncode == 0 and '"engine": "python"' in r.stdout
    for bad in (["--dfs"], ["--por"], ["--checkpoint", "x.ckpt", "--workers", "2"], ["--symmetry", "fast"]):
        r = cli("bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--engine", "c", *bad)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (bad, r.stderr)
    r = cli("bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--json", "--engine", "c", env={"CC": ""})
    assert r.returncode == 0 and '"engine": "python"' in r.stdout
    assert r.stderr.strip().splitlines() == ["itsrace: no C compiler found (set CC, or install gcc); "
                                             "using the Python backend"]
