"""The hypervisor model's state: every variable, what Xen object it stands for, and the
initial state a scenario's setup produces.

Variables are grouped like Xen's data structures:

* host LPI table (``gic-v3-lpi.c``): ``host_lpi[P]`` is the 64-bit ``union host_lpi`` entry,
  ``host_pend[P]`` the host LPI's pending state at the redistributor; ``host_dev[d]`` the
  ``its_device`` in the domain's rbtree, ``hits_dev[d]`` whether the host ITS translates the
  device's MSIs (host MAPD/MAPTI done);
* ``struct pending_irq`` per slot ``q`` (``pend_irqs[ev]`` of device ``d``): the status bits,
  ``irq``, ``lr``, ``priority``, ``lpi_priority``, ``lpi_vcpu_id``, and list membership
  (``p_infl``/``p_lrq``: which vCPU's ``inflight_irqs``/``lr_pending`` holds it, 0 = none),
  plus its allocation identity (``p_alive``, ``p_gen``) and whether its list heads were ever
  initialised (``p_heads``: ``xzalloc`` leaves them NULL until ``vgic_init_pending_irq``);
* the domain's radix tree ``tree[V]`` (slot + 1, 0 = absent) and its rwlock, the vITS locks;
* the guest's tables in guest memory: device table ``dte``, ITT entries ``itte_lpi``/``itte_col``,
  collection table ``col_vcpu``, LPI property table ``prop_en``/``prop_prio``;
* per vCPU: list registers ``lr_virq``/``lr_state`` and ``lr_mask``, whether the vCPU is in guest
  mode, a pending kick (event-check SGI), the underflow interrupt enable (UIE);
* ghost variables (not in Xen; they state the properties): who each LR was written for
  (``lr_own``/``lr_gen``), outstanding triggers per vLPI (``trig``), MSIs owed to the guest
  per event (``owed``), the guest's view of its completed commands (``gv_lpi``, ``gv_dirty``),
  devices removed by MAPD V=0 (``dev_gone``).
"""

from __future__ import annotations

from typing import Any

from itsrace.engine import Model
from itsrace.hyp.lang import setup
from itsrace.hyp.scenario import (
    LR_ACTIVE_STATE,
    Command,
    LrStep,
    Scenario,
    ScenarioError,
)
from itsrace.xen import guest_regs
from itsrace.xen.properties import gv_codes

LOCK_ORDER = ["vcmd_lock", "its_lock", "devs_lock", "vgic_lock", "tree_lock"]

#: the variables that are fields of ``struct pending_irq`` (with its ghost allocation identity)
PENDING_IRQ_FIELDS = ("p_alive", "p_gen", "p_heads", "p_queued", "p_active", "p_visible", "p_enabled", "p_pristine",
                      "p_irq", "p_lr", "p_prio", "p_lpiprio", "p_vcpu", "p_infl", "p_lrq")
#: the C fields of struct pending_irq (the status bits, irq, lr, priority, lpi_priority,
#: lpi_vcpu_id, the inflight and lr_queue links), each protected by the vgic lock (lockset)
PENDING_IRQ_LOCKED = ("p_queued", "p_active", "p_visible", "p_enabled", "p_pristine", "p_irq", "p_lr", "p_prio",
                      "p_lpiprio", "p_vcpu", "p_infl", "p_lrq")


