"""Redistributors (the LPI part) and the CPU interfaces that acknowledge LPIs.

Each PE has one :class:`Redistributor` and one :class:`CpuInterface`.

Pending state. The redistributor keeps the set of pending LPIs and writes every change
through to the pending table in guest memory (one bit per INTID at ``PENDBASER.PA + INTID/8``).
It reads the table back only when GICR_CTLR.EnableLPIs goes 0 -> 1 (skipped when
GICR_PENDBASER.PTZ says the table is zero). Clearing EnableLPIs drops the in-redistributor
state; the table in memory keeps it for the next enable.

Configuration cache. The priority (bits [7:2]) and enable (bit 0) of an LPI come from its byte
in the property table at ``PROPBASER.PA + (INTID - 8192)``. The redistributor caches that byte
the first time the LPI becomes pending, and keeps using the cached copy until INV (that LPI)
or INVALL (every LPI of the redistributor) invalidates it; invalidation re-reads pending LPIs
at once. So a property change that the guest makes without INV/INVALL has no effect on an LPI
the redistributor has already seen, exactly what the architecture allows an implementation
with a cache to do.

LPI range. An LPI is accepted only while EnableLPIs = 1 and ``8192 <= INTID < 2**n`` where
``n = min(intid_bits, GICR_PROPBASER.IDbits + 1)``; an IDbits below 13 (n < 14) leaves no LPIs.
Anything else is dropped silently, as both QEMU and KVM do.

Representation. State lives in chunks of 4096 INTIDs (one byte per INTID for pending, cached,
property and acknowledge key), made when an INTID of the chunk first becomes pending, so memory
follows what the guest pended. Acknowledge reads a heap of per-chunk bests keyed by (priority,
INTID), refreshed lazily for the chunks that changed: O(log chunks) rather than O(pending
LPIs). EnableLPIs and INVALL read the tables a page at a time with bytes-level operations;
there an unreadable property page is one ``TABLE_FAULT``, not one per LPI.

CPU interface. :meth:`CpuInterface.ack` takes the highest-priority pending enabled LPI (lowest
priority value, ties to the lowest INTID), clears its pending bit (LPIs have no active state)
and returns its INTID, or 1023 when there is none. There is no priority mask or preemption:
an outstanding acknowledge does not hide other LPIs. :meth:`CpuInterface.eoi` retires an
acknowledged INTID; an EOI for an INTID with no outstanding acknowledge on that CPU is
ignored and reported by returning False (the architecture leaves it UNPREDICTABLE).
"""

from __future__ import annotations

import heapq

from itsrace.its.config import LPI_BASE, SPURIOUS, ItsConfig
from itsrace.its.errors import ErrorCode, ErrorLog, ErrorSource, ItsError
from itsrace.its.memory import GuestMemory, MemoryFault
from itsrace.its.registers import (
    GICR_CTLR,
    GICR_CTLR_ENABLE_LPIS,
    GICR_IIDR,
    GICR_PENDBASER,
    GICR_PROPBASER,
    GICR_TYPER,
    GICR_TYPER_LAST,
    GICR_TYPER_PLPIS,
    IIDR_VALUE,
    PENDBASER_PTZ,
    PENDBASER_WRITABLE,
    PROPBASER_WRITABLE,
    RegisterFrame,
    field,
)

PRIORITY_MASK = 0xFC
PROPERTY_ENABLE = 0x01
PENDING_TABLE_IMPDEF_BYTES = LPI_BASE // 8
"""The first 1 KiB of a pending table (INTIDs below 8192) is IMPLEMENTATION DEFINED: unused."""

