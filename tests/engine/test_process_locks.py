"""Level 2 locks and interrupts: ownership, rwlocks, lock order, IRQ preemption."""

from __future__ import annotations

from itsrace.engine import Compiled, Model, check, check_model, compile_model
from itsrace.engine.lang.process import (
    await_,
    local_irq_disable,
    local_irq_enable,
    read_lock,
    read_unlock,
    skip,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
    step_pcs,
    write_lock,
    write_unlock,
)


def _state_ints(c: Compiled) -> set[int]:
    seen = set(c.initial)
    todo = list(seen)
    while todo:
        s = todo.pop()
        for _, t in c.successors(s):
            if t >= 0 and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def _reachable(m: Model) -> list[dict[str, int]]:
    c = compile_model(m)
    return [c.layout.flat(s) for s in _state_ints(c)]


def test_spinlock_holds_owner_pid_plus_one_and_excludes() -> None:
    m = Model("spin")
    m.spinlock("L")
    m.var("inside", range(3))

    @m.process(instances=2, name="a{}")
    def a(self, s):
        spin_lock(s.L)
        s.inside = s.inside + 1
        s.inside = s.inside - 1
        spin_unlock(s.L)

    @m.process(name="b")
    def b(self, s):
        spin_lock(s.L)
        spin_unlock(s.L)

    @m.invariant
    def exclusive(s):
        return s.inside <= 1

    assert check_model(m).verdict == "pass"
    owners = {st["L"] for st in _reachable(m)}
    assert owners == {0, 1, 2, 3}  # free, a0 (pid 0), a1 (pid 1), b (pid 2)
    assert m.vars["L"].hi == 3


def test_release_by_non_owner_and_finishing_with_a_lock_violate_lock_discipline() -> None:
    m = Model("bad-release")
    m.spinlock("L")

    @m.process(restart=False)
    def taker(self, s):
        spin_lock(s.L)
        skip()
        spin_unlock(s.L)

    @m.process(restart=False)
    def thief(self, s):
        spin_unlock(s.L)  # never took it

    r = check_model(m)
    assert r.violated == {"lock-discipline"}
    assert r.violations[0].trace.steps[-1].process == "thief0"

    m2 = Model("leak")
    m2.spinlock("L")

    @m2.process(restart=True)
    def leaker(self, s):
        spin_lock(s.L)  # returns to its start still holding L

    r2 = check_model(m2)
    assert r2.violated == {"lock-discipline"}
    assert [st.label for st in r2.violations[0].trace.steps] == ["leaker: spin_lock(s.L)"]


def test_rwlock_readers_share_writers_exclude() -> None:
    m = Model("rw")
    m.rwlock("RW")
    m.var("readers_in", range(3))
    m.var("writer_in", bool)

    @m.process(instances=2, name="r{}")
    def reader(self, s):
        read_lock(s.RW)
        s.readers_in = s.readers_in + 1
        s.readers_in = s.readers_in - 1
        read_unlock(s.RW)

    @m.process(name="w")
    def writer(self, s):
        write_lock(s.RW)
        s.writer_in = 1
        s.writer_in = 0
        write_unlock(s.RW)

    @m.invariant
    def exclusion(s):
        return not (s.writer_in and s.readers_in > 0)

    assert check_model(m).verdict == "pass"
    states = _reachable(m)
    assert max(st["readers_in"] for st in states) == 2  # readers do share
    assert max(st["RW_r"] for st in states) == 2
    assert {st["RW_w"] for st in states} == {0, 3}  # the writer is pid 2
    assert all(st["RW_r"] == st["r_rd_RW[0]"] + st["r_rd_RW[1]"] for st in states)


def test_read_unlock_without_holding_is_a_lock_discipline_violation() -> None:
    m = Model("rw-bad")
    m.rwlock("RW")

    @m.process(instances=2, restart=False)
    def p(self, s):
        if self == 0:
            read_lock(s.RW)
        read_unlock(s.RW)  # p1 never read-locked: the reader count must not be stolen

    r = check_model(m)
    assert r.violated == {"lock-discipline"}
    assert r.violations[0].trace.steps[-1].process == "p1"


def _abba(order: list[str]) -> Model:
    m = Model("abba")
    m.spinlock("A")
    m.spinlock("B")
    m.set_lock_order(order)

    @m.process(restart=False)
    def ab(self, s):
        spin_lock(s.A)
        spin_lock(s.B)
        spin_unlock(s.B)
        spin_unlock(s.A)

    @m.process(restart=False)
    def ba(self, s):
        spin_lock(s.B)
        spin_lock(s.A)
        spin_unlock(s.A)
        spin_unlock(s.B)

    return m


