"""The chunked redistributor agrees with the straightforward one it replaced.

``ReferenceRedistributor`` is the set-and-dict implementation (linear acknowledge, one
Python object per pending LPI). The fuzzer from ``test_its_fuzz`` drives two ITSs, one with
reference redistributors, through the same random stream; after every step the pending sets,
acknowledge orders, cached properties and CPU interfaces must be equal. Their error logs agree
too, except that a bulk re-read (EnableLPIs, INVALL) of an unreadable property page is one
error per page in the chunked version and one per LPI in the reference.
"""

from __future__ import annotations

import random
import re

import pytest
from test_its_fuzz import NUM_CPUS, Fuzzer

from itsrace.its import ErrorCode, ErrorLog, ErrorSource, GuestMemory, ItsConfig, ItsError
from itsrace.its.config import LPI_BASE, SPURIOUS
from itsrace.its.memory import MemoryFault
from itsrace.its.redistributor import (
    PENDING_TABLE_IMPDEF_BYTES,
    PRIORITY_MASK,
    PROPERTY_ENABLE,
    CpuInterface,
    Redistributor,
)
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

_NONZERO = re.compile(rb"[^\x00]")


class ReferenceRedistributor(Redistributor):
    """The redistributor as it was before chunking: a set and a dict, linear acknowledge.

    Kept verbatim (bar the class line) as the reference the chunked one must agree with."""

    def __init__(  # noqa: PLR0913
        self, cpu: int, config: ItsConfig, memory: GuestMemory, errors: ErrorLog
    ) -> None:
        RegisterFrame.__init__(self)
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


def reference_fuzzer(seed: int) -> Fuzzer:
    """A fuzzer whose ITS uses reference redistributors (swapped in before it boots)."""
    original = Fuzzer.boot
    swapped: list[Fuzzer] = []

    def boot(self: Fuzzer) -> None:
        its = self.its
        for cpu in range(NUM_CPUS):
            rd = ReferenceRedistributor(cpu, its.config, its.memory, its.errors)
            its.redistributors[cpu] = rd
            its.cpus[cpu] = CpuInterface(rd)
        swapped.append(self)
        original(self)

    Fuzzer.boot = boot  # type: ignore[method-assign]
    try:
        return Fuzzer(random.Random(seed))
    finally:
        Fuzzer.boot = original  # type: ignore[method-assign]


def comparable_errors(log: ErrorLog) -> list[tuple[ErrorCode, str]]:
    return [
        (e.code, e.reason)
        for e in log
        if not (e.source is ErrorSource.REDISTRIBUTOR and "unreadable" in e.reason)
    ]


def assert_same_state(fast: Fuzzer, slow: Fuzzer) -> None:
    for cpu in range(NUM_CPUS):
        a, b = fast.its.redistributors[cpu], slow.its.redistributors[cpu]
        assert a.pending() == b.pending()
        assert a.deliverable() == b.deliverable()
        assert a.best() == b.best()
        for intid in b.pending():
            assert a.cached_property(intid) == b.cached_property(intid)
        assert fast.its.cpus[cpu].outstanding == slow.its.cpus[cpu].outstanding
    assert comparable_errors(fast.its.errors) == comparable_errors(slow.its.errors)


@pytest.mark.parametrize("seed", range(6))
def test_chunked_redistributor_matches_the_reference(seed: int) -> None:
    fast, slow = Fuzzer(random.Random(seed)), reference_fuzzer(seed)
    assert isinstance(slow.its.redistributors[0], ReferenceRedistributor)
    for _ in range(250):
        fast.step()
        slow.step()
        assert_same_state(fast, slow)
    assert list(fast.memory.pages()) == list(slow.memory.pages())


def test_many_pending_lpis_in_many_chunks_ack_in_priority_then_intid_order() -> None:
    config = ItsConfig(num_cpus=1, intid_bits=18)
    rng = random.Random(7)
    memory = GuestMemory()
    memory.map(0x100000, 1 << 18)
    memory.map(0x200000, (1 << 18) // 8)
    props = bytes(rng.choice([0xA3, 0x13, 0x12, 0xFF, 0x03]) for _ in range((1 << 18) - 8192))
    memory.write_bytes(0x100000, props)
    fast = Redistributor(0, config, memory, ErrorLog())
    slow = ReferenceRedistributor(0, config, memory.copy(), ErrorLog())
    for rd in fast, slow:
        rd.write(GICR_PROPBASER, 0x100000 | 17)
        rd.write(GICR_PENDBASER, 0x200000 | PENDBASER_PTZ)
        rd.write(GICR_CTLR, 1, 4)
    intids = rng.sample(range(8192, 1 << 18), 3000)
    for intid in intids:
        assert fast.set_pending(intid) and slow.set_pending(intid)
    assert fast.pending_count == 3000
    order = []
    while (intid := fast.best()) != SPURIOUS:
        assert intid == slow.best()
        fast.clear_pending(intid)
        slow.clear_pending(intid)
        order.append(intid)
    assert slow.best() == SPURIOUS
    assert order == sorted(order, key=lambda i: (props[i - 8192] & 0xFC, i))
    assert len(order) == sum(1 for i in intids if props[i - 8192] & 1)
