"""Fuzzing: random register writes, hostile command streams, MSIs, acks and EOIs.

Whatever the guest does, the emulator must not raise, must keep its queue registers sane,
and must write guest memory only inside the tables the guest configured. The guest memory
map is split into zones; the tables the fuzzer configures always lie in the writable zones
and the ITTs it names (via MAPD, even from random bytes) are added to the writable set. Two
guard zones full of random bytes must come out unchanged, and every write the ITS makes is
recorded and checked against the writable set as it happens.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from itsrace.its import (
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
    SYNC,
    Command,
    ErrorCode,
    ErrorPolicy,
    Gicv4Command,
    GuestMemory,
    Its,
    ItsConfig,
    UnknownCommand,
    decode,
)
from itsrace.its.registers import (
    GICR_CTLR,
    GICR_PENDBASER,
    GICR_PROPBASER,
    GITS_BASER0,
    GITS_CBASER,
    GITS_CREADR,
    GITS_CTLR,
    GITS_CWRITER,
)

GUARD_LOW = (0x0080_0000, 0x0090_0000)
QUEUE_ZONE = (0x0090_0000, 0x0092_0000)
PROP_ZONE = (0x0092_0000, 0x0094_0000)
DT_ZONE = (0x00A0_0000, 0x00C0_0000)
CT_ZONE = (0x00C0_0000, 0x00D0_0000)
L2_ZONE = (0x00D0_0000, 0x00E0_0000)
PEND_ZONE = (0x00E0_0000, 0x00F0_0000)
ITT_ZONE = (0x00F0_0000, 0x0180_0000)
GUARD_HIGH = (0x0180_0000, 0x0190_0000)
TABLE_ZONES = (DT_ZONE, CT_ZONE, L2_ZONE)
ITS_WRITABLE = [DT_ZONE, CT_ZONE, L2_ZONE, PEND_ZONE, ITT_ZONE]
UNBACKED = 0x4000_0000
NUM_CPUS = 3
T = TypeVar("T")


class RecordingMemory(GuestMemory):
    """Guest memory that remembers where writes land while ``recording`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.recording = False
        self.writes: list[tuple[int, int]] = []

    def write_bytes(self, address: int, data: bytes) -> None:
        super().write_bytes(address, data)  # a faulting write changes nothing: not recorded
        if self.recording:
            self.writes.append((address, len(data)))


@dataclass
class Fuzzer:
    rng: random.Random
    memory: RecordingMemory = field(default_factory=RecordingMemory)
    writable: list[tuple[int, int]] = field(default_factory=lambda: list(ITS_WRITABLE))
    acknowledged: int = 0

    def __post_init__(self) -> None:
        config = ItsConfig(
            num_cpus=NUM_CPUS,
            ite_size=self.rng.choice([8, 12]),
            hcc=self.rng.choice([0, 0, 2]),
            error_policy=self.rng.choice(list(ErrorPolicy)),
        )
        self.its = Its(config, self.memory)
        for start, end in (QUEUE_ZONE, PROP_ZONE, *ITS_WRITABLE):
            self.memory.map(start, end - start)
        self.guards = {}
        for start, end in (GUARD_LOW, GUARD_HIGH):
            self.memory.map(start, end - start)
            content = self.rng.randbytes(end - start)
            self.memory.write_bytes(start, content)
            self.guards[start] = content
        for start, end in PROP_ZONE, ITT_ZONE:
            self.memory.write_bytes(start, self.rng.randbytes(min(end - start, 0x20000)))
        self.boot()

    def boot(self) -> None:
        """Start from a working ITS, as a driver leaves it, so the fuzzing reaches deep states."""
        its = self.its
        self.its_call(its.write, GITS_BASER0, (1 << 63) | DT_ZONE[0] | (2 << 8) | 7)
        self.its_call(its.write, GITS_BASER0 + 8, (1 << 63) | CT_ZONE[0] | (2 << 8))
        self.its_call(its.write, GITS_CBASER, (1 << 63) | QUEUE_ZONE[0] | 3)
        for cpu in range(NUM_CPUS):
            self.its_call(its.write_gicr, cpu, GICR_PROPBASER, PROP_ZONE[0] | 15)
            self.its_call(its.write_gicr, cpu, GICR_PENDBASER, PEND_ZONE[0] + 0x1_0000 * cpu)
            self.its_call(its.write_gicr, cpu, GICR_CTLR, 1, 4)
        self.its_call(its.write, GITS_CTLR, 1, 4)
        boot_commands: list[Command] = [MAPC(icid=c, rdbase=c % NUM_CPUS) for c in range(4)]
        for dev in range(4):
            itt = ITT_ZONE[0] + 0x1000 * dev
            boot_commands.append(MAPD(device_id=dev, size=2, itt_addr=itt, valid=True))
            self.writable.append((itt, itt + 8 * its.config.ite_size))
            for ev in range(8):
                boot_commands.append(
                    MAPTI(device_id=dev, event_id=ev, pintid=8192 + 8 * dev + ev, icid=ev % 4)
                )
        for slot, command in enumerate(boot_commands):
            self.memory.write_bytes(QUEUE_ZONE[0] + 32 * slot, command.encode())
        self.its_call(its.write, GITS_CWRITER, 32 * len(boot_commands))
        for intid in range(8192, 8192 + 32):
            self.memory.write8(PROP_ZONE[0] + intid - 8192, self.rng.choice([0xA3, 0x43, 0x02]))
        assert its.errors.codes() == []

    # -- what the guest does -------------------------------------------------------------------

    def its_call(self, function: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Call into the emulator with write recording on."""
        self.memory.recording = True
        try:
            return function(*args, **kwargs)
        finally:
            self.memory.recording = False

    def step(self) -> None:
        action = self.rng.choices(
            [
                self.write_baser,
                self.write_cbaser,
                self.write_ctlr,
                self.queue_commands,
                self.write_cwriter,
                self.write_random_register,
                self.write_gicr,
                self.msi,
                self.ack_or_eoi,
                self.scribble_property,
                self.recover,
                self.repair_stall,
            ],
            weights=[3, 1, 2, 16, 2, 3, 3, 10, 8, 2, 1, 6],
        )[0]
        action()
        self.check_registers()

    def write_baser(self) -> None:
        rng = self.rng
        index = rng.choice([0, 1, 0, 1, rng.randrange(8)])
        page_code = rng.randrange(3)
        page = (4096, 16384, 65536)[page_code]
        pages = rng.randint(1, 4)
        zone = rng.choice(TABLE_ZONES)
        base = zone[0] + page * rng.randrange((zone[1] - zone[0] - pages * page) // page + 1)
        indirect = rng.random() < 0.4
        value = (
            (int(rng.random() < 0.9) << 63)
            | (int(indirect) << 62)
            | base
            | (page_code << 8)
            | (pages - 1)
            | (rng.getrandbits(3) << 59)  # cacheability: ignored
        )
        if indirect:
            self.populate_level1(base, pages * page, page)
        if rng.random() < 0.2:  # as two 32-bit halves, high first
            self.its_call(self.its.write, GITS_BASER0 + 8 * index + 4, value >> 32, 4)
            self.its_call(self.its.write, GITS_BASER0 + 8 * index, value & 0xFFFF_FFFF, 4)
        else:
            self.its_call(self.its.write, GITS_BASER0 + 8 * index, value)

    def populate_level1(self, base: int, size: int, page: int) -> None:
        for _ in range(self.rng.randint(0, 4)):
            slot = base + 8 * self.rng.randrange(size // 8)
            l2 = L2_ZONE[0] + page * self.rng.randrange((L2_ZONE[1] - L2_ZONE[0]) // page)
            self.memory.write64(slot, (1 << 63) | l2 if self.rng.random() < 0.8 else 0)

    def write_cbaser(self) -> None:
        rng = self.rng
        pages = rng.randint(1, 4)
        base = QUEUE_ZONE[0] + 0x1000 * rng.randrange(32 - pages + 1)
        if rng.random() < 0.05:
            base = UNBACKED
        value = (int(rng.random() < 0.9) << 63) | base | (pages - 1) | (rng.getrandbits(2) << 10)
        self.its_call(self.its.write, GITS_CBASER, value)

    def write_ctlr(self) -> None:
        self.its_call(self.its.write, GITS_CTLR, int(self.rng.random() < 0.8), 4)

    def write_cwriter(self) -> None:
        rng = self.rng
        value = rng.choice(
            [rng.getrandbits(20), rng.getrandbits(64), self.its.cwriter | 1, self.its.cwriter]
        )
        self.its_call(self.its.write, GITS_CWRITER, value, rng.choice([4, 8]))

    def write_random_register(self) -> None:
        rng = self.rng
        offset = rng.choice(
            [
                0x0,
                0x4,
                0x8,
                0xC,
                0x90,
                0x94,
                0x98,
                0x110,
                0x138,
                0xFFE8,
                0x10040,
                rng.randrange(0x20000),
            ]
        )
        if 0x80 <= offset < 0x90 or 0x100 <= offset < 0x110:
            offset = 0x8  # table and queue bases only get well-formed values (write_baser/cbaser)
        size = rng.choice([1, 2, 4, 4, 8, 8])
        self.its_call(self.its.write, offset, rng.getrandbits(64), size, device_id=rng.randrange(8))

    def write_gicr(self) -> None:
        rng = self.rng
        cpu = rng.randrange(NUM_CPUS)
        choice = rng.randrange(4)
        if choice == 0:
            self.its_call(self.its.write_gicr, cpu, GICR_CTLR, int(rng.random() < 0.9), 4)
        elif choice == 1:
            base = PROP_ZONE[0] if rng.random() < 0.9 else UNBACKED
            self.its_call(
                self.its.write_gicr, cpu, GICR_PROPBASER, base | rng.choice([15, 13, 12, 31, 5])
            )
        elif choice == 2:
            base = PEND_ZONE[0] + 0x1_0000 * rng.randrange(16) if rng.random() < 0.9 else UNBACKED
            self.its_call(
                self.its.write_gicr, cpu, GICR_PENDBASER, base | (rng.getrandbits(1) << 62)
            )
        else:
            offset = rng.choice([0x0, 0x4, 0x8, 0x70, 0x78, rng.randrange(0x10000)])
            self.its.read_gicr(cpu, offset & ~3, 4)

    def queue_commands(self) -> None:
        its = self.its
        queue = its.queue
        if not queue.valid or queue.base == UNBACKED:
            return
        writer = its.read(GITS_CWRITER) % queue.size
        for _ in range(self.rng.randint(1, 12)):
            command = self.random_command()
            raw = command if isinstance(command, bytes) else command.encode()
            decoded = decode(raw)
            if isinstance(decoded, MAPD) and decoded.valid:
                span = (1 << (decoded.size + 1)) * its.config.ite_size
                self.writable.append((decoded.itt_addr, decoded.itt_addr + span))
            self.memory.write_bytes(queue.base + writer, raw)
            writer = (writer + 32) % queue.size
        self.its_call(its.write, GITS_CWRITER, writer | int(self.rng.random() < 0.1))

    def random_command(self) -> Command | bytes:
        rng = self.rng
        dev = self.small_or_wild(4, 32)
        ev = self.small_or_wild(8, 32)
        icid = self.small_or_wild(4, 16)
        intid = (
            8192 + rng.randrange(24)
            if rng.random() < 0.8
            else rng.getrandbits(rng.choice([13, 16, 32]))
        )
        rd = self.small_or_wild(NUM_CPUS + 1, 36)
        kind = rng.randrange(20)
        if kind < 3:
            size = rng.randrange(6) if rng.random() < 0.9 else rng.getrandbits(5)
            itt = ITT_ZONE[0] + 256 * rng.randrange(0x3000)
            if rng.random() < 0.05:
                itt = rng.getrandbits(44) << 8
            return MAPD(device_id=dev, size=size, itt_addr=itt, valid=rng.random() < 0.9)
        if kind == 3:
            return rng.randbytes(32)
        if kind == 4:
            return UnknownCommand(rng.choice([0, 2, 6, 0x40, 0xFF]))
        commands: list[Command] = [
            MAPC(icid=icid, rdbase=rd, valid=rng.random() < 0.9),
            MAPC(icid=icid, rdbase=rd, valid=rng.random() < 0.9),
            MAPTI(device_id=dev, event_id=ev, pintid=intid, icid=icid),
            MAPTI(device_id=dev, event_id=ev, pintid=intid, icid=icid),
            MAPTI(device_id=dev, event_id=ev, pintid=intid, icid=icid),
            MAPI(device_id=dev, event_id=ev, icid=icid),
            INT(device_id=dev, event_id=ev),
            INT(device_id=dev, event_id=ev),
            CLEAR(device_id=dev, event_id=ev),
            DISCARD(device_id=dev, event_id=ev),
            INV(device_id=dev, event_id=ev),
            INVALL(icid=icid),
            MOVI(device_id=dev, event_id=ev, icid=icid),
            MOVALL(rdbase1=rd, rdbase2=rng.randrange(NUM_CPUS + 1)),
            SYNC(rdbase=rd),
            Gicv4Command(rng.choice(list(GICV4_OPCODES.values()))),
        ]
        return rng.choice(commands)

    def small_or_wild(self, small: int, bits: int) -> int:
        """Mostly a small valid-looking value, sometimes anything that fits the field."""
        return self.rng.randrange(small) if self.rng.random() < 0.85 else self.rng.getrandbits(bits)

    def repair_stall(self) -> None:
        """A driver that can fix a stalled command: overwrite it with SYNC and retry."""
        its = self.its
        if its.stalled and its.queue.base != UNBACKED:
            self.memory.write_bytes(its.queue.base + its.creadr, SYNC(rdbase=0).encode())
            self.its_call(its.write, GITS_CWRITER, its.cwriter | 1)

    def recover(self) -> None:
        """What a driver does after a stall it cannot fix: disable, reset the queue, enable."""
        its = self.its
        self.its_call(its.write, GITS_CTLR, 0, 4)
        self.its_call(its.write, GITS_CBASER, its.read(GITS_CBASER))
        self.its_call(its.write, GITS_CWRITER, 0)
        self.its_call(its.write, GITS_CTLR, 1, 4)

    def msi(self) -> None:
        rng = self.rng
        dev = self.small_or_wild(4, 32)
        ev = self.small_or_wild(8, 32)
        if rng.random() < 0.5:
            self.its_call(self.its.msi, dev, ev)
        else:
            self.its_call(self.its.write, 0x10040, ev & 0xFFFF, rng.choice([2, 4]), device_id=dev)

    def ack_or_eoi(self) -> None:
        rng = self.rng
        cpu = rng.randrange(NUM_CPUS)
        if rng.random() < 0.6:
            self.acknowledged += self.its_call(self.its.ack, cpu) != 1023
        else:
            outstanding = self.its.cpus[cpu].outstanding
            intid = (
                rng.choice(outstanding)
                if outstanding and rng.random() < 0.8
                else rng.randrange(8300)
            )
            self.its_call(self.its.eoi, cpu, intid)

    def scribble_property(self) -> None:
        address = PROP_ZONE[0] + self.rng.randrange(200)
        self.memory.write8(address, self.rng.getrandbits(8))

    # -- checks --------------------------------------------------------------------------------

    def check_registers(self) -> None:
        its = self.its
        creadr = its.read(GITS_CREADR)
        assert creadr & 0x1E == 0 and creadr >> 20 == 0
        assert (creadr & 1) == its.stalled
        if its.queue.valid:
            assert creadr & ~1 < its.queue.size
        for cpu in range(NUM_CPUS):
            deliverable = its.deliverable(cpu)
            assert set(deliverable) <= set(its.pending(cpu))

    def check_memory(self) -> None:
        for address, size in self.memory.writes:
            assert any(
                start <= address and address + size <= end for start, end in self.writable
            ), f"the ITS wrote {size} bytes at {address:#x}, outside every configured table"
        for start, content in self.guards.items():
            assert self.memory.read_bytes(start, len(content)) == content


@functools.cache
def fuzz(seed: int, steps: int) -> Fuzzer:
    fuzzer = Fuzzer(random.Random(seed))
    for _ in range(steps):
        fuzzer.step()
    fuzzer.check_memory()
    return fuzzer


@pytest.mark.parametrize("seed", range(12))
def test_fuzz_short(seed: int) -> None:
    fuzz(seed, 300)


def test_fuzz_reaches_the_interesting_states() -> None:
    """The generator is not so hostile that nothing ever works: some LPIs get delivered and
    a variety of errors is logged across a few runs."""
    codes: set[ErrorCode] = set()
    acknowledged = writes = 0
    for seed in range(12):
        fuzzer = fuzz(seed, 300)
        codes |= set(fuzzer.its.errors.codes())
        acknowledged += fuzzer.acknowledged
        writes += len(fuzzer.memory.writes)
    assert len(codes) >= 30
    assert acknowledged >= 10
    assert writes >= 500


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(1000, 1200))
def test_fuzz_long(seed: int) -> None:
    fuzz(seed, 3000)
