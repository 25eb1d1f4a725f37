"""Counterexamples in C terms: the source map, decoded values, hidden control steps, provenance,
the per-CPU timeline's width and folding."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import get_design
from itsrace.engine import check_model
from itsrace.hyp import build_model
from itsrace.hyp.scenario import load_scenario
from itsrace.hyp.story import Story
from itsrace.hyp.timeline import format_timeline
from itsrace.xen.explain import Decoder, context_of, explain

XEN = Path(__file__).resolve().parents[2] / "src" / "itsrace" / "xen"


@pytest.fixture(scope="module")
def uaf() -> tuple[Story, Any]:
    """Xen 4.10's use-after-free on spurious-after-remove (26 steps)."""
    model = build_model(get_design("xen-4.10"), load_scenario("spurious-after-remove"))
    result = check_model(model, stop_on_violation=True, progress=False)
    trace = result.violations[0].trace
    return explain(trace, context_of(model)), trace


# -- the source map: tests/hyp/test_srcmap.py -----------------------------------------------------


# -- decoding -----------------------------------------------------------------------------------------
def test_values_are_decoded_to_their_c_meaning() -> None:
    dec = Decoder({"consts": {"NC": 2, "NL": 2, "NE": 2, "NCOL": 1, "VCPU_PCPU": [1, 2]},
                   "processes": ["pCPU0:irq", "vCPU0", "vCPU1"]})
    assert dec.decode("p_vcpu[3]", 2) == "dev1.pend_irqs[1].lpi_vcpu_id = INVALID_VCPU_ID"
    assert dec.decode("p_vcpu[0]", 1) == "dev0.pend_irqs[0].lpi_vcpu_id = v1"
    assert dec.decode("vgic_lock[0]", 3) == "v0's vgic lock: taken by pCPU2 (vCPU1)"
    assert dec.decode("vgic_lock[1]", 1) == "v1's vgic lock: taken by pCPU0"
    assert dec.decode("vgic_lock[1]", 0) == "v1's vgic lock: free"
    assert dec.decode("lr_state[1][0]", 3) == "v1 LR0.state = pending+active"
    assert dec.decode("p_lr[0]", 2) == "dev0.pend_irqs[0].lr = GIC_INVALID_LR"
    assert dec.decode("p_irq[0]", 0) == "dev0.pend_irqs[0].irq = INVALID_LPI"
    assert dec.decode("tree[1]", 3) == "pend_lpi_tree[vLPI 8193] = &dev1.pend_irqs[0]"
    assert dec.decode("host_lpi[0]", -1) == "host_lpis[0] = free {0, DOMID_INVALID}"
    # bookkeeping a C reader does not need
    assert dec.decode("pc_vCPU[0]", 4) is None
    assert dec.decode("trig[0]", 1) is None
    assert dec.decode("irqs_off[1]", 1) is None


# -- the story ----------------------------------------------------------------------------------------
def test_steps_show_cpu_c_function_location_and_decoded_changes(uaf: tuple[Story, Any]) -> None:
    story, _trace = uaf
    by_n = {st.n: st for st in story.steps}
    lock = next(st for st in story.steps if st.c_where == "vgic-v3-its.c:607")
    assert lock.lane == "pCPU1" and lock.context == "vCPU0" and lock.function == "its_discard_event"
    assert lock.text == "spin_lock_irqsave(&vcpu->arch.vgic.lock)"
    assert "v0's vgic lock: taken by pCPU1 (vCPU0)" in lock.changes
    assert any("lpi_vcpu_id = INVALID_VCPU_ID" in c for st in story.steps for c in st.changes)
    assert by_n[len(story.steps)].lane == "pCPU0" and by_n[len(story.steps)].context == "LPI handler (IRQ)"
    assert by_n[len(story.steps)].c_where == "gic-v3-lpi.c:152"


def test_model_internal_control_steps_are_not_shown(uaf: tuple[Story, Any]) -> None:
    story, trace = uaf
    internal = [st for st in story.steps if st.internal]
    assert internal and all("lr_mask" in trace.steps[st.n - 1].label for st in internal)
    text = format_timeline(story, 120)
    assert "if s.lr_mask" not in text and "while j <" not in text
    assert f"({len(internal)} model-internal step" in text


def test_provenance_marks_the_pointer_origin_every_change_and_the_expectation(uaf: tuple[Story, Any]) -> None:
    story, trace = uaf
    marked = {st.n: st.marks for st in story.steps if st.marks}
    origin = next(n for n, marks in marked.items() if any("obtained here" in m for m in marks))
    changed = sorted(n for n, marks in marked.items() if any("changes dev0.pend_irqs[0]" in m for m in marks))
    # the lookup in gicv3_do_LPI, then DISCARD's re-initialisation (two steps) and MAPD V=0's xfree
    assert story.steps[origin - 1].function == "vgic_v3_lpi_to_pending"
    assert [story.steps[n - 1].function for n in changed] == [
        "vgic_init_pending_irq", "vgic_init_pending_irq", "remove_mapped_guest_device"]  # memset, then the stores
    freed = changed[-1]
    assert trace.steps[freed - 1].changes["p_alive[0]"] == [1, 0]
    last = story.steps[-1]
    assert last.failing and f"obtained at step {origin}" in last.note and f"freed at step {freed}" in last.note
    assert story.involved == ["pCPU0", "pCPU1"] and story.objects == ["dev0.pend_irqs[0]"]
    assert "freed" in last.objects["dev0.pend_irqs[0]"]


