"""The guest actions of issue 10 phase 2 in the shared scenario format (GICR_CTLR.EnableLPIs,
GITS_CTLR.Enabled, MSI sources), read by the parser and interpreted by each model from its own C:
Xen 4.10 (``itsrace.xen.guest_regs``) and KVM (``itsrace.kvm.vcpu``)."""

from __future__ import annotations

from typing import Any

import pytest

from itsrace.catalog import get_design
from itsrace.hyp import build_model
from itsrace.hyp.scenario import GICR_CTLR, GITS_CTLR, Command, load_scenario, scenario_from_dict


def test_register_writes_parse_as_stand_alone_guest_actions() -> None:
    sc = scenario_from_dict({"name": "s", "topology": {"vcpus": 2},
                             "guest": {"vcpu1": ["GICR_CTLR vcpu=0 enable_lpis=0", "GITS_CTLR enabled=1"]},
                             "devices": {"msis": ["dev=0 ev=0 source=thread", "dev=0 ev=0"]}})
    assert sc.script(1) == ((Command(GICR_CTLR, (0, 0)),), (Command(GITS_CTLR, (1,)),))
    assert [str(b[0]) for b in sc.script(1)] == ["GICR_CTLR vcpu=0 enable_lpis=0", "GITS_CTLR enabled=1"]
    assert sc.msis == (1,) and sc.thread_msis == (1,)


def test_an_msi_is_a_device_msi_by_default() -> None:
    sc = scenario_from_dict({"name": "s", "devices": {"msis": ["dev=0 ev=0 source=lpi", "dev=0 ev=0"]}})
    assert sc.msis == (2,) and sc.thread_msis == (0,)


def test_thread_msis_reach_kvm_but_not_xen() -> None:
    """Xen 4.10 has no path for an MSI injected by a thread; KVM injects it through kvm_set_msi."""
    sc = load_scenario("its-disable-vs-discard")
    assert sc.thread_msis == (1,) and sc.msis == (0,)
    assert list(build_model(get_design("kvm"), sc).vars["msi_left"].init) == [1]
    assert list(build_model(get_design("xen-4.10"), sc).vars["msi_left"].init) == [0]


def test_xen_ignores_enable_lpis_cleared(check: Any) -> None:
    """vgic-v3.c:500: "LPIs can only be enabled once, but never disabled again"."""
    assert check("xen-4.10", "discard-vs-enable-lpis").verdict == "pass"
    assert "free-while-referenced" in check("kvm", "discard-vs-enable-lpis").violated


@pytest.mark.parametrize("design, violated", [("xen-4.10", {"queue-consumed"}), ("kvm", set())])
def test_commands_queued_while_the_its_is_disabled(check: Any, design: str, violated: set[str]) -> None:
    """KVM runs them when the ITS is enabled again (vgic_mmio_write_its_ctlr); Xen 4.10 leaves them
    for the next CWRITER write, which a guest waiting for CREADR never makes."""
    assert check(design, "its-disable-vs-discard").violated == violated


def test_an_msi_source_does_not_hide_the_scenario_file() -> None:
    """The MSI's source= and the scenario's own source (the file it was read from) are apart."""
    sc = scenario_from_dict({"name": "s", "devices": {"msis": ["dev=0 ev=0 source=thread"]}}, "dir/my.toml")
    assert sc.source == "dir/my.toml" and sc.thread_msis == (1,)
    assert load_scenario("its-disable-vs-discard").source == "its-disable-vs-discard.toml"


@pytest.mark.parametrize("name", ["its-disable-vs-enable-lpis", "enable-lpis-vs-msi"])
def test_xen_passes_what_its_register_writes_cannot_break(check: Any, name: str) -> None:
    """EnableLPIs cannot be cleared on Xen 4.10, and disabling the vITS frees nothing."""
    assert check("xen-4.10", name).verdict == "pass"
