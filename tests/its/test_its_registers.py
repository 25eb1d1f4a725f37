"""The ITS register frame and the redistributor LPI registers, field by field."""

from __future__ import annotations

import pytest

from itsrace.its import SYNC, ErrorCode, ErrorSource, GuestDriver, Its, ItsConfig
from itsrace.its.registers import (
    GICR_CTLR,
    GICR_IIDR,
    GICR_PENDBASER,
    GICR_PROPBASER,
    GICR_TYPER,
    GITS_BASER0,
    GITS_CBASER,
    GITS_CREADR,
    GITS_CTLR,
    GITS_CWRITER,
    GITS_IIDR,
    GITS_PIDR2,
    GITS_TRANSLATER,
    GITS_TYPER,
    TableGeometry,
)

ENABLED = 1
QUIESCENT = 1 << 31
BASER1 = GITS_BASER0 + 8


def bits(value: int, high: int, low: int) -> int:
    return (value >> low) & ((1 << (high - low + 1)) - 1)


# -- identification -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        (
            ItsConfig(),
            {
                "phys": 1,
                "virt": 0,
                "itt": 7,
                "id": 15,
                "dev": 15,
                "seis": 0,
                "pta": 0,
                "hcc": 0,
                "cid": 15,
                "cil": 1,
            },
        ),
        (
            ItsConfig(devbits=20, idbits=10, ite_size=12, pta=True, hcc=4, cidbits=8),
            {
                "phys": 1,
                "virt": 0,
                "itt": 11,
                "id": 9,
                "dev": 19,
                "seis": 0,
                "pta": 1,
                "hcc": 4,
                "cid": 7,
                "cil": 1,
            },
        ),
    ],
)
def test_typer_advertises_the_config(config: ItsConfig, fields: dict[str, int]) -> None:
    typer = Its(config).read(GITS_TYPER)
    decoded = {
        "phys": bits(typer, 0, 0),
        "virt": bits(typer, 1, 1),
        "itt": bits(typer, 7, 4),
        "id": bits(typer, 12, 8),
        "dev": bits(typer, 17, 13),
        "seis": bits(typer, 18, 18),
        "pta": bits(typer, 19, 19),
        "hcc": bits(typer, 31, 24),
        "cid": bits(typer, 35, 32),
        "cil": bits(typer, 36, 36),
    }
    assert decoded == fields
    assert typer >> 37 == 0


def test_read_only_registers_ignore_writes(its: Its) -> None:
    before = [its.read(GITS_TYPER), its.read(GITS_IIDR, 4), its.read(GITS_PIDR2, 4)]
    its.write(GITS_TYPER, 0)
    its.write(GITS_IIDR, 0, 4)
    its.write(GITS_PIDR2, 0, 4)
    its.write(GITS_CREADR, 0x1E0)
    assert [its.read(GITS_TYPER), its.read(GITS_IIDR, 4), its.read(GITS_PIDR2, 4)] == before
    assert its.read(GITS_CREADR) == 0
    assert bits(before[1], 11, 0) == 0x43B and bits(before[2], 7, 4) == 3


def test_typer_halves_can_be_read_as_32_bit(its: Its) -> None:
    typer = its.read(GITS_TYPER)
    assert its.read(GITS_TYPER, 4) == typer & 0xFFFF_FFFF
    assert its.read(GITS_TYPER + 4, 4) == typer >> 32


# -- GITS_CTLR --------------------------------------------------------------------------------


def test_ctlr_enable_and_quiescent(its: Its) -> None:
    assert its.read(GITS_CTLR, 4) == QUIESCENT
    its.write(GITS_CTLR, 0xFFFF_FFFF, 4)  # only Enabled is writable
    assert its.read(GITS_CTLR, 4) == ENABLED | QUIESCENT
    its.write(GITS_CTLR, 0, 4)
    assert its.read(GITS_CTLR, 4) == QUIESCENT


def test_quiescent_clears_while_enabled_commands_cannot_run(its: Its) -> None:
    its.write(GITS_CWRITER, 0x20)  # queue invalid: nothing can run
    its.write(GITS_CTLR, ENABLED, 4)
    assert its.read(GITS_CTLR, 4) == ENABLED
    its.write(GITS_CTLR, 0, 4)
    assert its.read(GITS_CTLR, 4) == QUIESCENT


# -- GITS_CBASER / CWRITER / CREADR ------------------------------------------------------------


def test_cbaser_keeps_writable_fields_and_zeroes_res0(its: Its) -> None:
    its.write(GITS_CBASER, 0xFFFF_FFFF_FFFF_FFFF)
    # RES0: [62], [58:56], [52], [9:8]
    assert its.read(GITS_CBASER) == 0xFFFF_FFFF_FFFF_FFFF & ~(
        (1 << 62) | (7 << 56) | (1 << 52) | (3 << 8)
    )


