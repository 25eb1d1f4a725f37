"""Resources stay bounded: the error log, ITT backing, EnableLPIs on a big pending table.

No timings here (benchmarks are not tests; the figures are in docs/its.md): these tests pin
the structure that makes the costs bounded, such as how many entries the log keeps or how
many chunks of state a redistributor holds.
"""

from __future__ import annotations

import io

import pytest

from itsrace.its import (
    INT,
    MAPC,
    MAPD,
    MAPTI,
    ErrorCode,
    ErrorLog,
    GuestDriver,
    Its,
    ItsConfig,
    ItsError,
    run_script,
)
from itsrace.its.errors import DEFAULT_ERROR_LOG_LIMIT
from itsrace.its.registers import (
    CBASER_VALID,
    GICR_CTLR,
    GICR_PENDBASER,
    GICR_PROPBASER,
    GITS_CBASER,
    GITS_CTLR,
    GITS_CWRITER,
)


def test_an_unbacked_queue_fills_the_log_only_up_to_its_limit() -> None:
    its = Its(ItsConfig(num_cpus=1))
    its.write(GITS_CBASER, CBASER_VALID | 0x4000_0000 | 255)  # 1 MiB queue, not backed
    its.write(GITS_CTLR, 1, 4)
    for offset in (0x80000, 0, 0x80000):
        its.write(GITS_CWRITER, offset)
    log = its.errors
    assert log.recorded == 3 * 0x80000 // 32
    assert len(log) == DEFAULT_ERROR_LOG_LIMIT == log.limit
    assert log.dropped == log.recorded - DEFAULT_ERROR_LOG_LIMIT
    assert log.counts() == {ErrorCode.COMMAND_FAULT: log.recorded}
    assert log[-1].queue_index == 0x80000 // 32 - 1  # the newest entries are the ones kept
    assert log[0].queue_index == 0x80000 // 32 - DEFAULT_ERROR_LOG_LIMIT
    assert "kept of" in repr(log)


def test_since_and_counts_survive_dropping() -> None:
    log = ErrorLog(limit=3)
    mark = log.mark()
    for n in range(5):
        log.record(ItsError(ErrorCode.UNKNOWN_COMMAND, str(n)))
    middle = log.mark()
    log.record(ItsError(ErrorCode.TABLE_FAULT, "5"))
    assert [e.reason for e in log.since(mark)] == ["3", "4", "5"]
    assert [e.reason for e in log.since(middle)] == ["5"]
    assert log.since(log.mark()) == []
    assert [e.reason for e in log[1:]] == ["4", "5"]
    assert log.counts() == {ErrorCode.UNKNOWN_COMMAND: 5, ErrorCode.TABLE_FAULT: 1}
    assert (log.recorded, log.dropped) == (6, 3)
    log.clear()
    assert (log.recorded, log.dropped, len(log), log.counts()) == (0, 0, 0, {})
    with pytest.raises(ValueError, match="at least 1"):
        ErrorLog(limit=0)


def test_the_script_says_how_many_errors_it_could_not_show() -> None:
    out = io.StringIO()
    run_script(
        "write GITS_CBASER 0x80000000400000ff\nwrite GITS_CTLR 1\n"
        "write GITS_CWRITER 0x80000\nexpect error COMMAND_FAULT\n",
        out,
    )
    text = out.getvalue()
    assert f"... {16384 - 1024} earlier error(s) of this line not shown" in text
    assert text.count("error cmd #") == 1024
    assert "summary: 0 LPI(s) acknowledged, 16384 error(s) logged, 0 expectation(s) failed" in text


def test_a_huge_itt_is_accepted_and_costs_only_what_is_written() -> None:
    its = Its(ItsConfig(num_cpus=1, idbits=32))
    driver = GuestDriver(its)
    driver.setup()
    itt = driver.alloc_itt(31)  # 2**32 events x 8 bytes: 32 GiB of guest memory, lazily
    pages_before = len(its.memory._pages)
    driver.send(MAPD(device_id=1, size=31, itt_addr=itt), MAPC(icid=0, rdbase=0))
    driver.set_property(8192)
    last = (1 << 32) - 1
    driver.send(
        MAPTI(device_id=1, event_id=last, pintid=8192, icid=0), INT(device_id=1, event_id=last)
    )
    assert its.errors.codes() == [] and its.ack(0) == 8192
    # The DTE, CTE, queue, property, pending-table and ITE pages; never the 32 GiB ITT.
    assert len(its.memory._pages) - pages_before <= 8


