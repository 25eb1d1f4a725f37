"""The ITS script language: statements, output, expectations and one-line errors."""

from __future__ import annotations

import io
import textwrap

import pytest

from itsrace.its import ErrorCode, ScriptError, run_script


def run(text: str) -> tuple[int, str]:
    out = io.StringIO()
    result = run_script(textwrap.dedent(text), out)
    return result.exit_status, out.getvalue()


BASIC = """
    cpus 2
    setup
    cmd MAPC icid=0 rdbase=0
    cmd MAPC icid=1 rdbase=1
    cmd MAPD dev=1 size=3            # 16 events, ITT allocated by the script
    prop 8192 prio=0x80
    prop 8193 prio=0x20
    cmd MAPTI dev=1 ev=0 pintid=8192 icid=1
    cmd MAPTI dev=1 ev=1 pintid=8193 icid=1
    cmd INVALL icid=1
"""


def test_a_basic_script_delivers_lpis_in_priority_order() -> None:
    status, out = run(
        BASIC
        + """
    msi dev=1 ev=0
    msi dev=1 ev=1
    expect deliverable cpu=1 8193 8192
    ack cpu=1
    ack cpu=1
    ack cpu=0
    eoi cpu=1 intid=8193
    """
    )
    assert status == 0
    lines = out.splitlines()
    assert "  13  msi dev=1 ev=0 -> LPI 8192 on cpu1" in lines
    assert "  16  ack cpu=1 -> 8193" in lines
    assert "  17  ack cpu=1 -> 8192" in lines
    assert "  18  ack cpu=0 -> 1023 (nothing to acknowledge)" in lines
    assert lines[-1] == "summary: 2 LPI(s) acknowledged, 0 error(s) logged, 0 expectation(s) failed"


def test_errors_are_printed_with_the_line_that_caused_them() -> None:
    status, out = run(BASIC + "cmd MAPTI dev=1 ev=16 pintid=8200 icid=0\nmsi dev=9 ev=0\n")
    assert status == 0
    assert (
        "  12  error cmd #6 MAPTI dev=1 ev=16 pintid=8200 icid=0: MAPTI_ID_OOR (0x010a05):" in out
    )
    assert (
        "  13  error msi dev=9 ev=0: INT_UNMAPPED_DEVICE (0x010304): device 9 is not mapped" in out
    )
    assert "2 error(s) logged" in out


def test_expectations_that_hold_and_fail() -> None:
    status, out = run(
        BASIC
        + """msi dev=1 ev=0
    expect ack cpu=1 8193            # wrong: 8192 is the only one pending
    expect no-error
    cmd MAPC icid=2 rdbase=9
    expect error MAPC_PROCNUM_OOR
    expect error MAPD_DEVICE_OOR     # not logged
    expect deliverable cpu=0 8192    # wrong: nothing is pending on CPU 0
    expect deliverable cpu=0
    expect read GITS_CREADR 0xe0     # seven commands ran
    expect read GICR_CTLR 1 cpu=0
    expect read GITS_CTLR 0x80000001 # enabled, and quiescent: the queue is drained
    """
    )
    assert status == 1
    fails = [line for line in out.splitlines() if "FAIL" in line]
    assert fails == [
        "  13  FAIL expect ack cpu=1 8193: got 8192",
        "  17  FAIL expect error MAPD_DEVICE_OOR: not logged",
        "  18  FAIL expect deliverable cpu=0 [8192]: got []",
    ]
    assert out.splitlines()[-1].endswith("3 expectation(s) failed")


def test_expect_no_error_fails_when_something_was_logged() -> None:
    status, out = run("setup\nmsi dev=1 ev=1\nexpect no-error\n")
    assert status == 1
    assert "   3  FAIL expect no-error: 1 error(s) logged" in out


def test_stall_policy_and_retry() -> None:
    status, out = run(
        """
        policy stall
        setup
        cmd MAPC icid=0 rdbase=7         # stalls here
        cmd MAPC icid=0 rdbase=0
        expect read GITS_CREADR 0x1      # offset 0, Stalled
        retry                            # fails again: still stalled
        expect read GITS_CREADR 0x1
        policy ignore
        retry                            # now the bad command is skipped
        expect read GITS_CREADR 0x40
        """
    )
    assert status == 0, out
    assert out.count("MAPC_PROCNUM_OOR") == 3


def test_registers_memory_and_config() -> None:
    status, out = run(
        """
        cpus 1
        config ite_size=12 devbits=10 pta=0
        mem 0x100000 0x10000
        read GITS_TYPER
        write GITS_CBASER 0x8000000000100000
        read GITS_CBASER size=4
        read 0x84
        write GICR_PROPBASER 0x20000f cpu=0
        read GICR_PROPBASER cpu=0
        write GITS_TRANSLATER 5 dev=3
        """
    )
    assert status == 0
    assert "read GITS_TYPER = 0x1f00012fb1" in out  # CIL, CIDbits 15, Devbits 9, IDbits 15, ITT 11
    assert "read GITS_CBASER = 0x100000" in out
    assert "read 0x84 = 0x80000000" in out
    assert "read GICR_PROPBASER = 0x20000f" in out
    assert "error msi dev=3 ev=5: ITS_DISABLED" in out


