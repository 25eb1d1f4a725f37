"""What each command does to the guest tables and to the redistributors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itsrace.its import (
    CLEAR,
    DISCARD,
    GICV4_OPCODES,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPI,
    MAPTI,
    MOVALL,
    MOVI,
    SYNC,
    ErrorCode,
    Gicv4Command,
    GuestDriver,
    Its,
    ItsConfig,
    ItsError,
    UnknownCommand,
)

Send = Callable[..., list[ItsError]]

V = 1 << 63


def dte(driver: GuestDriver, device_id: int) -> int:
    return driver.its.memory.read64(driver.its.device_table.base + 8 * device_id)


def cte(driver: GuestDriver, icid: int) -> int:
    return driver.its.memory.read64(driver.its.collection_table.base + 8 * icid)


def pending_bit(driver: GuestDriver, cpu: int, intid: int) -> bool:
    assert driver.layout is not None
    byte = driver.its.memory.read8(driver.layout.pending_tables[cpu] + intid // 8)
    return bool(byte >> (intid % 8) & 1)


# -- MAPD ----------------------------------------------------------------------------------------


def test_mapd_writes_the_device_table_entry(driver: GuestDriver, send: Send) -> None:
    assert send(MAPD(device_id=5, size=7, itt_addr=0x1234_5600, valid=True)) == []
    assert dte(driver, 5) == V | 0x1234_5600 | 7
    assert dte(driver, 4) == 0 and dte(driver, 6) == 0


def test_mapd_v0_unmaps_the_device(booted: GuestDriver, send: Send) -> None:
    assert send(MAPD(device_id=1, size=0, itt_addr=0, valid=False)) == []
    assert dte(booted, 1) == 0


def test_mapd_remap_with_the_same_itt_brings_back_the_events(
    booted: GuestDriver, send: Send
) -> None:
    # Memory is authoritative: the ITEs stay in the ITT while the device is unmapped.
    itt = booted.map_device(2, size=1)
    send(MAPTI(device_id=2, event_id=1, pintid=8195, icid=0))
    send(MAPD(device_id=2, size=0, itt_addr=0, valid=False))
    assert booted.its.lookup(2, 1) is None
    send(MAPD(device_id=2, size=1, itt_addr=itt, valid=True))
    assert booted.its.lookup(2, 1) == (8195, 0, False)


# -- MAPC ----------------------------------------------------------------------------------------


def test_mapc_writes_the_collection_table_entry(driver: GuestDriver, send: Send) -> None:
    assert send(MAPC(icid=3, rdbase=1)) == []
    assert cte(driver, 3) == V | 1
    assert send(MAPC(icid=3, rdbase=0, valid=False)) == []
    assert cte(driver, 3) == 0


def test_mapc_v0_does_not_check_rdbase(driver: GuestDriver, send: Send) -> None:
    assert send(MAPC(icid=3, rdbase=99, valid=False)) == []


def test_mapc_with_pta_takes_redistributor_addresses() -> None:
    its = Its(ItsConfig(num_cpus=2, pta=True))
    driver = GuestDriver(its)
    driver.setup()
    rd1 = its.config.redistributor_address(1)
    driver.send(MAPC(icid=0, rdbase=rd1 >> 16))
    assert its.errors.codes() == []
    assert its.memory.read64(its.collection_table.base) == V | 1  # stored as a processor number
    driver.send(MAPC(icid=1, rdbase=1))  # a processor number is not an address under PTA
    assert its.errors.codes() == [ErrorCode.MAPC_PROCNUM_OOR]


def test_collections_below_hcc_live_in_the_its() -> None:
    its = Its(ItsConfig(num_cpus=2, hcc=2))
    driver = GuestDriver(its)
    driver.setup()
    table = its.memory.read_bytes(its.collection_table.base, 64)
    driver.send(MAPC(icid=1, rdbase=1))
    assert its.memory.read_bytes(its.collection_table.base, 64) == table
    driver.send(MAPC(icid=2, rdbase=1))
    assert its.memory.read64(its.collection_table.base + 16) == V | 1
    driver.map_device(1, size=1)
    driver.set_property(8192)
    driver.send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=1))
    assert its.msi(1, 0) == (8192, 1, True)
    driver.send(MAPC(icid=1, rdbase=0, valid=False))
    assert its.lookup(1, 0) is None
    assert its.errors.codes() == []


# -- MAPTI / MAPI --------------------------------------------------------------------------------


@pytest.mark.parametrize("ite_size", [8, 12])
def test_mapti_writes_the_interrupt_translation_entry(ite_size: int) -> None:
    its = Its(ItsConfig(ite_size=ite_size, intid_bits=20))
    driver = GuestDriver(its)
    driver.setup()
    itt = driver.map_device(1, size=2)
    its.memory.write_bytes(itt, b"\xee" * 4 * ite_size)  # garbage the ITS must overwrite exactly
    driver.send(MAPTI(device_id=1, event_id=2, pintid=0x12345, icid=7))
    assert its.errors.codes() == []
    entry = its.memory.read_bytes(itt + 2 * ite_size, ite_size)
    assert int.from_bytes(entry[:8], "little") == V | 0x12345 << 16 | 7
    assert entry[8:] == bytes(ite_size - 8)
    assert its.memory.read_bytes(itt + ite_size, ite_size) == b"\xee" * ite_size
    assert its.memory.read_bytes(itt + 3 * ite_size, ite_size) == b"\xee" * ite_size


def test_mapi_uses_the_event_id_as_the_intid(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    itt = booted.map_device(3, size=13)  # 2**14 events: EventID 8200 fits
    booted.set_property(8200)
    assert send(MAPI(device_id=3, event_id=8200, icid=1)) == []
    assert its.memory.read64(itt + 8200 * 8) == V | 8200 << 16 | 1
    assert its.msi(3, 8200) == (8200, 1, True)


# -- INT / CLEAR / DISCARD -----------------------------------------------------------------------


def test_int_makes_the_lpi_pending_at_the_target(booted: GuestDriver, send: Send) -> None:
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=1))
    assert send(INT(device_id=1, event_id=0)) == []
    assert booted.its.pending(1) == [8192] and booted.its.pending(0) == []
    assert pending_bit(booted, 1, 8192) and not pending_bit(booted, 0, 8192)


def test_clear_drops_the_pending_state(booted: GuestDriver, send: Send) -> None:
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=1), INT(device_id=1, event_id=0))
    assert send(CLEAR(device_id=1, event_id=0)) == []
    assert booted.its.pending(1) == []
    assert not pending_bit(booted, 1, 8192)
    assert booted.its.lookup(1, 0) == (8192, 1, False)  # the mapping stays


def test_discard_removes_the_mapping_and_the_pending_state(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    itt = booted.map_device(2, size=1)
    send(MAPTI(device_id=2, event_id=1, pintid=8193, icid=0), INT(device_id=2, event_id=1))
    assert its.pending(0) == [8193]
    assert send(DISCARD(device_id=2, event_id=1)) == []
    assert its.pending(0) == [] and not pending_bit(booted, 0, 8193)
    assert its.memory.read64(itt + 8) == 0
    assert its.lookup(2, 1) is None


# -- INV / INVALL --------------------------------------------------------------------------------


def test_inv_rereads_the_property_of_that_lpi_only(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(
        MAPTI(device_id=1, event_id=0, pintid=8192, icid=0),
        MAPTI(device_id=1, event_id=1, pintid=8193, icid=0),
        INT(device_id=1, event_id=0),
        INT(device_id=1, event_id=1),
    )
    booted.set_property(8192, priority=0x10)
    booted.set_property(8193, priority=0x10)
    assert its.deliverable(0) == [8192, 8193]
    assert send(INV(device_id=1, event_id=1)) == []
    assert its.deliverable(0) == [8193, 8192]  # only 8193's new priority is seen


def test_invall_rereads_every_property_of_its_redistributor_only(
    booted: GuestDriver, send: Send
) -> None:
    its = booted.its
    send(
        MAPTI(device_id=1, event_id=0, pintid=8192, icid=0),
        MAPTI(device_id=1, event_id=1, pintid=8193, icid=1),
        INT(device_id=1, event_id=0),
        INT(device_id=1, event_id=1),
    )
    booted.set_property(8192, enabled=False)
    booted.set_property(8193, enabled=False)
    assert send(INVALL(icid=1)) == []
    assert its.deliverable(0) == [8192]
    assert its.deliverable(1) == []


# -- MOVI / MOVALL -------------------------------------------------------------------------------


def test_movi_retargets_and_moves_the_pending_state(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    itt = booted.map_device(2, size=1)
    send(MAPTI(device_id=2, event_id=0, pintid=8194, icid=0), INT(device_id=2, event_id=0))
    assert send(MOVI(device_id=2, event_id=0, icid=1)) == []
    assert its.memory.read64(itt) == V | 8194 << 16 | 1
    assert its.pending(0) == [] and its.pending(1) == [8194]
    assert not pending_bit(booted, 0, 8194) and pending_bit(booted, 1, 8194)


def test_movi_within_the_same_redistributor_keeps_the_pending_state(
    booted: GuestDriver, send: Send
) -> None:
    send(MAPC(icid=2, rdbase=0), MAPTI(device_id=1, event_id=0, pintid=8192, icid=0))
    send(INT(device_id=1, event_id=0), MOVI(device_id=1, event_id=0, icid=2))
    assert booted.its.pending(0) == [8192]
    assert booted.its.lookup(1, 0) == (8192, 0, True)


def test_movall_moves_every_pending_lpi(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(
        MAPTI(device_id=1, event_id=0, pintid=8192, icid=0),
        MAPTI(device_id=1, event_id=1, pintid=8193, icid=0),
        MAPTI(device_id=1, event_id=2, pintid=8194, icid=1),
        INT(device_id=1, event_id=0),
        INT(device_id=1, event_id=1),
        INT(device_id=1, event_id=2),
    )
    assert send(MOVALL(rdbase1=0, rdbase2=1)) == []
    assert its.pending(0) == [] and its.pending(1) == [8192, 8193, 8194]
    assert send(MOVALL(rdbase1=1, rdbase2=1)) == []
    assert its.pending(1) == [8192, 8193, 8194]
    # MOVALL moves pending state only; the collection still targets CPU 0.
    assert its.lookup(1, 0) == (8192, 0, False)


def test_sync_does_nothing_and_succeeds(booted: GuestDriver, send: Send) -> None:
    before = booted.its.memory.read_bytes(booted.its.device_table.base, 64)
    assert send(SYNC(rdbase=0), SYNC(rdbase=1)) == []
    assert booted.its.memory.read_bytes(booted.its.device_table.base, 64) == before


# -- commands the ITS does not implement ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GICV4_OPCODES))
def test_gicv4_commands_are_rejected(driver: GuestDriver, send: Send, name: str) -> None:
    (error,) = send(Gicv4Command(GICV4_OPCODES[name]))
    assert error.code is ErrorCode.UNSUPPORTED_COMMAND
    assert name in error.reason and str(error.command) == name


@pytest.mark.parametrize("opcode", [0x00, 0x02, 0x06, 0x07, 0x10, 0x20, 0x24, 0x2F, 0xFF])
def test_unknown_opcodes_are_rejected(driver: GuestDriver, send: Send, opcode: int) -> None:
    (error,) = send(UnknownCommand(opcode))
    assert error.code is ErrorCode.UNKNOWN_COMMAND
    assert driver.its.creadr == driver.its.cwriter  # skipped (ignore policy)