def declare(m: Model, K: dict[str, Any], init: dict[str, Any]) -> None:
    """Declare every variable of the model with its initial value from ``init``."""
    NC, NL, ND, NQ, NV, NCOL, NPRIO = (K[k] for k in ("NC", "NL", "ND", "NQ", "NV", "NCOL", "NPRIO"))

    def var(name: str, domain: Any, shape: Any, doc: str) -> None:
        m.var(name, domain, shape, init=init.get(name), doc=doc)

    # host side
    var("host_lpi", range(-1, NV + 1), NQ, "host LPI entry: -1 free {0, DOMID_INVALID}; 0 {INVALID_LPI, Dom0}; V mapped")
    var("host_pend", bool, NQ, "host LPI pending at the redistributor (delivered to pCPU0)")
    var("host_dev", bool, ND, "its_device in d->arch.vgic.its_devices (rbtree)")
    var("hits_dev", bool, ND, "host ITS maps the device and its events: MSIs become host LPIs")
    var("msi_left", range(K["MAX_MSI"] + 1), NQ, "MSIs the device may still send for this event")
    # struct pending_irq
    var("p_alive", bool, NQ, "pend_irqs array allocated (xzalloc at MAPD, xfree at MAPD V=0)")
    var("p_gen", range(2), NQ, "allocation identity: flips on MAPTI's re-initialisation and on free")
    var("p_heads", bool, NQ, "list heads initialised (NULL after xzalloc until vgic_init_pending_irq)")
    for bit, what in (("queued", "GIC_IRQ_GUEST_QUEUED"), ("active", "GIC_IRQ_GUEST_ACTIVE"),
                      ("visible", "GIC_IRQ_GUEST_VISIBLE"), ("enabled", "GIC_IRQ_GUEST_ENABLED"),
                      ("pristine", "GIC_IRQ_GUEST_PRISTINE_LPI")):
        var(f"p_{bit}", bool, NQ, f"status bit {what}")
    var("p_irq", range(NV + 1), NQ, "p->irq (vLPI, 0 = INVALID_LPI)")
    var("p_lr", range(NL + 1), NQ, "p->lr (NL = GIC_INVALID_LR)")
    var("p_prio", range(NPRIO), NQ, "p->priority")
    var("p_lpiprio", range(NPRIO), NQ, "p->lpi_priority (cached from the property table)")
    var("p_vcpu", range(NC + 1), NQ, "p->lpi_vcpu_id (NC = INVALID_VCPU_ID)")
    var("p_infl", range(NC + 1), NQ, "on vCPU (value - 1)'s inflight_irqs; 0: p->inflight empty")
    var("p_lrq", range(NC + 1), NQ, "on vCPU (value - 1)'s lr_pending; 0: p->lr_queue empty")
    # the fields of struct pending_irq are reached through pointers (``SLOT(r)``: NULL maps to
    # index -1): indexing them with a NULL pointer is a null-deref violation (the engine checks
    # every access)
    m.objects(*PENDING_IRQ_FIELDS, null_index=-1)
    # domain
    var("tree", range(NQ + 1), NV, "pend_lpi_tree: vLPI -> slot + 1 (0: not in the tree)")
    m.spinlock("vcmd_lock", doc="its->vcmd_lock: serialises command processing")
    m.spinlock("its_lock", doc="its->its_lock: vITS registers and guest table walks")
    m.spinlock("devs_lock", doc="d->arch.vgic.its_devices_lock")
    m.spinlock("vgic_lock", NC, doc="v->arch.vgic.lock (always irqsave)")
    m.rwlock("tree_lock", doc="d->arch.vgic.pend_lpi_tree_lock")
    var("tree_wq", bool, (), "pend_lpi_tree_lock's _QW_WAITING: a queued writer waits for the readers (readers wait behind it)")
    # guest memory
    var("dte", bool, ND, "device table entry valid (ITT mapped)")
    var("itte_lpi", range(NV + 1), NQ, "ITT entry: vlpi (0 = INVALID_LPI)")
    var("itte_col", range(NCOL + 1), NQ, "ITT entry: collection (NCOL = UNMAPPED_COLLECTION)")
    var("col_vcpu", range(NC + 1), NCOL, "collection table: vCPU (NC = unmapped)")
    var("prop_en", bool, NV, "LPI property table: enable bit")
    var("prop_prio", range(NPRIO), NV, "LPI property table: priority")
    # vCPUs
    var("lr_virq", range(NV + 1), (NC, NL), "list register: vINTID (0: none)")
    var("lr_state", range(4), (NC, NL), "list register state: 0 invalid, 1 pending, 2 active, 3 pending+active")
    var("lr_mask", bool, (NC, NL), "lr_mask bit (saved with the vCPU)")
    var("in_guest", bool, NC, "the vCPU runs guest code")
    var("kick", bool, NC, "event-check SGI / unblock pending for the vCPU")
    var("uie", bool, NC, "ICH_HCR.UIE: underflow maintenance interrupt requested")
    var("exits_left", range(K["MAX_EXITS"] + 1), NC, "spontaneous exits left (scenario bound)")
    var("cmd_next", range(K["MAX_SCRIPT"] + 1), NC, "next scripted command of the vCPU's guest")
    var("cmds_left", range(K["MAX_CMDS"] + 1), (), "universe commands the guest may still issue")
    # ghosts
    var("lr_own", range(NQ + 1), (NC, NL), "ghost: slot + 1 of the pending_irq this LR was written for")
    var("lr_gen", range(2), (NC, NL), "ghost: its generation then")
    var("trig", range(K["TRIG_MAX"] + 1), NV, "ghost: triggers (MSI/INT) that translated to this vLPI, not yet delivered")
    var("msi_v", range(NV + 1), NQ, "ghost: the vLPI the ITT mapped the event to when its pending MSI was sent")
    var("owed", bool, NQ, "ghost: an MSI for this mapped, enabled event awaits delivery")
    var("gv_lpi", range(NV + 1), NQ, "ghost: the guest's view (completed commands) of the event's vLPI")
    var("gv_dev", bool, ND, "ghost: the guest's view: device mapped by a completed MAPD")
    var("gv_dirty", bool, NV, "ghost: the guest changed the property entry and has not yet issued INV")
    var("dev_gone", bool, ND, "ghost: MAPD V=0 completed for the device (and no MAPD V=1 since)")
    var("rw_left", bool, max(1, K["NRW"]), "Dom0 may still make this rewrite of its ITS tables ([guest] rewrites)")
    var("gv_wild", bool, (), "ghost: Dom0 wrote an ITS table behind the ITS: the guest is owed nothing since")
    var("dt_cur", range(NC + 1), NV, "ghost: the vLPI's target vCPU when the last command completed (NC: none)")
    var("dt_old", range(1 << NC), NV, "ghost: earlier targets (bit per vCPU) that may still get one delivery")
    var("dt_soon", range(1 << NC), (NC, NV), "ghost: targets the commands this vCPU wrote and Xen has not completed give")
    var("ce_snap", range(gv_codes(K)), NQ, "ghost: what the guest could see of each event when the last command completed")
    # lockset: struct pending_irq's fields are protected by the vgic lock (vgic.h: "lr_pending is
    # a per vcpu queue, therefore lr_queue accesses are protected with the vgic lock"; the
    # vgic lock covers the pending_irq state and the inflight/lr_pending lists). The comments
    # name no vCPU for the other fields, so holding some vCPU's vgic lock is what is checked;
    # the list links have the exact check (list-lock). Lock-free accesses are marked lockfree().
    m.protected_by("vgic_lock", *PENDING_IRQ_LOCKED, index="any")
    guest_regs.declare(m, K, init)
    m.set_lock_order(LOCK_ORDER)


