"""``itsrace design new`` and ``itsrace design show``: a user's patch from copy to diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from itsrace.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def check_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, _ = run(["check", *argv, "--json"], capsys)
    data = json.loads(out)
    data.pop("seconds")
    data.pop("design")
    for v in data["violations"]:
        v.pop("trace")
    return {"code": code, **data}


def test_an_unedited_new_design_gives_the_base_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(tmp_path / "my_patch.py")
    code, out, _ = run(["design", "new", f, "--base", "xen-4.10", "--override", "its_discard_event",
                        "--override", "gic_update_one_lr", "--override", "setup_mapti"], capsys)
    assert code == 0 and "wrote" in out
    text = Path(f).read_text()
    assert text.count("@DESIGN.override") == 3 and 'base="xen-4.10"' in text
    for scenario in ("movi-then-discard", "discard-mapti-in-lr"):
        mine = check_json(["--design", f, "--scenario", scenario], capsys)
        base = check_json(["--design", "xen-4.10", "--scenario", scenario], capsys)
        assert mine == base
    code, out, _ = run(["design", "show", f], capsys)
    assert code == 0 and out.count("(identical: the override is an unedited copy)") == 3


def test_an_edit_shows_as_a_diff_and_changes_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The ten-minute guide of docs/designs.md, as a test: MAPTI without PRISTINE."""
    f = tmp_path / "no_pristine.py"
    assert main(["design", "new", str(f), "--base", "xen-4.10", "--override", "its_handle_mapti"]) == 0
    f.write_text(f.read_text().replace("        s.p_pristine[SLOT(pi)] = lockfree(1, UNPUBLISHED)\n", ""))
    code, out, _ = run(["design", "show", str(f)], capsys)
    assert code == 0 and "-        s.p_pristine[SLOT(pi)] = lockfree(1, UNPUBLISHED)" in out and "@@ -" in out
    code, out, _ = run(["check", "--design", str(f), "--scenario", "unmap-device-in-lr"], capsys)
    assert code == 1 and "lr-wrong-pending-irq" in out


def test_a_design_on_a_design_file_keeps_its_base_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sub").mkdir()
    first = tmp_path / "first.py"
    assert main(["design", "new", str(first), "--base", "unmapped-tag", "--override", "its_cleanup_lpi"]) == 0
    second = tmp_path / "sub" / "second.py"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["design", "new", "sub/second.py", "--base", "first.py", "--override", "vgic_vcpu_inject_irq"]) == 0
    finally:
        os.chdir(cwd)
    assert 'base="../first.py"' in second.read_text()
    capsys.readouterr()
    code, out, _ = run(["design", "show", str(second)], capsys)
    assert code == 0 and "on first" in out.splitlines()[0]


def test_show_a_shipped_design_and_a_base(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["design", "show", "mapti-irqsave"], capsys)
    assert code == 0 and "+    local_irq_disable()" in out and "--- xen-4.10: its_handle_mapti" in out
    code, out, _ = run(["design", "show", "unmapped-tag"], capsys)
    assert "new procedure its_cleanup_lpi" in out and "new state p_unmapped" in out
    code, out, _ = run(["design", "show", "xen-4.10"], capsys)
    assert code == 0 and "is a base model" in out and "its_discard_event" in out


@pytest.mark.parametrize("argv, needle", [
    (["design", "new", "x.txt", "--base", "xen-4.10", "--override", "gic_set_lr"], "must end in .py"),
    (["design", "new", "x.py", "--base", "nope", "--override", "gic_set_lr"], "unknown design 'nope'"),
    (["design", "new", "x.py", "--base", "xen-4.10", "--override", "gic_set_lrr"], "did you mean gic_set_lr?"),
    (["design", "new", "x.py", "--base", "xen-4.10"], "--override"),
    (["design", "show", "nope"], "unknown design 'nope'"),
    (["design", "show", "missing.py"], "no such design file"),
    (["design"], "name an action: new or show"),
])
def test_bad_input_is_one_line(tmp_path: Path, argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.py").exists()


def test_new_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "mine.py"
    f.write_text("keep me\n")
    code, _, err = run(["design", "new", str(f), "--base", "xen-4.10", "--override", "gic_set_lr"], capsys)
    assert code == 2 and "exists already" in err and f.read_text() == "keep me\n"
