"""Error codes and the error log.

Nothing the guest does makes the emulator raise. Every command error, translation error,
memory fault and odd register access becomes an :class:`ItsError` in the :class:`ErrorLog`.

Architected codes follow the ``0x01CCEE`` scheme: CC is the command opcode, EE the class of
error (01 DeviceID out of range, 02 ITT size or processor out of range, 03 collection out of
range, 04 unmapped device, 05 EventID out of range, 06 physical INTID out of range, 07 unmapped
interrupt, 09 unmapped collection). Two irregularities come from the published tables and are
kept: CLEAR errors use CC = 0x05 (the opcode of SYNC, not of CLEAR), and MOVALL_PROCNUM_OOR is
0x010E01. The ``*_UNMAPPED_COLLECTION`` codes of INT, CLEAR, INV and DISCARD are not in Linux's
``E_ITS_*`` list nor in the GIC-600 table; they are derived from the scheme.

Codes whose top byte is ``0xF0`` are this emulator's own (no architected code exists); see
:attr:`ErrorCode.architected`.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from itsrace.its.commands import Command

OWN_CODE_BASE = 0xF00000


class ErrorCode(IntEnum):
    """Every error the emulator reports, valued by its code."""

    # MOVI (0x01)
    MOVI_DEVICE_OOR = 0x010101
    MOVI_COLLECTION_OOR = 0x010103
    MOVI_UNMAPPED_DEVICE = 0x010104
    MOVI_ID_OOR = 0x010105
    MOVI_UNMAPPED_INTERRUPT = 0x010107
    MOVI_UNMAPPED_COLLECTION = 0x010109
    # INT (0x03); also used for GITS_TRANSLATER translation errors, as GIC-600 does
    INT_DEVICE_OOR = 0x010301
    INT_UNMAPPED_DEVICE = 0x010304
    INT_ID_OOR = 0x010305
    INT_UNMAPPED_INTERRUPT = 0x010307
    INT_UNMAPPED_COLLECTION = 0x010309
    # CLEAR (opcode 0x04, codes 0x0105xx)
    CLEAR_DEVICE_OOR = 0x010501
    CLEAR_UNMAPPED_DEVICE = 0x010504
    CLEAR_ID_OOR = 0x010505
    CLEAR_UNMAPPED_INTERRUPT = 0x010507
    CLEAR_UNMAPPED_COLLECTION = 0x010509
    # MAPD (0x08)
    MAPD_DEVICE_OOR = 0x010801
    MAPD_ITTSIZE_OOR = 0x010802
    # MAPC (0x09)
    MAPC_PROCNUM_OOR = 0x010902
    MAPC_COLLECTION_OOR = 0x010903
    # MAPTI (0x0A)
    MAPTI_DEVICE_OOR = 0x010A01
    MAPTI_COLLECTION_OOR = 0x010A03
    MAPTI_UNMAPPED_DEVICE = 0x010A04
    MAPTI_ID_OOR = 0x010A05
    MAPTI_PHYSICALID_OOR = 0x010A06
    # MAPI (0x0B)
    MAPI_DEVICE_OOR = 0x010B01
    MAPI_COLLECTION_OOR = 0x010B03
    MAPI_UNMAPPED_DEVICE = 0x010B04
    MAPI_ID_OOR = 0x010B05
    MAPI_PHYSICALID_OOR = 0x010B06
    # INV (0x0C)
    INV_DEVICE_OOR = 0x010C01
    INV_UNMAPPED_DEVICE = 0x010C04
    INV_ID_OOR = 0x010C05
    INV_UNMAPPED_INTERRUPT = 0x010C07
    INV_UNMAPPED_COLLECTION = 0x010C09
    # INVALL (0x0D)
    INVALL_COLLECTION_OOR = 0x010D03
    INVALL_UNMAPPED_COLLECTION = 0x010D09
    # MOVALL (0x0E)
    MOVALL_PROCNUM_OOR = 0x010E01
    # DISCARD (0x0F)
    DISCARD_DEVICE_OOR = 0x010F01
    DISCARD_UNMAPPED_DEVICE = 0x010F04
    DISCARD_ID_OOR = 0x010F05
    DISCARD_UNMAPPED_INTERRUPT = 0x010F07
    DISCARD_UNMAPPED_COLLECTION = 0x010F09
    # This emulator's own codes (no architected encoding exists).
    UNKNOWN_COMMAND = OWN_CODE_BASE + 0x01
    UNSUPPORTED_COMMAND = OWN_CODE_BASE + 0x02
    COMMAND_FAULT = OWN_CODE_BASE + 0x03
    TABLE_FAULT = OWN_CODE_BASE + 0x04
    QUEUE_OFFSET_OOR = OWN_CODE_BASE + 0x05
    ITS_DISABLED = OWN_CODE_BASE + 0x06
    REGISTER_ACCESS = OWN_CODE_BASE + 0x07

    @property
    def architected(self) -> bool:
        """True for codes in the architecture's ``0x01CCEE`` scheme."""
        return self.value < OWN_CODE_BASE

    def __str__(self) -> str:
        return f"{self.name} ({self.value:#08x})"


class ErrorSource(StrEnum):
    """Where an error was detected."""

    COMMAND = "command"  # a command taken from the command queue
    TRANSLATION = "translation"  # a GITS_TRANSLATER write (a device's MSI)
    QUEUE = "queue"  # the command queue registers themselves (e.g. CWRITER past the end)
    REGISTER = "register"  # an access of a width or offset the frame does not have
    REDISTRIBUTOR = "redistributor"  # a redistributor reading its property or pending table