def test_lock_order_violation_found_and_abba_deadlock_too() -> None:
    r = check_model(_abba(["A", "B"]), stop_on_violation=False)
    assert r.violated == {"lock-order", "deadlock"}
    order = next(v for v in r.violations if v.property == "lock-order")
    assert [(st.process, st.label) for st in order.trace.steps] == [
        ("ba0", "ba: spin_lock(s.B)"), ("ba0", "ba: spin_lock(s.A)"),
    ]


def test_lock_order_respected_passes_and_same_array_nesting_is_flagged() -> None:
    m = Model("ordered")
    m.spinlock("A")
    m.spinlock("B")
    m.set_lock_order(["A", "B"])

    @m.process(instances=2, restart=False)
    def p(self, s):
        spin_lock(s.A)
        spin_lock(s.B)
        spin_unlock(s.B)
        spin_unlock(s.A)

    assert check_model(m).verdict == "pass"

    m2 = Model("nested")
    m2.spinlock("V", 2)
    m2.set_lock_order(["V"])

    @m2.process(restart=False)
    def q(self, s):
        spin_lock(s.V[0])
        spin_lock(s.V[1])  # lockdep: same class nested
        spin_unlock(s.V[1])
        spin_unlock(s.V[0])

    assert check_model(m2).violated == {"lock-order"}


def _irq(task_irqsave: bool, handler_first: str = "lock") -> Model:
    m = Model("irq")
    m.spinlock("L")
    m.var("n", range(3))

    if task_irqsave:
        @m.process(cpu=0)
        def task(self, s):
            spin_lock_irqsave(s.L)
            s.n = (s.n + 1) % 3
            spin_unlock_irqrestore(s.L)
    else:
        @m.process(cpu=0)
        def task(self, s):  # noqa: F811
            spin_lock(s.L)
            s.n = (s.n + 1) % 3
            spin_unlock(s.L)

    @m.process(cpu=0, irq=True, name="irq")
    def handler(self, s):
        spin_lock(s.L)
        spin_unlock(s.L)

    return m


def test_irq_handler_spinning_on_the_interrupted_tasks_lock_is_a_deadlock() -> None:
    r = check_model(_irq(False))
    assert r.violated == {"deadlock"}
    steps = r.violations[0].trace.steps
    assert [(st.process, st.label) for st in steps] == [
        ("task0", "task: spin_lock(s.L)"), ("irq", "handler: <interrupt>"),
    ]
    assert check_model(_irq(True)).verdict == "pass"


def test_task_does_not_step_while_its_cpus_handler_runs() -> None:
    for st in _reachable(_irq(True)):
        if st["in_irq[0]"] == 1:
            assert st["irqs_off[0]"] == 0  # the handler only arrives with interrupts on
    c = compile_model(_irq(False))
    active = 0
    for s in _state_ints(c):
        if c.layout.flat(s)["in_irq[0]"] == 1:
            active += 1
            assert {c.actions[k].process for k, _ in c.successors(s)} <= {"irq"}
    assert active > 0


def test_irq_on_another_cpu_does_not_preempt() -> None:
    m = Model("two-cpus")
    m.spinlock("L")

    @m.process(cpu=1)
    def task(self, s):
        spin_lock(s.L)
        spin_unlock(s.L)

    @m.process(cpu=0, irq=True, name="irq")
    def handler(self, s):
        spin_lock(s.L)  # waits for CPU 1's task, which keeps running: no deadlock
        spin_unlock(s.L)

    assert check_model(m).verdict == "pass"


def test_spin_lock_irqsave_spins_with_interrupts_disabled() -> None:
    m = Model("irqsave-spin")
    m.spinlock("L")

    @m.process(cpu=1, name="other")
    def other(self, s):
        spin_lock(s.L)
        spin_unlock(s.L)

    @m.process(cpu=0)
    def task(self, s):
        spin_lock_irqsave(s.L)
        spin_unlock_irqrestore(s.L)

    @m.process(cpu=0, irq=True, name="irq")
    def handler(self, s):
        skip()

    assert "task: spin_lock_irqsave(s.L) [spinning]" in step_pcs(m, "task0")
    states = _reachable(m)
    spin_pc = step_pcs(m, "task0")["task: spin_lock_irqsave(s.L) [spinning]"]
    spinning = [st for st in states if st["pc_task[0]"] == spin_pc]
    assert spinning and all(st["irqs_off[0]"] == 1 and st["in_irq[0]"] == 0 for st in spinning)
    assert check_model(m).verdict == "pass"


def test_local_irq_enable_without_disable_violates_lock_discipline() -> None:
    m = Model("irq-enable")

    @m.process(cpu=0, restart=False)
    def p(self, s):
        local_irq_disable()
        local_irq_enable()
        local_irq_enable()

    r = check_model(m)
    assert r.violated == {"lock-discipline"}
    assert len(r.violations[0].trace.steps) == 3


