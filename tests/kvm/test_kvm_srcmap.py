"""KVM counterexamples in C terms: the Linux source map, decoded values, lanes, provenance."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import get_design
from itsrace.engine import check_model
from itsrace.engine.explore.trace import Trace
from itsrace.hyp import build_model
from itsrace.hyp.scenario import load_scenario
from itsrace.hyp.srcmap import ANNOTATION, PATCH
from itsrace.hyp.story import Story
from itsrace.hyp.timeline import format_timeline
from itsrace.kvm import srcmap
from itsrace.kvm.designs import SHIPPED
from itsrace.kvm.explain import Decoder, context_of, explain

GUEST_ACTIONS = {"guest_acknowledges", "guest_eoi", "guest_writes_property"}


def test_every_procedure_and_process_of_the_kvm_model_is_in_the_table() -> None:
    model = build_model(get_design("kvm"), load_scenario("guest"))
    names = {fn.__name__ for fn in model.meta["procedures"]}
    names |= {spec.fn.__name__ for spec in model.meta["processes"]}
    assert sorted(names - set(srcmap.FUNCTIONS)) == []
    assert sorted(GUEST_ACTIONS - set(srcmap.FUNCTIONS)) == []
    for design in SHIPPED:  # KVM's history overrides only functions the base has
        assert sorted(set(design.overrides) - set(srcmap.FUNCTIONS)) == [], design.name


def test_step_annotations_name_known_files_and_plausible_lines() -> None:
    kvm = Path(srcmap.__file__).parent
    found = 0
    for path in [*kvm.glob("*.py"), *kvm.glob("designs/*.py")]:
        if path.name == "srcmap.py":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            comment = line.split("#", 1)[1] if "#" in line else ""
            for m in ANNOTATION.finditer(comment):
                found += 1
                assert m.group("file") in srcmap.COMMITS, f"{path.name}:{lineno}: unknown file {m.group('file')}"
                assert 0 < int(m.group("line")) < 2000, f"{path.name}:{lineno}"
            if PATCH.search(comment):
                assert path.parent.name == "designs", f"{path.name}:{lineno}: [patch] outside a design"
    assert found >= 80


def test_locations_link_to_the_modelled_commit() -> None:
    loc = srcmap.locate("vgic_its_check_cache")
    assert loc is not None and str(loc) == "its.c:539" and loc.function == "vgic_its_check_cache"
    assert loc.url == ("https://github.com/intel-lab-lkp/linux/blob/0a15de082a7ffca2eb0b9d62a4489b12bb333d57/"
                       "arch/arm64/kvm/vgic/vgic-its.c#L539")
    ann = srcmap.locate("vgic_put_irq", "[vgic.c:172] refcount_dec_and_lock")
    assert ann is not None and str(ann) == "vgic.c:172" and ann.url.endswith("/arch/arm64/kvm/vgic/vgic.c#L172")
    assert srcmap.locate("vgic_get_irq_ref") is not None and srcmap.locate("vgic_get_irq_ref").url == ""  # type: ignore[union-attr]
    # a procedure the table does not know yet: no C location, the caller shows the model's
    assert srcmap.locate("a_procedure_added_meanwhile") is None


def test_values_are_decoded_to_their_c_meaning() -> None:
    dec = Decoder({"consts": {"NC": 2, "NE": 2, "NCOL": 1, "NPOOL": 2, "VCPU_PCPU": [1, 2]},
                   "processes": ["vCPU0", "vCPU1", "msi0"]})
    assert dec.decode("o_ref[1]", 2) == "irq@8192#1.refcount = 2"
    assert dec.decode("o_alive[2]", 0) == "irq@8193#0: freed (kfree / kfree_rcu)"
    assert dec.decode("o_target[0]", 2) == "irq@8192#0.target_vcpu = NULL"
    assert dec.decode("o_vcpu[0]", 1) == "irq@8192#0.vcpu = v0 (on its ap_list)"
    assert dec.decode("xa[0]", 2) == "lpi_xa[8192] = &irq@8192#1"
    assert dec.decode("cache[3]", 0) == "translation_cache[dev1 event1] = (no entry)"
    assert dec.decode("ap_list_lock1", 2) == "v1's ap_list_lock: taken by vCPU1 (pCPU2)"
    assert dec.decode("its_lock", 3) == "its->its_lock: taken by msi0"
    assert dec.decode("lr_state[0][0]", 2) == "v0 LR0.state = active"
    assert dec.decode("col_target[0]", 2) == "collection 0.target_addr = COLLECTION_NOT_MAPPED"
    assert dec.decode("pc_vCPU[0]", 3) is None and dec.decode("owed[0]", 1) is None


def test_lock_statements_read_as_c() -> None:
    from itsrace.kvm.explain import c_statement

    assert c_statement("spin_lock(s.irq_lock[o])") == "raw_spin_lock(&irq->irq_lock)"
    assert c_statement("spin_unlock(s.its_lock) #2") == "mutex_unlock(&its->its_lock)"
    assert c_statement("spin_lock(s.xa_lock)") == "xa_lock_irqsave(&dist->lpi_xa)"
    assert c_statement("spin_lock(s.ap_list_lock1)") == "raw_spin_lock(&vcpu1->arch.vgic_cpu.ap_list_lock)"


@pytest.fixture(scope="module")
def found() -> tuple[Trace, Any]:
    """The code before the CVE-2024-26598 fix: the cached translation is used without a
    reference while DISCARD frees the irq."""
    design = get_design(str(Path(srcmap.__file__).with_name("designs") / "cve_2024_26598.py"))
    model = build_model(design, load_scenario("discard-vs-lpi"))
    result = check_model(model, stop_on_violation=True, progress=False)
    uafs = [v for v in result.violations if v.property == "use-after-free"]
    assert uafs
    return uafs[0].trace, model


@pytest.fixture(scope="module")
def uaf(found: tuple[Trace, Any]) -> Story:
    trace, model = found
    return explain(trace, context_of(model))


def test_every_kvm_step_shows_its_function_and_file_line(uaf: Story) -> None:
    assert uaf.tree.startswith("Linux")
    for st in uaf.steps:
        assert st.c_where and st.function, st
        if st.c_where not in ("device", "hardware", "arm.c", "vgic.c"):  # not C, a file not read, a shared helper
            assert re.fullmatch(r"(its|vgic|v3)\.c:\d+|cve_2024_26598\.py:\d+ \(patch\)", st.c_where), st
    assert any(st.url.startswith("https://github.com/intel-lab-lkp/linux/blob/") for st in uaf.steps)
    assert any(st.lane.startswith("msi") for st in uaf.steps) and "pCPU1" in uaf.lanes


def test_a_kvm_use_after_free_marks_where_the_pointer_came_from(uaf: Story) -> None:
    last = uaf.steps[-1]
    assert last.failing and "to point to allocated memory" in last.note and "freed at step" in last.note
    origin = [st for st in uaf.steps if any("obtained here" in m for m in st.marks)]
    assert len(origin) == 1 and origin[0].n < last.n
    freed = [st for st in uaf.steps if any("freed (kfree" in c for c in st.changes)]
    assert freed and any("changes irq@" in m for m in freed[-1].marks)
    assert uaf.objects and uaf.objects[0].startswith("irq@8192")


def test_the_kvm_timeline_fits_the_width(uaf: Story) -> None:
    for width in (90, 160):
        text = format_timeline(uaf, width)
        assert max(len(line) for line in text.splitlines()) <= width
        assert "Xen" not in text


def test_reports_of_kvm_designs_use_the_kvm_explainer(found: tuple[Trace, Any]) -> None:
    from itsrace.cli.render import story_of

    trace, model = found
    story = story_of(trace, model)
    assert story.tree == srcmap.TREE and story.steps[-1].c_where


def test_the_html_report_links_kvm_steps_to_the_modelled_commit(uaf: Story) -> None:
    from itsrace.hyp.html import report_page

    page = report_page("kvm", [("cx", "kvm use-after-free", uaf)])
    links = set(re.findall(r'href="(https://[^"]+)"', page))
    assert links and all(link.startswith("https://github.com/intel-lab-lkp/linux/blob/") for link in links)
    assert any("/arch/arm64/kvm/vgic/vgic-its.c#L" in link for link in links)
    assert "Linux arm64 vgic-its" in page and "Xen RELEASE" not in page