def test_cbaser_write_zeroes_creadr_but_not_cwriter(driver: GuestDriver) -> None:
    its = driver.its
    driver.send(SYNC(rdbase=0), SYNC(rdbase=0))
    assert its.read(GITS_CREADR) == its.read(GITS_CWRITER) == 0x40
    its.write(GITS_CTLR, 0, 4)
    its.write(GITS_CBASER, its.read(GITS_CBASER))
    assert its.read(GITS_CREADR) == 0
    assert its.read(GITS_CWRITER) == 0x40


def test_cbaser_and_basers_are_frozen_while_enabled(driver: GuestDriver) -> None:
    its = driver.its
    cbaser, baser0 = its.read(GITS_CBASER), its.read(GITS_BASER0)
    its.write(GITS_CBASER, 0)
    its.write(GITS_BASER0, 0)
    its.write(GITS_BASER0 + 4, 0, 4)
    assert (its.read(GITS_CBASER), its.read(GITS_BASER0)) == (cbaser, baser0)


def test_cwriter_keeps_offset_bits_only_and_retry_reads_zero(its: Its) -> None:
    its.write(GITS_CWRITER, 0xFFFF_FFFF_FFFF_FFFF)
    assert its.read(GITS_CWRITER) == 0xF_FFE0


def test_queue_registers_accept_32_bit_halves(its: Its) -> None:
    its.write(GITS_CBASER + 4, 0x8000_0000, 4)
    its.write(GITS_CBASER, 0x0012_3003, 4)
    assert its.read(GITS_CBASER) == 0x8000_0000_0012_3003
    assert its.read(GITS_CBASER + 4, 4) == 0x8000_0000


# -- GITS_BASER<n> -----------------------------------------------------------------------------


def test_baser_type_and_entry_size_are_read_only(its: Its) -> None:
    assert bits(its.read(GITS_BASER0), 58, 56) == 1  # Device
    assert bits(its.read(BASER1), 58, 56) == 4  # Collection
    its.write(GITS_BASER0, 0)
    its.write(BASER1, 0xFFFF_FFFF_FFFF_FFFF)
    assert bits(its.read(GITS_BASER0), 58, 56) == 1
    assert bits(its.read(GITS_BASER0), 52, 48) == 7  # 8-byte entries
    assert bits(its.read(BASER1), 58, 56) == 4
    assert bits(its.read(BASER1), 52, 48) == 7


def test_baser_reset_value_is_invalid_with_64k_pages(its: Its) -> None:
    value = its.read(GITS_BASER0)
    assert value >> 63 == 0 and bits(value, 9, 8) == 2


def test_baser_reserved_page_size_reads_as_64k(its: Its) -> None:
    its.write(GITS_BASER0, 3 << 8)
    assert bits(its.read(GITS_BASER0), 9, 8) == 2


@pytest.mark.parametrize("index", range(2, 8))
def test_unimplemented_basers_are_raz_wi(its: Its, index: int) -> None:
    its.write(GITS_BASER0 + 8 * index, 0xFFFF_FFFF_FFFF_FFFF)
    assert its.read(GITS_BASER0 + 8 * index) == 0