def test_check_inside_critical_section_sees_exclusion() -> None:
    m = Model("crit")
    m.spinlock("L")
    m.var("owner", range(3))

    @m.process(instances=2)
    def p(self, s):
        spin_lock(s.L)
        s.owner = self + 1
        check(s.owner == self + 1, "exclusive")
        s.owner = 0
        spin_unlock(s.L)

    assert check_model(m).verdict == "pass"


def test_irq_handler_starting_with_await_arrives_only_when_it_holds() -> None:
    m = Model("irq-pending")
    m.var("pending", bool)
    m.var("handled", range(3))

    @m.process(cpu=0, restart=False)
    def device(self, s):
        s.pending = 1

    @m.process(cpu=0, irq=True, name="irq")
    def handler(self, s):
        await_(s.pending == 1)  # the interrupt is delivered only while pending
        s.pending = 0
        s.handled = s.handled + 1

    r = check_model(m)
    assert r.verdict == "pass"  # no deadlock: an idle handler is at rest, not blocked inside
    assert "handler: await_(s.pending == 1)" in step_pcs(m, "irq")
    states = _reachable(m)
    assert {st["handled"] for st in states} == {0, 1}
    clearing = step_pcs(m, "irq")["handler: s.pending = 0"]
    at_clear = [st for st in states if st["pc_irq[0]"] == clearing]
    assert at_clear and all(st["pending"] == 1 and st["in_irq[0]"] == 1 for st in at_clear)


# -- nested interrupt handlers (nests=True) ----------------------------------------------------------
def _nesting(nests: bool, irqsave: bool) -> Model:
    """Two instances of a handler on CPU 0 that take a lock; with ``nests`` the second may
    preempt the first (Xen 4.10's gic_interrupt unmasks interrupts before do_LPI)."""
    m = Model(f"nest-{nests}-{irqsave}")
    m.spinlock("L")
    m.var("done", range(3))

    if irqsave:
        @m.process(cpu=0, irq=True, instances=2, name="irq{}", nests=nests, restart=False)
        def handler(self, s):
            spin_lock_irqsave(s.L)
            s.done = s.done + 1
            spin_unlock_irqrestore(s.L)
    else:
        @m.process(cpu=0, irq=True, instances=2, name="irq{}", nests=nests, restart=False)
        def handler(self, s):  # noqa: F811
            spin_lock(s.L)
            s.done = s.done + 1
            spin_unlock(s.L)

    return m


def test_a_nested_handler_spinning_on_the_lock_of_the_handler_it_preempted_is_a_deadlock() -> None:
    r = check_model(_nesting(True, False))
    assert r.violated == {"deadlock"}
    steps = [(st.process, st.label) for st in r.violations[0].trace.steps]
    first, second = steps[0][0], steps[2][0]
    assert {first, second} == {"irq0", "irq1"}
    assert steps == [(first, "handler: <interrupt>"), (first, "handler: spin_lock(s.L)"),
                     (second, "handler: <interrupt>")]  # ... and spins on L: nothing can step
    assert check_model(_nesting(False, False)).verdict == "pass"  # without nesting: one at a time
    assert check_model(_nesting(True, True)).verdict == "pass"  # interrupts off while the lock is held


def test_only_the_innermost_handler_steps() -> None:
    c = compile_model(_nesting(True, False))
    nested = 0
    for s in _state_ints(c):
        st = c.layout.flat(s)
        assert st["in_irq[0]"] == sum(1 for i in (0, 1) if st[f"irqlvl_irq[{i}]"] > 0)
        if st["in_irq[0]"] == 2:
            nested += 1
            inner = next(i for i in (0, 1) if st[f"irqlvl_irq[{i}]"] == 2)
            assert {c.actions[k].process for k, _ in c.successors(s)} <= {f"irq{inner}"}
    assert nested > 0


def test_nesting_is_for_interrupt_handlers() -> None:
    import pytest

    from itsrace.engine import ModelError

    m = Model("nest-task")
    with pytest.raises(ModelError, match="nests=True is for interrupt handlers"):
        @m.process(cpu=0, nests=True)
        def task(self, s):
            skip()


def test_nested_handlers_give_the_same_counts_in_c() -> None:
    import pytest

    from itsrace.engine.native.build import find_compiler
    from itsrace.engine.native.runner import check_native

    if find_compiler() is None:
        pytest.skip("no C compiler")
    for nests in (True, False):
        m = _nesting(nests, False)
        a, b = check_model(m, stop_on_violation=False), check_native(m, stop_on_violation=False)
        assert (a.stats.distinct_states, a.stats.transitions, a.violated) == \
            (b.stats.distinct_states, b.stats.transitions, b.violated)
