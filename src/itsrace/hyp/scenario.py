"""Scenarios: what the guest, the devices and the vCPUs may do, read from TOML files.

A scenario bounds the behaviour the checker explores. It fixes the topology (vCPUs and the
pCPU each runs on, list registers per vCPU, devices, events, vLPIs, collections), a *setup*
(commands already executed, and vLPIs already sitting in a list register, when the checked run
starts), what each vCPU's guest does (a fixed script of ITS commands, or up to K commands chosen
from a universe: the ``guest`` scenario), the MSIs devices may send (each at any moment), and how
many spontaneous guest exits each vCPU may take besides the exits that kicks and commands force.

The named scenarios ship as TOML files in ``itsrace/hyp/scenarios/`` and are read by the same
loader as a user's file, so ``itsrace check --scenario my.toml`` accepts anything they do. The
format, with every key (only ``name`` is required)::

    name = "discard-vs-lpi"
    summary = "one line for the verdict table and 'itsrace list scenarios'"
    description = '''what interleaving the scenario is about'''
    wide = false         # true: a wide universe, run only when named or with --wide

    [topology]
    vcpus = 1            # 1..2
    vcpu_pcpus = [1]     # pCPU of each vCPU; host LPIs are always handled on pCPU0 (Xen 4.10)
    lrs = 1              # list registers per vCPU, 1..3
    devices = 1          # 1..2
    events = 1           # events per device, 1..2 (one host LPI per event)
    vlpis = 1            # vINTIDs 8192.. usable by MAPTI, 1..3 (written lpi=0, lpi=1, ...)
    collections = 1      # 1..2
    priorities = 1       # distinct LPI priority values, 1..2
    lpi_active_state = true   # the guest's acknowledge makes an LR active (false: straight to invalid)
    lpi_nesting = 1      # host LPI handlers that may be active at once on pCPU0, 1..2 (2: a second
                         # LPI may preempt the first handler, as Xen 4.10's gic_interrupt allows)

    [setup]              # executed in order, sequentially, before the checked run starts
    steps = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0",
             "LR vcpu=0 lpi=0 state=pending"]

    [guest]
    vcpu0 = ["DISCARD dev=0 ev=0"]       # a fixed script per vCPU, issued in order; one entry
                                         # is one GITS_CWRITER write: "A; B" queues two commands
    # universe = ["DISCARD dev=0 ev=0", "MAPTI dev=0 ev=0 lpi=0 col=0", ...]
    # max_commands = 2                   # with a universe: up to this many commands in total
    # universe_vcpus = [0]               # which vCPUs issue universe commands
    # rewrites = ["ITTE dev=0 ev=1 col=0"]  # Dom0 writes its ITS tables in guest memory behind
                                         # the ITS: each entry may happen once, at any moment

    [devices]
    msis = ["dev=0 ev=0"]                # each entry: one MSI that may arrive at any time
    # msis = ["dev=0 ev=0 source=thread"]  # source=lpi (default): a device's MSI, which reaches
                                         # the hypervisor as a physical LPI; source=thread: an
                                         # MSI a thread that is not a vCPU injects (KVM_SIGNAL_MSI
                                         # or irqfd from the VMM or vhost)

    [bounds]
    exits = 1                            # spontaneous exits per vCPU

Commands (guest ITS commands, plus ``PROP``, a guest write to the LPI property table):
``MAPD dev=D [valid=1]``, ``MAPC col=C vcpu=V [valid=1]``, ``MAPTI dev=D ev=E lpi=L col=C``,
``DISCARD dev=D ev=E``, ``INT dev=D ev=E``, ``MOVI dev=D ev=E col=C``, ``CLEAR dev=D ev=E``,
``INV dev=D ev=E``, ``INVALL col=C``, ``SYNC``, ``MOVALL from=V to=W`` (every LPI targeting
vCPU V's redistributor moves to W's), ``PROP lpi=L [enable=1] [prio=0]``.
Setup steps may also be ``LR vcpu=V lpi=L [state=pending|active]``: the vLPI was triggered and
is in a list register of that vCPU (which must be its collection's target).

Table rewrites (``[guest] rewrites``): the guest writes the tables the ITS keeps in its memory
directly, not through a command (the architecture makes that UNPREDICTABLE for the guest; Xen
re-reads these tables on every command): ``ITTE dev=D ev=E col=C [lpi=L]`` (an interrupt
translation entry; without ``lpi`` its vLPI is 0, INVALID_LPI: ``col=0`` alone is a zeroed
entry), ``DTE dev=D [valid=1]`` (a device table entry), ``CTE col=C vcpu=V [valid=1]`` (a
collection table entry).
Guest register writes (guest actions, not ITS commands; each is one MMIO write, so it stands
alone in an entry, and it cannot be a setup step): ``GICR_CTLR vcpu=V enable_lpis=0|1`` (the
guest writes GICR_CTLR.EnableLPIs of vCPU V's redistributor; any vCPU may write any
redistributor's registers) and ``GITS_CTLR enabled=0|1`` (the guest writes GITS_CTLR.Enabled
while other vCPUs may be issuing commands). Every redistributor and the ITS start enabled.

Every error is a :class:`ScenarioError` whose message is one line naming the file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from itsrace.engine.files import MIB, InputFileError, read_text_file

# Command opcodes in the model (small integers; each command is the tuple (op, a, b, c, d)).
NOP, MAPD, MAPC, MAPTI, DISCARD, INT, MOVI, CLEAR, INV, INVALL, SYNC, PROP = range(12)
# Guest register writes (MMIO, not commands): numbered apart from the commands.
GICR_CTLR, GITS_CTLR = 16, 17
MOVALL = 14  # a command, numbered apart from the commands of phase 1
REG_WRITES = frozenset({GICR_CTLR, GITS_CTLR})
OP_NAMES = {
    MAPD: "MAPD", MAPC: "MAPC", MAPTI: "MAPTI", DISCARD: "DISCARD", INT: "INT", MOVI: "MOVI",
    CLEAR: "CLEAR", INV: "INV", INVALL: "INVALL", SYNC: "SYNC", PROP: "PROP",
    GICR_CTLR: "GICR_CTLR", GITS_CTLR: "GITS_CTLR", MOVALL: "MOVALL",
}
_BY_NAME = {v: k for k, v in OP_NAMES.items()}

# Which keyword fills which of the four argument positions, with defaults (None = required).
_FIELDS: dict[int, tuple[tuple[str, int | None], ...]] = {
    MAPD: (("dev", None), ("valid", 1)),
    MAPC: (("col", None), ("vcpu", None), ("valid", 1)),
    MAPTI: (("dev", None), ("ev", None), ("lpi", None), ("col", None)),
    DISCARD: (("dev", None), ("ev", None)),
    INT: (("dev", None), ("ev", None)),
    MOVI: (("dev", None), ("ev", None), ("col", None)),
    CLEAR: (("dev", None), ("ev", None)),
    INV: (("dev", None), ("ev", None)),
    INVALL: (("col", None),),
    SYNC: (),
    PROP: (("lpi", None), ("enable", 1), ("prio", 0)),
    GICR_CTLR: (("vcpu", None), ("enable_lpis", None)),
    GITS_CTLR: (("enabled", None),),
    MOVALL: (("from", None), ("to", None)),
}

LR_PENDING_STATE, LR_ACTIVE_STATE = 1, 2
MAX = {"vcpus": 2, "lrs": 3, "devices": 2, "events": 2, "vlpis": 3, "collections": 2, "priorities": 2,
       "lpi_nesting": 2}


class ScenarioError(Exception):
    """A scenario file or value is wrong. ``str()`` is one line."""


@dataclass(frozen=True)
class Command:
    """One guest command: an opcode and up to four integer arguments, in ``_FIELDS`` order."""

    op: int
    args: tuple[int, ...] = ()

    def arg(self, name: str) -> int:
        names = [n for n, _ in _FIELDS[self.op]]
        return self.args[names.index(name)]

    def encode(self) -> tuple[int, int, int, int, int]:
        """``(op, a, b, c, d)`` for the model's constant command tables."""
        a = list(self.args) + [0] * (4 - len(self.args))
        return (self.op, a[0], a[1], a[2], a[3])

    def __str__(self) -> str:
        parts = [OP_NAMES[self.op]] + [f"{n}={v}" for (n, _), v in zip(_FIELDS[self.op], self.args, strict=True)]
        return " ".join(parts)


