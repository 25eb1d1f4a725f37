"""A guest-side helper that programs an :class:`~itsrace.its.its.Its` the way an OS driver does.

It only uses what a guest has: guest memory and register accesses. It allocates memory from
a bump allocator (backing it as it goes), sizes the tables from GITS_TYPER, and queues
commands by writing them at GITS_CWRITER and advancing it.

>>> from itsrace.its import Its, ItsConfig, MAPC
>>> its = Its(ItsConfig(num_cpus=2))
>>> driver = GuestDriver(its)
>>> layout = driver.setup()
>>> driver.send(MAPC(icid=0, rdbase=0))
>>> its.errors.codes()
[]
"""

from __future__ import annotations

from dataclasses import dataclass

from itsrace.its.commands import COMMAND_SIZE, MAPD, Command
from itsrace.its.config import LPI_BASE
from itsrace.its.its import Its
from itsrace.its.memory import PA_LIMIT
from itsrace.its.registers import (
    BASER_INDIRECT,
    BASER_PAGE_SIZE_SHIFT,
    BASER_VALID,
    CBASER_VALID,
    CTLR_ENABLED,
    GICR_CTLR,
    GICR_CTLR_ENABLE_LPIS,
    GICR_PENDBASER,
    GICR_PROPBASER,
    GITS_BASER0,
    GITS_CBASER,
    GITS_CREADR,
    GITS_CTLR,
    GITS_CWRITER,
    GITS_TYPER,
    L1_VALID,
    PAGE_SIZES,
    PENDBASER_PTZ,
    QUEUE_OFFSET_MASK,
    QUEUE_PAGE_SIZE,
    TABLE_ENTRY_SIZE,
    field,
)

PROPERTY_GROUP1 = 0x02
"""Bit 1 of a property byte is RES1 (Linux names it LPI_PROP_GROUP1) and the driver sets it."""
DEFAULT_PRIORITY = 0xA0
ITT_ALIGN = 256
MAX_TABLE_PAGES = 256


class DriverError(Exception):
    """The driver cannot do what was asked (the queue is full or not set up, no memory...)."""


@dataclass(frozen=True)
class Layout:
    """Where :meth:`GuestDriver.setup` put things."""

    queue: int
    queue_size: int
    device_table: int
    device_table_size: int
    collection_table: int
    collection_table_size: int
    property_table: int
    property_table_size: int
    pending_tables: tuple[int, ...]
    pending_table_size: int


