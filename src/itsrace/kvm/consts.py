"""Sizes and encodings of the KVM model, computed from a scenario.

The values below are **placeholders** so that the model modules import and type-check;
:func:`make_consts` computes the real ones from a scenario and :func:`itsrace.hyp.lang.specialise`
gives the model functions those values.

Encodings used throughout the model:

* INTIDs are ``V = 1..NV``; the scenario's ``lpi=i`` is ``V = i + 1`` (INTID ``8192 + i``).
* ``struct vgic_irq`` objects live in slots ``o = (V - 1) * NPOOL + i``: each INTID has a pool of
  ``NPOOL`` slots, because an INTID can have two objects at once (a dying one still in
  ``lpi_xa`` and the one ``vgic_add_lpi`` allocates to replace it). A slot's INTID is therefore a
  constant (:func:`itsrace.kvm.irq.OINTID`). A *pointer* to an object is ``o + 1`` (``0`` is NULL);
  every step that dereferences one checks that the slot is still allocated (``use-after-free``).
  When a pool has no free slot, ``kzalloc`` fails (``-ENOMEM``), as it may in the kernel.
* Events are ``q = dev * NE + ev`` (``its_ite`` of that DeviceID/EventID, and the key of its
  translation-cache entry).
* ``NC`` means "no vCPU" wherever a vCPU is stored (a NULL ``target_vcpu``, an unmapped
  collection); ``NCOL`` means a NULL ``ite->collection``.
"""

from __future__ import annotations

from typing import Any

from itsrace.hyp.scenario import (
    CLEAR,
    DISCARD,
    GICR_CTLR,
    GITS_CTLR,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPTI,
    MOVALL,
    MOVI,
    NOP,
    PROP,
    REG_WRITES,
    SYNC,
    Command,
    Scenario,
)

# -- placeholders (see the module docstring) ---------------------------------------------------------
NC = 1  # vCPUs
NL = 1  # list registers per vCPU
ND = 1  # devices
NE = 1  # events per device
NQ = 1  # events over all devices (ITEs, translation-cache keys, MSI sources)
NV = 1  # INTIDs
NCOL = 1  # collections
NPRIO = 1  # distinct priorities
NPOOL = 2  # vgic_irq slots per INTID
NO = 2  # vgic_irq slots
RMAX = 8  # largest refcount the scenario can reach
VCPU_PCPU: tuple[int, ...] = (1,)
ACTIVE_STATE = True  # the guest's acknowledge makes an LR active
MAX_MSI = 1
MSIS: tuple[int, ...] = (0,)  # per event: MSIs its device may send (source=lpi and source=thread)
MAX_EXITS = 1
TRIG_MAX = 1  # saturation of the ghost trigger counter
NCMD = 1
CMD_OP: tuple[int, ...] = (NOP,)
CMD_A: tuple[int, ...] = (0,)
CMD_B: tuple[int, ...] = (0,)
CMD_C: tuple[int, ...] = (0,)
CMD_D: tuple[int, ...] = (0,)
NBATCH = 1
BATCH: tuple[tuple[int, ...], ...] = ((0,),)
BATCH_LEN: tuple[int, ...] = (1,)
MAX_BATCH = 1
SCRIPT: tuple[tuple[int, ...], ...] = ((),)
SCRIPT_LEN: tuple[int, ...] = (0,)
MAX_SCRIPT = 0
UNIV: tuple[int, ...] = ()
UNIV_VCPU: tuple[bool, ...] = (False,)
MAX_CMDS = 0
NACT = 2  # vCPU exit kinds: 0 interrupt exit, 1 next scripted batch, 2+u universe batch u
OPS_USED: frozenset[int] = frozenset()
LR_INVALID, LR_PENDING, LR_ACTIVE, LR_PA = 0, 1, 2, 3

