"""Designs on Xen 4.10, each a patch written as overrides of the base model's functions.

Each module defines ``DESIGN``; :data:`SHIPPED` lists them in the order ``itsrace list designs``
and ``itsrace matrix`` show them (a design after the one it builds on): the thread's proposals,
KVM's refcounting as a stand-in, two reviewers' patches, and the fixes of docs/findings.md.
"""

from itsrace.hyp.design import Design
from itsrace.xen.designs import (
    clear_invalid_lpi,
    discard_lpi_vcpu_lock,
    discard_unmapped_collection,
    inject_read_locked,
    kvm_refcount,
    mapti_irqsave,
    mapti_refuse_in_lr,
    masked_lpi_handlers,
    null_check,
    unmapped_nlp,
    unmapped_tag,
)

SHIPPED: tuple[Design, ...] = (
    # the thread's proposals
    null_check.DESIGN, unmapped_tag.DESIGN, unmapped_nlp.DESIGN,
    # KVM's design, on Xen's code structure
    kvm_refcount.DESIGN,
    # reviewers' patches (docs/designs.md)
    discard_lpi_vcpu_lock.DESIGN, mapti_refuse_in_lr.DESIGN,
    # fixes of the findings (docs/findings.md)
    inject_read_locked.DESIGN, mapti_irqsave.DESIGN, discard_unmapped_collection.DESIGN, clear_invalid_lpi.DESIGN,
    # later Xen releases, as designs on 4.10
    masked_lpi_handlers.DESIGN,
)

__all__ = ["SHIPPED"]
