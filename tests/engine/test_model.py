"""The level-1 modelling API and its error reporting.

Every mistake a model can make must be reported as a :class:`ModelError` naming the model's file
and line. The throwaway models below put a ``# LINE:<tag>`` marker on the offending line, and
:func:`line_of` finds it, so the tests check the exact line without hard-coding numbers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from itsrace.engine import Model, ModelError, check, check_model, compile_model, require

HERE = Path(__file__).resolve()


def line_of(tag: str) -> int:
    """The line of this file carrying the marker ``# LINE:<tag>``."""
    marker = f"# LINE:{tag}"
    hits = [n for n, text in enumerate(HERE.read_text().splitlines(), start=1) if text.rstrip().endswith(marker)]
    assert len(hits) == 1, f"marker {marker!r} must occur exactly once"
    return hits[0]


def at(tag: str) -> str:
    return f"{HERE}:{line_of(tag)}"


def base(name: str = "toy") -> Model:
    m = Model(name)
    m.var("x", range(3))
    m.var("a", range(3), 2)
    return m


def model_error(build: Callable[[], Model], *, search: bool = False) -> ModelError:
    """The ModelError raised while building (and compiling, or searching) a model."""
    with pytest.raises(ModelError) as info:
        m = build()
        compile_model(m)
        if search:
            check_model(m, progress=False)
    return info.value


# -- declarations --------------------------------------------------------------------------------
def test_domains_accept_range_bool_and_inclusive_pairs() -> None:
    m = Model("domains")
    assert (m.var("r", range(2, 6)).lo, m.vars["r"].hi) == (2, 5)
    assert (m.var("b", bool).lo, m.vars["b"].hi) == (0, 1)
    assert (m.var("p", (-1, 1)).lo, m.vars["p"].hi) == (-1, 1)
    assert m.var("arr", range(4), (2, 3)).size == 6
    assert m.vars["r"].init == 2  # default: the low end of the domain


@pytest.mark.parametrize("domain", [range(0, 6, 2), range(3, 3), (4, 1), [0, 1], "x"])
def test_bad_domains_are_rejected(domain: Any) -> None:
    with pytest.raises(ModelError, match="domain"):
        Model("bad").var("v", domain)


def test_duplicate_and_badly_named_variables_are_rejected() -> None:
    m = base()
    with pytest.raises(ModelError, match="declared twice"):
        m.var("x", bool)
    with pytest.raises(ModelError, match="identifier"):
        m.var("not ok", bool)


def test_init_outside_the_domain_names_the_declaring_line() -> None:
    m = base()
    with pytest.raises(ModelError) as info:
        m.var("z", range(3), 2, init=(0, 5))  # LINE:init-domain
    assert info.value.where == at("init-domain")
    assert "z[1] = 5" in str(info.value) and "[0, 2]" in str(info.value)


def test_init_with_the_wrong_shape_names_the_declaring_line() -> None:
    m = base()
    with pytest.raises(ModelError) as info:
        m.var("z", range(3), 3, init=(0, 1))  # LINE:init-shape
    assert info.value.where == at("init-shape")
    assert "shape" in str(info.value)


def test_initial_states_outside_the_domain_name_the_initial_function() -> None:
    m = base()

    def starts() -> Iterator[dict[str, Any]]:  # LINE:initial-domain
        yield {"x": 1}
        yield {"a": (0, 7)}

    with pytest.raises(ModelError) as info:
        m.initial(starts)
    assert info.value.where == at("initial-domain")
    assert "a[1] = 7" in str(info.value)


def test_initial_states_naming_unknown_variables_are_rejected() -> None:
    m = base()

    def starts() -> Iterator[dict[str, Any]]:  # LINE:initial-unknown
        yield {"nope": 1}

    with pytest.raises(ModelError, match="nope") as info:
        m.initial(starts)
    assert info.value.where == at("initial-unknown")


def test_initial_array_values_may_be_scalars_like_init() -> None:
    m = base()

    @m.initial
    def starts() -> Iterator[dict[str, Any]]:
        yield {"a": 2}  # every element 2, as m.var(..., init=2) would mean
        yield {"a": (1, 0), "x": 2}

    @m.action
    def Noop(s):
        s.x = s.x

    c = compile_model(m)
    assert [c.layout.flat(s) for s in c.initial] == [
        {"x": 0, "a[0]": 2, "a[1]": 2},
        {"x": 2, "a[0]": 1, "a[1]": 0},
    ]


