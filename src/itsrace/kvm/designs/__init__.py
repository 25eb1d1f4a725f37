"""Designs on the ``kvm`` base, each a patch written as overrides of the base's functions: KVM's
history (the code as it was before a fix) and fixes of the findings (docs/findings.md section 7). :data:`SHIPPED` is registered by name in
:mod:`itsrace.catalog` (``itsrace list designs``, ``itsrace matrix``), after Xen's designs."""

from itsrace.hyp.design import Design
from itsrace.kvm.designs import cve_2024_26598, cve_2026_74568, invalidate_put_erased

SHIPPED: tuple[Design, ...] = (
    # history
    cve_2024_26598.DESIGN, cve_2026_74568.DESIGN,
    # fixes of the findings
    invalidate_put_erased.DESIGN,
)
