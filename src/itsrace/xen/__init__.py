"""Xen's virtual ITS and vGIC as of RELEASE-4.10.0, in the engine's process language: the base
model ``xen-4.10``, and the designs that patch it (:mod:`itsrace.xen.designs`).

Modules, one concern each (like KVM's vgic directory), every function named after the C function
it models (``docs/xen-model-map.md`` maps each step to its file and line):
``consts`` (sizes and encodings from a scenario), ``state`` (variables and setup steps),
``pending_irq`` (pointers, lookups, list membership), ``lr`` (list registers), ``vgic``
(injection), ``its_cmds`` (the guest's ITS commands), ``vcpu`` (guest mode, traps, the guest's
LR actions), ``lpi`` (gicv3_do_LPI, devices), ``properties`` (the catalogue's predicates over
this state). See ``docs/hyp-model.md``.

Lock order (top of vgic-v3-its.c; checked as ``lock-order``):
``vcmd_lock -> its_lock -> its_devices_lock -> v->arch.vgic.lock -> pend_lpi_tree_lock``.
"""

from itsrace.hyp.design import BaseModel
from itsrace.xen import guest_regs, its_cmds, lpi, lr, pending_irq, properties, state, vcpu, vgic
from itsrace.xen.consts import make_consts

XEN_4_10 = BaseModel(
    "xen-4.10",
    summary="Xen RELEASE-4.10.0 as merged: NULL checks, PRISTINE marking, DISCARD re-initialises at once",
    source="xen-project/xen RELEASE-4.10.0 (xen/arch/arm/{gic.c,vgic.c,vgic-v3.c,vgic-v3-its.c,gic-v3-its.c,gic-v3-lpi.c})",
    modules=(pending_irq, lr, vgic, its_cmds, lpi, guest_regs, vcpu, properties, state),
    make_consts=make_consts,
    initial_vars=state.initial_vars,
    declare=state.declare,
    meta_consts=("NC", "NL", "ND", "NE", "NQ", "NV", "NCOL", "VCPU_PCPU"),
)

__all__ = ["XEN_4_10"]
