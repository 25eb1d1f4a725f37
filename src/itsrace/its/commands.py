"""ITS commands as typed values: 32-byte encoding, decoding, and a one-line text form.

Each physical GICv3 command is a frozen dataclass. ``encode()`` gives the 32 bytes the guest
puts in the command queue (four little-endian doublewords DW0..DW3, opcode in DW0[7:0], RES0
bits zero); :func:`decode` turns any 32 bytes back into a command, ignoring RES0 bits. The text
form is what ``str()`` prints and what :func:`parse_command` reads:

>>> cmd = MAPTI(device_id=2, event_id=20, pintid=8195, icid=3)
>>> str(cmd)
'MAPTI dev=2 ev=20 pintid=8195 icid=3'
>>> decode(cmd.encode()) == cmd == parse_command(str(cmd))
True

GICv4 commands (VMAPP, VMAPTI, ...) decode to :class:`Gicv4Command` and any other opcode to
:class:`UnknownCommand`; both keep the raw bytes, so they round-trip too. The ITS rejects them.

Field meanings (text key: attribute):
    dev: device_id (32 bits)       ev: event_id (32 bits)       icid: icid (16 bits)
    pintid: pintid (32 bits)       size: size, EventID bits - 1 (5 bits)
    itt: itt_addr, a byte address, 256-byte aligned, below 2**52
    v: valid (0 or 1; defaults to 1 in text)
    rdbase, rdbase1, rdbase2: the 36-bit RDbase field (DW[51:16]) as encoded, i.e. a
        processor number when GITS_TYPER.PTA = 0 and the redistributor address >> 16 when PTA = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

COMMAND_SIZE = 32


class CommandSyntaxError(ValueError):
    """A command's text form could not be parsed, or a field value does not fit its field."""


@dataclass(frozen=True)
class Field:
    """Where one command field lives in the 32-byte encoding.

    The value stored is ``attribute >> scale`` in ``bits`` bits at DW<dword>[shift + bits - 1:shift].
    """

    attr: str
    key: str
    dword: int
    shift: int
    bits: int
    scale: int = 0
    hex: bool = False

    @property
    def limit(self) -> int:
        return 1 << (self.bits + self.scale)


class Command:
    """Base of every command. Subclasses are frozen dataclasses listing their ``LAYOUT``."""

    NAME: ClassVar[str]
    OPCODE: ClassVar[int]
    LAYOUT: ClassVar[tuple[Field, ...]] = ()

    def __post_init__(self) -> None:
        for spec in self.LAYOUT:
            value = getattr(self, spec.attr)
            if isinstance(value, bool):
                continue
            if not isinstance(value, int) or not 0 <= value < spec.limit:
                raise CommandSyntaxError(
                    f"{self.NAME}: {spec.key}={value!r} does not fit in {spec.bits + spec.scale} bits"
                )
            if value & ((1 << spec.scale) - 1):
                raise CommandSyntaxError(
                    f"{self.NAME}: {spec.key}={value:#x} must be {1 << spec.scale}-byte aligned"
                )

    def encode(self) -> bytes:
        """The 32-byte little-endian encoding."""
        dwords = [self.OPCODE, 0, 0, 0]
        for spec in self.LAYOUT:
            dwords[spec.dword] |= (int(getattr(self, spec.attr)) >> spec.scale) << spec.shift
        return b"".join(dw.to_bytes(8, "little") for dw in dwords)

    def __str__(self) -> str:
        parts = [self.NAME]
        for spec in self.LAYOUT:
            value = int(getattr(self, spec.attr))
            parts.append(f"{spec.key}={value:#x}" if spec.hex else f"{spec.key}={value}")
        return " ".join(parts)

    @classmethod
    def from_dwords(cls, dwords: tuple[int, int, int, int]) -> Command:
        """Build the command from its doublewords, ignoring RES0 bits."""
        values: dict[str, int | bool] = {}
        for spec in cls.LAYOUT:
            raw = (dwords[spec.dword] >> spec.shift) & ((1 << spec.bits) - 1)
            values[spec.attr] = bool(raw) if spec.attr == "valid" else raw << spec.scale
        return cls(**values)


