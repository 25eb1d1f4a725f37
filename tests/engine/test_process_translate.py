"""Level 2 translation: steps, merging, labels, locals, procedures, choices, atomic blocks."""

from __future__ import annotations

import ast

from itsrace.engine import Model, check, check_model
from itsrace.engine.lang.process import (
    atomic,
    await_,
    choose,
    either,
    instances,
    label,
    skip,
    spin_lock,
    spin_unlock,
    step_pcs,
)


def _line(marker: str) -> int:
    """Line number of the line in this file that carries ``# <marker>``."""
    with open(__file__) as fh:
        for n, text in enumerate(fh, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return n
    raise AssertionError(marker)


def _counter(locked: bool, merge_local: bool = True) -> Model:
    m = Model("counter")
    m.var("count", range(3))
    m.spinlock("lock")

    @m.process(instances=2, restart=False, merge_local=merge_local)
    def worker(self, s):
        if locked:
            spin_lock(s.lock)
        tmp: range(3) = s.count
        s.count = tmp + 1
        if locked:
            spin_unlock(s.lock)

    @m.final
    def all_counted(s):
        return s.count == 2

    return m


def test_counter_with_lock_passes_and_without_finds_the_lost_update() -> None:
    assert check_model(_counter(True)).verdict == "pass"
    r = check_model(_counter(False))
    assert r.violated == {"all_counted"}
    assert len(r.violations[0].trace.steps) == 4  # read, read, write, write


def test_each_shared_statement_is_one_step_and_pc_dispatch_is_emitted() -> None:
    m = _counter(True)
    pcs = step_pcs(m, "worker0")
    assert pcs == {
        "worker: spin_lock(s.lock)": 0,
        "worker: tmp: range(3) = s.count": 1,
        "worker: s.count = tmp + 1": 2,
        "worker: spin_unlock(s.lock)": 3,
    }
    steps = [a for a in m.actions if a.process == "worker1"]
    assert [a.pc for a in steps] == [("pc_worker", (1,), k) for k in range(4)]
    for a in steps:  # every body starts with its pc guard
        assert ast.unparse(a.body[0]) == f"require(s.pc_worker[1] == {a.pc[2]})"  # type: ignore[index]
    assert m.vars["pc_worker"].hi == 4  # done = one past the last step
    assert instances(m) == ["worker0", "worker1"]


def _merging(merge_local: bool) -> Model:
    m = Model("merge")
    m.var("x", range(4))
    m.var("y", range(4))

    @m.process(restart=False, merge_local=merge_local)
    def p(self, s):
        a: range(4) = s.x
        b: range(4) = a + 1  # local only
        if b > 2:  # local test
            b = 0
        s.y = b
        c: range(4) = 3  # local, merged into the write above
        s.x = c

    return m


def test_merge_local_merges_local_statements_and_tests_into_the_previous_step() -> None:
    merged = step_pcs(_merging(True), "p0")
    assert list(merged) == ["p: a: range(4) = s.x", "p: s.y = b", "p: s.x = c"]
    separate = step_pcs(_merging(False), "p0")
    assert len(separate) == 7  # a, b, if-test, b = 0, s.y, c, s.x
    assert "p: if b > 2" in separate
    # same reachable outcomes either way
    for m in (_merging(True), _merging(False)):
        assert check_model(m).verdict == "pass"


def test_trace_steps_name_the_process_the_label_and_the_source_line() -> None:
    m = Model("trace")
    m.var("x", range(3))

    @m.process(instances=1, name="cpu{}", restart=False)
    def run(self, s):
        s.x = 1  # STEP-ONE
        check(s.x == 2, "reached")  # STEP-TWO

    r = check_model(m)
    assert r.violated == {"reached"}
    steps = r.violations[0].trace.steps
    assert [st.process for st in steps] == ["cpu0", "cpu0"]
    assert [st.label for st in steps] == ["run: s.x = 1", 'run: check(s.x == 2, "reached")']
    assert steps[0].where == f"{__file__}:{_line('STEP-ONE')}"
    assert steps[1].where == f"{__file__}:{_line('STEP-TWO')}"


def test_locals_are_reset_when_the_process_restarts() -> None:
    m = Model("reset")
    m.var("runs", range(3))

    @m.process(restart=True)
    def p(self, s):
        v: range(5) = 4
        await_(s.runs < 2)
        s.runs = s.runs + v - 3

    c_states = []
    r = check_model(m)
    assert r.verdict == "fail" and r.violated == {"deadlock"}  # blocked on await_ with v = 4
    final = r.violations[0].trace.final
    assert final["p_v[0]"] == 4 and final["pc_p[0]"] == 1
    # after each complete run, the local is back at its reset value
    for st in r.violations[0].trace.steps:
        if st.label == "p: s.runs = s.runs + v - 3":
            assert st.changes["p_v[0]"] == [4, 0]
            assert st.changes["pc_p[0]"] == [2, 0]
            c_states.append(st)
    assert len(c_states) == 2


def test_restart_false_stops_at_done_and_a_process_at_start_is_at_rest() -> None:
    m = Model("rest")
    m.var("go", bool)

    @m.process(restart=False)
    def waiter(self, s):
        await_(s.go == 1)  # first step blocked for ever: at rest, not a deadlock

    assert check_model(m).verdict == "pass"

    m2 = Model("stuck")
    m2.var("go", bool)

    @m2.process(restart=False)
    def waiter2(self, s):
        skip()
        await_(s.go == 1)  # blocked after starting: deadlock

    r = check_model(m2)
    assert r.violated == {"deadlock"}


def test_procedures_are_inlined_with_return_values_and_their_own_labels() -> None:
    m = Model("proc")
    m.var("table", range(4), 2, init=(2, 3))
    m.var("out", range(8))

    @m.procedure
    def lookup(self, s, i: range(2)):
        v: range(4) = s.table[i]
        if v == 3:
            return 7
        return v

    @m.process(restart=False)
    def p(self, s, i: range(2)):
        r: range(8) = lookup(self, s, i)
        s.out = r

    r = check_model(m, stop_on_violation=False)
    assert r.verdict == "pass"
    c = __import__("itsrace.engine", fromlist=["compile_model"]).compile_model(m)
    outs = set()
    frontier = list(c.initial)
    seen = set(frontier)
    while frontier:
        s = frontier.pop()
        for _, t in c.successors(s):
            if t not in seen:
                seen.add(t)
                frontier.append(t)
    for s in seen:
        outs.add(c.layout.decode(s)["out"])
    assert outs == {0, 2, 7}  # table[0] = 2 -> 2, table[1] = 3 -> 7
    labels = list(step_pcs(m, "p0"))
    assert "lookup: v: range(4) = s.table[i]" in labels
    assert "p: s.out = r" in labels
    assert "p_lookup_i" in m.vars and "p_lookup_v" in m.vars


def test_constant_procedure_arguments_specialise_the_copy() -> None:
    m = Model("spec")
    m.spinlock("lk", 2)
    m.var("n", range(3), 2)

    @m.procedure
    def bump(self, s, i):  # no annotation needed: every call passes a constant
        spin_lock(s.lk[i])
        s.n[i] = s.n[i] + 1
        spin_unlock(s.lk[i])

    @m.process(restart=False)
    def p(self, s):
        for i in range(2):
            bump(self, s, i)

    assert check_model(m).verdict == "pass"
    assert not any(v.startswith("p_bump") for v in m.vars)
    labels = step_pcs(m, "p0")
    assert "bump: spin_lock(s.lk[i]) #2" in labels  # second call site, unrolled
    bodies = [ast.unparse(b) for a in m.actions for b in a.body]
    assert "require(s.lk[1] == 0)" in bodies  # static index


def test_choose_and_either_expand_into_one_action_per_value() -> None:
    m = Model("choice")
    m.var("x", range(5))
    m.var("flag", bool)

    @m.process(restart=False)
    def p(self, s):
        v: range(3) = choose(range(3))
        s.x = v
        if either():
            s.flag = 1

    r = check_model(m, stop_on_violation=False)
    assert r.verdict == "pass"
    first = [a.label for a in m.actions if a.pc and a.pc[2] == 0]
    assert first == [f"p: v: range(3) = choose(range(3)) (v={k})" for k in range(3)]
    second = sorted(a.label or "" for a in m.actions if a.pc and a.pc[2] == 1)
    assert second == ["p: s.x = v (either=0)", "p: s.x = v (either=1)"]
    # all 3 x 2 outcomes are reachable
    assert r.stats.distinct_states == 1 + 3 + 6 + 3  # start, chose v, wrote x (x2 branches), flag set


def test_parameters_are_chosen_at_start_and_held() -> None:
    m = Model("param")
    m.var("seen", range(4), 2)

    @m.process(instances=2, restart=False)
    def p(self, s, v: range(1, 4)):
        skip()
        s.seen[self] = v

    r = check_model(m)
    assert r.verdict == "pass"
    start = [a.label for a in m.actions if a.process == "p0" and a.pc and a.pc[2] == 0]
    assert start == ["p: skip() (v=1)", "p: skip() (v=2)", "p: skip() (v=3)"]
    assert m.vars["p_v"].lo == 1 and m.vars["p_v"].hi == 3


def test_atomic_block_is_one_step_and_all_or_nothing() -> None:
    m = Model("atomic")
    m.var("a", range(3))
    m.var("b", range(3))
    m.var("go", bool)

    @m.process(restart=False)
    def p(self, s):
        with atomic():
            s.a = 1
            await_(s.go == 1)  # blocks the whole block, not just the rest
            s.b = 1

    @m.process(restart=False)
    def q(self, s):
        check(not (s.a == 1 and s.b == 0), "torn")
        s.go = 1

    r = check_model(m, stop_on_violation=False)
    assert r.verdict == "pass"
    assert len(step_pcs(m, "p0")) == 1


def test_label_names_a_step_and_forces_it() -> None:
    m = Model("label")
    m.var("x", range(3))

    @m.process(restart=False)
    def p(self, s):
        s.x = 1
        k: range(3) = 2
        label("local work")
        k = k - 1
        s.x = k

    pcs = step_pcs(m, "p0")
    assert pcs == {"p: s.x = 1": 0, "local work": 1, "p: s.x = k": 2}


def test_per_instance_constants_need_no_state() -> None:
    m = Model("const")
    m.var("slot", range(3), 3)

    @m.process(instances=3, restart=False)
    def p(self, s):
        other = (self + 1) % 3
        s.slot[other] = self

    assert check_model(m).verdict == "pass"
    assert not any(v.startswith("p_other") for v in m.vars)
    assert "p: s.slot[other] = self" in step_pcs(m, "p2")


def test_while_loop_over_state_and_spin_loop_with_skip() -> None:
    m = Model("loop")
    m.var("ticket", range(4))
    m.var("ready", bool)

    @m.process(restart=False)
    def producer(self, s):
        n: range(4) = 0
        while n < 3:
            s.ticket = s.ticket + 1
            n = n + 1
        s.ready = 1

    @m.process(restart=False)
    def consumer(self, s):
        while s.ready == 0:
            skip()
        check(s.ticket == 3, "all tickets")

    assert check_model(m).verdict == "pass"


def _dead(reset_dead: bool, observe: bool = False) -> Model:
    m = Model("dead")
    m.var("x", range(4))
    m.var("y", range(4))

    @m.process(restart=False, reset_dead=reset_dead)
    def p(self, s):
        a: range(4) = s.x
        s.y = min(a, 1)  # last read of a: it is dead from here on
        s.x = 3
        s.y = 0

    @m.process(restart=False)
    def q(self, s):
        s.x = 1
        s.x = 2

    if observe:
        @m.invariant
        def watches_a(s):
            return s.p_a[0] <= 3

    return m


def test_dead_locals_are_reset_at_the_end_of_the_step_that_kills_them() -> None:
    r_on, r_off = check_model(_dead(True)), check_model(_dead(False))
    assert r_on.verdict == r_off.verdict == "pass"
    assert r_on.stats.distinct_states < r_off.stats.distinct_states
    c = __import__("itsrace.engine", fromlist=["compile_model"]).compile_model(_dead(True))
    seen = set(c.initial)
    todo = list(seen)
    while todo:
        s = todo.pop()
        for _, t in c.successors(s):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    after_use = [c.layout.flat(s) for s in seen if c.layout.flat(s)["pc_p[0]"] >= 2]
    assert after_use and all(st["p_a[0]"] == 0 for st in after_use)


def test_locals_read_by_a_property_are_never_reset_early() -> None:
    on, off = check_model(_dead(True, observe=True)), check_model(_dead(False, observe=True))
    assert on.stats.distinct_states == off.stats.distinct_states
