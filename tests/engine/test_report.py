"""The trace printer: what each format shows (content, not exact whitespace)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from itsrace.engine import Trace, TraceStep, check_model
from itsrace.engine.explore.report import (
    format_compact,
    format_state,
    format_steps,
    format_timeline,
    format_trace,
    format_violation,
    short_where,
)
from itsrace.models.lpi_toy import build as lpi_toy

CWD = "/work/project"


def race() -> Trace:
    """A hand-made level-2 trace: two CPUs racing on a host LPI mapping."""
    return Trace(
        model="its-discard",
        property="no-use-after-free",
        kind="assertion",
        initial={"host_lpi[0]": 3, "host_lpi[1]": 0, "valid[0]": 1, "m[0][0]": 1, "m[0][1]": 2,
                 "m[1][0]": 3, "m[1][1]": 4},
        steps=[
            TraceStep("pCPU0 do_LPI: h = s.host_lpi[P]", "pCPU0", "do_LPI: h = s.host_lpi[P]",
                      f"{CWD}/models/vgic.py:120", {"host_lpi[0]": 3}, {"do_LPI.h[0]": [0, 3]}),
            TraceStep("pCPU1 its_discard: s.host_lpi[0] = 0", "pCPU1", "its_discard: s.host_lpi[0] = 0",
                      f"{CWD}/models/its.py:88", {}, {"host_lpi[0]": [3, 0], "valid[0]": [1, 0]}),
            TraceStep("pCPU0 do_LPI: check(valid)", "pCPU0", "do_LPI: check(s.valid[h])",
                      f"{CWD}/models/vgic.py:122", {"valid[0]": 0}, {}, "check failed: no-use-after-free"),
        ],
        final={"host_lpi[0]": 0, "host_lpi[1]": 0, "valid[0]": 0, "m[0][0]": 1, "m[0][1]": 2,
               "m[1][0]": 3, "m[1][1]": 4},
    )


@pytest.fixture(scope="module")
def lpi_trace() -> Trace:
    return check_model(lpi_toy(2, 2, bug=True), progress=False).violations[0].trace


# -- pieces ----------------------------------------------------------------------------------------
def test_states_are_shown_per_variable_with_arrays_nested() -> None:
    assert format_state({"x": 3, "a[0]": 1, "a[1]": 2, "m[0][0]": 1, "m[0][1]": 2, "m[1][0]": 3, "m[1][1]": 4}) == (
        "x=3 a=[1, 2] m=[[1, 2], [3, 4]]"
    )
    assert format_state({"f.h[0]": 7}) == "f.h=[7]"


def test_locations_are_made_relative_to_the_working_directory() -> None:
    assert short_where(f"{CWD}/models/vgic.py:120", CWD) == "models/vgic.py:120"
    assert short_where("/elsewhere/x.py:3", CWD) == "/elsewhere/x.py:3"  # not below: unchanged
    assert short_where("<model>", CWD) == "<model>"


# -- the step list (level 1) ---------------------------------------------------------------------------
def test_steps_show_every_action_with_location_reads_and_changes(lpi_trace: Trace) -> None:
    text = format_steps(lpi_trace, cwd=os.path.dirname(lpi_trace.steps[0].where))
    lines = text.splitlines()
    assert "invariant 'NoDoubleResidency'" in lines[0] and "6 steps" in lines[0]
    assert lines[1] == "initial: pend=[0, 0] target=[2, 2] lr=[2, 2] lrst=[0, 0] running=[0, 0]"
    numbered = [line for line in lines if line[:2].strip().rstrip(".").isdigit()]
    assert [line.split("  @ ")[0].split(". ", 1)[1] for line in numbered] == [s.action for s in lpi_trace.steps]
    third = lines[lines.index(numbered[2]):lines.index(numbered[3])]
    assert "lpi_toy.py:" in third[0]
    assert any("read" in line and "pend[0]=1" in line and "running[0]=0" in line for line in third)
    assert any("set" in line and "lr[0]=2->0" in line and "lrst[0]=0->1" in line for line in third)
    assert "fails in:" in lines[-1] and "lr=[0, 0]" in lines[-1]


def test_compact_is_one_line_per_step(lpi_trace: Trace) -> None:
    lines = format_compact(lpi_trace).splitlines()
    assert len(lines) == 2 + len(lpi_trace.steps) + 1  # header, steps, footer
    assert lines[2].startswith("1. Map(l=0, c=0) | target[0]=2->0 | ")
    assert lines[7].startswith("6. Inject(c=1, l=0) | ") and "lr[1]=2->0" in lines[7]


def test_auto_style_uses_the_step_list_for_level_1_and_the_timeline_for_processes(lpi_trace: Trace) -> None:
    assert format_trace(lpi_trace) == format_steps(lpi_trace)
    assert format_trace(race(), cwd=CWD) == format_timeline(race(), cwd=CWD)
    with pytest.raises(ValueError, match="unknown trace style"):
        format_trace(lpi_trace, "fancy")


# -- the timeline (level 2) ------------------------------------------------------------------------------
def test_timeline_has_one_column_per_process_in_order_of_appearance() -> None:
    lines = format_timeline(race(), cwd=CWD).splitlines()
    heading = lines[2]
    assert heading.split("|")[0].strip() == "pCPU0" and heading.split("|")[1].strip() == "pCPU1"
    assert set(lines[3]) <= {"-", "+"}


def test_each_step_sits_in_the_column_of_its_process() -> None:
    lines = format_timeline(race(), cwd=CWD).splitlines()
    column_1 = lines[2].index("pCPU1")
    step1 = next(line for line in lines if "1. do_LPI: h = s.host_lpi[P]" in line)
    step2 = next(line for line in lines if "2. its_discard" in line)
    step3 = next(line for line in lines if "3. do_LPI: check" in line)
    assert step1.startswith("1.") and step3.startswith("3.")
    assert step2.index("2. its_discard") == column_1 and step2[:column_1].strip() == "|"
    body = "\n".join(lines)
    assert "models/vgic.py:120" in body and "models/its.py:88" in body
    assert "host_lpi[0]=3->0" in body and "valid[0]=1->0" in body
    assert "check failed: no-use-after-free" in body


def test_time_runs_downwards() -> None:
    text = format_timeline(race(), cwd=CWD)
    assert text.index("1. do_LPI") < text.index("2. its_discard") < text.index("3. do_LPI")


def test_long_cells_wrap_inside_their_column() -> None:
    trace = race()
    trace.steps[1].changes = {f"table[{i}]": [i, i + 1] for i in range(30)}
    lines = format_timeline(trace, cwd=CWD, max_column=30).splitlines()
    start = lines[2].index("pCPU1")
    body = lines[4:-1]
    assert all(len(line) - start <= 30 for line in body if len(line) > start)
    joined = " ".join(line[start:].strip() for line in body if len(line) > start)
    assert all(f"table[{i}]={i}->{i + 1}" in joined for i in range(30))  # nothing lost in wrapping


def test_violation_header_quotes_the_property_documentation() -> None:
    result = check_model(lpi_toy(2, 2, bug=True), progress=False)
    text = format_violation(result.violations[0], style="compact")
    first = text.splitlines()[0]
    assert first.startswith("VIOLATION NoDoubleResidency") and "No two different vCPUs" in first


def test_output_is_plain_ascii(lpi_trace: Trace) -> None:
    for text in (format_steps(lpi_trace), format_compact(lpi_trace), format_timeline(race(), cwd=CWD)):
        text.encode("ascii")


def test_relative_locations_point_at_real_files(lpi_trace: Trace) -> None:
    root = Path(lpi_trace.steps[0].where).parents[3]  # .../src/itsrace/models/lpi_toy.py -> checkout
    text = format_steps(lpi_trace, cwd=str(root))
    assert "src/itsrace/models/lpi_toy.py:" in text
    assert (root / "src/itsrace/models/lpi_toy.py").exists()
