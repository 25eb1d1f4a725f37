"""``itsrace its run``: every bad input is exit status 2 and exactly one line on stderr.

Each case is a script (or a file that is not one) that must be refused: malformed lines,
values out of range, requests beyond the documented limits of a script, statements that
cannot be carried out, and files that are not scripts at all. Nothing may print a traceback,
and a refused script prints nothing on stdout when the bad line is malformed (the whole
script is checked before it runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from itsrace.cli.main import main
from itsrace.its.script import MAX_SCRIPT_BYTES

SETUP = "setup\n"

BAD_SCRIPTS: list[tuple[str, str, str]] = [
    # (case id, script, a fragment of the message)
    # -- statements and options
    ("unknown-statement", "frobnicate\n", "unknown statement 'frobnicate'"),
    ("unknown-command", SETUP + "cmd MAPX dev=1\n", "unknown command 'MAPX'"),
    ("cmd-without-name", SETUP + "cmd\n", "'cmd' takes 1 argument(s)"),
    ("cmd-two-names", SETUP + "cmd MAPC SYNC\n", "'cmd' takes 1 argument(s)"),
    ("cmd-missing-field", "cmd MAPTI dev=1 ev=2 icid=0\n", "MAPTI needs pintid="),
    ("cmd-bad-field-value", "cmd INT dev=x ev=0\n", "dev='x' is not an integer"),
    ("cmd-unknown-field", "cmd INT dev=1 ev=0 colour=3\n", "colour"),
    ("cmd-field-too-wide", "cmd MAPC icid=0x10000 rdbase=0\n", "icid"),
    ("cmd-mapd-size-too-wide", "cmd MAPD dev=1 size=32\n", "size"),
    ("cmd-itt-misaligned", "cmd MAPD dev=1 size=1 itt=0x1001\n", "itt"),
    ("cmd-v-not-a-bit", "cmd MAPC icid=0 rdbase=0 v=2\n", "v"),
    ("option-twice", "ack cpu=0 cpu=1\n", "option cpu= given twice"),
    ("option-empty", "ack cpu=\n", "malformed option 'cpu='"),
    ("option-no-key", "ack =0\n", "malformed option '=0'"),
    ("option-unknown", "ack cpu=0 foo=1\n", "'ack' has no option 'foo'"),
    ("ack-without-cpu", "ack\n", "'ack' needs cpu="),
    ("ack-missing-cpu", "ack cpu=2\n", "cpu=2 does not exist (there are 2 CPUs)"),
    ("ack-negative-cpu", "ack cpu=-1\n", "cpu=-1 does not exist"),
    ("eoi-without-intid", "eoi cpu=0\n", "'eoi' needs intid="),
    ("msi-without-ev", "msi dev=1\n", "'msi' needs ev="),
    ("msi-bad-number", "msi dev=1 ev=one\n", "ev must be a number"),
    ("retry-with-argument", "retry now\n", "'retry' takes 0 argument(s)"),
    # -- configuration
    ("cpus-after-use", "msi dev=1 ev=1\ncpus 4\n", "'cpus' must come before the ITS is used"),
    ("config-after-use", SETUP + "config hcc=1\n", "'config' must come before the ITS is used"),
    ("cpus-zero", "cpus 0\n", "num_cpus must be an integer"),
    ("cpus-word", "cpus two\n", "the CPU count must be a number"),
    ("cpus-missing", "cpus\n", "'cpus' takes 1 argument(s)"),
    ("config-ite-size", "config ite_size=4\n", "ite_size must be an integer in [8, 16]"),
    ("config-intid-bits-high", "config intid_bits=25\n", "intid_bits must be an integer"),
    ("config-intid-bits-low", "config intid_bits=13\n", "intid_bits must be an integer"),
    ("config-devbits", "config devbits=33\n", "devbits must be an integer"),
    ("config-idbits", "config idbits=0\n", "idbits must be an integer"),
    ("config-cidbits", "config cidbits=17\n", "cidbits must be an integer"),
    ("config-hcc", "config hcc=256\n", "hcc must be an integer"),
    ("config-unknown", "config colour=1\n", "'config' has no option 'colour'"),
    ("config-positional", "config 5\n", "'config' takes 0 argument(s)"),
    ("policy-unknown", "policy sometimes\n", "policy must be 'ignore' or 'stall'"),
    # -- expectations
    ("expect-nothing", "expect\n", "'expect' needs what to check"),
    ("expect-unknown", "expect miracle\n", "unknown expectation 'miracle'"),
    ("expect-unknown-error", "expect error NO_SUCH_ERROR\n", "unknown error code"),
    ("expect-ack-no-intid", "expect ack cpu=0\n", "'expect ack' takes 1 argument(s), got 0"),
    ("expect-deliverable-word", "expect deliverable cpu=0 x\n", "an INTID must be a number"),
    ("expect-read-no-value", "expect read GITS_CTLR\n", "'expect read' takes 2 argument(s)"),
    # -- registers
    ("read-unknown-register", "read GITS_NOPE\n", "must be a number"),
    ("read-offset-outside", "read 0x30000\n", "offset 0x30000 is outside the ITS frames"),
    ("read-gicr-without-cpu", "read GICR_CTLR\n", "'read' needs cpu="),
    ("read-gits-with-cpu", "read GITS_CTLR cpu=0\n", "cpu= only goes with GICR_* registers"),
    ("write-bad-size", "write GITS_CTLR 1 size=3\n", "size must be 2, 4 or 8"),
    ("write-translater-no-dev", "write GITS_TRANSLATER 1\n", "'write' needs dev="),
    ("write-dev-elsewhere", "write GITS_CTLR 1 dev=1\n", "dev= only goes with GITS_TRANSLATER"),
    ("write-no-value", "write GITS_CTLR\n", "'write' takes 2 argument(s)"),
    # -- limits of a script
    ("number-over-64-bits", "write GITS_CBASER 0x1" + "0" * 16 + "\n", "must fit in 64 bits"),
    ("number-huge-text", "msi dev=" + "9" * 5000 + " ev=0\n", "at most 64 bits"),
    ("cpus-over-limit", "cpus 4096\n", "at most 256"),
    ("cpus-over-limit-24-bits", "config intid_bits=24\ncpus 4096\nsetup\n", "at most 256"),
    ("mem-one-tib", "mem 0 0x10000000000\n", "at most 0x100000000 (4 GiB)"),
    ("mem-over-4-gib", "mem 0x1000 0x100001000\n", "at most 0x100000000"),
    ("mem-zero-size", "mem 0x1000 0\n", "outside the 52-bit PA space"),
    ("mem-negative-base", "mem -0x1000 0x1000\n", "outside the 52-bit PA space"),
    ("mem-beyond-pa", "mem 0xfffffffffffff 2\n", "outside the 52-bit PA space"),
    ("mem-one-argument", "mem 0x1000\n", "'mem' takes 2 argument(s), got 1"),
    ("setup-queue-pages-zero", "setup queue_pages=0\n", "queue_pages must be in [1, 256]"),
    ("setup-queue-pages-huge", "setup queue_pages=100000\n", "queue_pages must be in [1, 256]"),
    ("setup-page-word", "setup page=8k\n", "page must be a number"),
    ("setup-page-odd", "setup page=0x3000\n", "page size must be one of"),
    ("prop-priority", "prop 8192 prio=0x100\n", "prio must be a byte"),
    # -- statements that parse but cannot be carried out
    ("cmd-before-setup", "cmd SYNC rdbase=0\n", "the command queue is not set up"),
    ("prop-before-setup", "prop 8192\n", "the property table is not set up"),
    ("prop-outside-table", SETUP + "prop 8191\n", "INTID 8191 has no property byte"),
    ("prop-beyond-table", SETUP + "prop 0x10000\n", "has no property byte"),
    ("restore-before-save", SETUP + "restore\n", "'restore' needs an earlier 'save'"),
    ("save-with-argument", SETUP + "save now\n", "'save' takes 0 argument(s)"),
    (
        "queue-unbacked",
        "write GITS_CBASER 0x8000000070000000\nwrite GITS_CTLR 1\ncmd SYNC rdbase=0\n",
        "unbacked guest memory",
    ),
    (
        "queue-full-when-stalled",
        "policy stall\nsetup queue_pages=1\ncmd MAPC icid=0 rdbase=9\n"
        + "cmd SYNC rdbase=0\n" * 127,
        "the command queue is full",
    ),
]

BAD_BYTES: list[tuple[str, bytes, str]] = [
    ("latin-1", "setup # café\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 11)"),
    ("utf-16", "setup\n".encode("utf-16"), "not UTF-8 text (byte 0xff at offset 0)"),
    ("binary", b"\x00\x01\xfe\xff" * 64, "not UTF-8 text"),
    ("truncated-utf8", b"setup\n\xe2\x82", "not UTF-8 text (byte 0xe2 at offset 6)"),
    ("too-big", b"# padding\n" * (MAX_SCRIPT_BYTES // 10 + 1), "larger than 1024 KiB"),
]


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["its", "run", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line(err: str, fragment: str) -> None:
    assert err.startswith("itsrace: error: "), err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert fragment in err, err


@pytest.mark.parametrize(
    ("text", "fragment"), [c[1:] for c in BAD_SCRIPTS], ids=[c[0] for c in BAD_SCRIPTS]
)
def test_a_bad_script_is_exit_2_and_one_line(
    text: str, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "bad.its"
    script.write_text(text)
    status, _, err = run_cli([str(script)], capsys)
    assert status == 2
    assert_one_line(err, fragment)
    line = err.removeprefix(f"itsrace: error: {script}:").split(":", 1)[0]
    assert line.isdigit() and 1 <= int(line) <= text.count("\n")


@pytest.mark.parametrize(
    ("data", "fragment"), [c[1:] for c in BAD_BYTES], ids=[c[0] for c in BAD_BYTES]
)
def test_a_file_that_is_not_a_script_is_exit_2_and_one_line(
    data: bytes, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "bad.its"
    script.write_bytes(data)
    status, out, err = run_cli([str(script)], capsys)
    assert (status, out) == (2, "")
    assert_one_line(err, f"cannot read {script}: ")
    assert fragment in err


def test_special_files_are_refused_without_reading_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo.its"
    os.mkfifo(fifo)  # nobody writes to it: reading would block forever
    link_loop = tmp_path / "loop.its"
    link_loop.symlink_to(link_loop)
    cases = [
        ("/dev/zero", "not a regular file"),
        ("/dev/null", "not a regular file"),
        (str(fifo), "not a regular file"),
        (str(tmp_path), "directory"),
        (str(tmp_path / "missing.its"), "No such file or directory"),
        (str(link_loop), "Too many levels of symbolic links"),
        ("bad\0name", "null"),
    ]
    for path, fragment in cases:
        status, out, err = run_cli([path], capsys)
        assert (status, out) == (2, ""), path
        assert_one_line(err, "cannot read ")
        assert fragment in err, err


def test_an_unreadable_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "secret.its"
    script.write_text(SETUP)
    script.chmod(0)
    if os.access(script, os.R_OK):
        pytest.skip("running as a user who can read anything")
    status, _, err = run_cli([str(script)], capsys)
    assert status == 2
    assert_one_line(err, "Permission denied")


def test_the_issue_cases_in_a_real_process(tmp_path: Path) -> None:
    """The inputs of issue 14, as a user runs them: one line, exit 2, no traceback."""
    cases = {
        "/dev/zero": "not a regular file",
        str(tmp_path / "nonutf8.its"): "not UTF-8",
        str(tmp_path / "mem.its"): "at most 0x100000000",
        str(tmp_path / "cpus.its"): "at most 256",
    }
    (tmp_path / "nonutf8.its").write_bytes(b"setup\n\xff\n")
    (tmp_path / "mem.its").write_text("mem 0 0x10000000000\n")
    (tmp_path / "cpus.its").write_text("config intid_bits=24\ncpus 4096\nsetup\n")
    for path, fragment in cases.items():
        done = subprocess.run(
            [sys.executable, "-m", "itsrace.cli.main", "its", "run", path],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert_one_line(done.stderr, fragment)


def test_a_malformed_line_stops_everything_before_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "late.its"
    script.write_text(SETUP + "save\nmem 0 0x200000000\n")
    status, out, err = run_cli([str(script)], capsys)
    assert (status, out) == (2, "")
    assert_one_line(err, f"{script}:3: mem asks for 0x200000000 bytes")


def test_the_suite_is_large() -> None:
    assert len(BAD_SCRIPTS) + len(BAD_BYTES) >= 60


def test_a_script_that_runs_the_queue_too_long_stops_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import itsrace.its.script as script_module

    monkeypatch.setattr(script_module, "MAX_COMMAND_SLOTS", 40_000)
    script = tmp_path / "spin.its"
    lines = ["write GITS_CBASER 0x80000000400000ff", "write GITS_CTLR 1"]
    lines += ["write GITS_CWRITER 0x80000", "write GITS_CWRITER 0"] * 3
    script.write_text("\n".join(lines) + "\n")
    status, out, err = run_cli([str(script)], capsys)
    assert status == 3
    assert_one_line(err, f"{script}:5: limit: the script made the ITS execute 49152 command slots")
    assert "summary" not in out and "COMMAND_FAULT" in out


def test_the_work_limit_counts_across_restores() -> None:
    import io

    from itsrace.its.script import ScriptLimitError, run_script

    text = "setup\n" + "save\nrestore\ncmd SYNC rdbase=0\n" * 5
    with pytest.raises(ScriptLimitError) as info:
        run_script(text, io.StringIO(), max_commands=3)
    assert info.value.line == 13  # the fourth SYNC