def test_actions_need_the_state_and_a_domain_for_every_parameter() -> None:
    m = base()
    with pytest.raises(ModelError, match="needs the state"):
        @m.action
        def NoState():
            pass
    with pytest.raises(ModelError, match="need domains") as info:
        @m.action(i=range(2), j=range(2))  # LINE:action-params
        def Extra(s, i):
            s.x = i
    assert info.value.where == at("action-params")  # the decorated function starts here


def test_parameters_expand_into_one_instance_per_value() -> None:
    m = base()

    @m.action(i=range(2), v=(0, 2))
    def Put(s, i, v):
        s.a[i] = v

    c = compile_model(m)
    assert [inst.name for inst in c.actions] == ["Put(i=0, v=0)", "Put(i=0, v=2)", "Put(i=1, v=0)", "Put(i=1, v=2)"]


def test_primitives_refuse_to_run_outside_the_checker() -> None:
    with pytest.raises(ModelError, match="inside the checker"):
        require(True)
    with pytest.raises(ModelError, match="inside the checker"):
        check(True, "p")


def test_a_model_without_actions_is_an_error() -> None:
    with pytest.raises(ModelError, match="no actions"):
        compile_model(base())


# -- the action language: compile-time errors ----------------------------------------------------
def test_unknown_variable() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.y = 1  # LINE:unknown-var

        return m

    err = model_error(build)
    assert err.where == at("unknown-var")
    assert "unknown variable 'y'" in str(err) and "a, x" in str(err)


def test_unknown_variable_in_an_invariant() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.x = 0

        @m.invariant
        def Inv(s):
            return s.nothing == 0  # LINE:unknown-var-inv

        return m

    assert model_error(build).where == at("unknown-var-inv")


def test_out_of_range_constant_index() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.a[2] = 1  # LINE:const-index

        return m

    err = model_error(build)
    assert err.where == at("const-index")
    assert "index 2 out of range for 'a'" in str(err)


def test_out_of_range_parameter_index() -> None:
    def build() -> Model:
        m = base()

        @m.action(i=range(3))
        def A(s, i):
            s.a[i] = 1  # LINE:param-index

        return m

    err = model_error(build)
    assert err.where == at("param-index")
    assert "index 2" in str(err)


def test_too_many_indices() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.a[0][1] = 1  # LINE:too-many-indices

        return m

    err = model_error(build)
    assert err.where == at("too-many-indices")
    assert "dimension" in str(err)


@pytest.mark.parametrize("tag", ["with", "try", "lambda", "return", "del"])
def test_unsupported_syntax(tag: str) -> None:
    def build() -> Model:
        m = base()
        if tag == "with":
            @m.action
            def A(s):
                with open("f"):  # LINE:syntax-with
                    s.x = 1
        elif tag == "try":
            @m.action
            def A(s):
                try:  # LINE:syntax-try
                    s.x = 1
                except ValueError:
                    pass
        elif tag == "lambda":
            @m.action
            def A(s):
                s.x = (lambda v: v)(1)  # LINE:syntax-lambda
        elif tag == "return":
            @m.action
            def A(s):
                return  # LINE:syntax-return
        else:
            @m.action
            def A(s):
                del s.x  # LINE:syntax-del
        return m

    err = model_error(build)
    assert err.where == at(f"syntax-{tag}")
    assert "not supported" in str(err) or "cannot 'return'" in str(err)


def test_unknown_name() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.x = undefined_thing  # type: ignore[name-defined]  # noqa: F821  # LINE:unknown-name

        return m

    err = model_error(build)
    assert err.where == at("unknown-name")
    assert "unknown name 'undefined_thing'" in str(err)


@pytest.mark.parametrize("which", ["random", "time"])
def test_non_deterministic_calls(which: str) -> None:
    def build() -> Model:
        m = base()
        if which == "random":
            @m.action
            def A(s):
                s.x = int(random.random() * 3)  # LINE:nondet-random
        else:
            @m.action
            def A(s):
                s.x = int(time.time()) % 3  # LINE:nondet-time
        return m

    err = model_error(build)
    assert err.where == at(f"nondet-{which}")
    assert "non-deterministic" in str(err)


