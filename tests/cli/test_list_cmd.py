"""``itsrace list``: scenarios, properties, designs, mutations."""

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


def test_designs_and_mutations(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = out_of(["list", "designs"], capsys)
    assert out.split()[0] == "xen-4.10" and "unmapped-tag" in out and "null-check" in out
    _, out = out_of(["list", "mutations"], capsys)
    assert "no-xsa-223-check" in out


def test_unknown_what_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = out_of(["list", "nope"], capsys)
    assert code == 2