@dataclass(frozen=True)
class LrStep:
    """Setup only: vLPI ``lpi`` (triggered) sits in a list register of ``vcpu``."""

    vcpu: int
    lpi: int
    state: int = LR_PENDING_STATE

    def __str__(self) -> str:
        return f"LR vcpu={self.vcpu} lpi={self.lpi} state={'pending' if self.state == 1 else 'active'}"


Batch = tuple[Command, ...]  # the commands one GITS_CWRITER write hands to Xen

REWRITE_KINDS = {"ITTE": (("dev", None), ("ev", None), ("col", None), ("lpi", -1)),
                 "DTE": (("dev", None), ("valid", 1)),
                 "CTE": (("col", None), ("vcpu", None), ("valid", 1))}


@dataclass(frozen=True)
class Rewrite:
    """Dom0 writes one entry of an ITS table in its own memory: ``kind`` is ``ITTE``, ``DTE`` or
    ``CTE``; ``args`` in :data:`REWRITE_KINDS` order (an ITTE's ``lpi`` is -1 for INVALID_LPI)."""

    kind: str
    args: tuple[int, ...]

    def arg(self, name: str) -> int:
        return self.args[[n for n, _ in REWRITE_KINDS[self.kind]].index(name)]

    def __str__(self) -> str:
        return " ".join([self.kind] + [f"{n}={v}" for (n, _), v in zip(REWRITE_KINDS[self.kind], self.args, strict=True)
                                       if not (n == "lpi" and v < 0)])


