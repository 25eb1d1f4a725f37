"""Register offsets and field encodings of the ITS frame and the redistributor LPI registers.

Only layout lives here (offsets, masks, pure encode/decode functions); the behaviour of a
write is in :mod:`itsrace.its.its` and :mod:`itsrace.its.redistributor`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from itsrace.its.config import ItsConfig

# -- ITS frames (control frame at 0, translation frame at 0x10000) ----------------------------

GITS_CTLR = 0x0000
GITS_IIDR = 0x0004
GITS_TYPER = 0x0008
GITS_CBASER = 0x0080
GITS_CWRITER = 0x0088
GITS_CREADR = 0x0090
GITS_BASER0 = 0x0100
NUM_BASERS = 8
GITS_PIDR2 = 0xFFE8
GITS_TRANSLATER = 0x1_0040
ITS_FRAME_SIZE = 0x2_0000

ITS_REGISTERS: dict[str, tuple[int, int]] = {
    "GITS_CTLR": (GITS_CTLR, 4),
    "GITS_IIDR": (GITS_IIDR, 4),
    "GITS_TYPER": (GITS_TYPER, 8),
    "GITS_CBASER": (GITS_CBASER, 8),
    "GITS_CWRITER": (GITS_CWRITER, 8),
    "GITS_CREADR": (GITS_CREADR, 8),
    **{f"GITS_BASER{n}": (GITS_BASER0 + 8 * n, 8) for n in range(NUM_BASERS)},
    "GITS_PIDR2": (GITS_PIDR2, 4),
    "GITS_TRANSLATER": (GITS_TRANSLATER, 4),
}
"""Register name -> (offset, natural access width in bytes)."""

CTLR_ENABLED = 1 << 0
CTLR_QUIESCENT = 1 << 31

IIDR_VALUE = (0x69 << 24) | 0x43B
"""ProductID 0x69 ('i'), variant 0, revision 0, implementer 0x43B (the Arm JEP106 code)."""
PIDR2_VALUE = 0x3B
"""ArchRev (bits [7:4]) = 3: a GICv3 ITS."""

CWRITER_RETRY = 1 << 0
CREADR_STALLED = 1 << 0
QUEUE_OFFSET_MASK = 0xF_FFE0
"""Bits [19:5] of GITS_CWRITER/GITS_CREADR: a byte offset, 32-byte aligned, below 1 MiB."""

# GITS_CBASER
CBASER_VALID = 1 << 63
CBASER_WRITABLE = (
    CBASER_VALID
    | (0x7 << 59)  # InnerCache
    | (0x7 << 53)  # OuterCache
    | (((1 << 40) - 1) << 12)  # PA[51:12]
    | (0x3 << 10)  # Shareability
    | 0xFF  # Size
)
QUEUE_PAGE_SIZE = 4096

# GITS_BASER<n>
BASER_VALID = 1 << 63
BASER_INDIRECT = 1 << 62
BASER_TYPE_SHIFT = 56
BASER_ENTRY_SIZE_SHIFT = 48
BASER_PAGE_SIZE_SHIFT = 8
BASER_WRITABLE = (
    BASER_VALID
    | BASER_INDIRECT
    | (0x7 << 59)  # InnerCache
    | (0x7 << 53)  # OuterCache
    | (((1 << 36) - 1) << 12)  # PA[47:12]; with 64 KiB pages [15:12] hold PA[51:48]
    | (0x3 << 10)  # Shareability
    | (0x3 << BASER_PAGE_SIZE_SHIFT)
    | 0xFF  # Size
)
TYPE_NONE = 0
TYPE_DEVICE = 1
TYPE_COLLECTION = 4
TABLE_ENTRY_SIZE = 8
"""Device and collection table entries (and level-1 entries) are all 8 bytes."""
PAGE_SIZES = (4096, 16384, 65536)

BASER_TYPES: tuple[int, ...] = (TYPE_DEVICE, TYPE_COLLECTION) + (TYPE_NONE,) * (NUM_BASERS - 2)
"""BASER0 holds the device table, BASER1 the collection table; BASER2..7 are unimplemented."""

L1_VALID = 1 << 63
PA_MASK = (1 << 52) - 1

# -- redistributor (RD_base frame) -------------------------------------------------------------

GICR_CTLR = 0x0000
GICR_IIDR = 0x0004
GICR_TYPER = 0x0008
GICR_PROPBASER = 0x0070
GICR_PENDBASER = 0x0078

GICR_REGISTERS: dict[str, tuple[int, int]] = {
    "GICR_CTLR": (GICR_CTLR, 4),
    "GICR_IIDR": (GICR_IIDR, 4),
    "GICR_TYPER": (GICR_TYPER, 8),
    "GICR_PROPBASER": (GICR_PROPBASER, 8),
    "GICR_PENDBASER": (GICR_PENDBASER, 8),
}

GICR_CTLR_ENABLE_LPIS = 1 << 0
GICR_TYPER_PLPIS = 1 << 0
GICR_TYPER_LAST = 1 << 4
PROPBASER_WRITABLE = (
    (0x7 << 56)  # OuterCache
    | (((1 << 40) - 1) << 12)  # PA[51:12]
    | (0x3 << 10)  # Shareability
    | (0x7 << 7)  # InnerCache
    | 0x1F  # IDbits
)
PENDBASER_PTZ = 1 << 62
PENDBASER_WRITABLE = (
    PENDBASER_PTZ
    | (0x7 << 56)  # OuterCache
    | (((1 << 36) - 1) << 16)  # PA[51:16]
    | (0x3 << 10)  # Shareability
    | (0x7 << 7)  # InnerCache
)


def field(value: int, high: int, low: int) -> int:
    """Bits ``[high:low]`` of ``value``."""
    return (value >> low) & ((1 << (high - low + 1)) - 1)


def typer_value(config: ItsConfig) -> int:
    """GITS_TYPER for ``config``: physical LPIs only, CIL = 1, no GICv4, SEIS = 0."""
    return (
        1  # Physical
        | ((config.ite_size - 1) << 4)
        | ((config.idbits - 1) << 8)
        | ((config.devbits - 1) << 13)
        | (int(config.pta) << 19)
        | (config.hcc << 24)
        | ((config.cidbits - 1) << 32)
        | (1 << 36)  # CIL: CIDbits is meaningful
    )


def sanitize_baser(index: int, value: int) -> int:
    """The value a write of ``value`` to GITS_BASER<index> leaves in the register.

    Type and Entry_Size are read-only, unimplemented BASERs are RAZ/WI, and the reserved
    Page_Size encoding 0b11 is treated (and read back) as 64 KiB.
    """
    kind = BASER_TYPES[index]
    if kind == TYPE_NONE:
        return 0
    value &= BASER_WRITABLE
    if field(value, 9, 8) == 3:
        value &= ~(1 << BASER_PAGE_SIZE_SHIFT)
    return value | (kind << BASER_TYPE_SHIFT) | ((TABLE_ENTRY_SIZE - 1) << BASER_ENTRY_SIZE_SHIFT)


def baser_reset_value(index: int) -> int:
    """Out of reset a BASER is invalid with 64 KiB pages (the usual choice, as QEMU)."""
    return sanitize_baser(index, 2 << BASER_PAGE_SIZE_SHIFT)


@dataclass(frozen=True)
class TableGeometry:
    """Where a device or collection table lives, decoded from a GITS_BASER<n> value.

    ``id_limit`` caps the number of IDs at what the ITS supports (``2**devbits`` or
    ``2**cidbits``), whatever the size of the memory given.
    """

    valid: bool
    indirect: bool
    base: int
    page_size: int
    pages: int
    id_limit: int
    entry_size: int = TABLE_ENTRY_SIZE

    @classmethod
    def from_baser(cls, value: int, id_limit: int) -> TableGeometry:
        page_size = PAGE_SIZES[min(field(value, 9, 8), 2)]
        if page_size == 65536:
            base = (value & (((1 << 32) - 1) << 16)) | (field(value, 15, 12) << 48)
        else:
            base = value & (((1 << 36) - 1) << 12) & ~(page_size - 1)
        return cls(
            valid=bool(value & BASER_VALID),
            indirect=bool(value & BASER_INDIRECT),
            base=base,
            page_size=page_size,
            pages=field(value, 7, 0) + 1,
            id_limit=id_limit,
        )

    @property
    def size_bytes(self) -> int:
        """Bytes of memory the table (its level-1 table when indirect) occupies."""
        return self.pages * self.page_size

    @property
    def ids_per_page(self) -> int:
        return self.page_size // self.entry_size

    @property
    def capacity(self) -> int:
        """How many IDs (from 0) the table can describe."""
        if not self.valid:
            return 0
        if self.indirect:
            entries = (self.size_bytes // TABLE_ENTRY_SIZE) * self.ids_per_page
        else:
            entries = self.size_bytes // self.entry_size
        return min(entries, self.id_limit)


INVALID_TABLE = TableGeometry(False, False, 0, 65536, 1, 0)


@dataclass(frozen=True)
class CommandQueue:
    """The command queue described by GITS_CBASER."""

    valid: bool
    base: int
    size: int

    @classmethod
    def from_cbaser(cls, value: int) -> CommandQueue:
        return cls(
            valid=bool(value & CBASER_VALID),
            base=value & (((1 << 40) - 1) << 12),
            size=(field(value, 7, 0) + 1) * QUEUE_PAGE_SIZE,
        )


MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


class RegisterFrame(ABC):
    """Width handling shared by the ITS frame and the redistributor frames.

    Subclasses say which register covers an offset (:meth:`_register_at`) and implement
    whole-register reads and writes. This class turns 32- and 64-bit accesses into those:
    a 32-bit access to either half of a 64-bit register reads or merges that half, a 64-bit
    access to a pair of 32-bit registers touches both, and reserved offsets are RAZ/WI.
    Any other width or a misaligned access is RAZ/WI and reported through
    :meth:`_bad_access`.
    """

    @abstractmethod
    def _register_at(self, offset: int) -> tuple[int, int] | None:
        """``(base offset, width)`` of the register containing ``offset``, or None if reserved."""
        ...

    @abstractmethod
    def _read_register(self, base: int) -> int: ...

    @abstractmethod
    def _write_register(self, base: int, value: int) -> None: ...

    @abstractmethod
    def _bad_access(self, offset: int, size: int, what: str) -> None:
        """Called for an access of a width or alignment the frame does not support."""

    def read(self, offset: int, size: int = 8) -> int:
        """Read ``size`` (4 or 8) bytes at ``offset``."""
        if size not in (4, 8) or offset % size:
            self._bad_access(offset, size, "read")
            return 0
        if size == 4:
            return self._read32(offset)
        return self._read32(offset) | (self._read32(offset + 4) << 32)

    def write(self, offset: int, value: int, size: int = 8) -> None:
        """Write the low ``size`` (4 or 8) bytes of ``value`` at ``offset``."""
        if size not in (4, 8) or offset % size:
            self._bad_access(offset, size, "write")
            return
        if size == 8 and self._register_at(offset) == (offset, 8):
            self._write_register(offset, value & MASK64)
            return
        for half in range(size // 4):
            self._write32(offset + 4 * half, (value >> (32 * half)) & MASK32)

    def _read32(self, offset: int) -> int:
        register = self._register_at(offset)
        if register is None:
            return 0
        base, _ = register
        return (self._read_register(base) >> (8 * (offset - base))) & MASK32

    def _write32(self, offset: int, value: int) -> None:
        register = self._register_at(offset)
        if register is None:
            return
        base, width = register
        if width == 4:
            self._write_register(base, value)
            return
        shift = 8 * (offset - base)
        current = self._read_register(base)
        self._write_register(base, (current & ~(MASK32 << shift)) | (value << shift))