def test_bare_use_of_the_state() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.x = len(s)  # LINE:bare-state

        return m

    err = model_error(build)
    assert err.where == at("bare-state")
    assert "s.<variable>" in str(err)


def test_require_and_check_must_be_statements() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.x = require(s.x == 0)  # type: ignore[func-returns-value]  # LINE:require-expr

        return m

    err = model_error(build)
    assert err.where == at("require-expr")
    assert "statement of its own" in str(err)


@pytest.mark.parametrize("form", ["check", "assert"])
def test_assertions_need_a_property_name(form: str) -> None:
    def build() -> Model:
        m = base()
        if form == "check":
            @m.action
            def A(s):
                check(s.x == 0)  # type: ignore[call-arg]  # LINE:check-noname
        else:
            @m.action
            def A(s):
                assert s.x == 0  # LINE:assert-noname
        return m

    err = model_error(build)
    assert err.where == at(f"{form}-noname")
    assert "name" in str(err)


def test_comprehensions_must_iterate_over_constants() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.x = sum(v for v in s.a)  # LINE:comprehension

        return m

    err = model_error(build)
    assert err.where == at("comprehension")
    assert "constants" in str(err)


# -- the action language: run-time errors (found during the search) ------------------------------
def test_assignment_outside_the_domain_at_run_time() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def Inc(s):
            s.x = s.x + 1  # LINE:domain-runtime

        return m

    err = model_error(build, search=True)
    assert err.where == at("domain-runtime")
    assert "x = 3 is outside its domain [0, 2]" in str(err)


def test_constant_assignment_outside_the_domain() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def Set(s):
            s.a[1] = 7  # LINE:domain-const

        return m

    err = model_error(build, search=True)
    assert err.where == at("domain-const")
    assert "a[1] = 7" in str(err)


def test_dynamic_index_out_of_range_on_write() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def Walk(s):
            require(s.x < 2)
            s.x = s.x + 1
            s.a[s.x] = 1  # LINE:dyn-write

        return m

    err = model_error(build, search=True)
    assert err.where == at("dyn-write")
    assert "out of range" in str(err)


def test_dynamic_index_out_of_range_on_read() -> None:
    def build() -> Model:
        m = Model("dyn-read")
        m.var("x", range(3))
        m.var("a", range(3), 2, init=(1, 2))

        @m.action
        def Hop(s):
            s.x = s.a[s.x + 1]  # LINE:dyn-read

        return m

    err = model_error(build, search=True)
    assert err.where == at("dyn-read")
    assert "index 3 out of range" in str(err)


def test_run_time_errors_deep_in_the_search_still_name_the_line() -> None:
    # Not at the initial state (where compile-time determinism checking would catch it) but
    # several steps in: the generated code's line map must lead back to the model.
    def build() -> Model:
        m = Model("deep")
        m.var("x", range(6))
        m.var("a", range(2), 4)

        @m.action
        def Step(s):
            require(s.x < 5)
            s.x = s.x + 1

        @m.action
        def Poke(s):
            require(s.x == 5)
            s.a[s.x - 1] = s.a[s.x]  # LINE:deep

        return m

    err = model_error(build, search=True)
    assert err.where == at("deep")


def test_run_time_error_inside_an_invariant() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def Inc(s):
            require(s.x < 2)
            s.x = s.x + 1

        @m.invariant
        def Lookup(s):
            return s.a[s.x] == 0  # LINE:inv-runtime

        return m

    err = model_error(build, search=True)
    assert err.where == at("inv-runtime")
    assert "index 2 out of range" in str(err)


def test_run_time_error_inside_a_final_property() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def Inc(s):
            require(s.x < 2)
            s.x = s.x + 1

        m.check_deadlock = False  # x == 2 is terminal: evaluate the final property there

        @m.final
        def Lookup(s):
            v = s.a[s.x]  # LINE:final-runtime
            return v == 0

        return m

    err = model_error(build, search=True)
    assert err.where == at("final-runtime")


def test_properties_cannot_assign_state_variables() -> None:
    def build() -> Model:
        m = base()

        @m.action
        def A(s):
            s.x = 0

        @m.invariant
        def Sneaky(s):
            s.x = 1  # LINE:property-write
            return True

        return m

    err = model_error(build)
    assert err.where == at("property-write")
    assert "cannot assign state variables" in str(err)
