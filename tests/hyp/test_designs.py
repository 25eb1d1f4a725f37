"""Designs are code: loading design files, what a design may and may not do, and every mistake
in a design file as one line naming the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsrace.catalog import DESIGNS, get_design
from itsrace.cli.main import main
from itsrace.hyp.design import BaseModel, Design, DesignError, resolve

HEADER = "from itsrace.hyp.design import Design\nDESIGN = Design('mine', base='xen-4.10')\n"
COPY = (Path(__file__).resolve().parents[2] / "src" / "itsrace" / "xen" / "its_cmds.py").read_text()


def test_shipped_designs_build_on_their_bases() -> None:
    assert isinstance(DESIGNS["xen-4.10"], BaseModel)
    for name, d in DESIGNS.items():
        chain = d.chain()
        assert isinstance(chain[0], BaseModel) and chain[0] is DESIGNS[chain[0].name] and chain[-1] is d, name
        resolve(d)  # every override names a function of its base, with its parameters


def test_the_base_model_holds_no_design_or_fault_constants() -> None:
    """The base is Xen 4.10's code only: no D_* answers, no M_* fault flags anywhere in it."""
    import re

    src = Path(__file__).resolve().parents[2] / "src" / "itsrace" / "xen"
    for f in src.glob("*.py"):
        assert not re.search(r"\b[DM]_[A-Z_]+\b", f.read_text()), f.name


def write(tmp_path: Path, text: str, name: str = "mine.py") -> str:
    f = tmp_path / name
    f.write_text(text)
    return str(f)


def test_an_override_replaces_the_function_everywhere(tmp_path: Path, check: Any) -> None:
    """A design that breaks DISCARD's host-entry invalidation: every caller gets the override."""
    f = write(tmp_path, HEADER + "@DESIGN.override\ndef gicv3_remove_guest_event(self, s, dev, ev):\n"
              "    s.host_lpi[dev] = s.host_lpi[dev]\n")
    d = get_design(f)
    assert isinstance(d, Design) and list(d.overrides) == ["gicv3_remove_guest_event"]
    r = resolve(d)
    assert r.owner["gicv3_remove_guest_event"] == "mine" and r.owner["its_discard_event"] == "xen-4.10"


def test_a_design_adds_state_and_a_property(tmp_path: Path, check: Any) -> None:
    """A new variable and an invariant over it; the invariant fails where the design says."""
    text = HEADER + (
        "DESIGN.var('discards', range(3), doc='DISCARDs that completed')\n"
        "@DESIGN.invariant('at-most-one-discard')\n"
        "def at_most_one(s):\n"
        "    '''The guest never completes two DISCARDs.'''\n"
        "    return s.discards <= 1\n"
    )
    f = write(tmp_path, text)
    sc = "discard-vs-lpi"
    r = check(f, sc)
    assert r.verdict == "pass"  # nothing increments it yet


