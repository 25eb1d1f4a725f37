"""The search's progress callback: what ``check`` and ``matrix`` draw their live line from."""

from __future__ import annotations

import pytest

from itsrace.engine import check_model
from itsrace.engine.explore.search import ProgressInfo
from itsrace.engine.native.build import find_compiler
from itsrace.models import lpi_toy


def test_the_python_search_feeds_the_callback_and_ends_with_a_final_report() -> None:
    got: list[ProgressInfo] = []
    result = check_model(lpi_toy.build(2, 2), progress=got.append)
    assert got and got[-1].final and not any(info.final for info in got[:-1])
    last = got[-1]
    assert 0 < last.states <= result.stats.distinct_states and last.elapsed >= 0 and last.rate >= 0
    assert last.depth >= 1 and last.queue >= 0 and last.memory > 0


def test_the_same_search_gives_the_same_verdict_with_or_without_a_callback() -> None:
    plain = check_model(lpi_toy.build(2, 2), progress=False)
    fed = check_model(lpi_toy.build(2, 2), progress=lambda info: None)
    assert (plain.verdict, plain.stats.distinct_states, plain.stats.transitions) == (
        fed.verdict, fed.stats.distinct_states, fed.stats.transitions)


def test_a_callback_replaces_the_terminal_line(capsys: pytest.CaptureFixture[str]) -> None:
    check_model(lpi_toy.build(2, 2), progress=lambda info: None)
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(find_compiler() is None, reason="no C compiler")
def test_the_c_backend_feeds_the_same_callback() -> None:
    from itsrace.engine.native.runner import check as native_check

    got: list[ProgressInfo] = []
    result = native_check(lpi_toy.build(3, 3), engine="c", progress=got.append)
    # the C search reports from its helper thread's counters every 0.2 s: a short run may end
    # before the first report, and then there is nothing to end either
    assert all(isinstance(info, ProgressInfo) for info in got)
    if got:
        assert got[-1].final and got[-1].states <= result.stats.distinct_states
