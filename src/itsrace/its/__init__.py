"""An architectural GICv3 ITS emulator: the foundation the rest of itsrace checks against.

The pieces, from the bottom up:

* :class:`GuestMemory` - sparse guest physical memory; touching unbacked memory raises
  :class:`MemoryFault`, which the ITS turns into a logged error.
* :class:`Its` - the ITS register frame (GITS_CTLR, GITS_TYPER, GITS_CBASER, GITS_CWRITER,
  GITS_CREADR, GITS_BASER<n>, GITS_TRANSLATER), the command queue, and one redistributor
  (GICR_CTLR, GICR_PROPBASER, GICR_PENDBASER) plus one CPU interface per CPU.
* Commands - one frozen dataclass per command (:class:`MAPD`, :class:`MAPC`, :class:`MAPTI`,
  :class:`MAPI`, :class:`MOVI`, :class:`DISCARD`, :class:`INV`, :class:`INVALL`, :class:`INT`,
  :class:`CLEAR`, :class:`SYNC`, :class:`MOVALL`) with ``encode()``; :func:`decode` and
  :func:`parse_command` go back from bytes and from text.
* :class:`GuestDriver` - does what an OS driver does: allocates and programs the tables and
  the queue, enables LPIs, queues commands.
* :class:`ErrorLog` of :class:`ItsError` - every command, translation and table error with
  its architected :class:`ErrorCode`. Nothing the guest does raises. The log keeps the newest
  1024 entries and exact per-code counts of all.
* :meth:`Its.save` / :meth:`Its.restore` - what a VMM migrates, as JSON-ready data.

A complete round trip, from boot to an acknowledged LPI::

    >>> from itsrace.its import Its, ItsConfig, GuestDriver, MAPC, MAPTI, INV
    >>> its = Its(ItsConfig(num_cpus=2))
    >>> driver = GuestDriver(its)
    >>> _ = driver.setup()                       # tables, queue, EnableLPIs, GITS_CTLR.Enabled
    >>> itt = driver.map_device(device_id=1, size=4)   # MAPD with a fresh 32-event ITT
    >>> driver.set_property(8192, priority=0xA0)       # enable LPI 8192 in the property table
    >>> driver.send(MAPC(icid=0, rdbase=1),            # collection 0 -> CPU 1
    ...             MAPTI(device_id=1, event_id=3, pintid=8192, icid=0),
    ...             INV(device_id=1, event_id=3))
    >>> its.msi(device_id=1, event_id=3)               # the device writes GITS_TRANSLATER
    Translation(intid=8192, cpu=1, pending=True)
    >>> its.deliverable(1)
    [8192]
    >>> its.ack(0), its.ack(1), its.eoi(1, 8192)
    (1023, 8192, True)

An invalid command is logged, not raised::

    >>> driver.send(MAPTI(device_id=1, event_id=99, pintid=8193, icid=0))
    >>> print(its.errors[-1])
    cmd #4 MAPTI dev=1 ev=99 pintid=8193 icid=0: MAPTI_ID_OOR (0x010a05): EventID 99 is beyond device 1's 32 events

Register access goes through ``its.read(offset, size)`` / ``its.write(offset, value, size)``
with the offsets in :mod:`itsrace.its.registers`; redistributors through
``its.read_gicr(cpu, ...)`` / ``its.write_gicr(cpu, ...)``. Table entry formats and the
choices made where the architecture leaves freedom are documented in ``docs/its.md``.
"""

from itsrace.its.commands import (
    CLEAR,
    DISCARD,
    GICV4_OPCODES,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPI,
    MAPTI,
    MOVALL,
    MOVI,
    PHYSICAL_COMMANDS,
    SYNC,
    Command,
    CommandSyntaxError,
    Gicv4Command,
    UnknownCommand,
    decode,
    parse_command,
)
from itsrace.its.config import LPI_BASE, SPURIOUS, ErrorPolicy, ItsConfig
from itsrace.its.driver import DriverError, GuestDriver, Layout
from itsrace.its.errors import (
    DEFAULT_ERROR_LOG_LIMIT,
    CommandError,
    ErrorCode,
    ErrorLog,
    ErrorSource,
    ItsError,
)
from itsrace.its.its import SAVE_FORMAT, Its, Translation
from itsrace.its.memory import GuestMemory, MemoryFault
from itsrace.its.redistributor import CpuInterface, Redistributor
from itsrace.its.script import (
    ScriptError,
    ScriptInputError,
    ScriptResult,
    load_script,
    run_script,
)

__all__ = [
    "CLEAR",
    "DEFAULT_ERROR_LOG_LIMIT",
    "DISCARD",
    "GICV4_OPCODES",
    "INT",
    "INV",
    "INVALL",
    "LPI_BASE",
    "MAPC",
    "MAPD",
    "MAPI",
    "MAPTI",
    "MOVALL",
    "MOVI",
    "PHYSICAL_COMMANDS",
    "SAVE_FORMAT",
    "SPURIOUS",
    "SYNC",
    "Command",
    "CommandError",
    "CommandSyntaxError",
    "CpuInterface",
    "DriverError",
    "ErrorCode",
    "ErrorLog",
    "ErrorPolicy",
    "ErrorSource",
    "Gicv4Command",
    "GuestDriver",
    "GuestMemory",
    "Its",
    "ItsConfig",
    "ItsError",
    "Layout",
    "MemoryFault",
    "Redistributor",
    "ScriptError",
    "ScriptInputError",
    "ScriptResult",
    "Translation",
    "UnknownCommand",
    "decode",
    "load_script",
    "parse_command",
    "run_script",
]