CHUNK_SHIFT = 12
CHUNK_LPIS = 1 << CHUNK_SHIFT
"""INTIDs per chunk of redistributor state: one 4 KiB page of the property table, 512 bytes of
the pending table."""
_CHUNK_MASK = CHUNK_LPIS - 1
_NOT_READY = 0xFF
_KEY_LEVELS = 64
_KEY_SHIFT = 32
_INTID_MASK = (1 << _KEY_SHIFT) - 1
"""The acknowledge key of an LPI that cannot be taken (not pending, or disabled)."""
_KEY_OF = bytes((value >> 2) if value & PROPERTY_ENABLE else _NOT_READY for value in range(256))
"""Property byte -> acknowledge key: the priority's six bits, or _NOT_READY if disabled."""
_PENDING_MASK = bytes([_NOT_READY] + [0] * 255)
"""One byte per INTID, 0 (not pending) -> 0xFF, 1 (pending) -> 0: ORed into the keys."""
_EXPAND = [bytes((bits >> bit) & 1 for bit in range(8)) for bits in range(256)]
"""A pending-table byte -> eight 0/1 bytes, INTID order."""


class _Chunk:
    """The redistributor's state for 4096 consecutive INTIDs, one byte per INTID.

    ``pending`` and ``cached`` hold 0 or 1; ``props`` the cached property bytes (meaningful
    where ``cached`` is 1); ``keys`` what acknowledge compares: the priority's six bits for a
    pending LPI whose cached property enables it, 0xFF otherwise. Every pending LPI is cached.
    """

    __slots__ = ("cached", "count", "keys", "pending", "props")

    def __init__(self) -> None:
        self.pending = bytearray(CHUNK_LPIS)
        self.cached = bytearray(CHUNK_LPIS)
        self.props = bytearray(CHUNK_LPIS)
        self.keys = bytearray([_NOT_READY]) * CHUNK_LPIS
        self.count = 0  # pending LPIs

    def empty(self) -> bool:
        return self.count == 0 and self.cached.count(0) == CHUNK_LPIS

    def best(self, base: int) -> int | None:
        """``(key << 32) | INTID`` of the chunk's best deliverable LPI, or None.

        ``base`` is the chunk's first INTID. Keys order by priority, then INTID, across chunks.
        """
        keys = self.keys
        for key in range(_KEY_LEVELS):  # at most 64 memchr scans of 4 KiB
            offset = keys.find(key)
            if offset >= 0:
                return (key << _KEY_SHIFT) | (base + offset)
        return None


def _positions(buffer: bytearray) -> list[int]:
    """Offsets of the 1 bytes of a 0/1 buffer, ascending (bytes-level search)."""
    found: list[int] = []
    index = buffer.find(1)
    while index >= 0:
        found.append(index)
        index = buffer.find(1, index + 1)
    return found


