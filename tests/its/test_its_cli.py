"""``itsrace its run SCRIPT``: the demo, bad lines and missing files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from itsrace.cli.main import main

DEMO = Path(__file__).resolve().parents[2] / "examples" / "its" / "demo.its"


def test_the_demo_delivers_lpis_reports_an_error_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["its", "run", str(DEMO)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "ack cpu=0 -> 8192" in out and "ack cpu=1 -> 8195" in out
    assert "error cmd #" in out and "MAPTI_ID_OOR (0x010a05)" in out
    assert "FAIL" not in out
    assert out.splitlines()[-1].endswith("0 expectation(s) failed")


def test_the_demo_runs_as_a_real_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "itsrace.cli.main", "its", "run", str(DEMO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "MAPTI_ID_OOR" in done.stdout


def test_a_failed_expectation_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "fail.its"
    script.write_text("setup\nexpect ack cpu=0 8192\n")
    assert main(["its", "run", str(script)]) == 1
    assert "FAIL expect ack cpu=0 8192: got 1023" in capsys.readouterr().out


def test_a_bad_line_is_one_line_on_stderr_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "script.its"
    script.write_text("cpus 2\nsetup\n# fine so far\ncmd MAPX dev=1\n")
    assert main(["its", "run", str(script)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"itsrace: error: {script}:4: unknown command 'MAPX'\n"


def test_a_missing_file_is_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.its"
    assert main(["its", "run", str(missing)]) == 2
    _, err = capsys.readouterr()
    assert err == f"itsrace: error: cannot read {missing}: No such file or directory\n"


def test_a_directory_or_binary_file_is_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "bin.its"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for target in (tmp_path, binary):
        assert main(["its", "run", str(target)]) == 2
        _, err = capsys.readouterr()
        assert err.startswith(f"itsrace: error: cannot read {target}: ") and err.count("\n") == 1


def test_a_bad_line_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    script = tmp_path / "bad.its"
    script.write_text("setup\nack cpu=9\n")
    done = subprocess.run(
        [sys.executable, "-m", "itsrace.cli.main", "its", "run", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"itsrace: error: {script}:2: cpu=9 does not exist (there are 2 CPUs)\n"


def test_its_without_an_action_is_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["its"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "name an action: run" in err and len(err.strip().splitlines()) == 1


def test_run_without_a_script_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["its", "run"])
    assert info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