def test_baser_geometry_with_64k_pages_uses_pa_51_48_from_bits_15_12() -> None:
    value = (1 << 63) | (0x1234 << 16) | (0xA << 12) | (2 << 8) | 3
    table = TableGeometry.from_baser(value, 1 << 16)
    assert table.base == (0xA << 48) | (0x1234 << 16)
    assert (table.page_size, table.pages, table.capacity) == (65536, 4, 4 * 65536 // 8)


def test_baser_geometry_4k_and_indirect() -> None:
    value = (1 << 63) | (1 << 62) | 0x5000 | 0  # one 4 KiB level-1 page
    table = TableGeometry.from_baser(value, 1 << 24)
    assert (table.base, table.page_size, table.indirect) == (0x5000, 4096, True)
    assert table.capacity == (4096 // 8) * (4096 // 8)
    assert TableGeometry.from_baser(value, 1 << 10).capacity == 1 << 10  # capped by the ID bits


# -- access widths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "size"), [(GITS_CTLR, 1), (GITS_CTLR, 2), (GITS_CBASER + 2, 4), (GITS_CBASER + 4, 8)]
)
def test_bad_widths_are_raz_wi_and_logged(its: Its, offset: int, size: int) -> None:
    its.write(offset, 0xFFFF_FFFF, size)
    assert its.read(offset, size) == 0
    assert its.read(GITS_CBASER) == 0 and its.read(GITS_CTLR, 4) == QUIESCENT
    assert [e.code for e in its.errors] == [ErrorCode.REGISTER_ACCESS] * 2
    assert its.errors[0].source is ErrorSource.REGISTER


def test_reserved_offsets_are_raz_wi(its: Its) -> None:
    for offset in (0x10, 0x40, 0x98, 0x200, 0xFFFC, 0x1_0000, 0x1_0044, 0x3_0000):
        its.write(offset, 0xFFFF_FFFF, 4)
        assert its.read(offset, 4) == 0
    assert len(its.errors) == 0


def test_64_bit_access_to_a_pair_of_32_bit_registers(its: Its) -> None:
    its.write(GITS_CTLR, 0xFFFF_FFFF_0000_0001)  # CTLR.Enabled = 1, IIDR ignores the write
    assert its.read(GITS_CTLR) == (its.read(GITS_IIDR, 4) << 32) | ENABLED | QUIESCENT


def test_translater_is_write_only_and_needs_the_device_id(its: Its) -> None:
    assert its.read(GITS_TRANSLATER, 4) == 0
    with pytest.raises(ValueError):
        its.write(GITS_TRANSLATER, 1, 4)
    its.write(GITS_TRANSLATER, 1, 8, device_id=1)  # 64-bit writes are not MSIs
    assert its.errors.codes() == [ErrorCode.REGISTER_ACCESS]


@pytest.mark.parametrize(("size", "value", "event"), [(2, 0x1_0005, 5), (4, 0x1_0005, 0x1_0005)])
def test_translater_write_is_an_msi_of_the_low_bytes(
    its: Its, size: int, value: int, event: int
) -> None:
    its.write(GITS_TRANSLATER, value, size, device_id=7)
    (error,) = its.errors
    assert error.code is ErrorCode.ITS_DISABLED
    assert (error.device_id, error.event_id) == (7, event)


# -- redistributor registers ------------------------------------------------------------------


def test_gicr_typer_names_the_processor(its: Its) -> None:
    for cpu in range(2):
        typer = its.read_gicr(cpu, GICR_TYPER)
        assert bits(typer, 0, 0) == 1  # PLPIS
        assert bits(typer, 23, 8) == cpu and bits(typer, 63, 32) == cpu
        assert bits(typer, 4, 4) == (cpu == 1)  # Last
    assert its.read_gicr(0, GICR_IIDR, 4) == its.read(GITS_IIDR, 4)


def test_gicr_ctlr_enable_lpis(its: Its) -> None:
    its.write_gicr(0, GICR_CTLR, 0xFFFF_FFFF, 4)
    assert its.read_gicr(0, GICR_CTLR, 4) == 1
    assert its.read_gicr(1, GICR_CTLR, 4) == 0
    its.write_gicr(0, GICR_CTLR, 0, 4)
    assert its.read_gicr(0, GICR_CTLR, 4) == 0


def test_propbaser_and_pendbaser_fields(its: Its) -> None:
    its.write_gicr(0, GICR_PROPBASER, 0xFFFF_FFFF_FFFF_FFFF)
    its.write_gicr(0, GICR_PENDBASER, 0xFFFF_FFFF_FFFF_FFFF)
    assert (
        its.read_gicr(0, GICR_PROPBASER)
        == (7 << 56) | (((1 << 40) - 1) << 12) | (3 << 10) | (7 << 7) | 0x1F
    )
    # PENDBASER: PA[51:16], caches, shareability; PTZ (bit 62) is write-only and reads 0.
    assert its.read_gicr(0, GICR_PENDBASER) == (7 << 56) | (((1 << 36) - 1) << 16) | (3 << 10) | (
        7 << 7
    )


def test_propbaser_and_pendbaser_frozen_while_lpis_enabled(its: Its) -> None:
    its.write_gicr(0, GICR_PROPBASER, 0x1000F)
    its.write_gicr(0, GICR_CTLR, 1, 4)
    its.write_gicr(0, GICR_PROPBASER, 0)
    its.write_gicr(0, GICR_PENDBASER, 0x10000)
    assert its.read_gicr(0, GICR_PROPBASER) == 0x1000F
    assert its.read_gicr(0, GICR_PENDBASER) == 0


def test_gicr_bad_width_is_logged(its: Its) -> None:
    assert its.read_gicr(0, GICR_CTLR, 2) == 0
    (error,) = its.errors
    assert (error.code, error.source, error.cpu) == (
        ErrorCode.REGISTER_ACCESS,
        ErrorSource.REDISTRIBUTOR,
        0,
    )


def test_unknown_cpu_is_a_programming_error(its: Its) -> None:
    with pytest.raises(ValueError):
        its.read_gicr(2, GICR_CTLR)
    with pytest.raises(ValueError):
        its.ack(-1)
