"""Scenario files: the shipped ones load with the user's loader; broken ones give one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsrace.hyp.scenario import (
    THREAD_ORDER,
    ScenarioError,
    load_named,
    load_scenario,
    scenario_from_dict,
    scenario_names,
)


def test_thread_scenarios_are_shipped_first() -> None:
    assert tuple(scenario_names()[:5]) == THREAD_ORDER


@pytest.mark.parametrize("name", scenario_names())
def test_shipped_scenarios_load_and_describe_themselves(name: str) -> None:
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.summary and len(sc.description) > 80


def test_batches_and_universe() -> None:
    sc = load_scenario("guest")
    assert sc.universe and sc.max_commands == 2
    assert any(len(b) == 2 for b in sc.universe)
    sc2 = load_scenario("discard-mapti-in-lr")
    assert [str(c) for c in sc2.script(0)[0]] == ["DISCARD dev=0 ev=0", "MAPTI dev=0 ev=1 lpi=0 col=0"]


def test_rewrites_and_nesting_are_read_and_checked() -> None:
    sc = scenario_from_dict({"name": "r", "topology": {"vcpus": 2, "vcpu_pcpus": [0, 1], "lpi_nesting": 2,
                                                       "collections": 2},
                             "guest": {"rewrites": ["ITTE dev=0 ev=0 col=1", "itte dev=0 ev=0 col=0 lpi=0",
                                                    "DTE dev=0 valid=0", "CTE col=1 vcpu=0"]}}, "<t>")
    assert sc.topology.lpi_nesting == 2
    assert [str(w) for w in sc.rewrites] == ["ITTE dev=0 ev=0 col=1", "ITTE dev=0 ev=0 col=0 lpi=0",
                                             "DTE dev=0 valid=0", "CTE col=1 vcpu=0 valid=1"]
    assert sc.rewrites[0].arg("lpi") == -1  # INVALID_LPI
    assert load_scenario("discard-vs-lpi").topology.lpi_nesting == 1 and load_scenario("guest").rewrites == ()


def test_a_user_file_is_loaded_by_path(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text('name = "mine"\n[guest]\nvcpu0 = ["SYNC"]\n')
    assert load_scenario(str(f)).name == "mine"


@pytest.mark.parametrize("text, needle", [
    ('name = "x"\n[topology]\nvcpus = 9\n', "'vcpus' = 9 out of range 1..2"),
    ('name = "x"\n[topology]\nlrs = "two"\n', "'lrs' must be an integer"),
    ('name = "x"\n[guest]\nvcpu0 = ["FROB dev=0"]\n', "unknown command 'FROB'"),
    ('name = "x"\n[guest]\nvcpu0 = ["MAPTI dev=0 ev=0 col=0"]\n', "MAPTI needs lpi="),
    ('name = "x"\n[guest]\nvcpu0 = ["DISCARD dev=3 ev=0"]\n', "dev=3 out of range"),
    ('name = "x"\n[guest]\nvcpu0 = ["PROP lpi=0; SYNC"]\n', "PROP is a guest memory write"),
    ('name = "x"\n[setup]\nsteps = ["MAPTI dev=0 ev=0 lpi=0 col=0"]\n', "device 0 is not mapped"),
    ('name = "x"\n[setup]\nsteps = ["MAPD dev=0", "MAPC col=0 vcpu=0", "LR vcpu=0 lpi=0"]\n', "not mapped"),
    ('name = "x"\nbogus = 1\n', "unknown key(s) bogus"),
    ('[topology]\n', "'name'"),
    ('name = "x"\n[devices]\nmsis = ["dev=0"]\n', "needs dev= and ev="),
    ('name = "x" x\n', "not valid TOML"),
])
def test_broken_files_give_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    from itsrace.catalog import get_design
    from itsrace.hyp import build_model

    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as info:
        build_model(get_design("xen-4.10"), load_scenario(str(f)))  # setup errors show at build
    message = str(info.value)
    assert needle in message
    assert "\n" not in message
    assert message.startswith("bad.toml") or "bad.toml" in message


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario("/nonexistent/x.toml")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ScenarioError, match="known: discard-vs-lpi"):
        load_scenario("nope")


def test_lr_setup_must_target_the_collections_vcpu() -> None:
    from itsrace.catalog import get_design
    from itsrace.hyp import build_model

    sc = scenario_from_dict({"name": "x", "topology": {"vcpus": 2, "vcpu_pcpus": [1, 2]}, "setup": {"steps": [
        "MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0", "LR vcpu=1 lpi=0"]}})
    with pytest.raises(ScenarioError, match="targets vCPU 0, not 1"):
        build_model(get_design("xen-4.10"), sc)


def test_the_wide_universes_run_only_when_asked_for() -> None:
    """check and matrix skip the wide universes unless named or --wide (minutes per design)."""
    from itsrace.hyp.scenario import default_scenario_names

    wide = {n for n in scenario_names() if load_named(n).wide}
    assert wide == {"guest-wide", "guest-2vcpu"}
    assert default_scenario_names() == [n for n in scenario_names() if n not in wide]
    assert not load_named("guest").wide
