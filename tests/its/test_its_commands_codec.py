"""Command encoding, decoding and the text form, against hand-built doublewords."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    PHYSICAL_COMMANDS,
    SYNC,
    Command,
    CommandSyntaxError,
    Gicv4Command,
    UnknownCommand,
    decode,
    parse_command,
)


def dwords(dw0: int, dw1: int = 0, dw2: int = 0, dw3: int = 0) -> bytes:
    return b"".join(dw.to_bytes(8, "little") for dw in (dw0, dw1, dw2, dw3))


# (command, the architected encoding built field by field from the GICv3 command layouts)
VECTORS: list[tuple[Command, bytes]] = [
    (MOVI(device_id=0xDEAD, event_id=0x1234, icid=0x77), dwords(0x01 | 0xDEAD << 32, 0x1234, 0x77)),
    (INT(device_id=5, event_id=6), dwords(0x03 | 5 << 32, 6)),
    (CLEAR(device_id=0xFFFFFFFF, event_id=0xFFFFFFFF), dwords(0x04 | 0xFFFFFFFF << 32, 0xFFFFFFFF)),
    (SYNC(rdbase=3), dwords(0x05, 0, 3 << 16)),
    (
        MAPD(device_id=9, size=4, itt_addr=0x12_3456_7800, valid=True),
        dwords(0x08 | 9 << 32, 4, (0x12_3456_7800 >> 8) << 8 | 1 << 63),
    ),
    (MAPD(device_id=9, size=0, itt_addr=0, valid=False), dwords(0x08 | 9 << 32)),
    (MAPC(icid=0x1FF, rdbase=1, valid=True), dwords(0x09, 0, 0x1FF | 1 << 16 | 1 << 63)),
    (
        MAPTI(device_id=2, event_id=20, pintid=8195, icid=3),
        dwords(0x0A | 2 << 32, 20 | 8195 << 32, 3),
    ),
    (MAPI(device_id=2, event_id=8200, icid=1), dwords(0x0B | 2 << 32, 8200, 1)),
    (INV(device_id=7, event_id=1), dwords(0x0C | 7 << 32, 1)),
    (INVALL(icid=0xFFFF), dwords(0x0D, 0, 0xFFFF)),
    (MOVALL(rdbase1=1, rdbase2=0xF_FFFF_FFFF), dwords(0x0E, 0, 1 << 16, 0xF_FFFF_FFFF << 16)),
    (DISCARD(device_id=1, event_id=31), dwords(0x0F | 1 << 32, 31)),
]


@pytest.mark.parametrize(("command", "raw"), VECTORS, ids=lambda v: str(v)[:30])
def test_encode_matches_the_architected_layout(command: Command, raw: bytes) -> None:
    assert command.encode() == raw
    assert decode(raw) == command


def test_every_physical_command_has_a_vector() -> None:
    assert {type(command) for command, _ in VECTORS} == set(PHYSICAL_COMMANDS.values())


def test_decode_ignores_res0_bits() -> None:
    noisy = bytearray(MAPTI(device_id=2, event_id=20, pintid=8195, icid=3).encode())
    noisy[1] = 0xFF  # DW0[15:8] is RES0
    noisy[18] = 0xAA  # DW2[23:16] is RES0 for MAPTI
    noisy[24:32] = b"\xff" * 8  # DW3 is RES0
    assert decode(bytes(noisy)) == MAPTI(device_id=2, event_id=20, pintid=8195, icid=3)


def test_decode_mapd_itt_uses_bits_51_to_8() -> None:
    raw = dwords(0x08, 0xFF, 0xFFFF_FFFF_FFFF_FFFF)
    assert decode(raw) == MAPD(device_id=0, size=0x1F, itt_addr=((1 << 52) - 1) & ~0xFF, valid=True)


@pytest.mark.parametrize(("name", "opcode"), sorted(GICV4_OPCODES.items()))
def test_gicv4_commands_are_recognised_by_name(name: str, opcode: int) -> None:
    command = decode(bytes([opcode]) + bytes(31))
    assert isinstance(command, Gicv4Command)
    assert command.name == name and str(command) == name
    assert parse_command(name.lower()) == command


def test_unknown_opcode_decodes_to_unknown_command() -> None:
    raw = bytes([0x7F]) + bytes(30) + b"\x01"
    command = decode(raw)
    assert isinstance(command, UnknownCommand)
    assert command.encode() == raw
    assert str(command) == f"UNKNOWN op=0x7f raw={raw.hex()}"
    assert parse_command(str(command)) == command
    assert str(UnknownCommand(0x00)) == "UNKNOWN op=0x00"


@pytest.mark.parametrize(
    ("command", "text"),
    [
        (
            MAPTI(device_id=2, event_id=20, pintid=8195, icid=3),
            "MAPTI dev=2 ev=20 pintid=8195 icid=3",
        ),
        (
            MAPD(device_id=1, size=4, itt_addr=0x40000, valid=True),
            "MAPD dev=1 size=4 itt=0x40000 v=1",
        ),
        (MAPC(icid=3, rdbase=1, valid=False), "MAPC icid=3 rdbase=1 v=0"),
        (MOVALL(rdbase1=0, rdbase2=1), "MOVALL rdbase1=0 rdbase2=1"),
        (SYNC(rdbase=0), "SYNC rdbase=0"),
    ],
)
def test_text_form(command: Command, text: str) -> None:
    assert str(command) == text
    assert parse_command(text) == command


def test_parse_accepts_any_integer_notation_case_and_default_valid() -> None:
    assert parse_command("mapd DEV=0x1 size=0b100 itt=0x40000") == MAPD(1, 4, 0x40000, True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty command"),
        ("MAPX dev=1", "unknown command 'MAPX'"),
        ("MAPTI dev=1 ev=2 icid=0", "MAPTI needs pintid="),
        ("INT dev=1 ev=2 foo=3", "INT has no field 'foo'"),
        ("INT dev=1 dev=2 ev=0", "dev= given twice"),
        ("INT dev=one ev=0", "dev='one' is not an integer"),
        ("INT dev=1 ev", "expected key=value"),
        ("INT dev=4294967296 ev=0", "does not fit in 32 bits"),
        ("MAPD dev=1 size=32 itt=0", "does not fit in 5 bits"),
        ("MAPD dev=1 size=1 itt=0x101", "must be 256-byte aligned"),
        ("MAPC icid=1 rdbase=0 v=2", "v must be 0 or 1"),
        ("VMAPP raw=zz", "not hex"),
        ("VMAPP raw=00", "32 bytes starting with the opcode"),
        ("UNKNOWN", "UNKNOWN needs op="),
        ("UNKNOWN op=0x08", "use its name"),
    ],
)
def test_parse_errors_are_one_line_messages(text: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError, match=message):
        parse_command(text)


def test_constructor_validates_field_widths() -> None:
    with pytest.raises(CommandSyntaxError):
        INVALL(icid=1 << 16)
    with pytest.raises(CommandSyntaxError):
        MOVI(device_id=-1, event_id=0, icid=0)


def test_decode_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        decode(bytes(31))


# -- property-based round trips ---------------------------------------------------------------


def command_strategy(cls: type[Command]) -> st.SearchStrategy[Command]:
    fields: dict[str, st.SearchStrategy[object]] = {}
    for spec in cls.LAYOUT:
        if spec.attr == "valid":
            fields[spec.attr] = st.booleans()
        else:
            low_bits_dropped = 1 << spec.scale
            fields[spec.attr] = st.builds(
                int.__mul__, st.integers(0, (1 << spec.bits) - 1), st.just(low_bits_dropped)
            )
    return st.builds(cls, **fields)


ANY_COMMAND = st.one_of(
    *(command_strategy(cls) for cls in PHYSICAL_COMMANDS.values()),
    st.builds(
        lambda opcode, tail: Gicv4Command(opcode, bytes([opcode]) + tail),
        st.sampled_from(sorted(GICV4_OPCODES.values())),
        st.binary(min_size=31, max_size=31),
    ),
    st.builds(
        lambda opcode, tail: UnknownCommand(opcode, bytes([opcode]) + tail),
        st.integers(0, 255).filter(
            lambda op: (
                op
                not in {c.OPCODE for c in PHYSICAL_COMMANDS.values()} | set(GICV4_OPCODES.values())
            )
        ),
        st.binary(min_size=31, max_size=31),
    ),
)


@pytest.mark.parametrize("cls", list(PHYSICAL_COMMANDS.values()), ids=lambda c: c.NAME)
@given(data=st.data())
def test_round_trip_each_command_type(cls: type[Command], data: st.DataObject) -> None:
    command = data.draw(command_strategy(cls))
    raw = command.encode()
    assert len(raw) == 32 and raw[0] == cls.OPCODE
    assert decode(raw) == command
    assert parse_command(str(command)) == command


@given(ANY_COMMAND)
def test_round_trip_any_command(command: Command) -> None:
    assert decode(command.encode()) == command
    assert parse_command(str(command)) == command


@given(st.binary(min_size=32, max_size=32))
def test_decode_accepts_any_32_bytes_and_is_stable(raw: bytes) -> None:
    command = decode(raw)
    assert decode(command.encode()) == command
    assert parse_command(str(command)) == command