class Redistributor(RegisterFrame):
    """The LPI registers and state of one PE's redistributor.

    The pending set and the property cache live in chunks of 4096 INTIDs (16 KiB each),
    created when an INTID of the chunk first becomes pending: memory follows what the guest
    pended, not the INTID space. Acknowledge is a lookup in a heap of per-chunk bests,
    keyed by (priority, INTID) and refreshed lazily for the chunks that changed: O(log chunks)
    plus a few byte searches, whatever the number of pending LPIs. EnableLPIs reads the pending table and the
    property table a page at a time with bytes-level operations.
    """

    def __init__(self, cpu: int, config: ItsConfig, memory: GuestMemory, errors: ErrorLog) -> None:
        self.cpu = cpu
        self._config = config
        self._memory = memory
        self._errors = errors
        self._enabled = False
        self._propbaser = 0
        self._pendbaser = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._chunks: dict[int, _Chunk] = {}
        self._pending_count = 0
        self._heap: list[tuple[int, int]] = []  # ((key << 32) | INTID, chunk number)
        self._best: dict[int, int] = {}  # chunk number -> its current best, if it has one
        self._dirty: set[int] = set()  # chunks whose best may have changed

    # -- state queries -------------------------------------------------------------------------

    @property
    def lpis_enabled(self) -> bool:
        """GICR_CTLR.EnableLPIs."""
        return self._enabled

    @property
    def lpi_limit(self) -> int:
        """One past the largest INTID this redistributor accepts (8192 means none)."""
        bits = min(self._config.intid_bits, field(self._propbaser, 4, 0) + 1)
        return 1 << bits if bits >= 14 else LPI_BASE

    @property
    def pending_count(self) -> int:
        """How many LPIs are pending (enabled or not)."""
        return self._pending_count

    def accepts(self, intid: int) -> bool:
        """Would an LPI with this INTID be taken (rather than dropped) right now?"""
        return self._enabled and LPI_BASE <= intid < self.lpi_limit

    def is_pending(self, intid: int) -> bool:
        chunk = self._chunks.get(intid >> CHUNK_SHIFT)
        return chunk is not None and chunk.pending[intid & _CHUNK_MASK] == 1

    def pending(self) -> list[int]:
        """Every pending LPI, enabled or not, in INTID order."""
        found: list[int] = []
        for number in sorted(self._chunks):
            chunk = self._chunks[number]
            if chunk.count:
                base = number << CHUNK_SHIFT
                found.extend(base + offset for offset in _positions(chunk.pending))
        return found

    def cached_property(self, intid: int) -> int | None:
        """The property byte cached for ``intid``, or None if the redistributor has not read it.

        Every pending LPI has one: it is read when the LPI becomes pending.
        """
        chunk = self._chunks.get(intid >> CHUNK_SHIFT)
        offset = intid & _CHUNK_MASK
        if chunk is None or not chunk.cached[offset]:
            return None
        return chunk.props[offset]

    def cached_properties(self) -> dict[int, int]:
        """Every cached property byte, by INTID (what a save must carry: it is hidden state)."""
        found: dict[int, int] = {}
        for number in sorted(self._chunks):
            chunk, base = self._chunks[number], number << CHUNK_SHIFT
            for offset in _positions(chunk.cached):
                found[base + offset] = chunk.props[offset]
        return found

    def deliverable(self) -> list[int]:
        """Pending, enabled LPIs in the order a CPU would acknowledge them."""
        ready: list[tuple[int, int]] = []
        for number, chunk in self._chunks.items():
            base, keys = number << CHUNK_SHIFT, chunk.keys
            for offset in _positions(chunk.pending):
                if keys[offset] != _NOT_READY:
                    ready.append((keys[offset], base + offset))
        return [intid for _, intid in sorted(ready)]

    def best(self) -> int:
        """The LPI the next acknowledge would return, or 1023.

        The heap holds ``(key, chunk)`` pairs; an entry is current only if it equals the
        chunk's recorded best. Chunks changed since the last call are summarized first (at
        most 64 byte searches each); stale entries are dropped as they surface, and the heap is
        rebuilt when they outnumber the current ones, so it stays O(chunks).
        """
        heap, bests = self._heap, self._best
        for number in self._dirty:
            chunk = self._chunks.get(number)
            summary = None if chunk is None else chunk.best(number << CHUNK_SHIFT)
            if summary == bests.get(number):
                continue
            if summary is None:
                del bests[number]
            else:
                bests[number] = summary
                heapq.heappush(heap, (summary, number))
        self._dirty.clear()
        if len(heap) > 2 * len(bests) + 64:
            heap[:] = [(summary, number) for number, summary in bests.items()]
            heapq.heapify(heap)
        while heap:
            summary, number = heap[0]
            if bests.get(number) == summary:
                return summary & _INTID_MASK
            heapq.heappop(heap)
        return SPURIOUS

    # -- state changes (used by the ITS and the CPU interface) ---------------------------------

    def set_pending(self, intid: int) -> bool:
        """Make ``intid`` pending. False if it was dropped (LPIs off, out of range, fault)."""
        if not self.accepts(intid):
            return False
        number, offset = intid >> CHUNK_SHIFT, intid & _CHUNK_MASK
        chunk = self._chunks.get(number)
        if chunk is not None and chunk.pending[offset]:
            return True  # already pending, and therefore cached
        if not self._write_pending_bit(intid, True):
            return False
        if chunk is None:
            chunk = self._chunks[number] = _Chunk()
        chunk.pending[offset] = 1
        chunk.count += 1
        self._pending_count += 1
        if not chunk.cached[offset]:
            self._fetch_property(intid, chunk)
        self._update_key(number, chunk, offset)
        return True

    def clear_pending(self, intid: int) -> bool:
        """Clear ``intid``'s pending state. Returns whether it was pending."""
        number, offset = intid >> CHUNK_SHIFT, intid & _CHUNK_MASK
        chunk = self._chunks.get(number)
        if chunk is None or not chunk.pending[offset]:
            return False
        chunk.pending[offset] = 0
        chunk.count -= 1
        self._pending_count -= 1
        self._write_pending_bit(intid, False)
        self._update_key(number, chunk, offset)
        return True

    def invalidate(self, intid: int) -> None:
        """INV: forget the cached property of ``intid``; re-read it now if it is pending."""
        number, offset = intid >> CHUNK_SHIFT, intid & _CHUNK_MASK
        chunk = self._chunks.get(number)
        if chunk is None:
            return
        chunk.cached[offset] = 0
        if chunk.pending[offset]:
            self._fetch_property(intid, chunk)
            self._update_key(number, chunk, offset)
        elif chunk.empty():
            del self._chunks[number]

    def invalidate_all(self) -> None:
        """INVALL: forget every cached property; re-read those of pending LPIs now.

        Each chunk with pending LPIs re-reads its property page in one access; an unreadable
        page is logged once and its LPIs are treated as disabled.
        """
        for number, chunk in list(self._chunks.items()):
            if not chunk.count:
                del self._chunks[number]
                continue
            chunk.cached[:] = chunk.pending
            self._load_properties(number, chunk)

    def save_state(self) -> dict[str, object]:
        """Registers, pending LPIs and cached properties as JSON-ready data (see Its.save)."""
        return {
            "enable_lpis": self._enabled,
            "propbaser": self._propbaser,
            "pendbaser": self._pendbaser,
            "pending": self.pending(),
            "properties": [[intid, prop] for intid, prop in self.cached_properties().items()],
        }

    def load_state(self, state: dict[str, object]) -> None:
        """Take the state :meth:`save_state` made; raises ``ValueError`` if it is malformed."""
        enabled, propbaser, pendbaser = (
            state.get(key) for key in ("enable_lpis", "propbaser", "pendbaser")
        )
        if not isinstance(enabled, bool):
            raise ValueError(f"saved redistributor {self.cpu}: enable_lpis must be true or false")
        for name, value in ("propbaser", propbaser), ("pendbaser", pendbaser):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
                raise ValueError(f"saved redistributor {self.cpu}: {name} must be a 64-bit integer")
        assert isinstance(propbaser, int) and isinstance(pendbaser, int)
        self._propbaser = propbaser & PROPBASER_WRITABLE
        self._pendbaser = pendbaser & PENDBASER_WRITABLE
        self._enabled = enabled
        pending, properties = state.get("pending"), state.get("properties")
        if not isinstance(pending, list) or not isinstance(properties, list):
            raise ValueError(
                f"saved redistributor {self.cpu}: pending and properties must be lists"
            )
        cache: dict[int, int] = {}
        for item in properties:
            if not (isinstance(item, list) and len(item) == 2):
                raise ValueError(f"saved redistributor {self.cpu}: properties are [INTID, byte]")
            intid, prop = item
            if not (self._valid_intid(intid) and isinstance(prop, int) and 0 <= prop <= 0xFF):
                raise ValueError(
                    f"saved redistributor {self.cpu}: property {item!r} is not an LPI and a byte"
                )
            cache[intid] = prop
        for intid in pending:
            if not (self._valid_intid(intid) and intid in cache):
                raise ValueError(
                    f"saved redistributor {self.cpu}: pending INTID {intid!r} is not an LPI it "
                    "accepts with a cached property"
                )
        self.restore_state(pending, cache)

    def _valid_intid(self, intid: object) -> bool:
        return isinstance(intid, int) and not isinstance(intid, bool) and self.accepts(intid)

    def restore_state(self, pending: list[int], properties: dict[int, int]) -> None:
        """Rebuild the pending set and property cache from a save (no memory access).

        ``properties`` must cache every pending INTID, as :meth:`cached_properties` does.
        """
        self._reset_state()
        for intid, prop in properties.items():
            chunk = self._chunks.setdefault(intid >> CHUNK_SHIFT, _Chunk())
            chunk.cached[intid & _CHUNK_MASK] = 1
            chunk.props[intid & _CHUNK_MASK] = prop
        for intid in pending:
            number, offset = intid >> CHUNK_SHIFT, intid & _CHUNK_MASK
            found = self._chunks.get(number)
            if found is None or not found.cached[offset]:
                raise ValueError(f"pending INTID {intid} has no cached property")
            if not found.pending[offset]:
                found.pending[offset] = 1
                found.count += 1
                self._pending_count += 1
                self._update_key(number, found, offset)

    def _update_key(self, number: int, chunk: _Chunk, offset: int) -> None:
        key = _KEY_OF[chunk.props[offset]] if chunk.pending[offset] else _NOT_READY
        if chunk.keys[offset] != key:
            chunk.keys[offset] = key
            self._dirty.add(number)
        if not chunk.pending[offset] and chunk.empty():
            del self._chunks[number]

    # -- registers -----------------------------------------------------------------------------

    def _register_at(self, offset: int) -> tuple[int, int] | None:
        if offset in (GICR_CTLR, GICR_IIDR):
            return offset, 4
        for base in (GICR_TYPER, GICR_PROPBASER, GICR_PENDBASER):
            if base <= offset < base + 8:
                return base, 8
        return None

    def _read_register(self, base: int) -> int:
        if base == GICR_CTLR:
            return GICR_CTLR_ENABLE_LPIS if self._enabled else 0
        if base == GICR_IIDR:
            return IIDR_VALUE
        if base == GICR_TYPER:
            return self._typer()
        if base == GICR_PROPBASER:
            return self._propbaser
        return self._pendbaser & ~PENDBASER_PTZ  # PTZ is write-only: it reads as zero

    def _write_register(self, base: int, value: int) -> None:
        if base == GICR_CTLR:
            self._set_enable(bool(value & GICR_CTLR_ENABLE_LPIS))
        elif self._enabled:
            return  # PROPBASER/PENDBASER are frozen while LPIs are enabled (as KVM)
        elif base == GICR_PROPBASER:
            self._propbaser = value & PROPBASER_WRITABLE
        elif base == GICR_PENDBASER:
            self._pendbaser = value & PENDBASER_WRITABLE

    def _bad_access(self, offset: int, size: int, what: str) -> None:
        self._report(ErrorCode.REGISTER_ACCESS, f"{size}-byte {what} at GICR offset {offset:#x}")

    def _typer(self) -> int:
        last = GICR_TYPER_LAST if self.cpu == self._config.num_cpus - 1 else 0
        return (self.cpu << 32) | (self.cpu << 8) | last | GICR_TYPER_PLPIS

    def _set_enable(self, enable: bool) -> None:
        if enable == self._enabled:
            return
        self._enabled = enable
        self._reset_state()
        if enable and not self._pendbaser & PENDBASER_PTZ:
            self._load_pending_table()

    # -- guest memory --------------------------------------------------------------------------

    @property
    def _pending_base(self) -> int:
        return self._pendbaser & (((1 << 36) - 1) << 16)

    @property
    def _property_base(self) -> int:
        return self._propbaser & (((1 << 40) - 1) << 12)

    def _load_pending_table(self) -> None:
        """EnableLPIs 0 -> 1: take the pending table in, 512 bytes (4096 INTIDs) at a time.

        All-zero stretches cost a ``count`` and nothing else, so time and memory follow the
        configured INTID space (one read of ``2**IDbits / 8`` bytes) and what is pending.
        """
        start = self._pending_base + PENDING_TABLE_IMPDEF_BYTES
        length = self.lpi_limit // 8 - PENDING_TABLE_IMPDEF_BYTES
        if length <= 0:
            return
        try:
            table = self._memory.read_bytes(start, length)
        except MemoryFault as fault:
            self._report(ErrorCode.TABLE_FAULT, f"pending table unreadable at {fault.address:#x}")
            return
        step = CHUNK_LPIS // 8
        first_chunk = LPI_BASE >> CHUNK_SHIFT
        for index in range(0, length, step):
            bits = table[index : index + step]
            if bits.count(0) == step:
                continue
            chunk = _Chunk()
            chunk.pending[:] = b"".join(map(_EXPAND.__getitem__, bits))
            chunk.count = int.from_bytes(bits, "little").bit_count()
            chunk.cached[:] = chunk.pending
            self._pending_count += chunk.count
            number = first_chunk + index // step
            self._chunks[number] = chunk
            self._load_properties(number, chunk)

    def _load_properties(self, number: int, chunk: _Chunk) -> None:
        """Re-read the chunk's property page into the cache and recompute its keys."""
        address = self._property_base + (number << CHUNK_SHIFT) - LPI_BASE
        try:
            data = self._memory.read_bytes(address, CHUNK_LPIS)
        except MemoryFault:
            self._report(
                ErrorCode.TABLE_FAULT,
                f"property table unreadable at {address:#x}: {chunk.count} pending LPI(s) "
                "treated as disabled",
            )
            data = bytes(CHUNK_LPIS)  # unreadable configuration: the LPIs are disabled
        chunk.props[:] = data
        keys = int.from_bytes(data.translate(_KEY_OF), "little")
        not_pending = int.from_bytes(chunk.pending.translate(_PENDING_MASK), "little")
        chunk.keys[:] = (keys | not_pending).to_bytes(CHUNK_LPIS, "little")
        self._dirty.add(number)

    def _write_pending_bit(self, intid: int, pending: bool) -> bool:
        address = self._pending_base + intid // 8
        mask = 1 << (intid % 8)
        try:
            byte = self._memory.read8(address)
            self._memory.write8(address, byte | mask if pending else byte & ~mask)
        except MemoryFault:
            self._report(ErrorCode.TABLE_FAULT, f"pending table unwritable at {address:#x}")
            return False
        return True

    def _fetch_property(self, intid: int, chunk: _Chunk) -> None:
        address = self._property_base + intid - LPI_BASE
        try:
            prop = self._memory.read8(address)
        except MemoryFault:
            self._report(
                ErrorCode.TABLE_FAULT, f"property of LPI {intid} unreadable at {address:#x}"
            )
            prop = 0  # unreadable configuration: treat the LPI as disabled
        offset = intid & _CHUNK_MASK
        chunk.props[offset] = prop
        chunk.cached[offset] = 1

    def _report(self, code: ErrorCode, reason: str) -> None:
        self._errors.record(ItsError(code, reason, ErrorSource.REDISTRIBUTOR, cpu=self.cpu))


class CpuInterface:
    """Acknowledge and EOI of LPIs for one PE (the ICC_IAR1/ICC_EOIR1 side of the GIC)."""

    def __init__(self, redistributor: Redistributor) -> None:
        self.redistributor = redistributor
        self.outstanding: list[int] = []
        """INTIDs acknowledged and not yet EOId, oldest first."""

    def ack(self) -> int:
        """Take the highest-priority pending enabled LPI; 1023 if there is none."""
        intid = self.redistributor.best()
        if intid != SPURIOUS:
            self.redistributor.clear_pending(intid)
            self.outstanding.append(intid)
        return intid

    def eoi(self, intid: int) -> bool:
        """Retire an acknowledged INTID. False (and no effect) if it was not outstanding."""
        for index in range(len(self.outstanding) - 1, -1, -1):
            if self.outstanding[index] == intid:
                del self.outstanding[index]
                return True
        return False
