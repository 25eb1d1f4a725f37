"""The KVM model's state: every variable, the KVM object it stands for, and the initial state a
scenario's setup produces.

Variables are grouped like KVM's data structures:

* ``struct vgic_irq`` per slot ``o`` (see :mod:`itsrace.kvm.consts`): allocated (``o_alive``),
  ``refcount`` (``o_ref``), ``pending_latch``, ``enabled``, ``priority``, ``active``,
  ``target_vcpu`` (``o_target``, ``NC`` = NULL) and ``vcpu`` (``o_vcpu``: the vCPU whose ap_list
  holds it, plus one; 0 = NULL and on no ap_list: in KVM the two go together), and its
  ``irq_lock``;
* ``dist->lpi_xa``: ``xa[V]`` = slot + 1 (0 = no entry) and its ``xa_lock``;
* the ITS (``struct vgic_its``): devices ``dev``, ITEs ``ite``/``ite_irq``/``ite_col`` (one per
  DeviceID/EventID; ``ite_col`` = ``NCOL`` is a NULL collection pointer), collections
  ``col_target`` (``NC`` = ``COLLECTION_NOT_MAPPED`` or no collection), ``its_enabled``
  (GITS_CTLR.Enabled), the translation cache ``cache[q]`` = slot + 1, ``cmd_lock`` and
  ``its_lock`` (mutexes);
* per vCPU: ``ap_list_lock0``/``ap_list_lock1`` (one lock per vCPU, so that the engine's
  lock-order check sees the vcpu_id order the kernel's lockdep annotation encodes), GICR_CTLR's
  EnableLPIs (``lpis_en``), the list registers ``lr_intid``/``lr_state`` (what
  ``vgic_flush_lr_state`` wrote and the guest then changed), guest mode, a pending kick;
* the guest's memory: the LPI property table ``prop_en``/``prop_prio``;
* ghost variables (not in KVM; they state the properties): the object each LR was populated
  from (``lr_own``), triggers per INTID (``trig``), MSIs owed per event (``owed``), the guest's
  view of its completed commands (``gv_lpi``, ``gv_col``, ``gv_dev``, ``gv_dirty``, ``dev_gone``).
"""

from __future__ import annotations

from typing import Any

from itsrace.engine import Model
from itsrace.hyp.lang import setup
from itsrace.hyp.scenario import LR_ACTIVE_STATE, Command, LrStep, Scenario, ScenarioError
from itsrace.kvm.properties import ce_codes

#: vgic.c's header comment (the modelled commit): cmd_lock -> its_lock -> lpi_xa.xa_lock ->
#: ap_list_lock (two of them in vcpu_id order) -> irq_lock. kvm->lock, vcpu->mutex and
#: config_lock are outside the model.
LOCK_ORDER = ["cmd_lock", "its_lock", "xa_lock", "ap_list_lock0", "ap_list_lock1", "irq_lock"]

#: the variables that are fields of ``struct vgic_irq`` (with its allocation flag and its lock)
#: the C fields of struct vgic_irq that irq_lock protects (lockset). ``o_vcpu`` (irq->vcpu) is
#: left out: it also encodes ap_list membership, which the vCPU's ap_list_lock protects and
#: ``list-lock`` checks (a list walk reads it under ap_list_lock only, as vgic.c does)
VGIC_IRQ_LOCKED = ("o_pending", "o_enabled", "o_prio", "o_active", "o_target")
VGIC_IRQ_FIELDS = ("o_alive", "o_ref", "o_pending", "o_enabled", "o_prio", "o_active", "o_target", "o_vcpu",
                   "irq_lock")