def parse_rewrite(text: Any, where: str, topo: Topology) -> Rewrite:
    """Parse ``"ITTE dev=0 ev=1 col=0"`` and check every value against ``topo``."""
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: a rewrite must be a string, got {text!r}")
    words = text.split(None, 1)
    if not words:
        raise ScenarioError(f"{where}: empty rewrite")
    kind = words[0].upper()
    if kind not in REWRITE_KINDS:
        raise ScenarioError(f"{where}: unknown table '{words[0]}' (known: {', '.join(REWRITE_KINDS)})")
    kv = _kv(words[1] if len(words) > 1 else "", where)
    fields = REWRITE_KINDS[kind]
    _only(kv, tuple(n for n, _ in fields), where, kind)
    limits = {"dev": topo.devices, "ev": topo.events, "lpi": topo.vlpis, "col": topo.collections,
              "vcpu": topo.vcpus, "valid": 2}
    args: list[int] = []
    for fname, default in fields:
        if fname not in kv:
            if default is None:
                raise ScenarioError(f"{where}: {kind} needs {fname}=")
            args.append(default)
            continue
        _range(kv[fname], limits[fname], fname, where)
        args.append(kv[fname])
    return Rewrite(kind, tuple(args))


@dataclass(frozen=True)
class Topology:
    vcpus: int = 1
    vcpu_pcpus: tuple[int, ...] = (1,)
    lrs: int = 1
    devices: int = 1
    events: int = 1
    vlpis: int = 1
    collections: int = 1
    priorities: int = 1
    lpi_active_state: bool = True
    lpi_nesting: int = 1  # host LPI handlers that may be active at once on pCPU0 (nested)

    @property
    def slots(self) -> int:
        """``pending_irq`` slots = events over all devices = host LPIs (one per event)."""
        return self.devices * self.events

    @property
    def pcpus(self) -> int:
        return max(self.vcpu_pcpus + (0,)) + 1


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str = ""
    description: str = ""
    wide: bool = False  # a wide universe (millions of states): checked only when asked for (--wide)
    topology: Topology = field(default_factory=Topology)
    setup: tuple[Command | LrStep, ...] = ()
    scripts: tuple[tuple[Batch, ...], ...] = ()  # per vCPU: the CWRITER writes, in order
    universe: tuple[Batch, ...] = ()
    max_commands: int = 0
    universe_vcpus: tuple[int, ...] = (0,)
    rewrites: tuple[Rewrite, ...] = ()  # Dom0's writes to its ITS tables in guest memory
    msis: tuple[int, ...] = ()  # per host LPI (dev * events + ev): how many MSIs may arrive
    thread_msis: tuple[int, ...] = ()  # per event: MSIs a thread that is not a vCPU injects (source=thread)
    exits: int = 1
    source: str = ""  # file it was read from

    def script(self, v: int) -> tuple[Batch, ...]:
        return self.scripts[v] if v < len(self.scripts) else ()

    def commands(self) -> list[Command]:
        """Every command any guest may issue."""
        return [c for sc in self.scripts for b in sc for c in b] + [c for b in self.universe for c in b]


