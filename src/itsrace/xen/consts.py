"""Sizes and encodings of the Xen model, computed from a scenario.

The values below are **placeholders** (one vCPU, one LR, ...) so that the model modules import
and type-check; :func:`make_consts` computes the real ones from a scenario, and
:func:`itsrace.hyp.lang.specialise` gives the model functions those values instead.

Encodings used throughout the model:

* vLPIs are ``V = 1..NV`` (``0`` is ``INVALID_LPI``); the scenario's ``lpi=i`` is ``V = i + 1``
  and stands for vINTID ``8192 + i``.
* ``pending_irq`` slots are ``q = dev * NE + ev``: ``its_device->pend_irqs[ev]``. There is one
  host LPI per event, numbered like the slot.
* A *pointer* to a ``pending_irq`` is ``r = 1 + 2*q + gen`` (``0`` is NULL): the slot plus the
  generation the pointer was taken at. Dereferencing ``r`` checks that slot ``q`` is allocated
  (else ``use-after-free``) and still has generation ``gen`` (else ``use-after-reinit``).
* ``NC`` means "no vCPU" wherever a vCPU is stored (``INVALID_VCPU_ID``, an unmapped
  collection), ``NL`` means ``GIC_INVALID_LR``, ``NCOL`` means ``UNMAPPED_COLLECTION``.
"""

from __future__ import annotations

from typing import Any

from itsrace.hyp.scenario import (
    CLEAR,
    DISCARD,
    INT,
    INV,
    INVALL,
    MAPC,
    MAPD,
    MAPTI,
    MOVI,
    NOP,
    OP_NAMES,
    PROP,
    SYNC,
    Command,
    Scenario,
)

# -- placeholders (see the module docstring) ---------------------------------------------------------
NC = 1  # vCPUs
NL = 1  # list registers per vCPU
ND = 1  # devices
NE = 1  # events per device
NQ = 1  # pending_irq slots = host LPIs
NV = 1  # vLPIs
NCOL = 1  # collections
NPRIO = 1  # distinct priorities
NPC = 2  # pCPUs
NPTR = 3  # pointer values: 0 (NULL) .. 2*NQ
VCPU_PCPU: tuple[int, ...] = (1,)  # pCPU of each vCPU
CUR: tuple[int, ...] = (1, 0)  # per pCPU: the vCPU pinned there, NC if none (idle)
C0 = 1  # the vCPU on pCPU0 (where host LPIs are handled), NC if none
ACTIVE_STATE = True  # the guest's acknowledge makes an LR active
NEST = 1  # host LPI handlers that may be active at once on pCPU0 (2: a second one preempts the first)
MAX_MSI = 1
MAX_EXITS = 1
TRIG_MAX = 1  # saturation of the ghost trigger counter
# commands: table of every command the scenario can issue, indexed by command id; batches
# (what one GITS_CWRITER write hands over) are tuples of command ids
NCMD = 1
CMD_OP: tuple[int, ...] = (NOP,)
CMD_A: tuple[int, ...] = (0,)
CMD_B: tuple[int, ...] = (0,)
CMD_C: tuple[int, ...] = (0,)
CMD_D: tuple[int, ...] = (0,)
NBATCH = 1
BATCH: tuple[tuple[int, ...], ...] = ((0,),)  # batch id -> command ids
BATCH_LEN: tuple[int, ...] = (1,)
MAX_BATCH = 1
SCRIPT: tuple[tuple[int, ...], ...] = ((),)  # per vCPU: batch ids, in order
SCRIPT_LEN: tuple[int, ...] = (0,)
MAX_SCRIPT = 0
UNIV: tuple[int, ...] = ()  # batch ids of the universe
UNIV_VCPU: tuple[bool, ...] = (False,)
MAX_CMDS = 0  # universe: commands in total
NACT = 2  # vCPU exit kinds: 0 interrupt exit, 1 next scripted batch, 2+u universe batch u
OPS_USED: frozenset[int] = frozenset()
# Dom0's rewrites of its ITS tables in guest memory ([guest] rewrites): kind 0 ITTE (dev, ev, col,
# vLPI V or 0), 1 DTE (dev, valid), 2 CTE (col, vcpu, valid); at least one entry (NRW counts them)
NRW = 0
RW_KIND: tuple[int, ...] = (0,)
RW_A: tuple[int, ...] = (0,)
RW_B: tuple[int, ...] = (0,)
RW_C: tuple[int, ...] = (0,)
RW_D: tuple[int, ...] = (0,)
LR_INVALID, LR_PENDING, LR_ACTIVE, LR_PA = 0, 1, 2, 3

