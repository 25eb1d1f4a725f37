"""Mistakes in process code are ModelErrors naming the model's file and line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itsrace.engine import Model, ModelError, compile_model
from itsrace.engine.lang.model import require
from itsrace.engine.lang.process import (
    await_,
    choose,
    label,
    local_irq_disable,
    read_lock,
    spin_lock,
)


def _line(marker: str) -> int:
    with open(__file__) as fh:
        for n, text in enumerate(fh, start=1):
            if text.rstrip().endswith(f"# {marker}"):
                return n
    raise AssertionError(marker)


def _where(marker: str) -> str:
    return f"{__file__}:{_line(marker)}"


def _fails(build: Callable[[Model], None], marker: str, message: str) -> None:
    """Declaring (or else compiling) the model raises a ModelError at ``marker``'s line."""
    m = Model("err")
    m.var("x", range(4))
    m.spinlock("L")
    m.rwlock("RW")
    with pytest.raises(ModelError) as info:
        build(m)
        compile_model(m)
    assert info.value.where == _where(marker), str(info.value)
    assert message in str(info.value)


def test_unannotated_first_assignment() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            v = s.x  # E-UNANNOTATED
            s.x = v

    _fails(build, "E-UNANNOTATED", "needs a domain annotation")


def test_unannotated_assignment_of_a_non_constant_at_top_level() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            v = s.x + 1  # E-NOTCONST
            s.x = v

    _fails(build, "E-NOTCONST", "not a constant")


def test_parameter_without_domain() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s, v):  # E-PARAM
            s.x = v

    _fails(build, "E-PARAM", "needs a finite domain")


def test_lock_primitive_on_a_non_lock_variable() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            spin_lock(s.x)  # E-NOTLOCK

    _fails(build, "E-NOTLOCK", "not a lock")


def test_spinlock_primitive_on_a_rwlock() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            read_lock(s.L)  # E-KIND

    _fails(build, "E-KIND", "not declared with m.rwlock")


def test_recursion_is_detected() -> None:
    def build(m: Model) -> None:
        @m.procedure
        def ping(self, s):
            pong(self, s)

        @m.procedure
        def pong(self, s):
            ping(self, s)  # E-RECURSION

        @m.process
        def p(self, s):
            ping(self, s)

    _fails(build, "E-RECURSION", "recursive procedure call (ping -> pong -> ping)")


def test_unsupported_statement() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            try:  # E-TRY
                s.x = 1
            finally:
                pass

    _fails(build, "E-TRY", "'Try' statements are not supported")


def test_primitive_inside_an_expression() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            v: range(4) = await_(s.x)  # E-PRIMEXPR
            s.x = v

    _fails(build, "E-PRIMEXPR", "await_() cannot be used inside an expression")


def test_require_in_a_process() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            require(s.x == 0)  # E-REQUIRE

    _fails(build, "E-REQUIRE", "use await_(cond)")


def test_unknown_name_and_unknown_variable() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            s.x = nowhere  # E-NAME  # noqa: F821

    _fails(build, "E-NAME  # noqa: F821", "unknown name 'nowhere'")

    def build2(m: Model) -> None:
        @m.process
        def p(self, s):
            s.x = s.nothing  # E-VAR

    _fails(build2, "E-VAR", "unknown variable 'nothing'")


def test_for_over_state_and_choose_over_state() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            for _ in range(s.x):  # E-FOR
                s.x = 0

    _fails(build, "E-FOR", "for loops in processes are unrolled")

    def build2(m: Model) -> None:
        @m.process
        def p(self, s):
            v: range(4) = choose(range(s.x))  # E-CHOOSE
            s.x = v

    _fails(build2, "E-CHOOSE", "choose() needs constants")


def test_interrupt_primitive_without_a_cpu() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):  # E-NOCPU
            local_irq_disable()

    _fails(build, "E-NOCPU", "give it cpu=")


def test_irq_handler_without_a_cpu() -> None:
    def build(m: Model) -> None:
        @m.process(irq=True)
        def p(self, s):  # E-IRQCPU
            s.x = 1

    _fails(build, "E-IRQCPU", "needs cpu=")


def test_plain_call_as_a_statement() -> None:
    def helper(v: int) -> int:
        return v

    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            helper(s.x)  # E-PLAINCALL

    _fails(build, "E-PLAINCALL", "as a statement has no effect")


def test_procedure_call_inside_an_expression() -> None:
    def build(m: Model) -> None:
        @m.procedure
        def g(self, s):
            return 1

        @m.process
        def p(self, s):
            s.x = 1 + g(self, s)  # E-PROCEXPR

    _fails(build, "E-PROCEXPR", "must be a statement of its own")


def test_label_without_a_following_statement() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            s.x = 1
            label("end")  # E-LABEL

    _fails(build, "E-LABEL", "label() must come before the statement it names")


def test_assignment_to_an_undeclared_name_inside_a_branch() -> None:
    def build(m: Model) -> None:
        @m.process
        def p(self, s):
            if s.x == 0:
                v = 1  # E-BRANCH
            await_(s.x == v)

    _fails(build, "E-BRANCH", "needs a domain annotation")
