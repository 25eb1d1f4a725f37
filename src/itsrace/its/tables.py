"""The ITS's in-memory tables: where an entry lives and what its bytes mean.

Guest memory is authoritative: the ITS reads an entry every time it needs it and writes it
back when a command changes it, so the guest (or a test) can inspect or corrupt the tables.

Entry formats (this emulator's IMPLEMENTATION DEFINED choice; little-endian):

* Device table entry (DTE), 8 bytes: bit 63 Valid; bits [51:8] ITT address (the ITT is
  256-byte aligned, so the address sits in place); bits [4:0] Size = EventID bits - 1.
* Interrupt translation entry (ITE), ``GITS_TYPER.ITT_entry_size + 1`` bytes (8 by default,
  12 like QEMU if configured): the first doubleword holds bit 63 Valid, bits [47:16] pINTID,
  bits [15:0] ICID; any further bytes are written as zero and ignored.
* Collection table entry (CTE), 8 bytes: bit 63 Valid; bits [15:0] the target processor
  number (when GITS_TYPER.PTA = 1 the ITS converts the redistributor address to a processor
  number at MAPC time).
* Level-1 entry of a two-level table, 8 bytes (architected): bit 63 Valid; bits [51:12] the
  address of a level-2 page (bits below the table's page size are ignored).

Lookups: a flat table holds ID ``n`` at ``base + n * 8``. A two-level table holds
``page_size / 8`` IDs per level-2 page; ID ``n`` uses level-1 entry ``n // (page_size / 8)``
and slot ``n % (page_size / 8)`` of that page. An invalid level-1 entry means "no entry":
commands naming such an ID fail with the ``*_DEVICE_OOR`` / ``*_COLLECTION_OOR`` error.
"""

from __future__ import annotations

from typing import NamedTuple

from itsrace.its.memory import GuestMemory
from itsrace.its.registers import L1_VALID, PA_MASK, TABLE_ENTRY_SIZE, TableGeometry

VALID = 1 << 63
_ITT_ADDR_MASK = ((1 << 44) - 1) << 8


class DeviceEntry(NamedTuple):
    valid: bool
    size: int  # EventID bits - 1
    itt_addr: int

    @property
    def num_events(self) -> int:
        return 1 << (self.size + 1)

    def pack(self) -> int:
        if not self.valid:
            return 0
        return VALID | (self.itt_addr & _ITT_ADDR_MASK) | (self.size & 0x1F)

    @classmethod
    def unpack(cls, raw: int) -> DeviceEntry:
        return cls(bool(raw & VALID), raw & 0x1F, raw & _ITT_ADDR_MASK)


class TranslationEntry(NamedTuple):
    valid: bool
    pintid: int
    icid: int

    def pack(self) -> int:
        if not self.valid:
            return 0
        return VALID | ((self.pintid & 0xFFFF_FFFF) << 16) | (self.icid & 0xFFFF)

    @classmethod
    def unpack(cls, raw: int) -> TranslationEntry:
        return cls(bool(raw & VALID), (raw >> 16) & 0xFFFF_FFFF, raw & 0xFFFF)


class CollectionEntry(NamedTuple):
    valid: bool
    cpu: int

    def pack(self) -> int:
        return VALID | (self.cpu & 0xFFFF) if self.valid else 0

    @classmethod
    def unpack(cls, raw: int) -> CollectionEntry:
        return cls(bool(raw & VALID), raw & 0xFFFF)


INVALID_DTE = DeviceEntry(False, 0, 0)
INVALID_ITE = TranslationEntry(False, 0, 0)
INVALID_CTE = CollectionEntry(False, 0)


def entry_address(memory: GuestMemory, table: TableGeometry, index: int) -> int | None:
    """Address of entry ``index``, or ``None`` if the table cannot hold it.

    Raises :class:`~itsrace.its.memory.MemoryFault` if a level-1 entry is unreadable.
    """
    if not 0 <= index < table.capacity:
        return None
    if not table.indirect:
        return table.base + index * table.entry_size
    page, slot = divmod(index, table.ids_per_page)
    l1 = memory.read64(table.base + page * TABLE_ENTRY_SIZE)
    if not l1 & L1_VALID:
        return None
    return (l1 & PA_MASK & ~(table.page_size - 1)) + slot * table.entry_size


def write_entry(memory: GuestMemory, address: int, raw: int, size: int = TABLE_ENTRY_SIZE) -> None:
    """Write an entry of ``size`` bytes: the packed doubleword, then zero padding."""
    memory.write_bytes(address, raw.to_bytes(8, "little") + bytes(size - 8))