@dataclass(frozen=True)
class ItsError:
    """One entry of the error log.

    Attributes:
        code: what went wrong.
        reason: a sentence naming the offending values.
        source: where it was detected.
        queue_index: for command errors, the slot of the command in the queue (CREADR / 32).
        command: for command errors, the decoded command (``None`` if it could not be read).
        device_id, event_id: for translation errors, the MSI that failed.
        cpu: for redistributor errors, the redistributor's processor number.
    """

    code: ErrorCode
    reason: str
    source: ErrorSource = ErrorSource.COMMAND
    queue_index: int | None = None
    command: Command | None = None
    device_id: int | None = None
    event_id: int | None = None
    cpu: int | None = None

    def __str__(self) -> str:
        return f"{self.where()}: {self.code}: {self.reason}"

    def where(self) -> str:
        """A short phrase locating the error, e.g. ``cmd #3 MAPTI dev=2 ev=20 pintid=8195 icid=3``."""
        if self.source is ErrorSource.COMMAND:
            slot = "?" if self.queue_index is None else str(self.queue_index)
            return f"cmd #{slot} {self.command}" if self.command is not None else f"cmd #{slot}"
        if self.source is ErrorSource.TRANSLATION:
            return f"msi dev={self.device_id} ev={self.event_id}"
        if self.source is ErrorSource.REDISTRIBUTOR:
            return f"redistributor cpu={self.cpu}"
        return self.source.value


DEFAULT_ERROR_LOG_LIMIT = 1024
"""How many entries an :class:`ErrorLog` keeps by default (the most recent ones)."""


class ErrorLog:
    """The error log shared by the ITS and its redistributors: bounded, with exact counts.

    A guest can make the ITS log errors without end (a CWRITER write to an unbacked queue logs
    one ``COMMAND_FAULT`` per slot), so the log keeps only the most recent ``limit`` entries
    (:data:`DEFAULT_ERROR_LOG_LIMIT`, 1024) and drops the oldest ones. What it never drops is
    the arithmetic: :attr:`recorded` counts every entry ever recorded, :attr:`dropped` those no
    longer kept, and :meth:`counts` the number recorded per :class:`ErrorCode`.

    Iterating, indexing and ``len()`` see the kept entries only. To see what one operation
    added, take a :meth:`mark` before it and call :meth:`since` after it:

    >>> log = ErrorLog(limit=2)
    >>> mark = log.mark()
    >>> for opcode in (0x7D, 0x7E, 0x7F):
    ...     log.record(ItsError(ErrorCode.UNKNOWN_COMMAND, f"opcode {opcode:#x}"))
    >>> [e.reason for e in log.since(mark)]   # the oldest of the three was dropped
    ['opcode 0x7e', 'opcode 0x7f']
    >>> log.recorded, log.dropped, len(log), log.counts()[ErrorCode.UNKNOWN_COMMAND]
    (3, 1, 2, 3)
    """

    def __init__(self, limit: int = DEFAULT_ERROR_LOG_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"an error log must keep at least 1 entry, got limit={limit}")
        self._limit = limit
        self._entries: deque[ItsError] = deque(maxlen=limit)
        self._recorded = 0
        self._counts: Counter[ErrorCode] = Counter()

    @property
    def limit(self) -> int:
        """How many of the most recent entries are kept."""
        return self._limit

    @property
    def recorded(self) -> int:
        """Entries recorded since the log was made (or last cleared), kept or dropped."""
        return self._recorded

    @property
    def dropped(self) -> int:
        """Entries recorded but no longer kept (the oldest ones)."""
        return self._recorded - len(self._entries)

    def record(self, error: ItsError) -> None:
        self._entries.append(error)  # the deque drops the oldest entry when full
        self._recorded += 1
        self._counts[error.code] += 1

    def mark(self) -> int:
        """A position for :meth:`since`: the number of entries recorded so far."""
        return self._recorded

    def since(self, mark: int) -> list[ItsError]:
        """Entries recorded after :meth:`mark` returned ``mark`` that are still kept.

        If more than :attr:`limit` were recorded since then, the oldest are missing: compare
        ``len(result)`` with ``log.mark() - mark`` to know how many.
        """
        wanted = self._recorded - mark
        if wanted <= 0:
            return []
        kept = len(self._entries)
        return list(itertools.islice(self._entries, max(0, kept - wanted), kept))

    def counts(self) -> Counter[ErrorCode]:
        """How many entries were recorded per code, dropped ones included."""
        return Counter(self._counts)

    def codes(self) -> list[ErrorCode]:
        """The codes of the kept entries, oldest first."""
        return [entry.code for entry in self._entries]

    def clear(self) -> None:
        """Forget every entry and every count."""
        self._entries.clear()
        self._recorded = 0
        self._counts.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ItsError]:
        return iter(self._entries)

    @overload
    def __getitem__(self, index: int) -> ItsError: ...
    @overload
    def __getitem__(self, index: slice) -> list[ItsError]: ...
    def __getitem__(self, index: int | slice) -> ItsError | list[ItsError]:
        if isinstance(index, slice):
            return list(self._entries)[index]
        return self._entries[index]

    def __repr__(self) -> str:
        return (
            f"ErrorLog({len(self._entries)} kept of {self._recorded} recorded, limit {self._limit})"
        )


class CommandError(Exception):
    """Raised inside the ITS when a check fails; caught and turned into an :class:`ItsError`.

    It is internal plumbing: it never leaves an ITS operation.
    """

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
