"""Designs on the ``kvm`` base: KVM's history, each a patch written as overrides of the base's
functions (the code as it was before a fix). :data:`SHIPPED` is registered by name in
:mod:`itsrace.catalog` (``itsrace list designs``, ``itsrace matrix``), after Xen's designs."""

from itsrace.hyp.design import Design
from itsrace.kvm.designs import cve_2024_26598, cve_2026_74568

SHIPPED: tuple[Design, ...] = (cve_2024_26598.DESIGN, cve_2026_74568.DESIGN)
