"""The ITS configuration: what GITS_TYPER advertises, and how command errors are handled."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LPI_BASE = 8192
"""The first LPI INTID."""
SPURIOUS = 1023
"""What a CPU interface acknowledge returns when nothing can be taken."""


class ErrorPolicy(StrEnum):
    """What the ITS does when a command fails a check (a CONSTRAINED UNPREDICTABLE choice).

    ``IGNORE``: log the error, skip the command, carry on (Xen's and KVM's choice).
    ``STALL``: log the error, set GITS_CREADR.Stalled and leave CREADR on the failing command
    until the guest writes GITS_CWRITER.Retry = 1 (GIC-600 hardware's choice).
    """

    IGNORE = "ignore"
    STALL = "stall"


@dataclass(frozen=True)
class ItsConfig:
    """Static parameters of one ITS and the redistributors behind it.

    Bit counts are the number of bits, not the "minus one" encodings of GITS_TYPER:
    ``devbits=16`` makes GITS_TYPER.Devbits read 15.

    Attributes:
        num_cpus: number of PEs, one redistributor and one CPU interface each.
        devbits: DeviceID bits (GITS_TYPER.Devbits + 1), 1..32.
        idbits: EventID bits (GITS_TYPER.IDbits + 1), 1..32.
        intid_bits: INTID bits of the LPI space (GICD_TYPER.IDbits + 1), 14..24. MAPTI rejects a
            pINTID at or above ``2**intid_bits``; GICR_PROPBASER.IDbits can only narrow it.
        cidbits: collection ID bits (GITS_TYPER.CIDbits + 1, with CIL = 1), 1..16.
        ite_size: bytes per interrupt translation entry (GITS_TYPER.ITT_entry_size + 1), 8..16.
        pta: GITS_TYPER.PTA. False: RDbase is a processor number. True: RDbase is the physical
            address of a redistributor, ``gicr_base + cpu * gicr_stride``.
        hcc: GITS_TYPER.HCC, collections held in the ITS itself (ICIDs below ``hcc`` need no
            collection table entry in memory).
        error_policy: the initial :class:`ErrorPolicy`; ``Its.policy`` may change it later.
        gicr_base: physical address of CPU 0's redistributor (used only when ``pta``).
        gicr_stride: distance between redistributors (two 64 KiB frames for GICv3).
    """

    num_cpus: int = 2
    devbits: int = 16
    idbits: int = 16
    intid_bits: int = 16
    cidbits: int = 16
    ite_size: int = 8
    pta: bool = False
    hcc: int = 0
    error_policy: ErrorPolicy = ErrorPolicy.IGNORE
    gicr_base: int = 0x080A_0000
    gicr_stride: int = 0x2_0000

    def __post_init__(self) -> None:
        _check_range("num_cpus", self.num_cpus, 1, 1 << 16)
        _check_range("devbits", self.devbits, 1, 32)
        _check_range("idbits", self.idbits, 1, 32)
        _check_range("intid_bits", self.intid_bits, 14, 24)
        _check_range("cidbits", self.cidbits, 1, 16)
        _check_range("ite_size", self.ite_size, 8, 16)
        _check_range("hcc", self.hcc, 0, 255)
        if self.gicr_base % (1 << 16) or self.gicr_stride % (1 << 16) or self.gicr_stride <= 0:
            raise ValueError("gicr_base and gicr_stride must be multiples of 64 KiB")
        # Accept plain strings ("stall") so configs can come straight from text.
        object.__setattr__(self, "error_policy", ErrorPolicy(self.error_policy))

    @property
    def max_intid(self) -> int:
        """One past the largest LPI INTID the ITS accepts in MAPTI/MAPI."""
        return 1 << self.intid_bits

    def redistributor_address(self, cpu: int) -> int:
        """The physical address that names ``cpu``'s redistributor when ``pta`` is set."""
        return self.gicr_base + cpu * self.gicr_stride


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
