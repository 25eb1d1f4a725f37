"""Sparse guest memory: little-endian accessors, bounds checks, all-or-nothing writes."""

from __future__ import annotations

import pytest

from itsrace.its import GuestMemory, MemoryFault
from itsrace.its.memory import PA_LIMIT, PAGE_SIZE


@pytest.fixture
def mem() -> GuestMemory:
    mem = GuestMemory()
    mem.map(0x10000, 0x2000)
    return mem


def test_fresh_memory_is_zero(mem: GuestMemory) -> None:
    assert mem.read_bytes(0x10000, 0x2000) == bytes(0x2000)


@pytest.mark.parametrize(
    ("width", "value", "expected"),
    [
        (1, 0xAB, b"\xab"),
        (2, 0xABCD, b"\xcd\xab"),
        (4, 0x01020304, b"\x04\x03\x02\x01"),
        (8, 0x0102030405060708, b"\x08\x07\x06\x05\x04\x03\x02\x01"),
    ],
)
def test_scalar_accessors_are_little_endian(
    mem: GuestMemory, width: int, value: int, expected: bytes
) -> None:
    writer = {1: mem.write8, 2: mem.write16, 4: mem.write32, 8: mem.write64}[width]
    reader = {1: mem.read8, 2: mem.read16, 4: mem.read32, 8: mem.read64}[width]
    writer(0x10010, value)
    assert mem.read_bytes(0x10010, width) == expected
    assert reader(0x10010) == value
    assert mem.read_bytes(0x10010 + width, 1) == b"\x00"


def test_write_truncates_to_width(mem: GuestMemory) -> None:
    mem.write16(0x10000, 0x123456)
    assert mem.read32(0x10000) == 0x3456


def test_access_across_a_page_boundary(mem: GuestMemory) -> None:
    address = 0x10000 + PAGE_SIZE - 3
    mem.write64(address, 0x1122334455667788)
    assert mem.read64(address) == 0x1122334455667788
    assert mem.read_bytes(0x10000 + PAGE_SIZE, 5) == bytes.fromhex("5544332211")


@pytest.mark.parametrize("address", [0x0, 0xFFFF, 0x12000, 0x11FFF + 1, -1, PA_LIMIT - 1, PA_LIMIT])
def test_unbacked_read_faults(mem: GuestMemory, address: int) -> None:
    with pytest.raises(MemoryFault) as info:
        mem.read8(address)
    assert info.value.address == address and info.value.size == 1


def test_read_straddling_the_end_of_backed_memory_faults(mem: GuestMemory) -> None:
    with pytest.raises(MemoryFault):
        mem.read64(0x11FFC)


def test_faulting_write_changes_nothing(mem: GuestMemory) -> None:
    mem.write32(0x11FFC, 0xAAAAAAAA)
    with pytest.raises(MemoryFault):
        mem.write_bytes(0x11FFC, b"\x01" * 8)  # the last 4 bytes fall off the end
    assert mem.read32(0x11FFC) == 0xAAAAAAAA


def test_map_rounds_out_to_pages_and_keeps_contents(mem: GuestMemory) -> None:
    mem.write8(0x10000, 7)
    mem.map(0x10000, 1)  # already backed: must not zero it
    assert mem.read8(0x10000) == 7
    mem.map(0x20001, 2)
    assert mem.is_backed(0x20000, PAGE_SIZE)
    assert not mem.is_backed(0x20000, PAGE_SIZE + 1)


def test_backed_ranges_and_pages(mem: GuestMemory) -> None:
    mem.map(0x40000, 1)
    assert mem.backed_ranges() == [(0x10000, 0x12000), (0x40000, 0x41000)]
    assert list(mem.pages()) == []  # backed but all zero
    mem.write8(0x40010, 1)
    mem.write8(0x11000, 0)  # materialized, still zero: not listed
    assert [base for base, _ in mem.pages()] == [0x40000]


def test_backing_is_lazy_so_huge_ranges_cost_nothing_until_written() -> None:
    mem = GuestMemory()
    mem.map(0, 1 << 40)  # 1 TiB
    mem.map(1 << 41, 0x2000)
    assert mem.is_backed((1 << 40) - 8, 8) and not mem.is_backed((1 << 40) - 4, 8)
    assert mem.read64(0x1234_5678) == 0
    mem.write64(0x1234_5678, 0xAB)
    assert mem.read_bytes(0x1234_5670, 16) == bytes(8) + b"\xab" + bytes(7)
    assert len(mem._pages) == 1
    assert mem.backed_ranges() == [(0, 1 << 40), (1 << 41, (1 << 41) + 0x2000)]


def test_map_merges_overlapping_and_touching_ranges() -> None:
    mem = GuestMemory()
    mem.map(0x5000, 0x1000)
    mem.map(0x1000, 0x1000)
    mem.map(0x3000, 0x1000)
    mem.map(0x2000, 0x1000)  # joins the first two
    assert mem.backed_ranges() == [(0x1000, 0x4000), (0x5000, 0x6000)]
    mem.map(0x800, 0x6000)  # swallows everything
    assert mem.backed_ranges() == [(0, 0x7000)]


def test_copy_is_independent() -> None:
    mem = GuestMemory()
    mem.map(0x1000, 0x2000)
    mem.write8(0x1000, 5)
    other = mem.copy()
    other.write8(0x1000, 6)
    other.map(0x9000, 1)
    assert mem.read8(0x1000) == 5 and not mem.is_backed(0x9000)
    assert list(other.pages()) == [(0x1000, b"\x06" + bytes(0xFFF))]


@pytest.mark.parametrize(("base", "size"), [(-1, 1), (0, 0), (PA_LIMIT - 1, 2)])
def test_map_rejects_ranges_outside_the_pa_space(base: int, size: int) -> None:
    with pytest.raises(ValueError):
        GuestMemory().map(base, size)


def test_zero_length_accesses_are_no_ops(mem: GuestMemory) -> None:
    assert mem.read_bytes(0x999999, 0) == b""
    mem.write_bytes(0x999999, b"")
    assert not mem.is_backed(0x10000, 0)
