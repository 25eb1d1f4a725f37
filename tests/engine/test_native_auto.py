"""``engine="auto"``: the Python trial's result is returned only when the trial is complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsrace.engine import check_model
from itsrace.engine.native.build import find_compiler
from itsrace.engine.native.runner import check
from itsrace.models import lpi_toy

pytestmark = pytest.mark.skipif(find_compiler() is None, reason="no C compiler")


@pytest.mark.parametrize("trial", [0.0, 0.02])
def test_a_trial_cut_short_after_a_violation_is_redone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       trial: float) -> None:
    # A search that goes on after its first violation (as `itsrace check` does) and runs out of
    # trial time has found some violations, not all, and counted some states: whatever the
    # machine's speed, auto must give the complete search's answer.
    monkeypatch.setenv("ITSRACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("itsrace.engine.native.runner.TRIAL_SECONDS", trial)
    model = lpi_toy.build(3, 3, bug=True)
    full = check_model(model, stop_on_violation=False, progress=False)
    auto = check(model, engine="auto", stop_on_violation=False, progress=False)
    assert full.reason == ""
    assert (auto.verdict, auto.violated, auto.stats.distinct_states, auto.stats.transitions) == \
        (full.verdict, full.violated, full.stats.distinct_states, full.stats.transitions)
