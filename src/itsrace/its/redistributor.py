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

CPU interface. :meth:`CpuInterface.ack` takes the highest-priority pending enabled LPI (lowest
priority value, ties to the lowest INTID), clears its pending bit (LPIs have no active state)
and returns its INTID, or 1023 when there is none. There is no priority mask or preemption:
an outstanding acknowledge does not hide other LPIs. :meth:`CpuInterface.eoi` retires an
acknowledged INTID; an EOI for an INTID with no outstanding acknowledge on that CPU is
ignored and reported by returning False (the architecture leaves it UNPREDICTABLE).
"""

from __future__ import annotations

import re

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
_NONZERO = re.compile(rb"[^\x00]")


class Redistributor(RegisterFrame):
    """The LPI registers and state of one PE's redistributor."""

    def __init__(self, cpu: int, config: ItsConfig, memory: GuestMemory, errors: ErrorLog) -> None:
        self.cpu = cpu
        self._config = config
        self._memory = memory
        self._errors = errors
        self._enabled = False
        self._propbaser = 0
        self._pendbaser = 0
        self._pending: set[int] = set()
        self._properties: dict[int, int] = {}

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

    def accepts(self, intid: int) -> bool:
        """Would an LPI with this INTID be taken (rather than dropped) right now?"""
        return self._enabled and LPI_BASE <= intid < self.lpi_limit

    def is_pending(self, intid: int) -> bool:
        return intid in self._pending

    def pending(self) -> list[int]:
        """Every pending LPI, enabled or not, in INTID order."""
        return sorted(self._pending)

    def cached_property(self, intid: int) -> int | None:
        """The property byte cached for ``intid``, or None if the redistributor has not read it.

        Every pending LPI has one: it is read when the LPI becomes pending.
        """
        return self._properties.get(intid)

    def deliverable(self) -> list[int]:
        """Pending, enabled LPIs in the order a CPU would acknowledge them."""
        props = self._properties
        ready = [i for i in self._pending if props[i] & PROPERTY_ENABLE]
        return sorted(ready, key=lambda i: (props[i] & PRIORITY_MASK, i))

    def best(self) -> int:
        """The LPI the next acknowledge would return, or 1023."""
        best, best_key = SPURIOUS, (PRIORITY_MASK + 1, 0)
        for intid in self._pending:
            prop = self._properties[intid]
            if prop & PROPERTY_ENABLE:
                key = (prop & PRIORITY_MASK, intid)
                if key < best_key:
                    best, best_key = intid, key
        return best

    # -- state changes (used by the ITS and the CPU interface) ---------------------------------

    def set_pending(self, intid: int) -> bool:
        """Make ``intid`` pending. False if it was dropped (LPIs off, out of range, fault)."""
        if not self.accepts(intid):
            return False
        if intid not in self._pending:
            if not self._write_pending_bit(intid, True):
                return False
            self._pending.add(intid)
        if intid not in self._properties:
            self._fetch_property(intid)
        return True

    def clear_pending(self, intid: int) -> bool:
        """Clear ``intid``'s pending state. Returns whether it was pending."""
        if intid not in self._pending:
            return False
        self._pending.discard(intid)
        self._write_pending_bit(intid, False)
        return True

    def invalidate(self, intid: int) -> None:
        """INV: forget the cached property of ``intid``; re-read it now if it is pending."""
        self._properties.pop(intid, None)
        if intid in self._pending:
            self._fetch_property(intid)

    def invalidate_all(self) -> None:
        """INVALL: forget every cached property; re-read those of pending LPIs now."""
        self._properties.clear()
        for intid in self._pending:
            self._fetch_property(intid)

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
        self._pending.clear()
        self._properties.clear()
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
        start = self._pending_base + PENDING_TABLE_IMPDEF_BYTES
        length = self.lpi_limit // 8 - PENDING_TABLE_IMPDEF_BYTES
        if length <= 0:
            return
        try:
            table = self._memory.read_bytes(start, length)
        except MemoryFault as fault:
            self._report(ErrorCode.TABLE_FAULT, f"pending table unreadable at {fault.address:#x}")
            return
        for match in _NONZERO.finditer(table):
            byte_index = match.start()
            bits = table[byte_index]
            first = LPI_BASE + byte_index * 8
            self._pending.update(first + bit for bit in range(8) if bits >> bit & 1)
        for intid in self._pending:
            self._fetch_property(intid)

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

    def _fetch_property(self, intid: int) -> int:
        address = self._property_base + intid - LPI_BASE
        try:
            prop = self._memory.read8(address)
        except MemoryFault:
            self._report(
                ErrorCode.TABLE_FAULT, f"property of LPI {intid} unreadable at {address:#x}"
            )
            prop = 0  # unreadable configuration: treat the LPI as disabled
        self._properties[intid] = prop
        return prop

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
