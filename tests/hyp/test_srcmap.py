"""The Xen source map: every model step names its own RELEASE-4.10.0 line.

A step is what the process compiler makes of a model function (an ``atomic`` block, a lock
operation, a statement on shared state, a branch test on shared state); its trace ``where`` is
the model line it starts at, and the comment on that line carries ``[file.c:LINE]`` (or, in a
design, ``[patch]``). ``every_step.toml`` issues every command kind from two vCPUs so that
every function of the model, INVALL and MOVI included, has its steps built.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import pytest

from itsrace.catalog import XEN_DESIGNS, get_design
from itsrace.engine.lang import process as process_lang
from itsrace.hyp import build_model
from itsrace.hyp.scenario import load_scenario
from itsrace.xen import srcmap

XEN = Path(__file__).resolve().parents[2] / "src" / "itsrace" / "xen"
EVERY_STEP = Path(__file__).with_name("every_step.toml")
STEP_ANNOTATION = re.compile(r"#.*(\[[\w.-]+\.[cS]:\d+( [A-Za-z_]\w*)?\]|\[patch\])")

# Steps exempt from carrying their own line: none. (A model-internal control step, such as
# gic_clear_lrs' LR-mask test, stands for C too and is annotated like any other; the timeline
# hides it because it changes nothing a C reader sees, not because it lacks a line.)
EXEMPT: set[str] = set()


def step_lines(design: str, under: Path) -> dict[str, str]:
    """``{model path:line: step label}`` for every process step of ``design`` (built on
    ``every_step.toml``) whose model line lies under ``under``."""
    model = build_model(get_design(design), load_scenario(str(EVERY_STEP)))
    process_lang.finalize(model)
    found: dict[str, str] = {}
    for act in model.actions:
        if act.process is None:
            continue
        where = act.where(act.body[0] if act.body else None)
        if where.startswith(str(under)):
            found.setdefault(where, act.name)
    return found


def unannotated(steps: dict[str, str], root: Path = XEN) -> list[str]:
    """The steps whose model line carries no annotation, as ``file:line (step): code``."""
    missing = []
    for where, name in sorted(steps.items()):
        path, _, line = where.rpartition(":")
        text = linecache.getline(path, int(line))
        rel = f"{Path(path).relative_to(root)}:{line}"
        if not STEP_ANNOTATION.search(text) and rel not in EXEMPT:
            missing.append(f"{rel} ({name}): {text.strip()}")
    return missing


def test_every_step_of_the_base_model_names_its_own_c_line() -> None:
    steps = step_lines("xen-4.10", XEN)
    assert len(steps) >= 90  # the whole model, INVALL and MOVI included
    assert unannotated(steps) == []


@pytest.mark.slow
@pytest.mark.parametrize("design", [d.name for d in XEN_DESIGNS])
def test_every_step_of_a_shipped_design_names_its_line(design: str) -> None:
    steps = step_lines(design, XEN / "designs")
    assert steps, design  # the design overrides something
    assert unannotated(steps) == []


def test_the_check_itself_fails_on_a_step_without_an_annotation(tmp_path: Path) -> None:
    model_file = tmp_path / "m.py"
    model_file.write_text("    with atomic():  # [gic.c:519] read_lr\n    spin_unlock(s.its_lock)\n")
    steps = {f"{model_file}:1": "f: atomic", f"{model_file}:2": "f: spin_unlock"}
    assert [m.split(" ")[0] for m in unannotated(steps, tmp_path)] == ["m.py:2"]


def test_annotations_name_known_files_and_plausible_lines() -> None:
    found = 0
    for path in [*XEN.glob("*.py"), *XEN.glob("designs/*.py")]:
        if path.name == "srcmap.py":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            if "#" not in line:
                continue
            comment = line.split("#", 1)[1]
            for m in srcmap.ANNOTATION.finditer(comment):
                found += 1
                assert m.group("file") in srcmap.FILES, f"{path.name}:{lineno}: unknown file {m.group('file')}"
                assert 0 < int(m.group("line")) < 2400, f"{path.name}:{lineno}"
            if srcmap.PATCH.search(comment):
                assert path.parent.name == "designs", f"{path.name}:{lineno}: [patch] outside a design"
    assert found >= 200


def test_every_function_of_the_base_model_has_a_c_location() -> None:
    model = build_model(get_design("xen-4.10"), load_scenario("guest"))
    names = {fn.__name__ for fn in model.meta["procedures"]}
    names |= {spec.fn.__name__ for spec in model.meta["processes"]}
    names |= {"device_sends_msi", "guest_acknowledges", "guest_eoi", "guest_writes_property"}
    assert sorted(names - set(srcmap.FUNCTIONS)) == []


def test_annotation_wins_over_the_function_and_is_stripped_from_the_text() -> None:
    loc = srcmap.locate("its_discard_event", "[vgic-v3-its.c:607] spin_lock_irqsave(...)")
    assert loc is not None and str(loc) == "vgic-v3-its.c:607" and loc.function == "its_discard_event"
    assert loc.url.endswith("f=xen/arch/arm/vgic-v3-its.c;hb=RELEASE-4.10.0#l607")
    assert str(srcmap.locate("gic_update_one_lr")) == "gic.c:510"
    assert srcmap.locate("a_function_a_design_added") is None
    assert srcmap.split_annotation("[gic.c:12] clear QUEUED")[1] == "clear QUEUED"


def test_a_patch_step_is_shown_at_the_design_files_line_without_a_link() -> None:
    where = str(XEN / "designs" / "unmapped_tag.py") + ":320"
    loc = srcmap.locate("its_cleanup_lpi", "[patch] remove from all lists", where)
    assert loc is not None and loc.patch and loc.url == ""
    assert str(loc) == "unmapped_tag.py:320 (patch)" and loc.function == "its_cleanup_lpi"
    # a patched step of a function Xen has keeps the C function's name
    loc = srcmap.locate("its_discard_event", "[patch] vc = lpi_vcpu_id", where)
    assert loc is not None and loc.function == "its_discard_event"
    assert srcmap.split_annotation("[patch] remove from all lists")[1] == "remove from all lists"


def test_an_annotation_may_name_the_c_function_of_its_line() -> None:
    # the vCPU's return path: the line is in leave_hypervisor_tail, not in the trap entry
    loc = srcmap.locate("vcpu", "[traps.c:2300 leave_hypervisor_tail] leave_hypervisor_tail")
    assert loc is not None and loc.function == "leave_hypervisor_tail" and str(loc) == "traps.c:2300"
    assert srcmap.split_annotation("[entry.S:321 return_from_trap] eret")[1] == "eret"
