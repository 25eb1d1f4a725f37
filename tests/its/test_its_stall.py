"""The ``stall`` error policy: GITS_CREADR.Stalled, Retry, and what clears a stall."""

from __future__ import annotations

import pytest

from itsrace.its import (
    INT,
    MAPC,
    MAPD,
    MAPTI,
    SYNC,
    DriverError,
    ErrorCode,
    ErrorPolicy,
    GuestDriver,
    Its,
    ItsConfig,
)
from itsrace.its.registers import GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CWRITER

UNBACKED_ITT = 0x7000_0000


@pytest.fixture
def stalled() -> GuestDriver:
    """A stall-policy ITS stalled on slot 3 (a MAPTI into an ITT with no memory behind it),
    with an INT for that event queued behind it."""
    its = Its(ItsConfig(num_cpus=2, error_policy=ErrorPolicy.STALL))
    driver = GuestDriver(its)
    driver.setup()
    driver.set_property(8192)
    driver.send(
        MAPC(icid=0, rdbase=1),
        SYNC(rdbase=1),
        MAPD(device_id=3, size=1, itt_addr=UNBACKED_ITT, valid=True),
        MAPTI(device_id=3, event_id=0, pintid=8192, icid=0),
        INT(device_id=3, event_id=0),
    )
    return driver


def test_a_failing_command_stalls_the_queue(stalled: GuestDriver) -> None:
    its = stalled.its
    assert its.errors.codes() == [ErrorCode.TABLE_FAULT]
    assert its.errors[0].queue_index == 3
    assert its.read(GITS_CREADR) == 3 * 32 | 1  # Offset of the failing command, Stalled = 1
    assert its.read(GITS_CWRITER) == 5 * 32
    assert its.read(GITS_CTLR, 4) == 1  # enabled, not quiescent
    assert its.pending(1) == []  # the INT behind it has not run


def test_cwriter_writes_without_retry_do_not_restart(stalled: GuestDriver) -> None:
    its = stalled.its
    stalled.send(SYNC(rdbase=0))
    assert its.read(GITS_CREADR) == 3 * 32 | 1
    assert its.read(GITS_CWRITER) == 6 * 32
    assert len(its.errors) == 1


def test_retry_reruns_the_command_and_stalls_again_if_nothing_changed(stalled: GuestDriver) -> None:
    its = stalled.its
    stalled.retry()
    assert its.errors.codes() == [ErrorCode.TABLE_FAULT] * 2
    assert its.errors[1].queue_index == 3
    assert its.read(GITS_CREADR) == 3 * 32 | 1


def test_retry_after_the_guest_fixes_the_problem_resumes_the_queue(stalled: GuestDriver) -> None:
    its = stalled.its
    its.memory.map(UNBACKED_ITT, 0x1000)
    stalled.retry()
    assert its.read(GITS_CREADR) == 5 * 32  # MAPTI and INT both ran; Stalled cleared
    assert not its.stalled
    assert its.pending(1) == [8192] and its.ack(1) == 8192
    assert len(its.errors) == 1


def test_writing_cbaser_clears_the_stall(stalled: GuestDriver) -> None:
    its = stalled.its
    its.write(GITS_CBASER, 0)  # ignored: the ITS is enabled
    assert its.stalled
    its.write(GITS_CTLR, 0, 4)
    assert its.read(GITS_CTLR, 4) == 1 << 31  # disabled: quiescent
    its.write(GITS_CBASER, its.read(GITS_CBASER))
    assert its.read(GITS_CREADR) == 0 and not its.stalled


def test_disable_and_enable_does_not_clear_the_stall(stalled: GuestDriver) -> None:
    its = stalled.its
    its.write(GITS_CTLR, 0, 4)
    its.write(GITS_CTLR, 1, 4)
    assert its.stalled and len(its.errors) == 1


def test_switching_to_ignore_then_retry_skips_the_failing_command(stalled: GuestDriver) -> None:
    its = stalled.its
    its.policy = ErrorPolicy.IGNORE
    assert its.stalled  # a policy change alone does not restart the queue
    stalled.retry()
    assert its.errors.codes() == [
        ErrorCode.TABLE_FAULT,
        ErrorCode.TABLE_FAULT,
        ErrorCode.TABLE_FAULT,
    ]
    assert [e.queue_index for e in its.errors] == [3, 3, 4]  # MAPTI again, then the INT
    assert its.read(GITS_CREADR) == 5 * 32


def test_retry_when_not_stalled_is_harmless() -> None:
    its = Its(ItsConfig(error_policy=ErrorPolicy.STALL))
    driver = GuestDriver(its)
    driver.setup()
    driver.send(MAPC(icid=0, rdbase=0))
    driver.retry()
    assert its.read(GITS_CREADR) == 32 and its.errors.codes() == []


def test_stall_on_an_architected_error() -> None:
    its = Its(ItsConfig(error_policy=ErrorPolicy.STALL))
    driver = GuestDriver(its)
    driver.setup()
    driver.send(MAPC(icid=0, rdbase=5), MAPC(icid=0, rdbase=0))
    assert its.errors.codes() == [ErrorCode.MAPC_PROCNUM_OOR]
    assert its.read(GITS_CREADR) == 1
    # The guest cannot fix a bad command in place... but it may rewrite the slot and retry.
    its.memory.write_bytes(its.queue.base, MAPC(icid=0, rdbase=1).encode())
    driver.retry()
    assert its.read(GITS_CREADR) == 64
    assert its.memory.read64(its.collection_table.base) == (1 << 63) | 0


def test_a_full_stalled_queue_makes_the_driver_give_up() -> None:
    its = Its(ItsConfig(error_policy=ErrorPolicy.STALL))
    driver = GuestDriver(its)
    driver.setup(queue_pages=1)
    driver.send(MAPC(icid=0, rdbase=9))
    with pytest.raises(DriverError, match="full"):
        driver.send(*[SYNC(rdbase=0)] * 127)
    assert its.read(GITS_CREADR) == 1
    assert its.read(GITS_CWRITER) == 127 * 32  # one slot is always left free