def _dev(dword: int = 0) -> Field:
    return Field("device_id", "dev", dword, 32, 32)


_EV = Field("event_id", "ev", 1, 0, 32)
_ICID = Field("icid", "icid", 2, 0, 16)
_RDBASE = Field("rdbase", "rdbase", 2, 16, 36)
_VALID = Field("valid", "v", 2, 63, 1)


@dataclass(frozen=True)
class MOVI(Command):
    """Move the interrupt of (device, event) to collection ``icid``; its pending state moves too."""

    NAME: ClassVar[str] = "MOVI"
    OPCODE: ClassVar[int] = 0x01
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV, _ICID)
    device_id: int
    event_id: int
    icid: int


@dataclass(frozen=True)
class INT(Command):
    """Make the LPI that (device, event) translates to pending, as if the device had sent the MSI."""

    NAME: ClassVar[str] = "INT"
    OPCODE: ClassVar[int] = 0x03
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV)
    device_id: int
    event_id: int


@dataclass(frozen=True)
class CLEAR(Command):
    """Clear the pending state of the LPI that (device, event) translates to."""

    NAME: ClassVar[str] = "CLEAR"
    OPCODE: ClassVar[int] = 0x04
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV)
    device_id: int
    event_id: int


@dataclass(frozen=True)
class SYNC(Command):
    """Wait for earlier commands' effects at a redistributor (a no-op here: all is synchronous)."""

    NAME: ClassVar[str] = "SYNC"
    OPCODE: ClassVar[int] = 0x05
    LAYOUT: ClassVar[tuple[Field, ...]] = (_RDBASE,)
    rdbase: int


@dataclass(frozen=True)
class MAPD(Command):
    """Map (valid) or unmap a device: its ITT address and EventID width (``size`` = bits - 1)."""

    NAME: ClassVar[str] = "MAPD"
    OPCODE: ClassVar[int] = 0x08
    LAYOUT: ClassVar[tuple[Field, ...]] = (
        _dev(),
        Field("size", "size", 1, 0, 5),
        Field("itt_addr", "itt", 2, 8, 44, scale=8, hex=True),
        _VALID,
    )
    device_id: int
    size: int
    itt_addr: int
    valid: bool = True


@dataclass(frozen=True)
class MAPC(Command):
    """Map (valid) or unmap collection ``icid`` to the redistributor named by ``rdbase``."""

    NAME: ClassVar[str] = "MAPC"
    OPCODE: ClassVar[int] = 0x09
    LAYOUT: ClassVar[tuple[Field, ...]] = (_ICID, _RDBASE, _VALID)
    icid: int
    rdbase: int
    valid: bool = True


@dataclass(frozen=True)
class MAPTI(Command):
    """Map (device, event) to LPI ``pintid`` in collection ``icid``."""

    NAME: ClassVar[str] = "MAPTI"
    OPCODE: ClassVar[int] = 0x0A
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV, Field("pintid", "pintid", 1, 32, 32), _ICID)
    device_id: int
    event_id: int
    pintid: int
    icid: int


@dataclass(frozen=True)
class MAPI(Command):
    """MAPTI with ``pintid == event_id``."""

    NAME: ClassVar[str] = "MAPI"
    OPCODE: ClassVar[int] = 0x0B
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV, _ICID)
    device_id: int
    event_id: int
    icid: int


@dataclass(frozen=True)
class INV(Command):
    """Make the redistributor re-read the property byte of the LPI (device, event) maps to."""

    NAME: ClassVar[str] = "INV"
    OPCODE: ClassVar[int] = 0x0C
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV)
    device_id: int
    event_id: int


