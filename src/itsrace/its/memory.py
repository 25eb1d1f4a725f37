"""Sparse guest physical memory with little-endian accessors.

Only the memory that was explicitly backed with :meth:`GuestMemory.map` exists. Backing is
granted in 4 KiB pages, zero-filled. Every access is bounds-checked before anything is
changed: an access that touches any unbacked byte raises :class:`MemoryFault` and has no
effect, so a write is all-or-nothing.

``MemoryFault`` is the "external abort" of this model. The ITS and the redistributors catch it
and record a ``TABLE_FAULT`` or ``COMMAND_FAULT`` error; it never escapes their operations.
"""

from __future__ import annotations

from collections.abc import Iterator

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PA_BITS = 52
"""Physical addresses are 52 bits wide (the widest the GICv3 tables can name)."""
PA_LIMIT = 1 << PA_BITS


class MemoryFault(Exception):
    """An access touched guest physical memory that is not backed.

    Attributes:
        address: first byte of the faulting access.
        size: length of the access in bytes.
    """

    def __init__(self, address: int, size: int) -> None:
        super().__init__(f"access to unbacked guest memory at {address:#x} (+{size} bytes)")
        self.address = address
        self.size = size


class GuestMemory:
    """Byte-addressable, sparse, little-endian guest physical memory.

    >>> mem = GuestMemory()
    >>> mem.map(0x10000, 0x1000)
    >>> mem.write32(0x10004, 0xDEADBEEF)
    >>> hex(mem.read16(0x10006))
    '0xdead'
    >>> mem.read8(0x20000)
    Traceback (most recent call last):
    ...
    itsrace.its.memory.MemoryFault: access to unbacked guest memory at 0x20000 (+1 bytes)
    """

    def __init__(self) -> None:
        self._pages: dict[int, bytearray] = {}

    # -- backing -------------------------------------------------------------------------------

    def map(self, base: int, size: int) -> None:
        """Back ``[base, base + size)`` with zeroed memory, rounded out to whole 4 KiB pages.

        Pages that are already backed keep their contents, so overlapping maps are harmless.
        This is configuration, not a guest access: a range outside the 52-bit physical address
        space is a programming error and raises ``ValueError``.
        """
        if size <= 0 or base < 0 or base + size > PA_LIMIT:
            raise ValueError(f"cannot back [{base:#x}, +{size:#x}): outside the 52-bit PA space")
        first = base >> PAGE_SHIFT
        last = (base + size - 1) >> PAGE_SHIFT
        for page in range(first, last + 1):
            if page not in self._pages:
                self._pages[page] = bytearray(PAGE_SIZE)

    def is_backed(self, address: int, size: int = 1) -> bool:
        """True if every byte of ``[address, address + size)`` is backed."""
        if size <= 0 or address < 0 or address + size > PA_LIMIT:
            return False
        first = address >> PAGE_SHIFT
        last = (address + size - 1) >> PAGE_SHIFT
        return all(page in self._pages for page in range(first, last + 1))

    def backed_ranges(self) -> list[tuple[int, int]]:
        """The backed memory as sorted, merged ``(start, end)`` half-open ranges."""
        ranges: list[tuple[int, int]] = []
        for page in sorted(self._pages):
            start = page << PAGE_SHIFT
            if ranges and ranges[-1][1] == start:
                ranges[-1] = (ranges[-1][0], start + PAGE_SIZE)
            else:
                ranges.append((start, start + PAGE_SIZE))
        return ranges

    def pages(self) -> Iterator[tuple[int, bytes]]:
        """Each backed page as ``(base address, copy of its contents)``, in address order."""
        for page in sorted(self._pages):
            yield page << PAGE_SHIFT, bytes(self._pages[page])

    # -- byte ranges ---------------------------------------------------------------------------

    def read_bytes(self, address: int, size: int) -> bytes:
        """Read ``size`` bytes; raises :class:`MemoryFault` if any of them is unbacked."""
        if size == 0:
            return b""
        offset = address & (PAGE_SIZE - 1)
        if offset + size <= PAGE_SIZE and address >= 0:
            # The common case: the access stays inside one page.
            page = self._pages.get(address >> PAGE_SHIFT)
            if page is None:
                raise MemoryFault(address, size)
            return bytes(page[offset : offset + size])
        self._check(address, size)
        return b"".join(self._chunks(address, size))

    def write_bytes(self, address: int, data: bytes) -> None:
        """Write ``data``; raises :class:`MemoryFault` (and writes nothing) if any byte is unbacked."""
        size = len(data)
        if size == 0:
            return
        offset = address & (PAGE_SIZE - 1)
        if offset + size <= PAGE_SIZE and address >= 0:
            page = self._pages.get(address >> PAGE_SHIFT)
            if page is None:
                raise MemoryFault(address, size)
            page[offset : offset + size] = data
            return
        self._check(address, size)
        done = 0
        while done < size:
            addr = address + done
            offset = addr & (PAGE_SIZE - 1)
            count = min(PAGE_SIZE - offset, size - done)
            self._pages[addr >> PAGE_SHIFT][offset : offset + count] = data[done : done + count]
            done += count

    # -- little-endian scalars -----------------------------------------------------------------

    def read(self, address: int, width: int) -> int:
        """Read an unsigned little-endian integer of ``width`` bytes."""
        return int.from_bytes(self.read_bytes(address, width), "little")

    def write(self, address: int, width: int, value: int) -> None:
        """Write the low ``width`` bytes of ``value``, little-endian."""
        mask = (1 << (8 * width)) - 1
        self.write_bytes(address, (value & mask).to_bytes(width, "little"))

    def read8(self, address: int) -> int:
        return self.read(address, 1)

    def read16(self, address: int) -> int:
        return self.read(address, 2)

    def read32(self, address: int) -> int:
        return self.read(address, 4)

    def read64(self, address: int) -> int:
        return self.read(address, 8)

    def write8(self, address: int, value: int) -> None:
        self.write(address, 1, value)

    def write16(self, address: int, value: int) -> None:
        self.write(address, 2, value)

    def write32(self, address: int, value: int) -> None:
        self.write(address, 4, value)

    def write64(self, address: int, value: int) -> None:
        self.write(address, 8, value)

    # -- internals -----------------------------------------------------------------------------

    def _check(self, address: int, size: int) -> None:
        if not self.is_backed(address, size):
            raise MemoryFault(address, size)

    def _chunks(self, address: int, size: int) -> Iterator[bytes]:
        done = 0
        while done < size:
            addr = address + done
            offset = addr & (PAGE_SIZE - 1)
            count = min(PAGE_SIZE - offset, size - done)
            yield bytes(self._pages[addr >> PAGE_SHIFT][offset : offset + count])
            done += count