def initial_vars(sc: Scenario, K: dict[str, Any]) -> dict[str, Any]:
    """Every variable's value before the scenario's setup steps (nothing mapped, the scenario's
    MSIs and bounds still to come). Lists are ``list``s of per-index values."""
    NC, NL, ND, NE, NQ, NV, NCOL = (K[k] for k in ("NC", "NL", "ND", "NE", "NQ", "NV", "NCOL"))
    s: dict[str, Any] = {
        "host_lpi": [-1] * NQ, "host_pend": [0] * NQ, "host_dev": [0] * ND, "hits_dev": [0] * ND,
        "msi_left": list(sc.msis), "p_alive": [0] * NQ, "p_gen": [0] * NQ, "p_heads": [0] * NQ,
        "p_queued": [0] * NQ, "p_active": [0] * NQ, "p_visible": [0] * NQ, "p_enabled": [0] * NQ,
        "p_pristine": [0] * NQ, "p_irq": [0] * NQ, "p_lr": [0] * NQ,
        "p_prio": [0] * NQ, "p_lpiprio": [0] * NQ, "p_vcpu": [0] * NQ, "p_infl": [0] * NQ, "p_lrq": [0] * NQ,
        "tree": [0] * NV, "tree_wq": 0, "dte": [0] * ND, "itte_lpi": [0] * NQ, "itte_col": [NCOL] * NQ,
        "col_vcpu": [NC] * NCOL, "prop_en": [1] * NV, "prop_prio": [0] * NV,
        "lr_virq": [[0] * NL for _ in range(NC)], "lr_state": [[0] * NL for _ in range(NC)],
        "lr_mask": [[0] * NL for _ in range(NC)], "in_guest": [1] * NC,
        "exits_left": [K["MAX_EXITS"]] * NC, "cmds_left": K["MAX_CMDS"],
        "lr_own": [[0] * NL for _ in range(NC)], "lr_gen": [[0] * NL for _ in range(NC)],
        "trig": [0] * NV, "msi_v": [0] * NQ, "owed": [0] * NQ, "gv_lpi": [0] * NQ, "gv_dev": [0] * ND, "dev_gone": [0] * ND,
        "rw_left": [1] * K["NRW"] + [0] * (1 - min(1, K["NRW"])), "gv_wild": 0,
        "dt_cur": [NC] * NV, "dt_old": [0] * NV, "dt_soon": [[0] * NV for _ in range(NC)],
    }
    resnap(s, K)
    s.update(guest_regs.initial_vars(K))
    return s


