"""Design plug-ins: validation, loading a user's file, and what the thread's proposals get."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itsrace.designs import DESIGNS, Design, DesignError, get_design


def test_shipped_designs() -> None:
    assert {"xen-4.10", "unmapped-tag", "null-check"} <= set(DESIGNS)
    xen = DESIGNS["xen-4.10"]
    assert xen.mapti_pristine and xen.pristine_lr_scan and xen.stale_lr == "null-or-pristine"


@pytest.mark.parametrize("kwargs, needle", [
    ({"stale_lr": "magic"}, "stale_lr must be one of"),
    ({"discard": "tag"}, "go together"),
    ({"inject_checks_tag": True}, "needs discard='tag'"),
    ({"unmap_free": "deferred"}, "needs discard='tag'"),
])
def test_inconsistent_answers_are_rejected(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(DesignError, match=needle):
        Design(name="bad", summary="", **kwargs)  # type: ignore[arg-type]


def test_user_design_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.py"
    f.write_text('from itsrace.designs.base import Design\nDESIGN = Design(name="mine", summary="s", '
                 'mapti_pristine=True, pristine_lr_scan=False)\n')
    d = get_design(str(f))
    assert d.name == "mine" and not d.pristine_lr_scan


@pytest.mark.parametrize("text, needle", [("x = 1\n", "no DESIGN"), ("raise RuntimeError('boom')\n", "boom")])
def test_broken_design_files(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "bad.py"
    f.write_text(text)
    with pytest.raises(DesignError, match=needle):
        get_design(str(f))


def test_unknown_design() -> None:
    with pytest.raises(DesignError, match="known: xen-4.10"):
        get_design("nope")


def test_null_check_fails_where_xen_passes(check: Any) -> None:
    """Without PRISTINE the reused vLPI gets a second LR and the stale LR's state."""
    r = check("null-check", "unmap-device-in-lr")
    assert {"duplicate-lr", "lr-wrong-pending-irq"} <= r.violated


def test_pristine_scan_alone_is_not_enough() -> None:
    """A user design: PRISTINE marking and the update_one_lr check but no LR reuse on raise."""
    d = Design(name="no-scan", summary="", pristine_lr_scan=False)
    from itsrace.engine import check_model
    from itsrace.hyp import build_model, load_scenario

    r = check_model(build_model(d, load_scenario("discard-mapti-in-lr")), stop_on_violation=False)
    assert "duplicate-lr" in r.violated


def test_unmapped_tag_reinitialises_a_listed_pending_irq(check: Any) -> None:
    """Stefano's case (a) for the tag: DISCARD; MAPTI of the same event re-initialises the tagged
    pending_irq while it is still in the radix tree and on the vCPU's lists."""
    assert "free-while-referenced" in check("unmapped-tag", "sync-vs-inject").violated