@dataclass(frozen=True)
class INVALL(Command):
    """Make the redistributor of collection ``icid`` re-read every cached LPI property."""

    NAME: ClassVar[str] = "INVALL"
    OPCODE: ClassVar[int] = 0x0D
    LAYOUT: ClassVar[tuple[Field, ...]] = (_ICID,)
    icid: int


@dataclass(frozen=True)
class MOVALL(Command):
    """Move every pending LPI of redistributor ``rdbase1`` to redistributor ``rdbase2``."""

    NAME: ClassVar[str] = "MOVALL"
    OPCODE: ClassVar[int] = 0x0E
    LAYOUT: ClassVar[tuple[Field, ...]] = (
        Field("rdbase1", "rdbase1", 2, 16, 36),
        Field("rdbase2", "rdbase2", 3, 16, 36),
    )
    rdbase1: int
    rdbase2: int


@dataclass(frozen=True)
class DISCARD(Command):
    """Remove the mapping of (device, event) and clear its LPI's pending state."""

    NAME: ClassVar[str] = "DISCARD"
    OPCODE: ClassVar[int] = 0x0F
    LAYOUT: ClassVar[tuple[Field, ...]] = (_dev(), _EV)
    device_id: int
    event_id: int


GICV4_OPCODES: dict[str, int] = {
    "VMOVI": 0x21,
    "VMOVP": 0x22,
    "VSGI": 0x23,
    "VSYNC": 0x25,
    "VMAPP": 0x29,
    "VMAPTI": 0x2A,
    "VMAPI": 0x2B,
    "VINVALL": 0x2D,
    "INVDB": 0x2E,
}
"""GICv4 / GICv4.1 commands: recognised by name, not implemented (the ITS rejects them)."""

_GICV4_NAMES = {opcode: name for name, opcode in GICV4_OPCODES.items()}


def _canonical(opcode: int) -> bytes:
    return bytes([opcode]) + bytes(COMMAND_SIZE - 1)


@dataclass(frozen=True)
class RawCommand(Command):
    """A command kept as its raw 32 bytes (base of the GICv4 and unknown kinds)."""

    opcode: int
    raw: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.opcode, int) or not 0 <= self.opcode <= 0xFF:
            raise CommandSyntaxError(f"opcode {self.opcode!r} is not a byte")
        if not self.raw:
            object.__setattr__(self, "raw", _canonical(self.opcode))
        if len(self.raw) != COMMAND_SIZE or self.raw[0] != self.opcode:
            raise CommandSyntaxError(f"raw must be {COMMAND_SIZE} bytes starting with the opcode")

    def encode(self) -> bytes:
        return self.raw

    def _raw_suffix(self) -> str:
        return "" if self.raw == _canonical(self.opcode) else f" raw={self.raw.hex()}"


@dataclass(frozen=True)
class Gicv4Command(RawCommand):
    """A GICv4 command (VMAPP, VMAPTI, ...); the name comes from the opcode."""

    NAME: ClassVar[str] = "GICv4"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.opcode not in _GICV4_NAMES:
            raise CommandSyntaxError(f"opcode {self.opcode:#04x} is not a GICv4 command")

    @property
    def name(self) -> str:
        return _GICV4_NAMES[self.opcode]

    def __str__(self) -> str:
        return self.name + self._raw_suffix()


@dataclass(frozen=True)
class UnknownCommand(RawCommand):
    """A command with an opcode the architecture does not define."""

    NAME: ClassVar[str] = "UNKNOWN"

    def __str__(self) -> str:
        return f"UNKNOWN op={self.opcode:#04x}" + self._raw_suffix()


PHYSICAL_COMMANDS: dict[str, type[Command]] = {
    cls.NAME: cls
    for cls in (MOVI, INT, CLEAR, SYNC, MAPD, MAPC, MAPTI, MAPI, INV, INVALL, MOVALL, DISCARD)
}
"""The GICv3 physical commands by name."""

