"""The textbook level-2 models: Peterson, a broken lock, dining philosophers, IRQ vs. lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from itsrace.engine import Model, check_model
from itsrace.models import broken_lock, irq_lock, peterson, philosophers

# (name, builder taking merge_local, expected violated properties)
VARIANTS: list[tuple[str, Callable[[bool], Model], set[str]]] = [
    ("peterson", lambda ml: peterson.build(merge_local=ml), set()),
    ("peterson-swapped", lambda ml: peterson.build(swap=True, merge_local=ml), {"mutex"}),
    ("broken-lock", lambda ml: broken_lock.build(merge_local=ml), {"mutex"}),
    ("broken-lock-fixed", lambda ml: broken_lock.build(fixed=True, merge_local=ml), set()),
    ("philosophers", lambda ml: philosophers.build(3, merge_local=ml), {"deadlock"}),
    ("philosophers-fixed", lambda ml: philosophers.build(3, fixed=True, merge_local=ml), set()),
    ("irq-lock", lambda ml: irq_lock.build(merge_local=ml), {"deadlock"}),
    ("irq-lock-2cpu", lambda ml: irq_lock.build(cpus=2, merge_local=ml), {"deadlock"}),
    ("irq-lock-irqsave", lambda ml: irq_lock.build(irqsave=True, merge_local=ml), set()),
    ("irq-lock-irqsave-2cpu", lambda ml: irq_lock.build(irqsave=True, cpus=2, merge_local=ml), set()),
]


@pytest.mark.parametrize(("name", "build", "violated"), VARIANTS, ids=[v[0] for v in VARIANTS])
def test_verdicts_are_the_same_with_and_without_merge_local(
    name: str, build: Callable[[bool], Model], violated: set[str]
) -> None:
    results = {ml: check_model(build(ml), stop_on_violation=False) for ml in (True, False)}
    for r in results.values():
        assert r.violated == violated, name
        assert r.verdict == ("fail" if violated else "pass")
    # merging local steps never adds states
    assert results[True].stats.distinct_states <= results[False].stats.distinct_states


def test_peterson_mutex_holds_and_is_tight() -> None:
    r = check_model(peterson.build())
    assert r.verdict == "pass"
    assert r.stats.never_fired == []  # every step is exercised
    # the invariant is not vacuous: the swapped variant puts both inside
    bad = check_model(peterson.build(swap=True))
    final = bad.violations[0].trace.final
    assert final["crit"] == 2


@pytest.mark.parametrize("merge_local", [True, False])
def test_broken_lock_shortest_counterexample(merge_local: bool) -> None:
    r = check_model(broken_lock.build(merge_local=merge_local))
    assert r.violated == {"mutex"}
    steps = r.violations[0].trace.steps
    assert len(steps) == broken_lock.SHORTEST[merge_local] == (6 if merge_local else 8)
    # each process reads the lock free before either sets it
    labels = [(st.process, st.label) for st in steps]
    first_set = min(i for i, (_, lab) in enumerate(labels) if lab == "locker: s.lock = 1")
    readers = {p for p, lab in labels[:first_set] if lab.startswith("locker: seen: bool = s.lock")}
    assert readers == {"P0", "P1"}


def test_philosophers_deadlock_when_all_take_the_left_fork() -> None:
    for n in (2, 3, 4):
        r = check_model(philosophers.build(n))
        assert r.violated == {"deadlock"}
        steps = r.violations[0].trace.steps
        assert len(steps) == n
        assert sorted(st.process or "" for st in steps) == [f"phil{i}" for i in range(n)]
        assert all(st.label == "philosopher: spin_lock(s.fork[first])" for st in steps)
        final = r.violations[0].trace.final
        assert [final[f"fork[{i}]"] for i in range(n)] == [i + 1 for i in range(n)]  # fork i held by phil i


def test_philosophers_fixed_passes() -> None:
    for n in (2, 3, 4):
        assert check_model(philosophers.build(n, fixed=True)).verdict == "pass"


def test_irq_lock_deadlock_trace_and_fix() -> None:
    r = check_model(irq_lock.build())
    assert r.violated == {"deadlock"}
    steps = r.violations[0].trace.steps
    assert [(st.process, st.label) for st in steps] == [
        ("task0", "task: spin_lock(s.lock)"),
        ("irq", "handler: <interrupt>"),
    ]
    assert steps[0].where.endswith("irq_lock.py:" + str(_line_of(irq_lock, "spin_lock(s.lock)")))
    assert check_model(irq_lock.build(irqsave=True)).verdict == "pass"


def _line_of(module: Any, text: str) -> int:
    with open(module.__file__) as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip() == text:
                return n
    raise AssertionError(text)


@pytest.mark.parametrize("module", [peterson, broken_lock, philosophers, irq_lock])
def test_textbook_modules_teach(module: Any) -> None:
    assert module.__doc__ and len(module.__doc__) > 200
    m = module.build()
    assert isinstance(m, Model) and m.doc