class GuestDriver:
    """Sets up and drives an ITS from the guest side.

    Args:
        its: the ITS to drive.
        heap_base: first address of the memory the driver allocates from.
    """

    def __init__(self, its: Its, heap_base: int = 0x1000_0000) -> None:
        self.its = its
        self._next_free = heap_base
        self.layout: Layout | None = None

    # -- memory --------------------------------------------------------------------------------

    def alloc(self, size: int, align: int = 0x1_0000) -> int:
        """Allocate and back ``size`` zeroed bytes aligned to ``align``."""
        base = -(-self._next_free // align) * align
        if base + size > PA_LIMIT:
            raise DriverError("out of guest physical address space")
        self.its.memory.map(base, size)
        self._next_free = base + size
        return base

    # -- bring-up ------------------------------------------------------------------------------

    def setup(
        self,
        *,
        indirect: bool = False,
        page_size: int = 0x1_0000,
        queue_pages: int = 16,
        enable: bool = True,
    ) -> Layout:
        """Do what an OS driver does at boot.

        Allocate and program the device table (flat, or two-level if ``indirect``) and the
        collection table, the command queue (``queue_pages`` 4 KiB pages), one property table
        shared by every redistributor and a pending table each; set EnableLPIs on every
        redistributor and, if ``enable``, set GITS_CTLR.Enabled. Collections are not mapped:
        send MAPC for them.
        """
        if page_size not in PAGE_SIZES:
            raise DriverError(f"page size must be one of {PAGE_SIZES}")
        if not 1 <= queue_pages <= 256:
            raise DriverError("queue_pages must be in [1, 256]")
        its = self.its
        typer = its.read(GITS_TYPER)
        devbits = field(typer, 17, 13) + 1
        cidbits = field(typer, 35, 32) + 1 if typer >> 36 & 1 else 16
        intid_bits = its.config.intid_bits  # GICD_TYPER.IDbits in a full GIC

        device_table, dt_size = self._program_baser(0, 1 << devbits, page_size, indirect)
        # One page of collections is plenty (Linux also allocates a single page).
        collection_table, ct_size = self._program_baser(
            1, min(1 << cidbits, page_size // TABLE_ENTRY_SIZE), page_size, False
        )

        queue_size = queue_pages * QUEUE_PAGE_SIZE
        queue = self.alloc(queue_size)
        its.write(GITS_CBASER, CBASER_VALID | queue | (queue_pages - 1))
        its.write(GITS_CWRITER, 0)

        prop_size = (1 << intid_bits) - LPI_BASE
        prop = self.alloc(prop_size)
        pend_size = (1 << intid_bits) // 8
        pending = []
        for cpu in range(its.config.num_cpus):
            pend = self.alloc(pend_size)
            pending.append(pend)
            its.write_gicr(cpu, GICR_PROPBASER, prop | (intid_bits - 1))
            its.write_gicr(cpu, GICR_PENDBASER, pend | PENDBASER_PTZ)
            its.write_gicr(cpu, GICR_CTLR, GICR_CTLR_ENABLE_LPIS, 4)
        if enable:
            its.write(GITS_CTLR, CTLR_ENABLED, 4)
        self.layout = Layout(
            queue,
            queue_size,
            device_table,
            dt_size,
            collection_table,
            ct_size,
            prop,
            prop_size,
            tuple(pending),
            pend_size,
        )
        return self.layout

    def _program_baser(
        self, index: int, ids: int, page_size: int, indirect: bool
    ) -> tuple[int, int]:
        """Allocate a table for ``ids`` IDs and program GITS_BASER<index>; returns (base, bytes)."""
        if indirect:
            l2_pages = -(-ids // (page_size // TABLE_ENTRY_SIZE))
            size = l2_pages * TABLE_ENTRY_SIZE
        else:
            size = ids * TABLE_ENTRY_SIZE
        pages = min(max(1, -(-size // page_size)), MAX_TABLE_PAGES)
        base = self.alloc(pages * page_size, page_size)
        size_code = PAGE_SIZES.index(page_size)
        pa_bits = base | (base >> 48 << 12) if page_size == 0x1_0000 else base
        value = (
            BASER_VALID
            | (BASER_INDIRECT if indirect else 0)
            | (pa_bits & ((1 << 48) - 1))
            | (size_code << BASER_PAGE_SIZE_SHIFT)
            | (pages - 1)
        )
        self.its.write(GITS_BASER0 + 8 * index, value)
        return base, pages * page_size

    def prepare_device(self, device_id: int) -> bool:
        """Make sure the device table has an entry for ``device_id`` (as Linux does before MAPD).

        For a two-level table this allocates the level-2 page and writes its level-1 entry.
        Returns False if the table cannot cover ``device_id``.
        """
        table = self.its.device_table
        if not 0 <= device_id < table.capacity:
            return False
        if not table.indirect:
            return True
        memory = self.its.memory
        slot = table.base + device_id // table.ids_per_page * TABLE_ENTRY_SIZE
        if not memory.read64(slot) & L1_VALID:
            page = self.alloc(table.page_size, table.page_size)
            memory.write64(slot, L1_VALID | page)
        return True

    def alloc_itt(self, size: int) -> int:
        """Allocate an ITT for a device with ``size + 1`` EventID bits (the MAPD Size field)."""
        ite_size = field(self.its.read(GITS_TYPER), 7, 4) + 1
        return self.alloc((1 << (size + 1)) * ite_size, ITT_ALIGN)

    def map_device(self, device_id: int, size: int) -> int:
        """Prepare the table, allocate an ITT and send MAPD; returns the ITT address."""
        self.prepare_device(device_id)
        itt = self.alloc_itt(size)
        self.send(MAPD(device_id=device_id, size=size, itt_addr=itt, valid=True))
        return itt

    def set_property(
        self, intid: int, priority: int = DEFAULT_PRIORITY, enabled: bool = True
    ) -> None:
        """Write ``intid``'s byte in the property table (send INV/INVALL to make it count)."""
        if self.layout is None:
            raise DriverError("the property table is not set up (call setup first)")
        if not LPI_BASE <= intid < LPI_BASE + self.layout.property_table_size:
            raise DriverError(f"INTID {intid} has no property byte")
        value = (priority & 0xFC) | PROPERTY_GROUP1 | int(enabled)
        self.its.memory.write8(self.layout.property_table + intid - LPI_BASE, value)

    # -- command queue -------------------------------------------------------------------------

    def send(self, *commands: Command) -> None:
        """Queue ``commands`` and advance GITS_CWRITER (the ITS runs them at once).

        Raises :class:`DriverError` if the queue is not set up or stays full (a stalled ITS).
        """
        its = self.its
        queue = its.queue
        if not queue.valid:
            raise DriverError("the command queue is not set up (GITS_CBASER is not valid)")
        writer = its.read(GITS_CWRITER) & QUEUE_OFFSET_MASK
        if writer >= queue.size:
            raise DriverError("GITS_CWRITER is beyond the end of the queue")
        for command in commands:
            next_writer = (writer + COMMAND_SIZE) % queue.size
            if next_writer == its.read(GITS_CREADR) & QUEUE_OFFSET_MASK:
                its.write(GITS_CWRITER, writer)  # flush, so the ITS can make room
                if next_writer == its.read(GITS_CREADR) & QUEUE_OFFSET_MASK:
                    raise DriverError("the command queue is full (is the ITS stalled or disabled?)")
            its.memory.write_bytes(queue.base + writer, command.encode())
            writer = next_writer
        its.write(GITS_CWRITER, writer)

    def retry(self) -> None:
        """Write GITS_CWRITER.Retry = 1 (same offset), to re-run a stalled command."""
        its = self.its
        its.write(GITS_CWRITER, (its.read(GITS_CWRITER) & QUEUE_OFFSET_MASK) | 1)
