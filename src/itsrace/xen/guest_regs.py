# mypy: disable-error-code="valid-type"
"""Guest register writes Xen 4.10 handles besides GITS_CWRITER: GICR_CTLR (``vgic-v3.c``) and
GITS_CTLR (``vgic-v3-its.c``), the guest actions ``GICR_CTLR vcpu=V enable_lpis=0|1`` and
``GITS_CTLR enabled=0|1`` of the scenario format (``docs/hyp-model.md``).

Xen RELEASE-4.10.0 (line numbers of that tag):

* **GICR_CTLR** (``__vgic_v3_rdistr_rd_mmio_write``, vgic-v3.c:489-509): under the domain's vgic
  lock (``vgic_lock(v)``, interrupts off) and vCPU V's vgic lock, EnableLPIs is acted on only
  when it is *set* on a redistributor whose LPIs are not enabled yet ("LPIs can only be enabled
  once, but never disabled again", vgic-v3.c:500). Every redistributor has LPIs enabled before a
  scenario starts, so both writes change nothing: clearing is ignored, as is setting it again.
* **GITS_CTLR** (``vgic_v3_its_mmio_write``, vgic-v3-its.c:1248-1270): under ``vcmd_lock`` and
  ``its_lock``, ``its->enabled`` takes the new value (``vgic_v3_verify_its_status`` accepts
  it: the command queue and both tables are valid). Nothing else: no command is run, and the
  LPI path does not look at ``its->enabled`` (an MSI is a host LPI whose entry Xen keeps).
* **GITS_CWRITER** (vgic-v3-its.c:1308-1322): ``its->cwriter`` moves, and the commands run only
  ``if ( its->enabled )``. Queued commands then wait for the next CWRITER write; enabling the ITS
  does not run them (KVM's ``vgic_mmio_write_its_ctlr`` does).

The domain vgic lock (``d->arch.vgic.lock``) is not modelled: it serialises GICR_CTLR and
GICR_PROPBASER writes, whose bodies change nothing here; its effect that matters, interrupts
masked on the writing pCPU, is.

MSIs a thread that is not a vCPU injects (``source=thread``) do not exist on Xen 4.10: its vITS
is Dom0's, Dom0's devices are physical, and nothing in Xen injects an MSI into a vITS from
software; the model sends none (``initial_vars`` keeps only the scenario's ``source=lpi`` MSIs).
"""

from __future__ import annotations

from typing import Any

from itsrace.engine import Model
from itsrace.engine.lang.process import (
    atomic,
    local_irq_disable,
    local_irq_enable,
    spin_lock,
    spin_lock_irqsave,
    spin_unlock,
    spin_unlock_irqrestore,
)
from itsrace.hyp.lang import procedure, pure
from itsrace.hyp.scenario import REG_WRITES
from itsrace.xen.consts import BATCH, BATCH_LEN, CMD_OP, MAX_BATCH, NBATCH, NC, NCOL, NPC, NQ


def declare(m: Model, K: dict[str, Any], init: dict[str, Any]) -> None:
    """The vITS state these writes touch."""
    m.var("its_enabled", bool, (), init=init.get("its_enabled"), doc="its->enabled (GITS_CTLR.Enabled)")
    m.var("cmd_pend", range(K["NBATCH"] + 1), (), init=init.get("cmd_pend"),
          doc="its->cwriter ahead of its->creadr: batch + 1 queued while the ITS was disabled")


def initial_vars(K: dict[str, Any]) -> dict[str, Any]:
    """The ITS is enabled before the scenario starts; no command is queued."""
    return {"its_enabled": 1, "cmd_pend": 0}


@pure
def queue_drained(act: int, b: int, cmd_pend: int) -> bool:
    """The guest writes GITS_CWRITER again only once GITS_CREADR has reached it (a Linux guest
    waits for its commands' completion); register writes do not wait."""
    return act == 0 or cmd_pend == 0 or CMD_OP[BATCH[b][0]] in REG_WRITES


@procedure
def vgic_v3_rdistr_write_ctlr(self, s, cpu: range(NPC), v: range(NC), en: range(2)):
    """__vgic_v3_rdistr_rd_mmio_write, case GICR_CTLR (vgic-v3.c:489-509), on vCPU v's
    redistributor (from whichever vCPU wrote it)."""
    local_irq_disable()  # [vgic-v3.c:497] vgic_lock(v): spin_lock_irq(&d->arch.vgic.lock) (the lock is not modelled)
    spin_lock_irqsave(s.vgic_lock[v])  # [vgic-v3.c:498] spin_lock_irqsave(&v->arch.vgic.lock, flags)
    with atomic():  # [vgic-v3.c:501] (r & GICR_CTLR_ENABLE_LPIS) && !(v->arch.vgic.flags & VGIC_V3_LPIS_ENABLED): never
        if en == 0:  # ghost: the guest no longer expects LPIs on this redistributor
            for q in range(NQ):
                if vcpu_of_event(s.itte_col, s.col_vcpu, q) == v:
                    s.owed[q] = 0
    spin_unlock_irqrestore(s.vgic_lock[v])  # [vgic-v3.c:505] spin_unlock_irqrestore(&v->arch.vgic.lock, flags)
    with atomic():  # [vgic-v3.c:506] vgic_unlock(v)
        local_irq_enable()


@pure
def vcpu_of_event(itte_col: tuple[int, ...], col_vcpu: tuple[int, ...], q: int) -> int:
    """The vCPU the event's ITT entry's collection targets (NC: none)."""
    return NC if itte_col[q] >= NCOL else col_vcpu[itte_col[q]]


@procedure
def vgic_v3_its_write_ctlr(self, s, cpu: range(NPC), en: range(2)):
    """vgic_v3_its_mmio_write, case GITS_CTLR (vgic-v3-its.c:1248-1270)."""
    spin_lock(s.vcmd_lock)  # [vgic-v3-its.c:1258] spin_lock(&its->vcmd_lock)
    spin_lock(s.its_lock)  # [vgic-v3-its.c:1259] spin_lock(&its->its_lock)
    with atomic():  # [vgic-v3-its.c:1264] ctlr ^ reg32: its->enabled = vgic_v3_verify_its_status(its, enable)
        s.its_enabled = en
        if en == 0:  # ghost: the guest no longer expects its MSIs to be translated
            for q in range(NQ):
                s.owed[q] = 0
    spin_unlock(s.its_lock)  # [vgic-v3-its.c:1267] spin_unlock(&its->its_lock)
    spin_unlock(s.vcmd_lock)  # [vgic-v3-its.c:1268] spin_unlock(&its->vcmd_lock)


@procedure
def vgic_v3_its_write_cwriter(self, s, b: range(NBATCH)):
    """The GITS_CWRITER case (vgic-v3-its.c:1308-1322), ``vcmd_lock`` held: move CWRITER past
    the batch; return 0 if the ITS is enabled (vgic_its_handle_cmds runs it), else the batch's
    length: it stays queued."""
    with atomic():  # [vgic-v3-its.c:1314] its->cwriter = ITS_CMD_OFFSET(reg); if ( its->enabled )
        skip: range(MAX_BATCH + 1) = 0
        if not s.its_enabled:
            s.cmd_pend = b + 1
            skip = BATCH_LEN[b]
    return skip


__all__ = ["declare", "initial_vars", "queue_drained", "vgic_v3_its_write_ctlr", "vgic_v3_its_write_cwriter",
           "vgic_v3_rdistr_write_ctlr"]