def declare(m: Model, K: dict[str, Any], init: dict[str, Any]) -> None:
    """Declare every variable of the model with its initial value from ``init``."""
    NC, NL, ND, NQ, NV, NCOL, NPRIO, NO = (K[k] for k in ("NC", "NL", "ND", "NQ", "NV", "NCOL", "NPRIO", "NO"))

    def var(name: str, domain: Any, shape: Any, doc: str) -> None:
        m.var(name, domain, shape, init=init.get(name), doc=doc)

    # struct vgic_irq
    var("o_alive", bool, NO, "vgic_irq allocated (kzalloc in vgic_add_lpi; kfree/kfree_rcu)")
    var("o_ref", range(K["RMAX"] + 1), NO, "irq->refcount")
    var("o_pending", bool, NO, "irq->pending_latch")
    var("o_enabled", bool, NO, "irq->enabled (from the property table)")
    var("o_prio", range(NPRIO), NO, "irq->priority")
    var("o_active", bool, NO, "irq->active")
    var("o_target", range(NC + 1), NO, "irq->target_vcpu (NC = NULL)")
    var("o_vcpu", range(NC + 1), NO, "irq->vcpu + 1: on that vCPU's ap_list (0 = NULL, on none)")
    m.spinlock("irq_lock", NO, doc="irq->irq_lock (raw spinlock)")
    # struct vgic_irq is reached through pointers (slot + 1: NULL maps to index -1): indexing
    # its fields with a NULL pointer is a null-deref violation (the engine checks every access)
    m.objects(*VGIC_IRQ_FIELDS, null_index=-1)
    # the distributor's LPI index
    var("xa", range(NO + 1), NV, "dist->lpi_xa: INTID -> slot + 1 (0 = no entry)")
    m.spinlock("xa_lock", doc="dist->lpi_xa.xa_lock")
    # the ITS
    var("its_enabled", bool, (), "its->enabled (GITS_CTLR.Enabled)")
    var("dev", bool, ND, "its_device in its->device_list")
    var("ite", bool, NQ, "its_ite for (DeviceID, EventID) in its device's itt_head")
    var("ite_irq", range(NO + 1), NQ, "ite->irq (slot + 1; 0 = NULL)")
    var("ite_col", range(NCOL + 1), NQ, "ite->collection (NCOL = NULL)")
    var("col_target", range(NC + 1), NCOL, "collection->target_addr (NC = COLLECTION_NOT_MAPPED or none)")
    var("cache", range(NO + 1), NQ, "its->translation_cache: (devid, eventid) -> slot + 1")
    m.spinlock("cmd_lock", doc="its->cmd_lock (mutex)")
    m.spinlock("its_lock", doc="its->its_lock (mutex)")
    # vCPUs
    m.spinlock("ap_list_lock0", doc="vCPU0's vgic_cpu->ap_list_lock (raw spinlock)")
    m.spinlock("ap_list_lock1", doc="vCPU1's vgic_cpu->ap_list_lock (raw spinlock)")
    var("lpis_en", range(3), NC, "vgic_cpu->ctlr: 0, 1 = GICR_CTLR_ENABLE_LPIS, 2 = GICR_CTLR_RWP (being disabled)")
    var("lr_intid", range(NV + 1), (NC, NL), "list register: INTID (0: unused)")
    var("lr_state", range(4), (NC, NL), "list register state: 0 invalid, 1 pending, 2 active, 3 pending+active")
    var("in_guest", bool, NC, "the vCPU runs guest code")
    var("kick", bool, NC, "KVM_REQ_IRQ_PENDING + kvm_vcpu_kick pending for the vCPU")
    var("exits_left", range(K["MAX_EXITS"] + 1), NC, "spontaneous exits left (scenario bound)")
    var("cmd_next", range(K["MAX_SCRIPT"] + 1), NC, "next scripted command of the vCPU's guest")
    var("cmds_left", range(K["MAX_CMDS"] + 1), (), "universe commands the guest may still issue")
    var("cmd_pend", range(K["NBATCH"] + 1), (), "its->cwriter ahead of its->creadr: batch + 1 queued, not yet processed")
    # guest memory
    var("prop_en", bool, NV, "LPI property table: enable bit")
    var("prop_prio", range(NPRIO), NV, "LPI property table: priority")
    # devices
    var("msi_left", range(K["MAX_MSI"] + 1), NQ, "MSIs the device may still send for this event")
    # ghosts
    var("lr_own", range(NO + 1), (NC, NL), "ghost: slot + 1 of the vgic_irq this LR was populated from")
    var("trig", range(K["TRIG_MAX"] + 1), NV, "ghost: triggers (MSI/INT) that translated to this INTID, not yet delivered")
    var("msi_v", range(NV + 1), NQ, "ghost: the INTID the ITS mapped the event to when its MSI was sent")
    var("owed", bool, NQ, "ghost: an MSI for this mapped, enabled event awaits delivery")
    var("gv_lpi", range(NV + 1), NQ, "ghost: the guest's view (completed commands) of the event's INTID")
    var("gv_col", range(NCOL + 1), NQ, "ghost: the guest's view of the event's collection (NCOL: none)")
    var("gv_dev", bool, ND, "ghost: the guest's view: device mapped by a completed MAPD")
    var("gv_dirty", bool, NV, "ghost: the guest changed the property entry and has not yet issued INV")
    var("dev_gone", bool, ND, "ghost: MAPD V=0 completed for the device (and no MAPD V=1 since)")
    var("dt_cur", range(NC + 1), NV, "ghost: the INTID's target vCPU when the last command completed (NC: none)")
    var("dt_old", range(1 << NC), NV, "ghost: earlier targets (bit per vCPU) that may still get one delivery")
    var("dt_soon", range(1 << NC), (NC, NV), "ghost: targets the commands this vCPU wrote and KVM has not completed give")
    var("ce_snap", range(ce_codes(K)), NQ, "ghost: what the guest could see of each event when the last command completed")
    # lockset: arm_vgic.h, struct vgic_irq: "raw_spinlock_t irq_lock; /* Protects the content
    # of the struct */". refcount is a refcount_t (atomic by type) and not declared here.
    # Lock-free accesses the code makes on purpose are marked lockfree() where they happen.
    m.protected_by("irq_lock", *VGIC_IRQ_LOCKED, index="same")
    var("gv_lpis_en", bool, NC, "ghost: the guest's view: EnableLPIs of the vCPU's redistributor is set")
    var("gv_its_en", bool, (), "ghost: the guest's view: GITS_CTLR.Enabled is set")
    m.set_lock_order(LOCK_ORDER)