def test_timeline_fits_the_width_and_folds_uninvolved_cpus(uaf: tuple[Story, Any]) -> None:
    story, _trace = uaf
    for width in (90, 120, 200):
        lines = format_timeline(story, width).splitlines()
        assert max(len(line) for line in lines) <= width, width
    # the device lane is not involved in the failure: its step folds into one line
    folded = format_timeline(story, 120, fold=True)
    assert "... 1 step of guest / devices folded" in folded and "device_sends_msi" not in folded
    assert "guest / devices" not in folded.splitlines()[4]  # no column for it
    assert "device_sends_msi" in format_timeline(story, 120)


def test_step_numbers_are_the_traces_own(uaf: tuple[Story, Any]) -> None:
    story, trace = uaf
    numbers = [int(m.group(1)) for m in re.finditer(r"(?m)(?:^|\| )(\d+)\. ", format_timeline(story, 200))]
    assert numbers == [st.n for st in story.shown()]
    assert numbers[-1] == len(trace.steps)


ANSI_COLOUR = ("\x1b[31m", "\x1b[33m", "\x1b[1;31m", "\x1b[1;33m")


def test_colour_on_a_terminal_never_with_no_color(uaf: tuple[Story, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from itsrace.cli.render import print_lines
    from itsrace.hyp.timeline import render

    story, _trace = uaf
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: as on a terminal
    coloured = io.StringIO()
    print_lines(render(story, 120), coloured)
    assert any(code in coloured.getvalue() for code in ANSI_COLOUR)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = io.StringIO()
    print_lines(render(story, 120), plain)
    assert not any(code in plain.getvalue() for code in ANSI_COLOUR)
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.delenv("NO_COLOR")
    piped = io.StringIO()
    print_lines(render(story, 120), piped)
    assert "\x1b[" not in piped.getvalue() and piped.getvalue() == format_timeline(story, 120) + "\n"


def test_a_designs_own_functions_and_fields_fall_back_to_the_model(tmp_path: Path) -> None:
    """kvm-refcount adds vgic_get_lpi/vgic_put_lpi and a p_ref field: its steps show their
    design file:line, the field is decoded as a pending_irq field, and provenance still works."""
    model = build_model(get_design(str(Path(__file__).parent / "faults" / "kvm_late_get.py")),
                        load_scenario("spurious-after-remove"))
    trace = check_model(model, progress=False).violations[0].trace
    story = explain(trace, context_of(model))
    got = next(st for st in story.steps if st.function == "vgic_get_lpi")
    assert got.c_where == "" and got.model_where.startswith("tests/hyp/faults/kvm_late_get.py:")
    assert any(m.endswith("obtained here (generation 0)") for m in got.marks)
    assert any("dev0.pend_irqs[0]: " in c and "ref = 0" in c for st in story.steps for c in st.changes)
    assert "(tests/hyp/faults/kvm_late_get.py:" in format_timeline(story, 120)
    assert "use-after-free" in story.steps[-1].note


def test_a_deadlock_names_the_waiter_the_lock_and_where_it_was_taken() -> None:
    """MAPTI holds the radix-tree write lock on pCPU0 when the host LPI interrupts it there."""
    model = build_model(get_design("xen-4.10"), load_scenario("mapti-vs-lpi-same-cpu"))
    trace = check_model(model, progress=False).violations[0].trace
    story = explain(trace, context_of(model))
    taken = [st for st in story.steps if any(m.startswith("takes pend_lpi_tree_lock") for m in st.marks)]
    assert [st.function for st in taken] == ["its_handle_mapti"]
    assert (f"pCPU0 (LPI handler) waits in vgic_v3_lpi_to_pending for pend_lpi_tree_lock (write), "
            f"taken by pCPU0 (vCPU0) since step {taken[0].n}") in story.expected
    assert story.objects == ["locks"] and "taken by pCPU0" in story.steps[-1].objects["locks"]
    assert story.expected.startswith("=> deadlock") and not story.steps[-1].note


def test_a_step_shows_the_pointer_its_own_function_sets(uaf: tuple[Story, Any]) -> None:
    story, _trace = uaf
    delete = next(st for st in story.steps if st.c_where == "vgic-v3-its.c:611")  # radix_tree_delete
    pointers = [c for c in delete.changes if c.split(" = ")[0] in ("p", "r", "n", "found")]
    assert pointers == ["p = &dev0.pend_irqs[0] (generation 0)"]  # not the callee's r bound here
    lookup = next(st for st in story.steps if st.function == "vgic_v3_lpi_to_pending")
    assert any(c.startswith("found = &dev0.pend_irqs[0]") for c in lookup.changes)


def test_an_undelivered_msi_is_named_and_its_sending_marked() -> None:
    """A final property is about a state: for msi-delivered the story names the event whose
    MSI is still owed and marks the step that sent it (mapti-refuse-in-lr drops it)."""
    model = build_model(get_design("mapti-refuse-in-lr"), load_scenario("unmap-device-in-lr"))
    result = check_model(model, stop_on_violation=False, progress=False)
    v = next(v for v in result.violations if v.property == "msi-delivered")
    story = explain(v.trace, context_of(model))
    sent = [st for st in story.steps if any("is never delivered" in m for m in st.marks)]
    assert sent and all(st.function.startswith("device MSI") for st in sent)
    assert re.search(r"the MSI of dev\d+ event\[\d+\] sent at step \d+ was never delivered", story.expected)
    assert sent[0].lane in story.involved