def test_script_mapd_with_an_illegal_size_allocates_nothing_and_the_its_refuses_it() -> None:
    out = io.StringIO()
    result = run_script("setup\ncmd MAPD dev=1 size=31\nexpect error MAPD_ITTSIZE_OOR\n", out)
    assert result.exit_status == 0, out.getvalue()
    assert result.its is not None
    assert result.its.memory.backed_ranges()[-1][1] < 0x2000_0000  # no 32 GiB ITT mapped


def test_script_mapd_with_a_large_legal_size_runs() -> None:
    out = io.StringIO()
    result = run_script(
        "config idbits=32\nsetup\ncmd MAPC icid=0 rdbase=0\ncmd MAPD dev=1 size=31\nprop 8192\n"
        "cmd MAPTI dev=1 ev=0xffffffff pintid=8192 icid=0\nmsi dev=1 ev=0xffffffff\n"
        "expect ack cpu=0 8192\nexpect no-error\n",
        out,
    )
    assert result.exit_status == 0, out.getvalue()


def full_pending_table(intid_bits: int, prop_byte: int) -> Its:
    its = Its(ItsConfig(num_cpus=1, intid_bits=intid_bits))
    prop, pend = 0x1000_0000, 0x2000_0000
    its.memory.map(prop, (1 << intid_bits) - 8192)
    its.memory.map(pend, (1 << intid_bits) // 8)
    its.memory.write_bytes(prop, bytes([prop_byte]) * ((1 << intid_bits) - 8192))
    its.memory.write_bytes(pend, b"\xff" * ((1 << intid_bits) // 8))
    its.write_gicr(0, GICR_PROPBASER, prop | (intid_bits - 1))
    its.write_gicr(0, GICR_PENDBASER, pend)
    its.write_gicr(0, GICR_CTLR, 1, 4)
    return its


def test_enable_lpis_with_a_full_pending_table() -> None:
    its = full_pending_table(18, 0xA3)
    rd = its.redistributors[0]
    assert rd.pending_count == (1 << 18) - 8192
    assert len(rd._chunks) == ((1 << 18) - 8192) // 4096
    assert [its.ack(0) for _ in range(3)] == [8192, 8193, 8194]
    assert its.deliverable(0)[:2] == [8195, 8196]


def test_enable_lpis_with_disabled_lpis_delivers_nothing_until_invall() -> None:
    its = full_pending_table(16, 0x02)  # RES1 only: disabled
    assert its.ack(0) == 1023 and its.redistributors[0].pending_count == (1 << 16) - 8192
    its.memory.write8(0x1000_0000 + 100, 0x13)
    its.redistributors[0].invalidate_all()
    assert its.ack(0) == 8292


def test_state_follows_what_is_pending_not_the_intid_space() -> None:
    its = Its(ItsConfig(num_cpus=64, intid_bits=24))
    GuestDriver(its).setup()  # 64 pending tables of 2 MiB and a 16 MiB property table
    rd = its.redistributors[5]
    for intid in (8192, (1 << 24) - 1):
        assert rd.set_pending(intid)
    assert len(rd._chunks) == 2
    assert sum(len(r._chunks) for r in its.redistributors) == 2
    assert len(its.memory._pages) < 64  # backing is lazy: only written pages are host memory


def test_an_unreadable_property_page_at_enable_is_one_error() -> None:
    its = Its(ItsConfig(num_cpus=1))
    its.memory.map(0x2000_0000, 0x2000)
    its.memory.write_bytes(0x2000_0000 + 1024, b"\xff" * 1024)  # 8192 pending LPIs
    its.write_gicr(0, GICR_PROPBASER, 0x7000_0000 | 15)  # not backed
    its.write_gicr(0, GICR_PENDBASER, 0x2000_0000)
    its.write_gicr(0, GICR_CTLR, 1, 4)
    assert its.redistributors[0].pending_count == 8192
    assert its.errors.codes() == [ErrorCode.TABLE_FAULT] * 2  # one per 4 KiB property page
    assert "4096 pending LPI(s) treated as disabled" in its.errors[0].reason
    assert its.ack(0) == 1023