def resnap(s: dict[str, Any], K: dict[str, Any]) -> None:
    """``ce_snap`` (command-error) after a setup step: what the guest can see of each event."""
    NE, NC, NV, NCOL = K["NE"], K["NC"], K["NV"], K["NCOL"]
    snap = []
    for q in range(K["NQ"]):
        v_itt = s["itte_lpi"][q] if s["dte"][q // NE] else 0
        c = s["col_vcpu"][s["itte_col"][q]] if s["itte_col"][q] < NCOL else NC
        h = s["host_lpi"][q]
        t = NC
        if h > 0 and s["tree"][h - 1] != 0:
            t = s["p_vcpu"][s["tree"][h - 1] - 1]
        snap.append(((v_itt * (NC + 1) + c) * (NV + 2) + (h + 1)) * (NC + 1) + t)
    s["ce_snap"] = snap


# -- setup steps: what a sequential, race-free run of the Xen code leaves ----------------------------
# A design that changes what these commands do (e.g. MAPTI's PRISTINE marking) overrides the
# matching function, so that its scenarios start from the state its own code would leave.
@setup
def setup_mapd(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """MAPD valid=1: its_handle_mapd with gicv3_its_map_guest_device."""
    d, valid = c.args
    if not valid:
        raise ScenarioError(f"{where}: only MAPD valid=1 is supported in a setup")
    if s["host_dev"][d]:
        raise ScenarioError(f"{where}: device {d} is already mapped")
    s["host_dev"][d] = s["hits_dev"][d] = s["dte"][d] = s["gv_dev"][d] = 1
    for ev in range(K["NE"]):
        q = d * K["NE"] + ev
        s["p_alive"][q] = 1
        s["host_lpi"][q] = 0
    resnap(s, K)


@setup
def setup_mapc(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """MAPC: the collection table entry."""
    col, vcpu, valid = c.args
    s["col_vcpu"][col] = vcpu if valid else K["NC"]
    for q, V in enumerate(s["itte_lpi"]):  # ghost: the delivery target of what it maps
        if V and s["itte_col"][q] == col:
            s["dt_cur"][V - 1] = s["col_vcpu"][col]
    resnap(s, K)


@setup
def setup_prop(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """The guest's LPI property table entry."""
    lpi, en, prio = c.args
    s["prop_en"][lpi] = en
    s["prop_prio"][lpi] = prio


@setup
def setup_mapti(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """MAPTI: its_handle_mapti (ITTE, host entry, vgic_init_pending_irq, PRISTINE, radix tree)."""
    d, ev, lpi, col = c.args
    q, V = d * K["NE"] + ev, lpi + 1
    if not s["dte"][d]:
        raise ScenarioError(f"{where}: device {d} is not mapped (MAPD it first)")
    if s["col_vcpu"][col] == K["NC"]:
        raise ScenarioError(f"{where}: collection {col} is not mapped (MAPC it first)")
    if s["itte_lpi"][q]:
        raise ScenarioError(f"{where}: event {ev} of device {d} is already mapped")
    if s["tree"][lpi]:
        raise ScenarioError(f"{where}: vLPI {lpi} is already mapped by another event")
    s["itte_lpi"][q], s["itte_col"][q] = V, col
    s["host_lpi"][q] = V
    s["p_heads"][q] = 1
    s["p_irq"][q] = V
    s["p_enabled"][q] = s["prop_en"][lpi]
    s["p_lpiprio"][q] = s["prop_prio"][lpi]
    s["p_vcpu"][q] = s["col_vcpu"][col]
    s["p_pristine"][q] = 1
    s["p_lr"][q] = 0
    s["tree"][lpi] = q + 1
    s["gv_lpi"][q] = V
    s["dt_cur"][lpi] = s["col_vcpu"][col]
    resnap(s, K)


@setup
def setup_lr(s: dict[str, Any], K: dict[str, Any], step: LrStep, where: str) -> None:
    """LR: the vLPI was injected (vgic_vcpu_inject_irq, gic_raise_guest_irq, gic_set_lr) and
    maybe acknowledged (then the next gic_update_one_lr set ACTIVE)."""
    NL = K["NL"]
    V = step.lpi + 1
    q1 = s["tree"][step.lpi]
    if not q1:
        raise ScenarioError(f"{where}: vLPI {step.lpi} is not mapped (MAPTI it first)")
    q = q1 - 1
    v = step.vcpu
    if s["p_vcpu"][q] != v:
        raise ScenarioError(f"{where}: vLPI {step.lpi} targets vCPU {s['p_vcpu'][q]}, not {v}")
    if not s["p_enabled"][q]:
        raise ScenarioError(f"{where}: vLPI {step.lpi} is disabled in the property table")
    if s["p_visible"][q]:
        raise ScenarioError(f"{where}: vLPI {step.lpi} is already in an LR")
    k = next((k for k in range(NL) if not s["lr_mask"][v][k]), None)
    if k is None:
        raise ScenarioError(f"{where}: vCPU {v} has no free list register")
    active = step.state == LR_ACTIVE_STATE
    # what vgic_vcpu_inject_irq + gic_raise_guest_irq + gic_set_lr leave (and, if the guest has
    # acknowledged it, the next gic_update_one_lr: ACTIVE set)
    s["lr_virq"][v][k] = V
    s["lr_state"][v][k] = 2 if active else 1
    s["lr_mask"][v][k] = 1
    s["lr_own"][v][k] = q + 1
    s["lr_gen"][v][k] = s["p_gen"][q]
    s["p_pristine"][q] = 0
    s["p_visible"][q] = 1
    s["p_active"][q] = int(active)
    s["p_lr"][q] = k
    s["p_prio"][q] = s["p_lpiprio"][q]
    s["p_infl"][q] = v + 1
    # the trigger was delivered to an LR; if the guest has not taken it yet it is still owed
    s["trig"][V - 1] = int(not active)
    s["owed"][q] = int(not active)