def test_mapd_with_an_explicit_itt_and_indirect_setup() -> None:
    status, out = run(
        """
        setup indirect=1 page=4k
        mem 0x200000 0x1000
        cmd MAPC icid=0 rdbase=0
        cmd MAPD dev=700 size=1 itt=0x200000
        prop 8192
        cmd MAPTI dev=700 ev=1 pintid=8192 icid=0
        msi dev=700 ev=1
        expect ack cpu=0 8192
        expect no-error
        """
    )
    assert status == 0, out


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("setup\ncmd MAPX dev=1\n", 2, "unknown command 'MAPX'"),
        ("frobnicate\n", 1, "unknown statement 'frobnicate'"),
        ("cmd MAPTI dev=1 ev=2 icid=0\n", 1, "MAPTI needs pintid="),
        ("cmd INT dev=x ev=0\n", 1, "dev='x' is not an integer"),
        ("ack cpu=2\n", 1, "cpu=2 does not exist (there are 2 CPUs)"),
        ("ack\n", 1, "'ack' needs cpu="),
        ("ack cpu=0 foo=1\n", 1, "'ack' has no option 'foo'"),
        ("ack cpu=0 cpu=1\n", 1, "option cpu= given twice"),
        ("ack cpu=\n", 1, "malformed option 'cpu='"),
        ("msi dev=1 ev=1\ncpus 4\n", 2, "'cpus' must come before the ITS is used"),
        ("setup\nconfig hcc=1\n", 2, "'config' must come before the ITS is used"),
        ("cpus 0\n", 1, "num_cpus must be an integer"),
        ("cpus two\n", 1, "the CPU count must be a number"),
        ("config ite_size=4\n", 1, "ite_size must be an integer in [8, 16]"),
        ("config colour=1\n", 1, "'config' has no option 'colour'"),
        ("policy sometimes\n", 1, "policy must be 'ignore' or 'stall'"),
        ("expect\n", 1, "'expect' needs what to check"),
        ("expect miracle\n", 1, "unknown expectation 'miracle'"),
        ("expect error NO_SUCH_ERROR\n", 1, "unknown error code 'NO_SUCH_ERROR'"),
        ("expect ack cpu=0\n", 1, "'expect ack' takes 1 argument(s), got 0"),
        (
            "read GITS_NOPE\n",
            1,
            "the register (a GITS_*/GICR_* name or an offset) must be a number",
        ),
        ("read 0x30000\n", 1, "offset 0x30000 is outside the ITS frames"),
        ("read GICR_CTLR\n", 1, "'read' needs cpu="),
        ("read GITS_CTLR cpu=0\n", 1, "cpu= only goes with GICR_* registers"),
        ("write GITS_CTLR 1 size=3\n", 1, "size must be 2, 4 or 8"),
        ("write GITS_TRANSLATER 1\n", 1, "'write' needs dev="),
        ("write GITS_CTLR 1 dev=1\n", 1, "dev= only goes with GITS_TRANSLATER"),
        ("mem 0x1000\n", 1, "'mem' takes 2 argument(s), got 1"),
        ("prop 8192 prio=0x100\n", 1, "prio must be a byte"),
        ("setup page=8k\n", 1, "page must be a number"),
        # Statements that parse but cannot be carried out:
        ("cmd SYNC rdbase=0\n", 1, "the command queue is not set up"),
        ("prop 8192\n", 1, "the property table is not set up"),
        ("mem 0x1000 0\n", 1, "outside the 52-bit PA space"),
        ("setup page=0x3000\n", 1, "page size must be one of"),
        (
            "write GITS_CBASER 0x8000000070000000\nwrite GITS_CTLR 1\ncmd SYNC rdbase=0\n",
            3,
            "unbacked guest memory",
        ),
    ],
)
def test_bad_lines_raise_script_error_with_the_line_number(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(ScriptError) as info:
        run(text)
    assert info.value.line == line
    assert message in info.value.message
    assert "\n" not in str(info.value)


def test_nothing_runs_when_a_later_line_is_malformed() -> None:
    out = io.StringIO()
    with pytest.raises(ScriptError):
        run_script("setup\nmsi dev=1 ev=1\nbogus\n", out)
    assert out.getvalue() == ""


def test_comments_blank_lines_and_case() -> None:
    status, out = run(
        "# only a comment\n\n   \nSETUP   # trailing\nCMD mapc ICID=0 rdbase=0\nExpect No-Error\n"
    )
    assert status == 0
    assert "0 error(s) logged" in out


def test_result_reports_acknowledged_lpis() -> None:
    result = run_script(BASIC + "msi dev=1 ev=1\nack cpu=1\n", io.StringIO())
    assert result.acknowledged == [(1, 8193)]
    assert result.its is not None and ErrorCode.MAPD_DEVICE_OOR not in result.its.errors.codes()


def untagged_code_blocks(markdown: str) -> list[str]:
    """The fenced blocks with no language tag (the doc's ITS scripts)."""
    blocks: list[str] = []
    current: list[str] | None = None
    tagged = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            if current is None:
                current, tagged = [], line != "```"
            else:
                if not tagged:
                    blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def test_the_script_examples_in_the_docs_run_and_hold() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "its.md").read_text()
    examples = untagged_code_blocks(doc)
    assert len(examples) == 3
    for example in examples:
        status, out = run(example)
        assert status == 0, out
