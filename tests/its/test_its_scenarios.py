"""Guest-driver style scenarios: boot like an OS, map devices, fire MSIs, take LPIs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itsrace.its import (
    CLEAR,
    DISCARD,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPTI,
    MOVI,
    SYNC,
    ErrorCode,
    GuestDriver,
    Its,
    ItsConfig,
    ItsError,
)
from itsrace.its.registers import GITS_BASER0, GITS_CREADR, GITS_CTLR, GITS_CWRITER

Send = Callable[..., list[ItsError]]


def boot(num_cpus: int, ite_size: int = 8) -> GuestDriver:
    driver = GuestDriver(Its(ItsConfig(num_cpus=num_cpus, ite_size=ite_size)))
    driver.setup()
    driver.send(*(MAPC(icid=cpu, rdbase=cpu) for cpu in range(num_cpus)))
    driver.send(*(SYNC(rdbase=cpu) for cpu in range(num_cpus)))
    return driver


def drain(its: Its, cpu: int) -> list[int]:
    """Acknowledge and EOI everything ``cpu`` can take, in order."""
    taken = []
    while (intid := its.ack(cpu)) != 1023:
        taken.append(intid)
        assert its.eoi(cpu, intid)
    return taken


def test_msis_arrive_on_exactly_the_expected_cpus() -> None:
    driver = boot(4)
    its = driver.its
    # (device, event) -> (LPI, CPU); three devices spread over four CPUs.
    plan = {
        (1, 0): (8192, 0),
        (1, 1): (8193, 1),
        (1, 2): (8194, 2),
        (2, 0): (8300, 3),
        (2, 5): (8301, 1),
        (3, 7): (9000, 1),
    }
    for device, size in ((1, 2), (2, 3), (3, 3)):
        driver.map_device(device, size)
    for (device, event), (intid, cpu) in plan.items():
        driver.set_property(intid, priority=0x80 if intid != 9000 else 0x20)
        driver.send(MAPTI(device_id=device, event_id=event, pintid=intid, icid=cpu))
    assert its.errors.codes() == []
    for device, event in plan:
        assert its.msi(device, event) == (*plan[device, event], True)
    assert [its.deliverable(cpu) for cpu in range(4)] == [
        [8192],
        [9000, 8193, 8301],
        [8194],
        [8300],
    ]
    assert [drain(its, cpu) for cpu in range(4)] == [[8192], [9000, 8193, 8301], [8194], [8300]]
    assert all(its.pending(cpu) == [] for cpu in range(4))


def test_the_same_lpi_fired_twice_is_taken_once(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=1))
    its.msi(1, 0)
    its.msi(1, 0)
    assert drain(its, 1) == [8192]


def test_movi_moves_an_interrupt_to_another_cpu(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(MAPTI(device_id=1, event_id=4, pintid=8196, icid=0))
    its.msi(1, 4)
    send(MOVI(device_id=1, event_id=4, icid=1))
    assert drain(its, 0) == [] and drain(its, 1) == [8196]  # the pending state moved along
    its.msi(1, 4)
    assert drain(its, 0) == [] and drain(its, 1) == [8196]


def test_discard_stops_an_interrupt_and_drops_its_pending_state(
    booted: GuestDriver, send: Send
) -> None:
    its = booted.its
    send(MAPTI(device_id=1, event_id=4, pintid=8196, icid=0))
    its.msi(1, 4)
    assert send(DISCARD(device_id=1, event_id=4)) == []
    assert drain(its, 0) == []
    assert its.msi(1, 4) is None
    assert its.errors.codes() == [ErrorCode.INT_UNMAPPED_INTERRUPT]
    assert drain(its, 0) == []


def test_clear_drops_a_pending_lpi(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(
        MAPTI(device_id=1, event_id=0, pintid=8192, icid=0),
        MAPTI(device_id=1, event_id=1, pintid=8193, icid=0),
    )
    its.msi(1, 0)
    its.msi(1, 1)
    send(CLEAR(device_id=1, event_id=0))
    assert drain(its, 0) == [8193]


def test_a_disabled_lpi_is_delivered_after_enable_and_inv(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    booted.set_property(8194, enabled=False)
    send(MAPTI(device_id=1, event_id=2, pintid=8194, icid=1), INV(device_id=1, event_id=2))
    its.msi(1, 2)
    assert drain(its, 1) == []
    booted.set_property(8194, enabled=True)
    assert drain(its, 1) == []
    send(INV(device_id=1, event_id=2))
    assert drain(its, 1) == [8194]


def test_mapd_v0_unmaps_a_device_but_leaves_pending_lpis(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=0))
    its.msi(1, 0)
    send(MAPD(device_id=1, size=0, itt_addr=0, valid=False))
    assert its.msi(1, 0) is None
    assert its.errors.codes() == [ErrorCode.INT_UNMAPPED_DEVICE]
    assert drain(its, 0) == [8192]


def test_mapc_retargets_a_collection(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=0))
    its.msi(1, 0)
    send(MAPC(icid=0, rdbase=1))
    assert its.lookup(1, 0) == (8192, 1, False)
    # The pending LPI stays where it was (moving it is MOVALL's job); new MSIs go to CPU 1.
    assert drain(its, 0) == [8192]
    its.msi(1, 0)
    assert drain(its, 0) == [] and drain(its, 1) == [8192]


def test_mapc_v0_then_v1_reattaches_the_interrupts(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=1), MAPC(icid=1, rdbase=0, valid=False))
    assert its.msi(1, 0) is None
    send(MAPC(icid=1, rdbase=0))
    assert its.msi(1, 0) == (8192, 0, True)


# -- two-level tables ------------------------------------------------------------------------------


def test_two_level_device_table() -> None:
    its = Its(ItsConfig(num_cpus=2, devbits=20))
    driver = GuestDriver(its)
    driver.setup(indirect=True, page_size=4096)
    table = its.device_table
    assert table.indirect and table.page_size == 4096
    per_page = 4096 // 8
    driver.send(MAPC(icid=0, rdbase=0), MAPC(icid=1, rdbase=1))
    # No level-2 page yet: the DeviceID has no entry.
    driver.send(MAPD(device_id=per_page + 3, size=1, itt_addr=0x100, valid=True))
    assert its.errors.codes() == [ErrorCode.MAPD_DEVICE_OOR]
    devices = {3: (8192, 1), per_page + 3: (8193, 0), 5 * per_page: (8194, 1)}
    for device, (intid, cpu) in devices.items():
        driver.map_device(device, size=1)
        driver.set_property(intid)
        driver.send(MAPTI(device_id=device, event_id=1, pintid=intid, icid=cpu))
    assert len(its.errors) == 1
    for device, (intid, cpu) in devices.items():
        # The level-1 entry is valid and the DTE sits in its level-2 page.
        l1 = its.memory.read64(table.base + (device // per_page) * 8)
        assert l1 >> 63 == 1
        dte = its.memory.read64((l1 & ((1 << 52) - 1) & ~0xFFF) + (device % per_page) * 8)
        assert dte >> 63 == 1 and dte & 0x1F == 1
        assert its.msi(device, 1) == (intid, cpu, True)
    assert drain(its, 0) == [8193] and drain(its, 1) == [8192, 8194]
    # Devices in level-2 pages that were never allocated stay out of range.
    driver.send(MAPD(device_id=2 * per_page, size=1, itt_addr=0x100, valid=True))
    assert its.errors.codes()[-1] is ErrorCode.MAPD_DEVICE_OOR


def test_two_level_collection_table() -> None:
    its = Its(ItsConfig(num_cpus=2))
    driver = GuestDriver(its)
    driver.setup(enable=False)
    l1 = driver.alloc(0x1000, 0x1000)
    l2 = driver.alloc(0x1000, 0x1000)
    its.memory.write64(l1 + 8, (1 << 63) | l2)  # ICIDs 512..1023 live in the page at l2
    its.write(GITS_BASER0 + 8, (1 << 63) | (1 << 62) | l1)  # 4 KiB pages, one level-1 page
    its.write(GITS_CTLR, 1, 4)
    driver.send(MAPC(icid=600, rdbase=1), MAPC(icid=5, rdbase=1))
    assert its.errors.codes() == [ErrorCode.MAPC_COLLECTION_OOR]  # ICID 5: level-1 entry invalid
    assert its.memory.read64(l2 + (600 - 512) * 8) == (1 << 63) | 1
    driver.map_device(1, size=0)
    driver.set_property(8192)
    driver.send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=600))
    assert its.msi(1, 0) == (8192, 1, True)


# -- the command queue ---------------------------------------------------------------------------


def test_the_queue_wraps_around() -> None:
    its = Its(ItsConfig(num_cpus=2))
    driver = GuestDriver(its)
    driver.setup(queue_pages=1)  # 128 slots
    driver.map_device(1, size=7)
    driver.send(MAPC(icid=0, rdbase=0))
    for event in range(200):
        driver.set_property(8192 + event)
        driver.send(
            MAPTI(device_id=1, event_id=event, pintid=8192 + event, icid=0),
            INV(device_id=1, event_id=event),
        )
    assert its.errors.codes() == []
    assert its.read(GITS_CREADR) == its.read(GITS_CWRITER) == (402 * 32) % 4096
    for event in range(200):
        its.msi(1, event)
    assert drain(its, 0) == list(range(8192, 8392))


def test_a_big_batch_larger_than_the_queue_goes_through() -> None:
    driver = boot(2)
    driver.map_device(1, size=9)
    driver.send(*(MAPTI(device_id=1, event_id=e, pintid=8192 + e, icid=e % 2) for e in range(1000)))
    assert driver.its.errors.codes() == []
    assert driver.its.lookup(1, 999) == (9191, 1, False)


def test_commands_queued_while_disabled_run_when_the_its_is_enabled() -> None:
    its = Its(ItsConfig(num_cpus=2))
    driver = GuestDriver(its)
    driver.setup(enable=False)
    driver.send(MAPC(icid=0, rdbase=1))
    assert its.read(GITS_CREADR) == 0 and its.read(GITS_CWRITER) == 32
    its.write(GITS_CTLR, 1, 4)
    assert its.read(GITS_CREADR) == 32
    assert its.memory.read64(its.collection_table.base) == (1 << 63) | 1


@pytest.mark.parametrize("ite_size", [8, 12])
def test_linux_like_flow_with_each_ite_size(ite_size: int) -> None:
    driver = boot(2, ite_size=ite_size)
    its = driver.its
    for device in range(4):
        driver.map_device(device, size=4)
        for event in range(32):
            intid = 8192 + device * 32 + event
            driver.set_property(intid)
            driver.send(MAPTI(device_id=device, event_id=event, pintid=intid, icid=event % 2))
    driver.send(INVALL(icid=0), INVALL(icid=1))
    for device in range(4):
        for event in range(32):
            its.msi(device, event)
    assert its.errors.codes() == []
    expected = [8192 + d * 32 + e for d in range(4) for e in range(32)]
    assert drain(its, 0) == [i for i in expected if i % 2 == 0]
    assert drain(its, 1) == [i for i in expected if i % 2 == 1]
