"""NULL pointer dereferences are violations, found by the search: arrays declared with
``Model.objects`` are the fields of objects reached through pointers, and indexing one with the
index a NULL pointer maps to fails ``null-deref`` (a shortest counterexample, on both backends);
any other index outside an array is a model error naming the model's line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from itsrace.engine import Model, ModelError, check_model, compile_model, require
from itsrace.engine.lang.process import atomic, spin_lock, spin_unlock
from itsrace.engine.native.build import find_compiler
from itsrace.engine.native.runner import check_native

HERE = Path(__file__).resolve()


def pointer_model(null_check: bool) -> Model:
    """A pointer ``ptr`` (0 = NULL, else slot + 1) to one of two objects; one action clears it,
    another reads (and writes) the object it points to, with or without a NULL check."""
    m = Model("ptr-null-check" if null_check else "ptr-no-null-check")
    m.var("ptr", range(3), init=1)
    m.var("val", range(3), 2)
    m.var("seen", range(3))
    m.objects("val")
    m.check_deadlock = False

    @m.action
    def Clear(s):
        require(s.ptr != 0)
        s.ptr = 0

    @m.action
    def Retarget(s):
        require(s.ptr == 1)
        s.ptr = 2

    if null_check:
        @m.action
        def Use(s):
            require(s.seen == 0)
            if s.ptr != 0:
                s.seen = s.val[s.ptr - 1] + 1
                s.val[s.ptr - 1] = 1
            else:
                s.seen = 2
    else:
        @m.action
        def Use(s):
            require(s.seen == 0)
            s.seen = s.val[s.ptr - 1] + 1
            s.val[s.ptr - 1] = 1

    return m


def test_missing_null_check_is_a_shortest_counterexample() -> None:
    r = check_model(pointer_model(False), stop_on_violation=False, progress=False)
    assert set(r.violated) == {"null-deref"}
    (v,) = r.violations
    assert [step.action for step in v.trace.steps] == ["Clear", "Use"]  # BFS: the shortest


def test_with_the_null_check_it_holds() -> None:
    r = check_model(pointer_model(True), stop_on_violation=False, progress=False)
    assert r.verdict == "pass", r.violated


def test_a_guard_that_dereferences_null_is_a_violation() -> None:
    m = Model("guard-deref")
    m.var("ptr", range(2), init=1)
    m.var("val", bool, 1, init=1)
    m.objects("val")
    m.check_deadlock = False

    @m.action
    def Clear(s):
        s.ptr = 0

    @m.action
    def Use(s):
        require(s.val[s.ptr - 1] == 1)
        s.val[s.ptr - 1] = 0

    r = check_model(m, stop_on_violation=False, progress=False)
    assert set(r.violated) == {"null-deref"}
    assert [st.action for st in r.violations[0].trace.steps] == ["Clear", "Use"]


def process_model() -> Model:
    """Level 2: a process takes a pointer, another clears it; the dereference comes later."""
    m = Model("proc-deref")
    m.var("ptr", range(2), init=1)
    m.var("val", range(3), 1)
    m.spinlock("lock", 1)
    m.objects("val", "lock")
    m.check_deadlock = False

    @m.process(instances=1, restart=False)
    def user(self, s):
        p: range(2) = s.ptr
        spin_lock(s.lock[p - 1])
        with atomic():
            s.val[p - 1] = 2
        spin_unlock(s.lock[p - 1])

    @m.process(instances=1, restart=False)
    def clearer(self, s):
        s.ptr = 0

    return m


def test_process_dereferences_are_checked_including_locks() -> None:
    r = check_model(process_model(), stop_on_violation=False, progress=False)
    assert set(r.violated) == {"null-deref"}


def out_of_range_model() -> Model:
    m = Model("oob")
    m.var("i", range(1, 4), init=1)
    m.var("val", range(2), 2)
    m.objects("val")

    @m.action
    def Step(s):
        require(s.i < 3)
        s.i = s.i + 1

    @m.action
    def Use(s):
        s.val[s.i - 1] = 1  # i = 3 is past the end: a model bug, not a NULL pointer

    return m


def test_other_out_of_range_indexes_are_model_errors_at_the_model_line() -> None:
    with pytest.raises(ModelError) as err:
        check_model(out_of_range_model(), progress=False)
    assert err.value.where is not None and err.value.where.startswith(f"{HERE}:")
    assert "out of range" in str(err.value)


def test_objects_declaration_errors() -> None:
    m = Model("bad")
    m.var("x", range(2))
    m.var("a", range(2), 2)
    with pytest.raises(ModelError, match="unknown variable 'y'"):
        m.objects("y")
    with pytest.raises(ModelError, match="scalar"):
        m.objects("x")
    with pytest.raises(ModelError, match="valid index"):
        m.objects("a", null_index=1)


@pytest.mark.skipif(find_compiler() is None, reason="no C compiler")
@pytest.mark.parametrize("build", [lambda: pointer_model(False), lambda: pointer_model(True), process_model],
                         ids=["no-check", "check", "process"])
def test_both_backends_agree(build) -> None:
    c = compile_model(build())
    py = check_model(c, stop_on_violation=False, progress=False)
    nat = check_native(c, stop_on_violation=False, progress=False)
    assert nat.stats.engine == "c"
    assert (nat.verdict, nat.violated, nat.stats.distinct_states, nat.stats.transitions,
            [len(v.trace) for v in nat.violations]) == \
        (py.verdict, py.violated, py.stats.distinct_states, py.stats.transitions, [len(v.trace) for v in py.violations])


def test_cli_out_of_range_is_one_line_exit_2() -> None:
    fault = HERE.parent.parent / "hyp" / "faults" / "index_out_of_range.py"
    p = subprocess.run([sys.executable, "-m", "itsrace", "check", "--design", str(fault), "--scenario", "discard-vs-lpi"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{fault}:" in lines[0] and "out of range" in lines[0], p.stderr