def initial_vars(sc: Scenario, K: dict[str, Any]) -> dict[str, Any]:
    """Every variable's value before the scenario's setup steps: nothing mapped, the ITS and
    every redistributor's LPIs enabled (the guest did that before its first command)."""
    NC, NL, ND, NQ, NV, NCOL, NO = (K[k] for k in ("NC", "NL", "ND", "NQ", "NV", "NCOL", "NO"))
    s: dict[str, Any] = {
        "o_alive": [0] * NO, "o_ref": [0] * NO, "o_pending": [0] * NO, "o_enabled": [0] * NO, "o_prio": [0] * NO,
        "o_active": [0] * NO, "o_target": [0] * NO, "o_vcpu": [0] * NO, "xa": [0] * NV,
        "its_enabled": 1, "dev": [0] * ND, "ite": [0] * NQ, "ite_irq": [0] * NQ, "ite_col": [NCOL] * NQ,
        "col_target": [NC] * NCOL, "cache": [0] * NQ, "lpis_en": [1] * NC,
        "lr_intid": [[0] * NL for _ in range(NC)], "lr_state": [[0] * NL for _ in range(NC)],
        "in_guest": [1] * NC, "kick": [0] * NC, "exits_left": [K["MAX_EXITS"]] * NC, "cmd_next": [0] * NC,
        "cmds_left": K["MAX_CMDS"], "prop_en": [1] * NV, "prop_prio": [0] * NV, "msi_left": list(K["MSIS"]),
        "lr_own": [[0] * NL for _ in range(NC)], "trig": [0] * NV, "msi_v": [0] * NQ, "owed": [0] * NQ,
        "gv_lpi": [0] * NQ, "gv_col": [NCOL] * NQ, "gv_dev": [0] * ND, "gv_dirty": [0] * NV, "dev_gone": [0] * ND,
        "cmd_pend": 0, "gv_lpis_en": [1] * NC, "gv_its_en": 1,
        "dt_cur": [NC] * NV, "dt_old": [0] * NV, "dt_soon": [[0] * NV for _ in range(NC)],
    }
    resnap(s, K)
    return s


def resnap(s: dict[str, Any], K: dict[str, Any]) -> None:
    """``ce_snap`` (command-error) after a setup step: what the guest can see of each event (the
    formula of :func:`itsrace.kvm.properties.ce_code`)."""
    NC, NV, NCOL, NPOOL = K["NC"], K["NV"], K["NCOL"], K["NPOOL"]
    snap = []
    for q in range(K["NQ"]):
        ite, irq = s["ite"][q], s["ite_irq"][q]
        itv = (irq - 1) // NPOOL + 1 if ite and irq else 0
        c = s["ite_col"][q] if ite else NCOL
        tc = s["col_target"][c] if c < NCOL else NC
        m = s["cache"][q] or (irq if ite else 0)
        mv = (m - 1) // NPOOL + 1 if m else 0
        mt = s["o_target"][m - 1] if m and s["o_alive"][m - 1] else NC
        snap.append((((itv * (NCOL + 1) + c) * (NC + 1) + tc) * (NV + 1) + mv) * (NC + 1) + mt)
    s["ce_snap"] = snap


