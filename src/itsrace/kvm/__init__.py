"""KVM's vgic-its and vGIC LPI handling (Linux arm64, 2026), in the engine's process language: the
base model ``kvm``, and the designs that patch it (:mod:`itsrace.kvm.designs`).

Modules, one concern each, every function named after the C function it models
(``docs/kvm-model-map.md`` maps each step to its file and line): ``consts`` (sizes and
encodings from a scenario), ``state`` (variables and setup steps), ``irq`` (vgic_irq lifetime:
lpi_xa, get/put, deferred release), ``vgic`` (ap_lists, queueing, prune, LR flush and fold),
``cache`` (the ITS translation cache), ``its_cmds`` (command handlers, vgic_add_lpi,
vgic_its_trigger_msi), ``msi`` (MSI injection, fast and slow path), ``vcpu`` (the run loop,
CWRITER, the guest's LR actions), ``properties``. See ``docs/kvm-model.md``.

Lock order (vgic.c's header comment; checked as ``lock-order``):
``cmd_lock -> its_lock -> lpi_xa.xa_lock -> ap_list_lock (vcpu_id order) -> irq_lock``.
"""

from itsrace.hyp.design import BaseModel
from itsrace.kvm import cache, irq, its_cmds, msi, properties, state, vcpu, vgic
from itsrace.kvm.consts import make_consts

SOURCE = ("Linux arm64 KVM, 2026 (vgic-its.c @ intel-lab-lkp/linux 0a15de082a7f, vgic.c @ 014a16727ce2, "
          "vgic-v3.c @ 22e4f8420e6f, vgic-mmio-v3.c @ 0202d9ee7f88; see docs/kvm-model-map.md)")

KVM = BaseModel(
    "kvm",
    summary="KVM arm64 vgic-its, 2026 kernel: refcounted vgic_irq, RCU lpi_xa, translation cache, deferred release",
    source=SOURCE,
    modules=(irq, vgic, cache, its_cmds, msi, vcpu, properties, state),
    make_consts=make_consts,
    initial_vars=state.initial_vars,
    declare=state.declare,
    meta_consts=("NC", "NL", "ND", "NE", "NQ", "NV", "NCOL", "NO", "VCPU_PCPU"),
)

__all__ = ["KVM"]
