"""Designs on Xen 4.10, each a patch written as overrides of the base model's functions.

Each module defines ``DESIGN``; :data:`SHIPPED` lists them in the order ``itsrace list designs``
and ``itsrace matrix`` show them (a design after the one it builds on).
"""

from itsrace.hyp.design import Design
from itsrace.xen.designs import kvm_refcount, null_check, unmapped_tag

SHIPPED: tuple[Design, ...] = (null_check.DESIGN, unmapped_tag.DESIGN, kvm_refcount.DESIGN)

__all__ = ["SHIPPED"]