_BY_OPCODE: dict[int, type[Command]] = {cls.OPCODE: cls for cls in PHYSICAL_COMMANDS.values()}


def decode(raw: bytes) -> Command:
    """Decode 32 bytes into a command. Never fails on content; RES0 bits are ignored.

    Raises ``ValueError`` only if ``raw`` is not exactly 32 bytes long.
    """
    if len(raw) != COMMAND_SIZE:
        raise ValueError(f"a command is {COMMAND_SIZE} bytes, got {len(raw)}")
    opcode = raw[0]
    cls = _BY_OPCODE.get(opcode)
    if cls is not None:
        dwords = (
            int.from_bytes(raw[0:8], "little"),
            int.from_bytes(raw[8:16], "little"),
            int.from_bytes(raw[16:24], "little"),
            int.from_bytes(raw[24:32], "little"),
        )
        return cls.from_dwords(dwords)
    if opcode in _GICV4_NAMES:
        return Gicv4Command(opcode, bytes(raw))
    return UnknownCommand(opcode, bytes(raw))


def parse_command(text: str) -> Command:
    """Parse the text form printed by ``str(command)``.

    ``NAME key=value ...`` with values in any Python integer notation (``20``, ``0x14``).
    Every field is required except ``v``, which defaults to 1. Also accepted:
    ``VMAPP [raw=HEX]`` for GICv4 commands and ``UNKNOWN op=N [raw=HEX]``.

    Raises :class:`CommandSyntaxError` with a one-line message.
    """
    words = text.split()
    if not words:
        raise CommandSyntaxError("empty command")
    name = words[0].upper()
    args = _parse_assignments(words[1:])
    if name in PHYSICAL_COMMANDS:
        return _build_physical(PHYSICAL_COMMANDS[name], args)
    if name in GICV4_OPCODES:
        return Gicv4Command(GICV4_OPCODES[name], _take_raw(name, args))
    if name == "UNKNOWN":
        if "op" not in args:
            raise CommandSyntaxError("UNKNOWN needs op=")
        opcode = _as_int("op", args.pop("op"))
        if opcode in _BY_OPCODE or opcode in _GICV4_NAMES:
            raise CommandSyntaxError(f"opcode {opcode:#04x} is not unknown; use its name")
        return UnknownCommand(opcode, _take_raw(name, args))
    raise CommandSyntaxError(f"unknown command {words[0]!r}")


def _build_physical(cls: type[Command], args: dict[str, str]) -> Command:
    values: dict[str, int | bool] = {}
    for spec in cls.LAYOUT:
        if spec.key in args:
            value = _as_int(spec.key, args.pop(spec.key))
        elif spec.key == "v":
            value = 1
        else:
            raise CommandSyntaxError(f"{cls.NAME} needs {spec.key}=")
        if spec.attr == "valid":
            if value not in (0, 1):
                raise CommandSyntaxError(f"{cls.NAME}: v must be 0 or 1, got {value}")
            values[spec.attr] = bool(value)
        else:
            values[spec.attr] = value
    if args:
        raise CommandSyntaxError(f"{cls.NAME} has no field {next(iter(args))!r}")
    return cls(**values)


def _take_raw(name: str, args: dict[str, str]) -> bytes:
    text = args.pop("raw", "")
    if args:
        raise CommandSyntaxError(f"{name} has no field {next(iter(args))!r}")
    if not text:
        return b""
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise CommandSyntaxError(f"{name}: raw={text!r} is not hex") from None


def _parse_assignments(words: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key or not value:
            raise CommandSyntaxError(f"expected key=value, got {word!r}")
        key = key.lower()
        if key in args:
            raise CommandSyntaxError(f"{key}= given twice")
        args[key] = value
    return args


def _as_int(key: str, text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise CommandSyntaxError(f"{key}={text!r} is not an integer") from None