__all__ = [
    "ACTIVE_STATE", "BATCH", "BATCH_LEN", "CLEAR", "CMD_A", "CMD_B", "CMD_C", "CMD_D", "CMD_OP", "DISCARD",
    "GICR_CTLR", "GITS_CTLR", "INT",
    "INV", "INVALL", "LR_ACTIVE", "LR_INVALID", "LR_PA", "LR_PENDING", "MAPC", "MAPD", "MAPTI", "MAX_BATCH",
    "MAX_CMDS", "MAX_EXITS", "MAX_MSI", "MAX_SCRIPT", "MOVALL", "MOVI", "MSIS", "NACT", "NBATCH", "NC", "NCMD", "NCOL", "ND",
    "NE", "NL", "NO", "NOP", "NPOOL", "NPRIO", "NQ", "NV", "OPS_USED", "PROP", "REG_WRITES", "RMAX", "SCRIPT", "SCRIPT_LEN",
    "SYNC", "TRIG_MAX", "UNIV", "UNIV_VCPU", "VCPU_PCPU",
]


def make_consts(scenario: Scenario) -> dict[str, Any]:
    """The real values of every name above for ``scenario``."""
    t = scenario.topology
    nc, nq = t.vcpus, t.slots
    table: list[Command] = []
    ids: dict[Command, int] = {}
    batches: list[tuple[int, ...]] = []
    bids: dict[tuple[int, ...], int] = {}

    def cid(cmd: Command) -> int:
        if cmd not in ids:
            ids[cmd] = len(table)
            table.append(cmd)
        return ids[cmd]

    def bid(batch: tuple[Command, ...]) -> int:
        key = tuple(cid(c) for c in batch)
        if key not in bids:
            bids[key] = len(batches)
            batches.append(key)
        return bids[key]

    scripts = tuple(tuple(bid(b) for b in scenario.script(v)) for v in range(nc))
    univ = tuple(bid(b) for b in scenario.universe)
    if not table:
        table.append(Command(SYNC))
    if not batches:
        batches.append((0,))
    enc = [c.encode() for c in table]
    ops = frozenset(c.op for c in scenario.commands())
    npool = 2
    # KVM injects a device's MSI (source=lpi: VFIO's host interrupt handler signals the irqfd) and a
    # VMM's or vhost's (source=thread: KVM_SIGNAL_MSI, irqfd) through the same kvm_set_msi (see msi.py)
    msis = tuple(a + b for a, b in zip(scenario.msis, scenario.thread_msis or (0,) * nq, strict=True))
    return dict(
        NC=nc, NL=t.lrs, ND=t.devices, NE=t.events, NQ=nq, NV=t.vlpis, NCOL=t.collections, NPRIO=t.priorities,
        NPOOL=npool, NO=npool * t.vlpis, RMAX=3 * nq + 2 * nc + 2, VCPU_PCPU=tuple(t.vcpu_pcpus),
        ACTIVE_STATE=t.lpi_active_state, MAX_MSI=max(msis + (0,)), MSIS=msis,
        MAX_EXITS=scenario.exits,
        TRIG_MAX=max(1, min(4, sum(msis) + len(scenario.setup)
                             + sum(1 for c in scenario.commands() if c.op == INT))),
        NCMD=len(table), CMD_OP=tuple(e[0] for e in enc), CMD_A=tuple(e[1] for e in enc),
        CMD_B=tuple(e[2] for e in enc), CMD_C=tuple(e[3] for e in enc), CMD_D=tuple(e[4] for e in enc),
        NBATCH=len(batches), BATCH=tuple(batches), BATCH_LEN=tuple(len(b) for b in batches),
        MAX_BATCH=max(len(b) for b in batches),
        SCRIPT=scripts, SCRIPT_LEN=tuple(len(s) for s in scripts), MAX_SCRIPT=max((len(s) for s in scripts), default=0),
        UNIV=univ, UNIV_VCPU=tuple(bool(univ) and v in scenario.universe_vcpus for v in range(nc)),
        MAX_CMDS=scenario.max_commands if univ else 0,
        NACT=2 + len(univ), OPS_USED=ops,
    )


_ = (CLEAR, DISCARD, GICR_CTLR, GITS_CTLR, INV, INVALL, MAPC, MAPD, MAPTI, MOVALL, MOVI, PROP, REG_WRITES)  # re-exported for the model modules