@pytest.mark.parametrize("text, needle", [
    ("x = 1\n", "defines no DESIGN"),
    ("def broken(:\n", "mine.py:1: syntax error"),
    ("raise RuntimeError('boom')\n", "mine.py:1: RuntimeError: boom while loading the design"),
    ("import sys\nsys.exit(0)\n", "mine.py:2: sys.exit(0) while loading the design"),
    ("raise SystemExit('bye')\n", "mine.py:1: sys.exit('bye') while loading the design"),
    (HEADER + "@DESIGN.override\ndef its_discard_evnt(self, s, cpu, dev, ev):\n    pass\n",
     "mine.py:3: its_discard_evnt is not a function of xen-4.10 (did you mean its_discard_event?)"),
    (HEADER + "@DESIGN.override\ndef its_discard_event(self, s, cpu, dev):\n    pass\n",
     "its_discard_event(self, s, cpu, dev) must take the parameters of xen-4.10's its_discard_event(self, s, cpu, dev, ev)"),
    (HEADER + "@DESIGN.procedure\ndef its_discard_event(self, s, cpu, dev, ev):\n    pass\n",
     "its_discard_event already exists in xen-4.10: use @DESIGN.override"),
    ("from itsrace.hyp.design import Design\nDESIGN = Design('x', base='no-such-base')\n",
     "base 'no-such-base': unknown design 'no-such-base'"),
    ("from itsrace.hyp.design import Design\nDESIGN = Design('x', base='mine.py')\n",
     "design files build on each other in a loop: mine.py -> mine.py"),
    ("from itsrace.hyp.design import Design\nDESIGN = Design('', base='xen-4.10')\n", "needs two non-empty strings"),
    (HEADER + "DESIGN.var('p irq', bool)\n", "needs an identifier for a name"),
])
def test_every_mistake_is_one_line_naming_the_file(tmp_path: Path, text: str, needle: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(DesignError) as info:
        get_design(f)
    message = str(info.value)
    assert needle in message and "\n" not in message and "mine.py" in message


@pytest.mark.parametrize("body, needle", [
    ("    s.no_such_thing = 1\n", "mine.py:6: unknown variable 'no_such_thing'"),
    ("    try:\n        pass\n    except Exception:\n        pass\n", "mine.py:6"),
    ("    x = lambda: 1\n", "mine.py:6"),
])
def test_mistakes_in_the_code_of_an_override_are_one_line(tmp_path: Path, body: str, needle: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = (HEADER + "from itsrace.xen.consts import ND, NE\n@DESIGN.override\n"
            "def gicv3_remove_guest_event(self, s, dev: range(ND), ev: range(NE)):\n" + body)
    f = write(tmp_path, text)
    assert main(["check", "--design", f, "--scenario", "discard-vs-lpi"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1 and len(err) < 400


def test_a_design_on_a_design_file(tmp_path: Path, check: Any) -> None:
    """A fix on top of a user's design: the base is a path relative to the file."""
    write(tmp_path, "from itsrace.hyp.design import Design\nDESIGN = Design('a', base='unmapped-tag')\n", "a.py")
    f = write(tmp_path, "from itsrace.hyp.design import Design\nDESIGN = Design('b', base='a.py')\n", "b.py")
    d = get_design(f)
    assert [x.name for x in d.chain()] == ["xen-4.10", "unmapped-tag", "a", "b"]
    assert check(f, "discard-mapti-in-lr").violated == check("unmapped-tag", "discard-mapti-in-lr").violated


def test_unknown_design() -> None:
    with pytest.raises(DesignError, match="known: xen-4.10"):
        get_design("nope")


def test_a_design_file_must_be_a_python_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for arg, needle in ((str(tmp_path / "d.py"), "no such design file"), (str(tmp_path), "unknown design")):
        with pytest.raises(DesignError, match=needle):
            get_design(arg)
    (tmp_path / "bin.py").write_bytes(b"\xff\xfe")
    with pytest.raises(DesignError, match="not UTF-8"):
        get_design(str(tmp_path / "bin.py"))


@pytest.mark.parametrize("body, needle", [
    ("    import sys\n    sys.exit(0)\n", "mine.py:6: sys.exit(0) called by the model"),
    ("    return 1 // 0\n", "mine.py:5: ZeroDivisionError"),
])
def test_a_helper_that_raises_while_checking_is_one_line(tmp_path: Path, body: str, needle: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A pure helper runs as Python during the search; whatever it raises, even SystemExit, is a
    model error (exit 2), never a silent exit 0 or a traceback."""
    f = write(tmp_path, HEADER + "@DESIGN.override\ndef is_current(cpu: int, v: int) -> bool:\n" + body)
    assert main(["check", "--design", f, "--scenario", "discard-vs-lpi"]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("line, needle", [
    ("DESIGN.var('x', bool, 'NQQ')", "state variable x: 'NQQ' is not a constant of the model"),
    ("DESIGN.var('x', lambda K: range(K['nope']))", "state variable x: 'nope' is not a constant"),
    ("DESIGN.var('x', range(2), init=5)", "state variable x:"),
    ("DESIGN.var('p_irq', bool, 'NQ')", "state variable p_irq already exists in xen-4.10"),
])
def test_a_bad_state_variable_is_one_line(tmp_path: Path, line: str, needle: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, HEADER + line + "\n")
    assert main(["check", "--design", f, "--scenario", "discard-vs-lpi"]) == 2
    err = capsys.readouterr().err
    assert needle in err and "mine.py:3" in err and len(err.strip().splitlines()) == 1


def test_design_fields_are_type_checked(tmp_path: Path) -> None:
    f = write(tmp_path, "from itsrace.hyp.design import Design\nDESIGN = Design('x', base='xen-4.10', summary=3)\n")
    with pytest.raises(DesignError, match="mine.py:2: .* take strings"):
        get_design(f)
