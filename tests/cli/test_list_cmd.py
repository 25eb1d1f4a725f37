"""``itsrace list``: scenarios, properties, designs."""

from __future__ import annotations

import pytest

from itsrace.cli.main import main


def out_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


def test_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = out_of(["list", "scenarios"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names[:5] == ["discard-vs-lpi", "discard-mapti-in-lr", "unmap-device-in-lr", "sync-vs-inject",
                         "spurious-after-remove"]
    assert "guest" in names


def test_scenarios_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = out_of(["list", "scenarios", "-v"], capsys)
    assert "Stefano's objection" in out and "1 vCPU, 2 LR" in out


def test_properties(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = out_of(["list", "properties", "--verbose"], capsys)
    assert code == 0
    for name in ("use-after-free", "duplicate-lr", "msi-delivered", "device-cleaned-up", "deadlock", "lock-order",
                 "queue-consumed"):
        assert name in out
    assert "UNPREDICTABLE" in out  # reasons are printed with -v


def test_designs(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = out_of(["list", "designs"], capsys)
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert out.split()[0] == "xen-4.10" and "base model" in rows["xen-4.10"]
    assert "on xen-4.10" in rows["unmapped-tag"] and "on xen-4.10" in rows["null-check"]
    assert "on kvm" in rows["kvm-cve-2024-26598"] and "on kvm" in rows["kvm-cve-2026-74568"]
    _, out = out_of(["list", "designs", "-v"], capsys)
    assert "Changes: " in out and "its_discard_event" in out


def test_mutations_are_gone(capsys: pytest.CaptureFixture[str]) -> None:
    """Test-only faults are design files kept with the tests, not a list in the tool."""
    code, _ = out_of(["list", "mutations"], capsys)
    assert code == 2


def test_unknown_what_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = out_of(["list", "nope"], capsys)
    assert code == 2