__all__ = [
    "ACTIVE_STATE", "BATCH", "BATCH_LEN", "C0", "CLEAR", "CMD_A", "CMD_B", "CMD_C", "CMD_D", "CMD_OP", "CUR", "DISCARD",
    "INT", "INV", "INVALL", "LR_ACTIVE", "LR_INVALID", "LR_PA", "LR_PENDING", "MAPC", "MAPD", "NEST", "NRW",
    "RW_A", "RW_B", "RW_C", "RW_D", "RW_KIND",
    "MAPTI", "MAX_BATCH", "MAX_CMDS", "MAX_EXITS", "MAX_MSI", "MAX_SCRIPT", "MOVI", "NACT", "NBATCH", "NC", "NCMD", "NCOL",
    "ND", "NE", "NL", "NOP", "NPC", "NPRIO", "NPTR", "NQ", "NV", "OPS_USED", "PROP", "SCRIPT",
    "SCRIPT_LEN", "SYNC", "TRIG_MAX", "UNIV", "UNIV_VCPU", "VCPU_PCPU",
]

def make_consts(scenario: Scenario) -> dict[str, Any]:
    """The real values of every name above for ``scenario``."""
    t = scenario.topology
    nc, nl, nq = t.vcpus, t.lrs, t.slots
    pcpus = max(t.pcpus, 1)
    cur = tuple(t.vcpu_pcpus.index(p) if p in t.vcpu_pcpus else nc for p in range(pcpus))
    # one table of commands: the scripts' then the universe's
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
    K: dict[str, Any] = dict(
        NC=nc, NL=nl, ND=t.devices, NE=t.events, NQ=nq, NV=t.vlpis, NCOL=t.collections, NPRIO=t.priorities,
        NPC=pcpus, NPTR=2 * nq + 1, VCPU_PCPU=tuple(t.vcpu_pcpus), CUR=cur, C0=cur[0],
        ACTIVE_STATE=t.lpi_active_state, NEST=t.lpi_nesting, MAX_MSI=max(scenario.msis + (0,)), MAX_EXITS=scenario.exits,
        TRIG_MAX=max(1, min(4, sum(scenario.msis) + len(scenario.setup)
                             + sum(1 for c in _all_cmds(scenario) if c.op == INT))),
        NCMD=len(table), CMD_OP=tuple(e[0] for e in enc), CMD_A=tuple(e[1] for e in enc),
        CMD_B=tuple(e[2] for e in enc), CMD_C=tuple(e[3] for e in enc), CMD_D=tuple(e[4] for e in enc),
        NBATCH=len(batches), BATCH=tuple(batches), BATCH_LEN=tuple(len(b) for b in batches),
        MAX_BATCH=max(len(b) for b in batches),
        SCRIPT=scripts, SCRIPT_LEN=tuple(len(s) for s in scripts), MAX_SCRIPT=max((len(s) for s in scripts), default=0),
        UNIV=univ, UNIV_VCPU=tuple(bool(univ) and v in scenario.universe_vcpus for v in range(nc)),
        MAX_CMDS=scenario.max_commands if univ else 0,
        NACT=2 + len(univ), OPS_USED=ops,
    )
    K.update(_rewrites(scenario))
    return K


def _rewrites(scenario: Scenario) -> dict[str, Any]:
    """``[guest] rewrites`` as constant tables (padded to one entry when there are none)."""
    kinds = {"ITTE": 0, "DTE": 1, "CTE": 2}
    rows: list[tuple[int, ...]] = []
    for w in scenario.rewrites:
        if w.kind == "ITTE":  # vLPI V = lpi + 1 (0: INVALID_LPI)
            row = [0, w.arg("dev"), w.arg("ev"), w.arg("col"), w.arg("lpi") + 1]
        else:
            row = [kinds[w.kind], *w.args]
        rows.append(tuple(row + [0] * (5 - len(row))))
    padded = rows or [(0, 0, 0, 0, 0)]
    return dict(NRW=len(rows), RW_KIND=tuple(r[0] for r in padded), RW_A=tuple(r[1] for r in padded),
                RW_B=tuple(r[2] for r in padded), RW_C=tuple(r[3] for r in padded), RW_D=tuple(r[4] for r in padded))


def _all_cmds(scenario: Scenario) -> list[Command]:
    return scenario.commands()


def op_name(op: int) -> str:
    return OP_NAMES.get(op, "NOP")
