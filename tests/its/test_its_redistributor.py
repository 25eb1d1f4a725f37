"""Redistributors and CPU interfaces: pending tables, the property cache, ack and EOI."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itsrace.its import (
    INT,
    INV,
    INVALL,
    MAPTI,
    ErrorCode,
    ErrorSource,
    GuestDriver,
    Its,
    ItsConfig,
    ItsError,
)
from itsrace.its.registers import GICR_CTLR, GICR_PENDBASER, GICR_PROPBASER

Send = Callable[..., list[ItsError]]
PROP = 0x10_0000
PEND = 0x20_0000


def program(
    its: Its, cpu: int = 0, *, idbits: int = 15, ptz: bool = False, enable: bool = True
) -> None:
    """Back and program a property table at PROP and a pending table at PEND for ``cpu``."""
    its.memory.map(PROP, 0x10000)
    its.memory.map(PEND, 0x10000)
    its.write_gicr(cpu, GICR_PROPBASER, PROP | idbits)
    its.write_gicr(cpu, GICR_PENDBASER, PEND | (int(ptz) << 62))
    if enable:
        its.write_gicr(cpu, GICR_CTLR, 1, 4)


def set_prop(its: Its, intid: int, priority: int = 0xA0, enabled: bool = True) -> None:
    its.memory.write8(PROP + intid - 8192, priority | 2 | int(enabled))


@pytest.fixture
def rd_its() -> Its:
    its = Its(ItsConfig(num_cpus=1))
    program(its)
    return its


def pend(its: Its, *intids: int) -> None:
    for intid in intids:
        assert its.redistributors[0].set_pending(intid)


# -- acknowledge order ---------------------------------------------------------------------------


def test_ack_takes_the_lowest_priority_value_first_then_the_lowest_intid(rd_its: Its) -> None:
    set_prop(rd_its, 8192, 0xA0)
    set_prop(rd_its, 8193, 0x20)
    set_prop(rd_its, 8194, 0xA0)
    set_prop(rd_its, 8195, 0x20)
    pend(rd_its, 8194, 8192, 8195, 8193)
    assert rd_its.deliverable(0) == [8193, 8195, 8192, 8194]
    assert [rd_its.ack(0) for _ in range(5)] == [8193, 8195, 8192, 8194, 1023]


def test_priority_uses_bits_7_to_2_only(rd_its: Its) -> None:
    rd_its.memory.write8(PROP + 0, 0x43)  # priority 0x40, RES1, enabled
    rd_its.memory.write8(PROP + 1, 0x41)  # priority 0x40, enabled
    pend(rd_its, 8193, 8192)
    assert rd_its.deliverable(0) == [8192, 8193]


def test_ack_returns_1023_when_nothing_is_pending_and_enabled(rd_its: Its) -> None:
    assert rd_its.ack(0) == 1023
    set_prop(rd_its, 8192, enabled=False)
    pend(rd_its, 8192)
    assert rd_its.ack(0) == 1023
    assert rd_its.pending(0) == [8192]


def test_ack_clears_pending_so_the_lpi_can_fire_again_before_eoi(rd_its: Its) -> None:
    set_prop(rd_its, 8192)
    pend(rd_its, 8192)
    assert rd_its.ack(0) == 8192
    assert rd_its.pending(0) == []
    assert rd_its.memory.read8(PEND + 8192 // 8) == 0
    pend(rd_its, 8192)
    assert rd_its.ack(0) == 8192  # LPIs have no active state
    assert rd_its.cpus[0].outstanding == [8192, 8192]


def test_eoi_retires_an_acknowledged_intid_only(rd_its: Its) -> None:
    set_prop(rd_its, 8192)
    set_prop(rd_its, 8193)
    pend(rd_its, 8192, 8193)
    assert (rd_its.ack(0), rd_its.ack(0)) == (8192, 8193)
    assert rd_its.eoi(0, 8192)  # out of order is accepted
    assert not rd_its.eoi(0, 8192)  # already retired
    assert not rd_its.eoi(0, 9000)  # never acknowledged
    assert rd_its.cpus[0].outstanding == [8193]
    assert rd_its.eoi(0, 8193)
    assert rd_its.cpus[0].outstanding == []


# -- property cache --------------------------------------------------------------------------------


def test_a_disabled_lpi_waits_for_enable_plus_inv(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    booted.set_property(8192, enabled=False)
    send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=0))
    assert its.msi(1, 0) == (8192, 0, True)
    assert its.ack(0) == 1023
    booted.set_property(8192, enabled=True)
    assert its.ack(0) == 1023  # the redistributor still uses its cached copy
    send(INV(device_id=1, event_id=0))
    assert its.ack(0) == 8192


def test_a_disabled_lpi_waits_for_enable_plus_invall(booted: GuestDriver, send: Send) -> None:
    its = booted.its
    booted.set_property(8193, enabled=False)
    send(MAPTI(device_id=1, event_id=1, pintid=8193, icid=1), INT(device_id=1, event_id=1))
    booted.set_property(8193, enabled=True)
    send(INVALL(icid=0))  # the wrong redistributor
    assert its.ack(1) == 1023
    send(INVALL(icid=1))
    assert its.ack(1) == 8193


def test_disabling_without_inv_has_no_effect_on_a_cached_lpi(rd_its: Its) -> None:
    set_prop(rd_its, 8192)
    pend(rd_its, 8192)
    set_prop(rd_its, 8192, enabled=False)
    assert rd_its.deliverable(0) == [8192]
    rd_its.redistributors[0].invalidate(8192)
    assert rd_its.deliverable(0) == []


def test_cached_property_outlives_the_pending_state(rd_its: Its) -> None:
    set_prop(rd_its, 8192, enabled=False)
    pend(rd_its, 8192)
    rd_its.redistributors[0].clear_pending(8192)
    set_prop(rd_its, 8192, enabled=True)
    pend(rd_its, 8192)  # becomes pending again: the cached (disabled) copy is still used
    assert rd_its.deliverable(0) == []
    rd_its.redistributors[0].invalidate_all()
    assert rd_its.deliverable(0) == [8192]


def test_an_lpi_seen_for_the_first_time_reads_the_current_property(rd_its: Its) -> None:
    set_prop(rd_its, 8200, 0x10)
    assert rd_its.redistributors[0].cached_property(8200) is None
    pend(rd_its, 8200)
    assert rd_its.redistributors[0].cached_property(8200) == 0x13
    assert rd_its.deliverable(0) == [8200]


# -- EnableLPIs, PROPBASER range, the pending table ------------------------------------------------


def test_lpis_are_dropped_while_enable_lpis_is_clear() -> None:
    its = Its(ItsConfig(num_cpus=1))
    program(its, enable=False)
    assert not its.redistributors[0].set_pending(8192)
    assert its.memory.read8(PEND + 8192 // 8) == 0


def test_enabling_lpis_reads_the_pending_table() -> None:
    its = Its(ItsConfig(num_cpus=1))
    program(its, enable=False)
    set_prop(its, 8192)
    set_prop(its, 8203, 0x10)
    its.memory.write8(PEND + 8192 // 8, 0x01)  # 8192
    its.memory.write8(PEND + 8203 // 8, 0x08)  # 8203
    its.memory.write8(PEND + 5, 0xFF)  # INTIDs < 8192: the IMPDEF first 1 KiB is ignored
    its.write_gicr(0, GICR_CTLR, 1, 4)
    assert its.pending(0) == [8192, 8203]
    assert its.deliverable(0) == [8203, 8192]


def test_ptz_skips_reading_the_pending_table() -> None:
    its = Its(ItsConfig(num_cpus=1))
    program(its, ptz=True, enable=False)
    its.memory.write8(PEND + 8192 // 8, 0x01)
    its.write_gicr(0, GICR_CTLR, 1, 4)
    assert its.pending(0) == []


def test_clearing_enable_lpis_keeps_the_state_in_memory(rd_its: Its) -> None:
    set_prop(rd_its, 8192)
    pend(rd_its, 8192)
    rd_its.write_gicr(0, GICR_CTLR, 0, 4)
    assert rd_its.pending(0) == [] and rd_its.ack(0) == 1023
    rd_its.write_gicr(0, GICR_CTLR, 1, 4)
    assert rd_its.pending(0) == [8192]


@pytest.mark.parametrize(
    ("idbits", "accepted", "dropped"), [(13, 16383, 16384), (15, 65535, None), (12, None, 8192)]
)
def test_propbaser_idbits_limits_the_lpis(
    idbits: int, accepted: int | None, dropped: int | None
) -> None:
    its = Its(ItsConfig(num_cpus=1))
    program(its, idbits=idbits)
    rd = its.redistributors[0]
    if accepted is not None:
        assert rd.set_pending(accepted)
    if dropped is not None:
        assert not rd.set_pending(dropped)
    assert not rd.set_pending(8191)


def test_unreadable_property_table_is_logged_and_the_lpi_is_disabled() -> None:
    its = Its(ItsConfig(num_cpus=1))
    its.memory.map(PEND, 0x10000)
    its.write_gicr(0, GICR_PROPBASER, 0x7000_0000 | 15)  # not backed
    its.write_gicr(0, GICR_PENDBASER, PEND)
    its.write_gicr(0, GICR_CTLR, 1, 4)
    assert its.redistributors[0].set_pending(8192)
    assert its.deliverable(0) == []
    (error,) = its.errors
    assert (error.code, error.source, error.cpu) == (
        ErrorCode.TABLE_FAULT,
        ErrorSource.REDISTRIBUTOR,
        0,
    )


def test_unwritable_pending_table_drops_the_lpi() -> None:
    its = Its(ItsConfig(num_cpus=1))
    its.memory.map(PROP, 0x10000)
    its.write_gicr(0, GICR_PROPBASER, PROP | 15)
    its.write_gicr(0, GICR_PENDBASER, 0x7000_0000 | (1 << 62))  # PTZ: no read at enable
    its.write_gicr(0, GICR_CTLR, 1, 4)
    assert its.errors.codes() == []
    assert not its.redistributors[0].set_pending(8192)
    assert its.pending(0) == []
    assert its.errors.codes() == [ErrorCode.TABLE_FAULT]


def test_unreadable_pending_table_at_enable_is_logged() -> None:
    its = Its(ItsConfig(num_cpus=1))
    its.write_gicr(0, GICR_PENDBASER, 0x7000_0000)
    its.write_gicr(0, GICR_PROPBASER, 15)
    its.write_gicr(0, GICR_CTLR, 1, 4)
    assert its.errors.codes() == [ErrorCode.TABLE_FAULT]
    assert its.redistributors[0].lpis_enabled
