"""The compiled backend's threaded search (``workers=N``: threads sharing one visited table,
level-synchronous) gives the one-worker search's results: distinct states, transitions, depth,
verdict, violated properties and shortest counterexample lengths, exact and with fingerprints;
its traces replay on the Python model. ``ITSRACE_NATIVE_SMALL_TABLES`` starts the shared table
small and defers inserts from 3/4 full, so growth pauses and deferred inserts happen even on
small models."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from test_native import summary
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
from itsrace.engine.native.runner import check_native
from itsrace.models import lpi_toy

pytestmark = pytest.mark.skipif(find_compiler() is None, reason="no C compiler")


@pytest.fixture(params=[False, True], ids=["tables", "small-tables"])
def small_tables(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param:
        monkeypatch.setenv("ITSRACE_NATIVE_SMALL_TABLES", "1")
    else:
        monkeypatch.delenv("ITSRACE_NATIVE_SMALL_TABLES", raising=False)
    return bool(request.param)


def replays(model: Model, r: Result) -> None:
    c = compile_model(model)
    for v in r.violations:
        rr = replay(c, v.trace)
        assert rr.reproduces, f"{model.name}: the trace for {v.property} does not replay: {rr.message}"


def assert_threads_agree(model: Model, workers: int, reference: str = "python", **options: Any) -> None:
    """A complete search: N threads give one worker's results, exact and with fingerprints;
    stopping at the first violation gives a shortest counterexample of what it found. The
    reference is the Python search, or (for bigger models) the one-worker C search, which
    tests/engine/test_native.py holds to Python's."""
    c = compile_model(model)
    one: Any = check_model if reference == "python" else check_native
    full = one(c, stop_on_violation=False, **options)
    targets = len(c.properties) + (1 if c.model.check_deadlock else 0)
    for fp in (False, True):
        r = check_native(c, workers=workers, fingerprints=fp, stop_on_violation=False, **options)
        assert r.stats.engine == "c"
        if len(full.violations) == targets:  # stopped once all were violated: somewhere in that level
            assert (r.verdict, r.violated) == (full.verdict, full.violated)
            assert sorted(len(v.trace) for v in r.violations) == sorted(len(v.trace) for v in full.violations)
            replays(model, r)
            continue
        assert summary(r) == summary(full), f"{model.name} workers={workers} fingerprints={fp}"
        fired = {name: n for name, (n, _) in full.stats.coverage.items()}
        assert {name: n for name, (n, _) in r.stats.coverage.items()} == fired
        assert sum(g for _, g in r.stats.coverage.values()) == sum(g for _, g in full.stats.coverage.values())
        replays(model, r)
    first = one(c, stop_on_violation=True, **options)
    shortest = {v.property: len(v.trace) for v in full.violations}
    for fp in (False, True):
        r = check_native(c, workers=workers, fingerprints=fp, stop_on_violation=True, **options)
        assert r.verdict == first.verdict
        assert r.violated <= full.violated
        assert all(len(v.trace) == shortest[v.property] for v in r.violations), (model.name, fp)
        replays(model, r)


@pytest.mark.parametrize("name,build", SHIPPED, ids=[n for n, _ in SHIPPED])
def test_shipped_models(name: str, build: Any, small_tables: bool) -> None:
    assert_threads_agree(build(), 2)


@pytest.mark.parametrize("workers", [2, 3, 8])
@pytest.mark.parametrize("bug", [False, True], ids=["ok", "bug"])
def test_lpi_toy(workers: int, bug: bool, small_tables: bool) -> None:
    m = lpi_toy.build(3, 3 if workers == 2 else 2, bug=bug)
    assert_threads_agree(m, workers, reference="c")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models())
def test_random_models(model: Model) -> None:
    note(describe(model))
    for workers in (2, 5):
        assert_threads_agree(model, workers)


def tree(n: int) -> Model:
    """A binary tree of n states: every state has one parent, so a lost insert stays lost."""
    m = Model(f"tree-{n}")
    m.check_deadlock = False  # the leaves have no successors
    m.var("x", range(n))

    @m.action
    def Left(s):  # type: ignore[no-untyped-def]
        require(2 * s.x + 1 < n)
        s.x = 2 * s.x + 1

    @m.action
    def Right(s):  # type: ignore[no-untyped-def]
        require(2 * s.x + 2 < n)
        s.x = 2 * s.x + 2

    return m


@pytest.mark.parametrize("workers", [2, 4])
def test_every_insert_lands_while_the_table_grows(workers: int, small_tables: bool) -> None:
    m = tree(300_000)
    for fp in (False, True):
        r = check_native(m, workers=workers, fingerprints=fp)
        assert (r.verdict, r.stats.distinct_states, r.stats.transitions, r.stats.depth) == ("pass", 300_000, 299_999, 18)


def test_hypervisor_scenario_with_helpers() -> None:
    """The hypervisor models call Python helpers (through each thread's memo table)."""
    from itsrace.catalog import build_from_names

    assert_threads_agree(build_from_names("xen-4.10", "spurious-after-remove"), 2)


def test_limits_and_interrupts_keep_what_was_found(small_tables: bool) -> None:
    bug = compile_model(lpi_toy.build(3, 3, bug=True))
    full = check_native(bug, stop_on_violation=False)
    for limits in (Limits(max_states=20_000), Limits(max_depth=7), Limits(max_depth=0)):
        r = check_native(bug, workers=2, limits=limits, stop_on_violation=False)
        assert r.verdict in ("inconclusive", "fail") and r.reason
        assert r.violated <= full.violated
        replays(bug.model, r)
    r = check_native(bug, workers=2, limits=Limits(max_depth=7), stop_on_violation=False)
    assert summary(r)[2:5] == summary(check_model(bug, limits=Limits(max_depth=7), stop_on_violation=False))[2:5]


def test_checkpoints_with_workers_are_refused() -> None:
    with pytest.raises(ModelError, match="single-worker"):
        check_native(lpi_toy.build(2, 2), workers=2, checkpoint="x.ckpt")
    with pytest.raises(ModelError, match="1 to 64"):
        check_native(lpi_toy.build(2, 2), workers=65)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 4])
def test_lpi_toy_3x4(workers: int) -> None:
    m = compile_model(lpi_toy.build(3, 4))
    one = check_native(m, stop_on_violation=False)
    assert one.stats.distinct_states == 4_768_904 and one.stats.transitions == 68_731_560
    for fp in (False, True):
        assert summary(check_native(m, workers=workers, fingerprints=fp, stop_on_violation=False)) == summary(one)


@pytest.mark.slow
def test_guest_scenario() -> None:
    """The 2-million-state `guest` scenario (Python helpers, wide states): one worker's results."""
    from itsrace.catalog import build_from_names

    assert_threads_agree(build_from_names("xen-4.10", "guest"), 2, reference="c")