# -- setup steps: what a sequential, race-free run of KVM's code leaves --------------------------------
@setup
def setup_mapd(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """MAPD valid=1: vgic_its_cmd_handle_mapd -> vgic_its_alloc_device."""
    d, valid = c.args
    if not valid:
        raise ScenarioError(f"{where}: only MAPD valid=1 is supported in a setup")
    if s["dev"][d]:
        raise ScenarioError(f"{where}: device {d} is already mapped")
    s["dev"][d] = s["gv_dev"][d] = 1
    resnap(s, K)


@setup
def setup_mapc(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """MAPC: vgic_its_cmd_handle_mapc (a new collection: no ITE refers to it yet)."""
    col, vcpu, valid = c.args
    s["col_target"][col] = vcpu if valid else K["NC"]
    for q in range(K["NQ"]):  # ghost: the delivery target of what the collection maps
        if s["ite"][q] and s["ite_col"][q] == col and s["gv_lpi"][q]:
            s["dt_cur"][s["gv_lpi"][q] - 1] = s["col_target"][col]
    resnap(s, K)


@setup
def setup_prop(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """The guest's LPI property table entry."""
    lpi, en, prio = c.args
    s["prop_en"][lpi] = en
    s["prop_prio"][lpi] = prio


@setup
def setup_mapti(s: dict[str, Any], K: dict[str, Any], c: Command, where: str) -> None:
    """MAPTI: vgic_its_cmd_handle_mapi: a new ITE whose reference comes from vgic_add_lpi (the
    INTID's live object shared, or a new one in lpi_xa; update_lpi_config reads the property
    table; the pending table bit is clear)."""
    d, ev, lpi, col = c.args
    q, V = d * K["NE"] + ev, lpi + 1
    if not s["dev"][d]:
        raise ScenarioError(f"{where}: device {d} is not mapped (MAPD it first)")
    if s["col_target"][col] == K["NC"]:
        raise ScenarioError(f"{where}: collection {col} is not mapped (MAPC it first)")
    if s["ite"][q]:
        raise ScenarioError(f"{where}: event {ev} of device {d} is already mapped")
    if any(s["gv_lpi"][x] == V for x in range(K["NQ"])):
        raise ScenarioError(f"{where}: vLPI {lpi} is already mapped by another event")
    o1 = s["xa"][lpi]
    if o1:
        s["o_ref"][o1 - 1] += 1
    else:
        o = lpi * K["NPOOL"]
        s["o_alive"][o] = 1
        s["o_ref"][o] = 1
        s["o_target"][o] = s["col_target"][col]
        s["o_enabled"][o] = s["prop_en"][lpi]
        s["o_prio"][o] = s["prop_prio"][lpi]
        s["xa"][lpi] = o1 = o + 1
    s["ite"][q], s["ite_irq"][q], s["ite_col"][q] = 1, o1, col
    s["gv_lpi"][q] = V
    s["gv_col"][q] = col
    s["dt_cur"][lpi] = s["col_target"][col]
    resnap(s, K)


@setup
def setup_lr(s: dict[str, Any], K: dict[str, Any], step: LrStep, where: str) -> None:
    """LR: the vLPI was triggered through the ITS (vgic_its_trigger_msi: the translation is now
    cached, with its reference), queued on the vCPU's ap_list (with its reference) and written to
    a list register by vgic_flush_lr_state (pending_latch consumed); maybe acknowledged."""
    V = step.lpi + 1
    o1 = s["xa"][step.lpi]
    if not o1:
        raise ScenarioError(f"{where}: vLPI {step.lpi} is not mapped (MAPTI it first)")
    o, v = o1 - 1, step.vcpu
    if s["o_target"][o] != v:
        raise ScenarioError(f"{where}: vLPI {step.lpi} targets vCPU {s['o_target'][o]}, not {v}")
    if not s["o_enabled"][o]:
        raise ScenarioError(f"{where}: vLPI {step.lpi} is disabled in the property table")
    if s["o_vcpu"][o]:
        raise ScenarioError(f"{where}: vLPI {step.lpi} is already in an LR")
    k = next((k for k in range(K["NL"]) if not s["lr_intid"][v][k]), None)
    if k is None:
        raise ScenarioError(f"{where}: vCPU {v} has no free list register")
    q = next(x for x in range(K["NQ"]) if s["ite"][x] and s["ite_irq"][x] == o1)
    if not s["cache"][q]:
        s["cache"][q] = o1
        s["o_ref"][o] += 1
    active = step.state == LR_ACTIVE_STATE
    s["o_vcpu"][o] = v + 1
    s["o_ref"][o] += 1
    s["lr_intid"][v][k] = V
    s["lr_state"][v][k] = 2 if active else 1
    s["lr_own"][v][k] = o1
    # the trigger was delivered to an LR; if the guest has not taken it yet it is still owed
    s["trig"][V - 1] = int(not active)
    s["owed"][q] = int(not active)
    resnap(s, K)
