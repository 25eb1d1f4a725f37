"""The ITS: its register frame, the command queue, command execution and MSI translation.

Everything happens synchronously inside the register write that causes it, as in QEMU and
KVM: a write to GITS_CWRITER (or setting GITS_CTLR.Enabled) runs every queued command before
it returns, and a write to GITS_TRANSLATER makes the LPI pending before it returns.

Command queue. Commands ``[CREADR, CWRITER)`` run while the ITS is enabled, GITS_CBASER is
valid and the queue is not stalled; offsets wrap at the queue size. A CWRITER offset at or
beyond the queue size makes the queue invalid: nothing runs, ``QUEUE_OFFSET_OOR`` is logged on
each attempt, and processing resumes once CWRITER is written with an offset inside the queue.

Errors. A command that fails a check is logged with its architected code. With the
``ignore`` policy the ITS skips it and goes on. With ``stall`` it sets GITS_CREADR.Stalled and
leaves CREADR on the failing command; further CWRITER writes only move the write offset.
Writing GITS_CWRITER with Retry = 1 clears Stalled and executes the failing command again
(it fails again unless the guest has fixed what it depends on). Writing GITS_CBASER (allowed
only while the ITS is disabled) also clears Stalled, and sets CREADR to 0.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import NamedTuple

from itsrace.its.commands import (
    CLEAR,
    COMMAND_SIZE,
    DISCARD,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPI,
    MAPTI,
    MOVALL,
    MOVI,
    SYNC,
    Command,
    Gicv4Command,
    decode,
)
from itsrace.its.config import LPI_BASE, ErrorPolicy, ItsConfig
from itsrace.its.errors import CommandError, ErrorCode, ErrorLog, ErrorSource, ItsError
from itsrace.its.memory import GuestMemory, MemoryFault
from itsrace.its.redistributor import CpuInterface, Redistributor
from itsrace.its.registers import (
    CBASER_WRITABLE,
    CREADR_STALLED,
    CTLR_ENABLED,
    CTLR_QUIESCENT,
    CWRITER_RETRY,
    GITS_BASER0,
    GITS_CBASER,
    GITS_CREADR,
    GITS_CTLR,
    GITS_CWRITER,
    GITS_IIDR,
    GITS_PIDR2,
    GITS_TRANSLATER,
    GITS_TYPER,
    IIDR_VALUE,
    NUM_BASERS,
    PIDR2_VALUE,
    QUEUE_OFFSET_MASK,
    CommandQueue,
    RegisterFrame,
    TableGeometry,
    baser_reset_value,
    sanitize_baser,
    typer_value,
)
from itsrace.its.tables import (
    INVALID_CTE,
    INVALID_ITE,
    CollectionEntry,
    DeviceEntry,
    TranslationEntry,
    entry_address,
    write_entry,
)


class Translation(NamedTuple):
    """Where a (DeviceID, EventID) pair leads: an LPI on a CPU.

    ``pending`` says whether the LPI is pending there (after an MSI: whether the redistributor
    took it; it drops LPIs while GICR_CTLR.EnableLPIs = 0).
    """

    intid: int
    cpu: int
    pending: bool


SAVE_FORMAT = "itsrace-its-state/1"
"""The ``format`` tag of :meth:`Its.save` data; :meth:`Its.restore` refuses any other."""


def _code(op: str, kind: str) -> ErrorCode:
    return ErrorCode[f"{op}_{kind}"]


class Its(RegisterFrame):
    """An architectural GICv3 ITS with its redistributors and CPU interfaces.

    Build one, give it memory, and drive it like a guest would::

        its = Its(ItsConfig(num_cpus=2))
        its.memory.map(0x100000, 0x100000)
        its.write(GITS_CBASER, ...)        # registers: read(offset, size) / write(...)
        its.msi(device_id=1, event_id=3)   # a device's write to GITS_TRANSLATER
        its.ack(0); its.eoi(0, 8192)       # a CPU taking the LPI

    :class:`itsrace.its.driver.GuestDriver` does the table setup and command queueing an OS
    driver would. Nothing the guest does raises: see :attr:`errors`.
    """

    def __init__(self, config: ItsConfig | None = None, memory: GuestMemory | None = None) -> None:
        self.config = config if config is not None else ItsConfig()
        self.memory = memory if memory is not None else GuestMemory()
        self.errors = ErrorLog()
        """Every command, translation and table error, in order."""
        self._policy = self.config.error_policy
        self.redistributors = [
            Redistributor(cpu, self.config, self.memory, self.errors)
            for cpu in range(self.config.num_cpus)
        ]
        self.cpus = [CpuInterface(rd) for rd in self.redistributors]
        self._typer = typer_value(self.config)
        self._enabled = False
        self._cbaser = 0
        self._queue = CommandQueue.from_cbaser(0)
        self._cwriter = 0
        self._creadr = 0
        self._stalled = False
        self._basers = [baser_reset_value(n) for n in range(NUM_BASERS)]
        self._device_table = self._geometry(0)
        self._collection_table = self._geometry(1)
        self._held_collections: dict[int, int] = {}  # ICID < HCC -> target CPU
        self.commands_executed = 0
        """Queue slots executed so far, failed ones included (a work counter, not state)."""

    # -- public state --------------------------------------------------------------------------

    @property
    def policy(self) -> ErrorPolicy:
        """The command error policy; assign an :class:`ErrorPolicy` or ``"ignore"``/``"stall"``."""
        return self._policy

    @policy.setter
    def policy(self, value: ErrorPolicy | str) -> None:
        self._policy = ErrorPolicy(value)

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def stalled(self) -> bool:
        return self._stalled

    @property
    def creadr(self) -> int:
        """Byte offset of the next command to execute."""
        return self._creadr

    @property
    def cwriter(self) -> int:
        """Byte offset one past the last command the guest queued."""
        return self._cwriter

    @property
    def queue(self) -> CommandQueue:
        return self._queue

    @property
    def device_table(self) -> TableGeometry:
        return self._device_table

    @property
    def collection_table(self) -> TableGeometry:
        return self._collection_table

    # -- save and restore ----------------------------------------------------------------------

    def save(self, *, include_memory: bool = False) -> dict[str, object]:
        """Everything needed to rebuild this ITS elsewhere, as JSON-ready data.

        What a VMM migrates: the configuration and error policy; the ITS registers (GITS_CTLR
        Enabled, GITS_CBASER, GITS_CWRITER, GITS_CREADR with Stalled, GITS_BASER0..7); the
        collections held inside the ITS (HCC); per redistributor GICR_CTLR.EnableLPIs,
        GICR_PROPBASER, GICR_PENDBASER, the pending LPIs and the cached property bytes (hidden
        state that decides what INV/INVALL would change); per CPU interface the acknowledged,
        not yet EOId LPIs. The device table, ITTs and collection table are in guest memory, as
        is every pending bit (written through), so they travel with the memory: pass
        ``include_memory=True`` to put it in the state too (backed ranges and non-zero pages).

        The error log is not state of the device: a restored ITS starts with an empty log.
        Saving changes nothing, so it may happen at any point, even with the queue stalled.
        """
        state: dict[str, object] = {
            "format": SAVE_FORMAT,
            "config": {**asdict(self.config), "error_policy": self.config.error_policy.value},
            "policy": self._policy.value,
            "its": {
                "enabled": self._enabled,
                "cbaser": self._cbaser,
                "cwriter": self._cwriter,
                "creadr": self._creadr,
                "stalled": self._stalled,
                "basers": list(self._basers),
                "held_collections": [
                    [icid, cpu] for icid, cpu in sorted(self._held_collections.items())
                ],
            },
            "redistributors": [
                {**rd.save_state(), "outstanding": list(cpu.outstanding)}
                for rd, cpu in zip(self.redistributors, self.cpus, strict=True)
            ],
        }
        if include_memory:
            state["memory"] = self.memory.save()
        return state

    @classmethod
    def restore(cls, state: object, memory: GuestMemory | None = None) -> Its:
        """A new ITS in exactly the state :meth:`save` captured, on ``memory``.

        ``memory`` is the guest memory as it was at the save (a VMM restores it first);
        without it the state must carry ``memory`` (``save(include_memory=True)``). Nothing
        runs and nothing is read from memory: the restored ITS continues as the saved one
        would have, register for register and LPI for LPI. Raises ``ValueError`` with a
        one-line reason for data that is not a save of this format.
        """
        data = _mapping(state, "the saved state")
        if data.get("format") != SAVE_FORMAT:
            raise ValueError(f"the saved state's format is not {SAVE_FORMAT!r}")
        try:
            config = ItsConfig(**_mapping(data.get("config"), "config"))  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValueError(f"saved config: {exc}") from None
        if memory is None:
            if "memory" not in data:
                raise ValueError("the saved state has no memory: pass the guest memory")
            memory = GuestMemory.restore(data["memory"])
        its = cls(config, memory)
        its.policy = str(data.get("policy"))
        regs = _mapping(data.get("its"), "its")
        basers = regs.get("basers")
        if not isinstance(basers, list) or len(basers) != NUM_BASERS:
            raise ValueError(f"saved its.basers must be a list of {NUM_BASERS} integers")
        its._basers = [sanitize_baser(n, _integer(v, f"basers[{n}]")) for n, v in enumerate(basers)]
        its._device_table = its._geometry(0)
        its._collection_table = its._geometry(1)
        its._cbaser = _integer(regs.get("cbaser"), "cbaser") & CBASER_WRITABLE
        its._queue = CommandQueue.from_cbaser(its._cbaser)
        its._cwriter = _integer(regs.get("cwriter"), "cwriter") & QUEUE_OFFSET_MASK
        creadr = _integer(regs.get("creadr"), "creadr")
        if creadr & ~QUEUE_OFFSET_MASK or (its._queue.valid and creadr >= its._queue.size):
            raise ValueError(f"saved creadr {creadr:#x} is not a command offset inside the queue")
        its._creadr = creadr
        its._stalled = _flag(regs.get("stalled"), "stalled")
        its._enabled = _flag(regs.get("enabled"), "enabled")
        held = regs.get("held_collections")
        if not isinstance(held, list):
            raise ValueError("saved its.held_collections must be a list of [icid, cpu]")
        for item in held:
            if not (isinstance(item, list) and len(item) == 2):
                raise ValueError("saved its.held_collections must be a list of [icid, cpu]")
            icid, target = (_integer(v, "held collection") for v in item)
            if not (icid < config.hcc and target < config.num_cpus):
                raise ValueError(f"saved held collection {icid} -> cpu {target} is out of range")
            its._held_collections[icid] = target
        rds = data.get("redistributors")
        if not isinstance(rds, list) or len(rds) != config.num_cpus:
            raise ValueError(f"saved redistributors must be a list of {config.num_cpus}")
        for rd, cpu, saved in zip(its.redistributors, its.cpus, rds, strict=True):
            saved = _mapping(saved, f"redistributor {rd.cpu}")
            rd.load_state(saved)
            outstanding = saved.get("outstanding")
            if not isinstance(outstanding, list):
                raise ValueError(f"saved redistributor {rd.cpu}: outstanding must be a list")
            cpu.outstanding = [_integer(v, "outstanding INTID") for v in outstanding]
        return its

    # -- register frame ------------------------------------------------------------------------

    def write(
        self, offset: int, value: int, size: int = 8, *, device_id: int | None = None
    ) -> None:
        """Write a register. GITS_TRANSLATER takes 2- or 4-byte writes and needs ``device_id``,
        which the bus supplies alongside the data of an MSI write.
        """
        if offset == GITS_TRANSLATER:
            if size not in (2, 4):
                self._bad_access(offset, size, "write")
                return
            if device_id is None:
                raise ValueError("a GITS_TRANSLATER write needs the DeviceID the bus supplies")
            self.msi(device_id, value & ((1 << (8 * size)) - 1))
            return
        super().write(offset, value, size)

    def _register_at(self, offset: int) -> tuple[int, int] | None:
        if offset in (GITS_CTLR, GITS_IIDR, GITS_PIDR2, GITS_TRANSLATER):
            return offset, 4
        if GITS_TYPER <= offset < GITS_TYPER + 8:
            return GITS_TYPER, 8
        if GITS_CBASER <= offset < GITS_CREADR + 8:
            return offset & ~7, 8
        if GITS_BASER0 <= offset < GITS_BASER0 + 8 * NUM_BASERS:
            return offset & ~7, 8
        return None

    def _read_register(self, base: int) -> int:
        if base == GITS_CTLR:
            return (CTLR_ENABLED if self._enabled else 0) | (
                CTLR_QUIESCENT if self._quiescent() else 0
            )
        if base == GITS_IIDR:
            return IIDR_VALUE
        if base == GITS_TYPER:
            return self._typer
        if base == GITS_CBASER:
            return self._cbaser
        if base == GITS_CWRITER:
            return self._cwriter  # Retry is an action, it reads as 0
        if base == GITS_CREADR:
            return self._creadr | (CREADR_STALLED if self._stalled else 0)
        if base == GITS_PIDR2:
            return PIDR2_VALUE
        if GITS_BASER0 <= base < GITS_BASER0 + 8 * NUM_BASERS:
            return self._basers[(base - GITS_BASER0) // 8]
        return 0  # GITS_TRANSLATER is write-only

    def _write_register(self, base: int, value: int) -> None:
        if base == GITS_CTLR:
            self._set_enabled(bool(value & CTLR_ENABLED))
        elif base == GITS_CBASER:
            self._write_cbaser(value)
        elif base == GITS_CWRITER:
            self._write_cwriter(value)
        elif GITS_BASER0 <= base < GITS_BASER0 + 8 * NUM_BASERS:
            self._write_baser((base - GITS_BASER0) // 8, value)
        # GITS_IIDR, GITS_TYPER, GITS_CREADR and the ID registers are read-only.

    def _bad_access(self, offset: int, size: int, what: str) -> None:
        reason = f"{size}-byte {what} at offset {offset:#x} is not supported (RAZ/WI)"
        self.errors.record(ItsError(ErrorCode.REGISTER_ACCESS, reason, ErrorSource.REGISTER))

    def _quiescent(self) -> bool:
        # Work is synchronous, so only queued, unexecuted commands count as "in progress".
        return not self._enabled or (self._creadr == self._cwriter and not self._stalled)

    def _set_enabled(self, enable: bool) -> None:
        was_enabled, self._enabled = self._enabled, enable
        if enable and not was_enabled:
            self._process_queue()

    def _write_cbaser(self, value: int) -> None:
        if self._enabled:
            return  # GITS_CBASER is read-only while the ITS is enabled
        self._cbaser = value & CBASER_WRITABLE
        self._queue = CommandQueue.from_cbaser(self._cbaser)
        self._creadr = 0
        self._stalled = False

    def _write_cwriter(self, value: int) -> None:
        self._cwriter = value & QUEUE_OFFSET_MASK
        if value & CWRITER_RETRY:
            self._stalled = False
        self._process_queue()

    def _write_baser(self, index: int, value: int) -> None:
        if self._enabled:
            return  # the tables are frozen while the ITS is enabled
        self._basers[index] = sanitize_baser(index, value)
        self._device_table = self._geometry(0)
        self._collection_table = self._geometry(1)

    def _geometry(self, index: int) -> TableGeometry:
        bits = self.config.devbits if index == 0 else self.config.cidbits
        return TableGeometry.from_baser(self._basers[index], 1 << bits)

    # -- redistributors and CPU interfaces -----------------------------------------------------

    def read_gicr(self, cpu: int, offset: int, size: int = 8) -> int:
        """Read a register of ``cpu``'s redistributor (RD_base frame offsets)."""
        return self._redistributor(cpu).read(offset, size)

    def write_gicr(self, cpu: int, offset: int, value: int, size: int = 8) -> None:
        """Write a register of ``cpu``'s redistributor (GICR_CTLR, PROPBASER, PENDBASER)."""
        self._redistributor(cpu).write(offset, value, size)

    def ack(self, cpu: int) -> int:
        """CPU ``cpu`` acknowledges its best pending enabled LPI; returns the INTID or 1023."""
        self._redistributor(cpu)
        return self.cpus[cpu].ack()

    def eoi(self, cpu: int, intid: int) -> bool:
        """CPU ``cpu`` ends ``intid``. False (no effect) if it had not acknowledged it."""
        self._redistributor(cpu)
        return self.cpus[cpu].eoi(intid)

    def deliverable(self, cpu: int) -> list[int]:
        """LPIs ``cpu`` could acknowledge now, in the order it would take them."""
        return self._redistributor(cpu).deliverable()

    def pending(self, cpu: int) -> list[int]:
        """LPIs pending at ``cpu``'s redistributor, enabled or not, in INTID order."""
        return self._redistributor(cpu).pending()

    def _redistributor(self, cpu: int) -> Redistributor:
        if not 0 <= cpu < len(self.redistributors):
            raise ValueError(f"cpu {cpu} does not exist (the ITS has {len(self.redistributors)})")
        return self.redistributors[cpu]

    # -- translation ---------------------------------------------------------------------------

    def msi(self, device_id: int, event_id: int) -> Translation | None:
        """A device writes ``event_id`` to GITS_TRANSLATER; the bus says it is ``device_id``.

        Returns where the LPI went, or None if the translation failed (the error is logged
        with the INT command's codes, as GIC-600 reports translation errors).
        """
        if not self._enabled:
            self._log_translation(
                ErrorCode.ITS_DISABLED, "the ITS is disabled", device_id, event_id
            )
            return None
        try:
            _, ite, cpu = self._resolve("INT", device_id, event_id)
        except CommandError as error:
            self._log_translation(error.code, error.reason, device_id, event_id)
            return None
        except MemoryFault as fault:
            self._log_translation(ErrorCode.TABLE_FAULT, _fault_reason(fault), device_id, event_id)
            return None
        pending = self.redistributors[cpu].set_pending(ite.pintid)
        return Translation(ite.pintid, cpu, pending)

    def lookup(self, device_id: int, event_id: int) -> Translation | None:
        """Where an MSI from (device_id, event_id) would go now; no side effects, nothing logged."""
        try:
            _, ite, cpu = self._resolve("INT", device_id, event_id)
        except (CommandError, MemoryFault):
            return None
        return Translation(ite.pintid, cpu, self.redistributors[cpu].is_pending(ite.pintid))

    def _log_translation(self, code: ErrorCode, reason: str, device_id: int, event_id: int) -> None:
        self.errors.record(
            ItsError(code, reason, ErrorSource.TRANSLATION, device_id=device_id, event_id=event_id)
        )

    # -- command queue -------------------------------------------------------------------------

    def _process_queue(self) -> None:
        if not (self._enabled and self._queue.valid) or self._stalled:
            return
        size = self._queue.size
        if self._cwriter >= size:
            reason = f"GITS_CWRITER offset {self._cwriter:#x} is beyond the {size:#x}-byte queue"
            self.errors.record(ItsError(ErrorCode.QUEUE_OFFSET_OOR, reason, ErrorSource.QUEUE))
            return
        # CREADR < size always holds (CBASER writes zero it), so this ends within size/32 steps.
        while self._creadr != self._cwriter:
            self.commands_executed += 1
            if not self._execute_slot(self._creadr) and self._policy is ErrorPolicy.STALL:
                self._stalled = True
                return
            self._creadr = (self._creadr + COMMAND_SIZE) % size

    def _execute_slot(self, offset: int) -> bool:
        """Run the command at queue ``offset``; log and return False if it fails."""
        index = offset // COMMAND_SIZE
        try:
            raw = self.memory.read_bytes(self._queue.base + offset, COMMAND_SIZE)
        except MemoryFault as fault:
            self._log_command(ErrorCode.COMMAND_FAULT, _fault_reason(fault), index, None)
            return False
        command = decode(raw)
        try:
            self.execute(command)
        except CommandError as error:
            self._log_command(error.code, error.reason, index, command)
            return False
        except MemoryFault as fault:
            self._log_command(ErrorCode.TABLE_FAULT, _fault_reason(fault), index, command)
            return False
        return True

    def _log_command(
        self, code: ErrorCode, reason: str, index: int, command: Command | None
    ) -> None:
        self.errors.record(
            ItsError(code, reason, ErrorSource.COMMAND, queue_index=index, command=command)
        )

    def execute(self, command: Command) -> None:
        """Carry out one command's effects, bypassing the queue.

        Raises :class:`CommandError` or :class:`MemoryFault` on failure (nothing is logged);
        the queue turns those into log entries. Tests and tools may call this directly.
        """
        match command:
            case MAPD():
                self._mapd(command)
            case MAPC():
                self._mapc(command)
            case MAPTI():
                self._map_event(
                    "MAPTI", command.device_id, command.event_id, command.pintid, command.icid
                )
            case MAPI():
                self._map_event(
                    "MAPI", command.device_id, command.event_id, command.event_id, command.icid
                )
            case INT():
                self._int(command)
            case CLEAR():
                self._clear(command)
            case DISCARD():
                self._discard(command)
            case INV():
                self._inv(command)
            case INVALL():
                self._invall(command)
            case MOVI():
                self._movi(command)
            case MOVALL():
                self._movall(command)
            case SYNC():
                pass  # every effect is already complete when a command returns
            case Gicv4Command():
                raise CommandError(
                    ErrorCode.UNSUPPORTED_COMMAND,
                    f"{command.name} is a GICv4 command; this ITS has no GICv4 support",
                )
            case _:
                raise CommandError(
                    ErrorCode.UNKNOWN_COMMAND,
                    f"opcode {command.encode()[0]:#04x} is not an ITS command",
                )

    # -- commands ------------------------------------------------------------------------------

    def _mapd(self, command: MAPD) -> None:
        address = self._device_address("MAPD", command.device_id)
        if command.valid and command.size + 1 > self.config.idbits:
            raise CommandError(
                ErrorCode.MAPD_ITTSIZE_OOR,
                f"Size {command.size} asks for {command.size + 1} EventID bits; the ITS has {self.config.idbits}",
            )
        entry = DeviceEntry(command.valid, command.size, command.itt_addr)
        write_entry(self.memory, address, entry.pack())

    def _mapc(self, command: MAPC) -> None:
        if not self._collection_in_range(command.icid):
            raise CommandError(
                ErrorCode.MAPC_COLLECTION_OOR, self._collection_oor_reason(command.icid)
            )
        entry = INVALID_CTE
        if command.valid:
            cpu = self._rdbase_to_cpu(command.rdbase)
            if cpu is None:
                raise CommandError(ErrorCode.MAPC_PROCNUM_OOR, self._rdbase_reason(command.rdbase))
            entry = CollectionEntry(True, cpu)
        self._write_collection(command.icid, entry)

    def _map_event(self, op: str, device_id: int, event_id: int, pintid: int, icid: int) -> None:
        device = self._mapped_device(op, device_id)
        address = self._ite_address(op, device_id, device, event_id)
        if not self._collection_in_range(icid):
            raise CommandError(_code(op, "COLLECTION_OOR"), self._collection_oor_reason(icid))
        if not LPI_BASE <= pintid < self.config.max_intid:
            raise CommandError(
                _code(op, "PHYSICALID_OOR"),
                f"pINTID {pintid} is outside the LPI range [{LPI_BASE}, {self.config.max_intid})",
            )
        entry = TranslationEntry(True, pintid, icid)
        write_entry(self.memory, address, entry.pack(), self.config.ite_size)

    def _int(self, command: INT) -> None:
        _, ite, cpu = self._resolve("INT", command.device_id, command.event_id)
        self.redistributors[cpu].set_pending(ite.pintid)

    def _clear(self, command: CLEAR) -> None:
        _, ite, cpu = self._resolve("CLEAR", command.device_id, command.event_id)
        self.redistributors[cpu].clear_pending(ite.pintid)

    def _discard(self, command: DISCARD) -> None:
        address, ite, cpu = self._resolve("DISCARD", command.device_id, command.event_id)
        write_entry(self.memory, address, INVALID_ITE.pack(), self.config.ite_size)
        self.redistributors[cpu].clear_pending(ite.pintid)

    def _inv(self, command: INV) -> None:
        _, ite, cpu = self._resolve("INV", command.device_id, command.event_id)
        self.redistributors[cpu].invalidate(ite.pintid)

    def _invall(self, command: INVALL) -> None:
        if not self._collection_in_range(command.icid):
            raise CommandError(
                ErrorCode.INVALL_COLLECTION_OOR, self._collection_oor_reason(command.icid)
            )
        cpu = self._target("INVALL", command.icid)
        self.redistributors[cpu].invalidate_all()

    def _movi(self, command: MOVI) -> None:
        address, ite = self._mapped_event("MOVI", command.device_id, command.event_id)
        if not self._collection_in_range(command.icid):
            raise CommandError(
                ErrorCode.MOVI_COLLECTION_OOR, self._collection_oor_reason(command.icid)
            )
        old_cpu = self._target("MOVI", ite.icid)
        new_cpu = self._target("MOVI", command.icid)
        moved = TranslationEntry(True, ite.pintid, command.icid)
        write_entry(self.memory, address, moved.pack(), self.config.ite_size)
        if old_cpu != new_cpu:
            self._move_pending(ite.pintid, old_cpu, new_cpu)

    def _movall(self, command: MOVALL) -> None:
        source = self._rdbase_to_cpu(command.rdbase1)
        target = self._rdbase_to_cpu(command.rdbase2)
        if source is None or target is None:
            bad = command.rdbase1 if source is None else command.rdbase2
            raise CommandError(ErrorCode.MOVALL_PROCNUM_OOR, self._rdbase_reason(bad))
        if source != target:
            for intid in self.redistributors[source].pending():
                self._move_pending(intid, source, target)

    def _move_pending(self, intid: int, source: int, target: int) -> None:
        """Move a pending LPI between redistributors; it stays put if the target would drop it."""
        old, new = self.redistributors[source], self.redistributors[target]
        if old.is_pending(intid) and new.accepts(intid) and new.set_pending(intid):
            old.clear_pending(intid)

    # -- table lookups (raise CommandError with the caller's error codes) ----------------------

    def _device_address(self, op: str, device_id: int) -> int:
        if not 0 <= device_id < 1 << self.config.devbits:
            raise CommandError(
                _code(op, "DEVICE_OOR"),
                f"DeviceID {device_id} needs more than {self.config.devbits} bits",
            )
        address = entry_address(self.memory, self._device_table, device_id)
        if address is None:
            raise CommandError(
                _code(op, "DEVICE_OOR"), f"DeviceID {device_id} has no device table entry"
            )
        return address

    def _mapped_device(self, op: str, device_id: int) -> DeviceEntry:
        address = self._device_address(op, device_id)
        device = DeviceEntry.unpack(self.memory.read64(address))
        if not device.valid:
            raise CommandError(_code(op, "UNMAPPED_DEVICE"), f"device {device_id} is not mapped")
        return device

    def _ite_address(self, op: str, device_id: int, device: DeviceEntry, event_id: int) -> int:
        if not 0 <= event_id < device.num_events:
            raise CommandError(
                _code(op, "ID_OOR"),
                f"EventID {event_id} is beyond device {device_id}'s {device.num_events} events",
            )
        return device.itt_addr + event_id * self.config.ite_size

    def _mapped_event(self, op: str, device_id: int, event_id: int) -> tuple[int, TranslationEntry]:
        device = self._mapped_device(op, device_id)
        address = self._ite_address(op, device_id, device, event_id)
        ite = TranslationEntry.unpack(self.memory.read64(address))
        if not ite.valid:
            raise CommandError(
                _code(op, "UNMAPPED_INTERRUPT"),
                f"event {event_id} of device {device_id} is not mapped",
            )
        return address, ite

    def _resolve(self, op: str, device_id: int, event_id: int) -> tuple[int, TranslationEntry, int]:
        """(ITE address, ITE, target CPU) of a mapped event whose collection is mapped."""
        address, ite = self._mapped_event(op, device_id, event_id)
        return address, ite, self._target(op, ite.icid)

    def _collection_in_range(self, icid: int) -> bool:
        if not 0 <= icid < 1 << self.config.cidbits:
            return False
        return icid < self.config.hcc or icid < self._collection_table.capacity

    def _collection_oor_reason(self, icid: int) -> str:
        return (
            f"ICID {icid} is beyond the {self.config.hcc} collections held in the ITS "
            f"and the {self._collection_table.capacity} of the collection table"
        )

    def _target(self, op: str, icid: int) -> int:
        """The CPU collection ``icid`` is mapped to; ``<op>_UNMAPPED_COLLECTION`` if none."""
        entry = self._read_collection(icid)
        if not entry.valid or entry.cpu >= self.config.num_cpus:
            raise CommandError(_code(op, "UNMAPPED_COLLECTION"), f"collection {icid} is not mapped")
        return entry.cpu

    def _read_collection(self, icid: int) -> CollectionEntry:
        if icid < self.config.hcc:
            cpu = self._held_collections.get(icid)
            return INVALID_CTE if cpu is None else CollectionEntry(True, cpu)
        address = entry_address(self.memory, self._collection_table, icid)
        if address is None:
            return INVALID_CTE  # the table no longer reaches this ICID
        return CollectionEntry.unpack(self.memory.read64(address))

    def _write_collection(self, icid: int, entry: CollectionEntry) -> None:
        if icid < self.config.hcc:
            if entry.valid:
                self._held_collections[icid] = entry.cpu
            else:
                self._held_collections.pop(icid, None)
            return
        address = entry_address(self.memory, self._collection_table, icid)
        if address is None:
            raise CommandError(
                ErrorCode.MAPC_COLLECTION_OOR, f"ICID {icid} has no collection table entry"
            )
        write_entry(self.memory, address, entry.pack())

    def _rdbase_to_cpu(self, rdbase: int) -> int | None:
        """The processor an RDbase field names (a number, or an address when PTA = 1)."""
        if not self.config.pta:
            return rdbase if 0 <= rdbase < self.config.num_cpus else None
        offset = (rdbase << 16) - self.config.gicr_base
        cpu, misaligned = divmod(offset, self.config.gicr_stride)
        return cpu if offset >= 0 and not misaligned and cpu < self.config.num_cpus else None

    def _rdbase_reason(self, rdbase: int) -> str:
        if self.config.pta:
            return f"RDbase {rdbase << 16:#x} is not the address of a redistributor"
        return f"RDbase {rdbase} is not a processor number below {self.config.num_cpus}"


def _fault_reason(fault: MemoryFault) -> str:
    return f"guest memory at {fault.address:#x} (+{fault.size}) is not backed"


def _mapping(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise ValueError(f"{what} must be a mapping")
    return value


def _integer(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 64:
        raise ValueError(f"saved {what} must be an unsigned 64-bit integer, got {value!r}")
    return value


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"saved {what} must be true or false, got {value!r}")
    return value
