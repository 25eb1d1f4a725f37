"""Every error check, provoked one at a time, with its architected code.

Each failing command must be logged (code, queue slot, decoded command), skipped under the
``ignore`` policy, and leave the tables and the pending state exactly as they were.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itsrace.its import (
    CLEAR,
    DISCARD,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPI,
    MAPTI,
    MOVALL,
    MOVI,
    Command,
    ErrorCode,
    ErrorSource,
    Gicv4Command,
    GuestDriver,
    Its,
    ItsConfig,
    ItsError,
    UnknownCommand,
)
from itsrace.its.registers import GITS_CBASER, GITS_CTLR, GITS_CWRITER

Send = Callable[..., list[ItsError]]
E = ErrorCode
BIG_DEV = 1 << 16  # DeviceID needs 17 bits; the ITS has 16
BIG_ICID = 8192  # one 64 KiB page of collections holds ICIDs 0..8191

# The world every case starts from (see `world`): device 1 has 32 events; event 0 -> LPI 8192
# in collection 0 (CPU 0); event 1 -> LPI 8193 in collection 5, which is not mapped; event 2 is
# not mapped; device 2 is not mapped.
CASES: list[tuple[ErrorCode, Command]] = [
    (E.MOVI_DEVICE_OOR, MOVI(device_id=BIG_DEV, event_id=0, icid=0)),
    (E.MOVI_COLLECTION_OOR, MOVI(device_id=1, event_id=0, icid=BIG_ICID)),
    (E.MOVI_UNMAPPED_DEVICE, MOVI(device_id=2, event_id=0, icid=0)),
    (E.MOVI_ID_OOR, MOVI(device_id=1, event_id=32, icid=0)),
    (E.MOVI_UNMAPPED_INTERRUPT, MOVI(device_id=1, event_id=2, icid=0)),
    (E.MOVI_UNMAPPED_COLLECTION, MOVI(device_id=1, event_id=0, icid=6)),  # new one unmapped
    (E.MOVI_UNMAPPED_COLLECTION, MOVI(device_id=1, event_id=1, icid=0)),  # old one unmapped
    (E.INT_DEVICE_OOR, INT(device_id=BIG_DEV, event_id=0)),
    (E.INT_UNMAPPED_DEVICE, INT(device_id=2, event_id=0)),
    (E.INT_ID_OOR, INT(device_id=1, event_id=32)),
    (E.INT_UNMAPPED_INTERRUPT, INT(device_id=1, event_id=2)),
    (E.INT_UNMAPPED_COLLECTION, INT(device_id=1, event_id=1)),
    (E.CLEAR_DEVICE_OOR, CLEAR(device_id=BIG_DEV, event_id=0)),
    (E.CLEAR_UNMAPPED_DEVICE, CLEAR(device_id=2, event_id=0)),
    (E.CLEAR_ID_OOR, CLEAR(device_id=1, event_id=32)),
    (E.CLEAR_UNMAPPED_INTERRUPT, CLEAR(device_id=1, event_id=2)),
    (E.CLEAR_UNMAPPED_COLLECTION, CLEAR(device_id=1, event_id=1)),
    (E.MAPD_DEVICE_OOR, MAPD(device_id=BIG_DEV, size=1, itt_addr=0x100, valid=True)),
    (E.MAPD_DEVICE_OOR, MAPD(device_id=BIG_DEV, size=0, itt_addr=0, valid=False)),
    (E.MAPD_ITTSIZE_OOR, MAPD(device_id=3, size=16, itt_addr=0x100, valid=True)),
    (E.MAPC_PROCNUM_OOR, MAPC(icid=2, rdbase=2, valid=True)),
    (E.MAPC_COLLECTION_OOR, MAPC(icid=BIG_ICID, rdbase=0, valid=True)),
    (E.MAPC_COLLECTION_OOR, MAPC(icid=BIG_ICID, rdbase=0, valid=False)),
    (E.MAPTI_DEVICE_OOR, MAPTI(device_id=BIG_DEV, event_id=0, pintid=8192, icid=0)),
    (E.MAPTI_COLLECTION_OOR, MAPTI(device_id=1, event_id=3, pintid=8195, icid=BIG_ICID)),
    (E.MAPTI_UNMAPPED_DEVICE, MAPTI(device_id=2, event_id=0, pintid=8192, icid=0)),
    (E.MAPTI_ID_OOR, MAPTI(device_id=1, event_id=32, pintid=8192, icid=0)),
    (E.MAPTI_PHYSICALID_OOR, MAPTI(device_id=1, event_id=3, pintid=8191, icid=0)),
    (E.MAPTI_PHYSICALID_OOR, MAPTI(device_id=1, event_id=3, pintid=1 << 16, icid=0)),
    (E.MAPI_DEVICE_OOR, MAPI(device_id=BIG_DEV, event_id=0, icid=0)),
    (E.MAPI_COLLECTION_OOR, MAPI(device_id=1, event_id=3, icid=BIG_ICID)),
    (E.MAPI_UNMAPPED_DEVICE, MAPI(device_id=2, event_id=0, icid=0)),
    (E.MAPI_ID_OOR, MAPI(device_id=1, event_id=32, icid=0)),
    (E.MAPI_PHYSICALID_OOR, MAPI(device_id=1, event_id=3, icid=0)),  # pINTID 3 is not an LPI
    (E.INV_DEVICE_OOR, INV(device_id=BIG_DEV, event_id=0)),
    (E.INV_UNMAPPED_DEVICE, INV(device_id=2, event_id=0)),
    (E.INV_ID_OOR, INV(device_id=1, event_id=32)),
    (E.INV_UNMAPPED_INTERRUPT, INV(device_id=1, event_id=2)),
    (E.INV_UNMAPPED_COLLECTION, INV(device_id=1, event_id=1)),
    (E.INVALL_COLLECTION_OOR, INVALL(icid=BIG_ICID)),
    (E.INVALL_UNMAPPED_COLLECTION, INVALL(icid=5)),
    (E.MOVALL_PROCNUM_OOR, MOVALL(rdbase1=0, rdbase2=2)),
    (E.MOVALL_PROCNUM_OOR, MOVALL(rdbase1=7, rdbase2=0)),
    (E.DISCARD_DEVICE_OOR, DISCARD(device_id=BIG_DEV, event_id=0)),
    (E.DISCARD_UNMAPPED_DEVICE, DISCARD(device_id=2, event_id=0)),
    (E.DISCARD_ID_OOR, DISCARD(device_id=1, event_id=32)),
    (E.DISCARD_UNMAPPED_INTERRUPT, DISCARD(device_id=1, event_id=2)),
    (E.DISCARD_UNMAPPED_COLLECTION, DISCARD(device_id=1, event_id=1)),
    (E.UNKNOWN_COMMAND, UnknownCommand(0x7F)),
    (E.UNSUPPORTED_COMMAND, Gicv4Command(0x29)),
]

# Codes provoked by the dedicated tests at the end of this file.
OTHER_TESTS = {
    E.COMMAND_FAULT,
    E.TABLE_FAULT,
    E.QUEUE_OFFSET_OOR,
    E.ITS_DISABLED,
    E.REGISTER_ACCESS,
}


def test_every_error_code_is_provoked_by_a_test() -> None:
    assert {code for code, _ in CASES} | OTHER_TESTS == set(ErrorCode)


@pytest.fixture
def world(booted: GuestDriver, send: Send) -> GuestDriver:
    assert (
        send(
            MAPTI(device_id=1, event_id=0, pintid=8192, icid=0),
            MAPTI(device_id=1, event_id=1, pintid=8193, icid=5),
            INT(device_id=1, event_id=0),
        )
        == []
    )
    return booted


def snapshot(its: Its) -> tuple[object, ...]:
    """Everything a command could change: all guest memory and every redistributor."""
    memory = tuple(its.memory.pages())
    pending = tuple(tuple(its.pending(cpu)) for cpu in range(its.config.num_cpus))
    return memory, pending, its.deliverable(0), its.deliverable(1)


@pytest.mark.parametrize(
    ("code", "command"), CASES, ids=[f"{c.name}-{i}" for i, (c, _) in enumerate(CASES)]
)
def test_command_error(world: GuestDriver, code: ErrorCode, command: Command) -> None:
    its = world.its
    slot = its.cwriter // 32
    before = snapshot(its)
    world.send(command)
    (error,) = its.errors
    assert error.code is code
    assert error.code.architected == (code not in {E.UNKNOWN_COMMAND, E.UNSUPPORTED_COMMAND})
    assert (error.source, error.queue_index, error.command) == (ErrorSource.COMMAND, slot, command)
    assert error.reason
    assert str(error).startswith(f"cmd #{slot} {command}: {code.name} (0x{code.value:06x}): ")
    assert its.creadr == its.cwriter == (slot + 1) * 32  # skipped, not stalled
    assert not its.stalled
    # Nothing changed except the command slot the driver wrote.
    its.memory.write_bytes(its.queue.base + slot * 32, bytes(32))
    assert snapshot(its) == before


def test_device_outside_a_small_device_table_is_out_of_range() -> None:
    its = Its(ItsConfig(devbits=20))
    driver = GuestDriver(its)
    driver.setup(page_size=4096)  # 20 bits of DeviceID need 8 MiB: capped at 256 x 4 KiB
    assert its.device_table.capacity == 256 * 4096 // 8
    driver.send(MAPD(device_id=its.device_table.capacity, size=0, itt_addr=0, valid=True))
    assert its.errors.codes() == [E.MAPD_DEVICE_OOR]
    driver.send(MAPD(device_id=its.device_table.capacity - 1, size=0, itt_addr=0, valid=True))
    assert len(its.errors) == 1


def test_collection_beyond_cidbits_is_out_of_range() -> None:
    its = Its(ItsConfig(cidbits=4))
    driver = GuestDriver(its)
    driver.setup()
    driver.send(MAPC(icid=15, rdbase=0), MAPC(icid=16, rdbase=0))
    assert its.errors.codes() == [E.MAPC_COLLECTION_OOR]


def test_mapti_physical_id_limit_follows_intid_bits() -> None:
    its = Its(ItsConfig(intid_bits=14))
    driver = GuestDriver(its)
    driver.setup()
    driver.map_device(1, size=1)
    driver.send(MAPC(icid=0, rdbase=0))
    driver.send(MAPTI(device_id=1, event_id=0, pintid=16383, icid=0))
    driver.send(MAPTI(device_id=1, event_id=1, pintid=16384, icid=0))
    assert its.errors.codes() == [E.MAPTI_PHYSICALID_OOR]


# -- errors that are not about a command's fields ------------------------------------------------


def test_command_fault_when_the_queue_is_not_backed() -> None:
    its = Its()
    its.write(GITS_CBASER, (1 << 63) | 0x4000_0000)  # valid, one page, nothing backed there
    its.write(GITS_CTLR, 1, 4)
    its.write(GITS_CWRITER, 0x40)
    assert its.errors.codes() == [E.COMMAND_FAULT, E.COMMAND_FAULT]
    assert [e.queue_index for e in its.errors] == [0, 1]
    assert its.errors[0].command is None
    assert its.creadr == 0x40


def test_table_fault_when_an_itt_is_not_backed(booted: GuestDriver, send: Send) -> None:
    assert send(MAPD(device_id=3, size=1, itt_addr=0x7000_0000, valid=True)) == []
    (error,) = send(MAPTI(device_id=3, event_id=0, pintid=8192, icid=0))
    assert error.code is E.TABLE_FAULT and "0x70000000" in error.reason
    (error,) = send(INT(device_id=3, event_id=0))
    assert error.code is E.TABLE_FAULT
    assert booted.its.msi(3, 0) is None
    assert booted.its.errors[-1].code is E.TABLE_FAULT
    assert booted.its.errors[-1].source is ErrorSource.TRANSLATION


def test_table_fault_when_the_device_table_is_not_backed() -> None:
    its = Its()
    driver = GuestDriver(its)
    driver.setup(enable=False)
    its.write(0x100, (1 << 63) | 0x7000_0000 | (2 << 8))  # BASER0 somewhere unbacked
    its.write(GITS_CTLR, 1, 4)
    driver.send(MAPD(device_id=1, size=1, itt_addr=0, valid=True))
    assert its.errors.codes() == [E.TABLE_FAULT]


def test_cwriter_beyond_the_queue_is_logged_and_nothing_runs(driver: GuestDriver) -> None:
    its = driver.its
    its.write(GITS_CWRITER, its.queue.size)
    assert its.errors.codes() == [E.QUEUE_OFFSET_OOR]
    assert its.errors[0].source is ErrorSource.QUEUE
    assert its.creadr == 0 and not its.stalled
    its.write(GITS_CWRITER, 0)  # back inside the queue: nothing pending, nothing logged
    assert len(its.errors) == 1


def test_msi_to_a_disabled_its_is_logged(its: Its) -> None:
    assert its.msi(1, 2) is None
    (error,) = its.errors
    assert (error.code, error.source, error.device_id, error.event_id) == (
        E.ITS_DISABLED,
        ErrorSource.TRANSLATION,
        1,
        2,
    )
    assert str(error) == "msi dev=1 ev=2: ITS_DISABLED (0xf00006): the ITS is disabled"


def test_register_access_of_a_bad_width_is_logged(its: Its) -> None:
    its.write(GITS_CTLR, 1, 1)
    assert its.errors.codes() == [E.REGISTER_ACCESS]
    assert not its.enabled


@pytest.mark.parametrize(
    ("event", "code"),
    [(32, E.INT_ID_OOR), (2, E.INT_UNMAPPED_INTERRUPT), (1, E.INT_UNMAPPED_COLLECTION)],
)
def test_translation_errors_use_the_int_codes(
    world: GuestDriver, event: int, code: ErrorCode
) -> None:
    its = world.its
    assert its.msi(1, event) is None
    (error,) = its.errors
    assert (error.code, error.source, error.device_id, error.event_id) == (
        code,
        ErrorSource.TRANSLATION,
        1,
        event,
    )


@pytest.mark.parametrize(
    ("device", "code"),
    [(BIG_DEV, E.INT_DEVICE_OOR), (2, E.INT_UNMAPPED_DEVICE), (-1, E.INT_DEVICE_OOR)],
)
def test_translation_errors_for_devices(world: GuestDriver, device: int, code: ErrorCode) -> None:
    assert world.its.msi(device, 0) is None
    assert world.its.errors.codes() == [code]
