"""Sparse guest physical memory with little-endian accessors.

Only the memory that was explicitly backed with :meth:`GuestMemory.map` exists. Backing is
granted in 4 KiB pages, zero-filled. Every access is bounds-checked before anything is
changed: an access that touches any unbacked byte raises :class:`MemoryFault` and has no
effect, so a write is all-or-nothing.

Backing is lazy: :meth:`GuestMemory.map` only records the range, and a page gets host memory
the first time it is written (a backed page never written reads as zeros). So backing a
terabyte, or an ITT for 2**32 events, costs a few bytes of bookkeeping; host memory grows
with what the guest writes, not with what it maps.

``MemoryFault`` is the "external abort" of this model. The ITS and the redistributors catch it
and record a ``TABLE_FAULT`` or ``COMMAND_FAULT`` error; it never escapes their operations.
"""

from __future__ import annotations

import bisect
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
        """Pages that were written (materialized), by page number."""
        self._starts: list[int] = []
        self._ends: list[int] = []
        """Backed page-number ranges ``[start, end)``: sorted, disjoint, never adjacent."""

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
        end = ((base + size - 1) >> PAGE_SHIFT) + 1
        # Merge [first, end) with every range it overlaps or touches.
        low = bisect.bisect_left(self._ends, first)
        high = bisect.bisect_right(self._starts, end)
        if low < high:
            first = min(first, self._starts[low])
            end = max(end, self._ends[high - 1])
        self._starts[low:high] = [first]
        self._ends[low:high] = [end]

    def is_backed(self, address: int, size: int = 1) -> bool:
        """True if every byte of ``[address, address + size)`` is backed."""
        if size <= 0 or address < 0 or address + size > PA_LIMIT:
            return False
        first = address >> PAGE_SHIFT
        last = (address + size - 1) >> PAGE_SHIFT
        index = bisect.bisect_right(self._starts, first) - 1
        return index >= 0 and last < self._ends[index]

    def backed_ranges(self) -> list[tuple[int, int]]:
        """The backed memory as sorted, merged ``(start, end)`` half-open byte ranges."""
        return [
            (start << PAGE_SHIFT, end << PAGE_SHIFT)
            for start, end in zip(self._starts, self._ends, strict=True)
        ]

    def pages(self) -> Iterator[tuple[int, bytes]]:
        """Each backed page holding a non-zero byte, as ``(base address, copy of its
        contents)``, in address order. Every other backed page reads as zeros, so two memories
        with the same :meth:`backed_ranges` and the same ``pages()`` read the same everywhere
        (whatever was written to make them so)."""
        for page in sorted(self._pages):
            data = self._pages[page]
            if data.count(0) != PAGE_SIZE:
                yield page << PAGE_SHIFT, bytes(data)

    def save(self) -> dict[str, object]:
        """The memory as JSON-ready data: backed ranges and the non-zero pages (hex).

        ``GuestMemory.restore(memory.save())`` reads the same everywhere as ``memory``.
        """
        return {
            "ranges": [[start, end] for start, end in self.backed_ranges()],
            "pages": [[base, data.hex()] for base, data in self.pages()],
        }

    @classmethod
    def restore(cls, state: object) -> GuestMemory:
        """Memory from :meth:`save`'s data. Raises ``ValueError`` naming what is malformed."""
        if not isinstance(state, dict) or set(state) != {"ranges", "pages"}:
            raise ValueError("saved memory must be a mapping with 'ranges' and 'pages'")
        memory = cls()
        for item in _pairs(state["ranges"], "memory range"):
            start, end = item
            if not (isinstance(start, int) and isinstance(end, int)) or start >= end:
                raise ValueError(f"saved memory range {item!r} is not [start, end)")
            memory.map(start, end - start)
        for item in _pairs(state["pages"], "memory page"):
            base, text = item
            if not isinstance(base, int) or base % PAGE_SIZE or not isinstance(text, str):
                raise ValueError(f"saved memory page at {base!r} is not [page address, hex]")
            try:
                data = bytes.fromhex(text)
            except ValueError:
                raise ValueError(f"saved memory page at {base:#x} is not hex") from None
            if len(data) != PAGE_SIZE or not memory.is_backed(base, PAGE_SIZE):
                raise ValueError(f"saved memory page at {base:#x} is not a whole backed page")
            memory.write_bytes(base, data)
        return memory

    def copy(self) -> GuestMemory:
        """An independent copy: same backing, same contents (what a VMM migrates)."""
        other = type(self)()
        other._starts = list(self._starts)
        other._ends = list(self._ends)
        other._pages = {page: bytearray(data) for page, data in self._pages.items()}
        return other

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
                if not self.is_backed(address, size):
                    raise MemoryFault(address, size)
                return bytes(size)  # backed, never written: zeros
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
                if not self.is_backed(address, size):
                    raise MemoryFault(address, size)
                page = self._pages[address >> PAGE_SHIFT] = bytearray(PAGE_SIZE)
            page[offset : offset + size] = data
            return
        self._check(address, size)
        done = 0
        while done < size:
            addr = address + done
            offset = addr & (PAGE_SIZE - 1)
            count = min(PAGE_SIZE - offset, size - done)
            self._page(addr >> PAGE_SHIFT)[offset : offset + count] = data[done : done + count]
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

    def _page(self, number: int) -> bytearray:
        """The host bytes of backed page ``number``, materializing it on first use."""
        page = self._pages.get(number)
        if page is None:
            page = self._pages[number] = bytearray(PAGE_SIZE)
        return page

    def _chunks(self, address: int, size: int) -> Iterator[bytes]:
        done = 0
        while done < size:
            addr = address + done
            offset = addr & (PAGE_SIZE - 1)
            count = min(PAGE_SIZE - offset, size - done)
            page = self._pages.get(addr >> PAGE_SHIFT)
            yield bytes(count) if page is None else bytes(page[offset : offset + count])
            done += count


def _pairs(value: object, what: str) -> list[list[object]]:
    if not isinstance(value, list) or not all(
        isinstance(item, list) and len(item) == 2 for item in value
    ):
        raise ValueError(f"saved {what}s must be a list of pairs")
    return value