# -- parsing ---------------------------------------------------------------------------------------
def _kv(text: str, where: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for tok in text.split():
        key, eq, value = tok.partition("=")
        if not eq or not key:
            raise ScenarioError(f"{where}: expected key=value, got '{tok}'")
        if key in out:
            raise ScenarioError(f"{where}: '{key}' given twice")
        low = value.lower()
        if low in ("pending", "active"):
            out[key] = LR_PENDING_STATE if low == "pending" else LR_ACTIVE_STATE
            continue
        try:
            out[key] = int(value, 0)
        except ValueError:
            raise ScenarioError(f"{where}: '{key}' must be an integer, got '{value}'") from None
    return out


def parse_command(text: str, where: str, topo: Topology, setup: bool = False) -> Command | LrStep:
    """Parse ``"MAPTI dev=0 ev=1 lpi=0 col=0"`` and check every value against ``topo``."""
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: a command must be a string, got {text!r}")
    words = text.split(None, 1)
    if not words:
        raise ScenarioError(f"{where}: empty command")
    name = words[0].upper()
    kv = _kv(words[1] if len(words) > 1 else "", where)
    if name == "LR":
        if not setup:
            raise ScenarioError(f"{where}: 'LR' is a setup step, not a guest command")
        _only(kv, ("vcpu", "lpi", "state"), where, name)
        for req in ("vcpu", "lpi"):
            if req not in kv:
                raise ScenarioError(f"{where}: LR needs {req}=")
        step = LrStep(kv["vcpu"], kv["lpi"], kv.get("state", LR_PENDING_STATE))
        _range(step.vcpu, topo.vcpus, "vcpu", where)
        _range(step.lpi, topo.vlpis, "lpi", where)
        if step.state not in (LR_PENDING_STATE, LR_ACTIVE_STATE):
            raise ScenarioError(f"{where}: state must be pending or active")
        return step
    if name not in _BY_NAME:
        known = ", ".join(sorted(_BY_NAME))
        raise ScenarioError(f"{where}: unknown command '{words[0]}' (known: {known}{', LR' if setup else ''})")
    op = _BY_NAME[name]
    fields = _FIELDS[op]
    _only(kv, tuple(n for n, _ in fields), where, name)
    args: list[int] = []
    for fname, default in fields:
        if fname in kv:
            args.append(kv[fname])
        elif default is None:
            raise ScenarioError(f"{where}: {name} needs {fname}=")
        else:
            args.append(default)
    limits = {"dev": topo.devices, "ev": topo.events, "lpi": topo.vlpis, "col": topo.collections,
              "vcpu": topo.vcpus, "valid": 2, "enable": 2, "prio": topo.priorities, "enable_lpis": 2,
              "enabled": 2, "from": topo.vcpus, "to": topo.vcpus}
    for (fname, _), value in zip(fields, args, strict=True):
        _range(value, limits[fname], fname, where)
    return Command(op, tuple(args))


def parse_batch(text: str, where: str, topo: Topology) -> Batch:
    """``"DISCARD dev=0 ev=0; MAPTI dev=0 ev=1 lpi=0 col=0"``: commands queued before one
    GITS_CWRITER write, so Xen handles them in one go (no guest exit, no LR sync in between).
    ``PROP`` (a guest memory write, not a command) must stand alone."""
    if not isinstance(text, str):
        raise ScenarioError(f"{where}: a command must be a string, got {text!r}")
    parts = [p.strip() for p in text.split(";")]
    if any(not p for p in parts):
        raise ScenarioError(f"{where}: empty command in '{text}'")
    cmds = []
    for part in parts:
        cmd = parse_command(part, where, topo)
        assert isinstance(cmd, Command)
        cmds.append(cmd)
    if len(cmds) > 1 and any(c.op == PROP for c in cmds):
        raise ScenarioError(f"{where}: PROP is a guest memory write; it cannot be queued with commands")
    if len(cmds) > 1 and any(c.op in REG_WRITES for c in cmds):
        name = next(OP_NAMES[c.op] for c in cmds if c.op in REG_WRITES)
        raise ScenarioError(f"{where}: {name} is a guest register write; it cannot be queued with commands")
    if len(cmds) > 4:
        raise ScenarioError(f"{where}: at most 4 commands per CWRITER write")
    return tuple(cmds)


def _only(kv: dict[str, int], allowed: tuple[str, ...], where: str, name: str) -> None:
    extra = sorted(set(kv) - set(allowed))
    if extra:
        raise ScenarioError(f"{where}: {name} takes {', '.join(a + '=' for a in allowed) or 'no arguments'}; unknown {', '.join(extra)}")


def _range(value: int, limit: int, what: str, where: str) -> None:
    if not 0 <= value < limit:
        raise ScenarioError(f"{where}: {what}={value} out of range 0..{limit - 1}")


def _int(table: dict[str, Any], key: str, default: int, lo: int, hi: int, where: str) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: '{key}' must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ScenarioError(f"{where}: '{key}' = {value} out of range {lo}..{hi}")
    return value


def _table(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: [{key}] must be a table")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{where}: must be a list of strings")
    return list(value)


def scenario_from_dict(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Build and validate a :class:`Scenario` from parsed TOML."""
    src = Path(source).name if source and not source.startswith("<") else source
    known_top = {"name", "summary", "description", "wide", "topology", "setup", "guest", "devices", "bounds"}
    extra = sorted(set(data) - known_top)
    if extra:
        raise ScenarioError(f"{src}: unknown key(s) {', '.join(extra)} (known: {', '.join(sorted(known_top))})")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ScenarioError(f"{src}: 'name' (a non-empty string) is required")
    for key in ("summary", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ScenarioError(f"{src}: '{key}' must be a string")
    wide = data.get("wide", False)
    if not isinstance(wide, bool):
        raise ScenarioError(f"{src}: 'wide' must be true or false")

    t = _table(data, "topology", src)
    where = f"{src}: [topology]"
    known_t = {"vcpus", "vcpu_pcpus", "lrs", "devices", "events", "vlpis", "collections", "priorities",
               "lpi_active_state", "lpi_nesting"}
    extra = sorted(set(t) - known_t)
    if extra:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(extra)}")
    vcpus = _int(t, "vcpus", 1, 1, MAX["vcpus"], where)
    pcpus_raw = t.get("vcpu_pcpus", [v + 1 for v in range(vcpus)])
    if (not isinstance(pcpus_raw, list) or len(pcpus_raw) != vcpus
            or not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 3 for p in pcpus_raw)):
        raise ScenarioError(f"{where}: 'vcpu_pcpus' must list one pCPU (0..3) per vCPU")
    if len(set(pcpus_raw)) != len(pcpus_raw):
        raise ScenarioError(f"{where}: 'vcpu_pcpus': each vCPU needs its own pCPU (vCPUs are pinned)")
    active = t.get("lpi_active_state", True)
    if not isinstance(active, bool):
        raise ScenarioError(f"{where}: 'lpi_active_state' must be true or false")
    topo = Topology(
        vcpus=vcpus, vcpu_pcpus=tuple(pcpus_raw),
        lrs=_int(t, "lrs", 1, 1, MAX["lrs"], where),
        devices=_int(t, "devices", 1, 1, MAX["devices"], where),
        events=_int(t, "events", 1, 1, MAX["events"], where),
        vlpis=_int(t, "vlpis", 1, 1, MAX["vlpis"], where),
        collections=_int(t, "collections", 1, 1, MAX["collections"], where),
        priorities=_int(t, "priorities", 1, 1, MAX["priorities"], where),
        lpi_active_state=active,
        lpi_nesting=_int(t, "lpi_nesting", 1, 1, MAX["lpi_nesting"], where),
    )

    st = _table(data, "setup", src)
    extra = sorted(set(st) - {"steps"})
    if extra:
        raise ScenarioError(f"{src}: [setup]: unknown key(s) {', '.join(extra)}")
    setup = tuple(
        parse_command(text, f"{src}: [setup] steps[{i}]", topo, setup=True)
        for i, text in enumerate(_strings(st.get("steps", []), f"{src}: [setup] steps"))
    )
    for i, step in enumerate(setup):
        if isinstance(step, Command) and step.op in REG_WRITES:
            raise ScenarioError(f"{src}: [setup] steps[{i}]: {OP_NAMES[step.op]} is a guest action, not a setup step "
                                "(every redistributor and the ITS start enabled)")

    g = _table(data, "guest", src)
    scripts: list[tuple[Batch, ...]] = []
    known_g = {f"vcpu{v}" for v in range(vcpus)} | {"universe", "max_commands", "universe_vcpus", "rewrites"}
    extra = sorted(set(g) - known_g)
    if extra:
        raise ScenarioError(f"{src}: [guest]: unknown key(s) {', '.join(extra)} (known: {', '.join(sorted(known_g))})")
    for v in range(vcpus):
        key = f"vcpu{v}"
        scripts.append(tuple(
            parse_batch(text, f"{src}: [guest] {key}[{i}]", topo)
            for i, text in enumerate(_strings(g.get(key, []), f"{src}: [guest] {key}"))
        ))
    universe = [
        parse_batch(text, f"{src}: [guest] universe[{i}]", topo)
        for i, text in enumerate(_strings(g.get("universe", []), f"{src}: [guest] universe"))
    ]
    max_commands = _int(g, "max_commands", 2 if universe else 0, 0, 6, f"{src}: [guest]")
    if max_commands and not universe:
        raise ScenarioError(f"{src}: [guest]: 'max_commands' needs a 'universe'")
    uv_raw = g.get("universe_vcpus", [0])
    if (not isinstance(uv_raw, list) or not uv_raw
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < vcpus for x in uv_raw)):
        raise ScenarioError(f"{src}: [guest]: 'universe_vcpus' must list vCPUs 0..{vcpus - 1}")

    rewrites = tuple(
        parse_rewrite(text, f"{src}: [guest] rewrites[{i}]", topo)
        for i, text in enumerate(_strings(g.get("rewrites", []), f"{src}: [guest] rewrites"))
    )
    if len(rewrites) > 4:
        raise ScenarioError(f"{src}: [guest] rewrites: at most 4")

    dv = _table(data, "devices", src)
    extra = sorted(set(dv) - {"msis"})
    if extra:
        raise ScenarioError(f"{src}: [devices]: unknown key(s) {', '.join(extra)}")
    msis = [0] * topo.slots
    thread_msis = [0] * topo.slots
    for i, text in enumerate(_strings(dv.get("msis", []), f"{src}: [devices] msis")):
        where = f"{src}: [devices] msis[{i}]"
        text, msi_source = _msi_source(text.replace("MSI", "", 1) if text.upper().startswith("MSI") else text, where)
        kv = _kv(text, where)
        _only(kv, ("dev", "ev"), where, "an MSI (and source=)")
        if "dev" not in kv or "ev" not in kv:
            raise ScenarioError(f"{where}: an MSI needs dev= and ev=")
        _range(kv["dev"], topo.devices, "dev", where)
        _range(kv["ev"], topo.events, "ev", where)
        (thread_msis if msi_source == "thread" else msis)[kv["dev"] * topo.events + kv["ev"]] += 1
    if max([m + t for m, t in zip(msis, thread_msis, strict=True)] + [0]) > 3:
        raise ScenarioError(f"{src}: [devices] msis: at most 3 MSIs per event")

    b = _table(data, "bounds", src)
    extra = sorted(set(b) - {"exits"})
    if extra:
        raise ScenarioError(f"{src}: [bounds]: unknown key(s) {', '.join(extra)}")
    exits = _int(b, "exits", 1, 0, 4, f"{src}: [bounds]")

    return Scenario(
        name=name, summary=str(data.get("summary", "")), description=str(data.get("description", "")).strip(),
        wide=wide,
        topology=topo, setup=setup, scripts=tuple(scripts), universe=tuple(universe),
        max_commands=max_commands, universe_vcpus=tuple(uv_raw), rewrites=rewrites, msis=tuple(msis), exits=exits,
        source=source, thread_msis=tuple(thread_msis),
    )


def load_scenario_file(path: str | Path) -> Scenario:
    """Read a scenario TOML file; any problem is a one-line :class:`ScenarioError`."""
    p = Path(path)
    try:
        text = read_text_file(p, "scenario", limit=MIB)
    except InputFileError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p.name}: not valid TOML: {exc}") from None
    return scenario_from_dict(data, str(p))


def _named_files() -> dict[str, Any]:
    base = resources.files("itsrace.hyp") / "scenarios"
    return {entry.name[:-5]: entry for entry in base.iterdir() if entry.name.endswith(".toml")}


# The order of the verdict table: the thread's races first, then the rest alphabetically.
THREAD_ORDER = ("discard-vs-lpi", "discard-mapti-in-lr", "unmap-device-in-lr", "sync-vs-inject",
                "spurious-after-remove")


def scenario_names() -> list[str]:
    """Names of the scenarios shipped with itsrace, in table order."""
    names = list(_named_files())
    first = [n for n in THREAD_ORDER if n in names]
    return first + sorted(n for n in names if n not in first)


def default_scenario_names() -> list[str]:
    """The shipped scenarios ``itsrace check`` and ``itsrace matrix`` run by default: every one but
    the wide universes (``wide = true``: millions of states each, minutes per design), which run
    when named or with ``--wide``."""
    return [n for n in scenario_names() if not load_named(n).wide]


def load_named(name: str) -> Scenario:
    files = _named_files()
    if name not in files:
        raise ScenarioError(f"unknown scenario '{name}' (known: {', '.join(scenario_names())}; or give a .toml path)")
    entry = files[name]
    try:
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{name}.toml: not valid TOML: {exc}") from None
    return scenario_from_dict(data, f"{name}.toml")


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a TOML file by path (anything ending in .toml or containing /)."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or Path(name_or_path).is_file():
        return load_scenario_file(name_or_path)
    return load_named(name_or_path)


MSI_SOURCES = ("lpi", "thread")


def _msi_source(text: str, where: str) -> tuple[str, str]:
    """Split ``source=lpi|thread`` off an MSI entry: (the rest, the source; ``lpi`` by default)."""
    rest, sources = [], []
    for tok in text.split():
        key, eq, value = tok.partition("=")
        if key == "source" and eq:
            if value not in MSI_SOURCES:
                raise ScenarioError(f"{where}: source must be {' or '.join(MSI_SOURCES)}, got '{value}'")
            sources.append(value)
        else:
            rest.append(tok)
    if len(sources) > 1:
        raise ScenarioError(f"{where}: 'source' given twice")
    return " ".join(rest), (sources[0] if sources else "lpi")
