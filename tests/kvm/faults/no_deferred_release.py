# mypy: ignore-errors
"""Test-only fault on kvm: the ap_list paths put without release and nobody sweeps the orphans
(vgic_release_deleted_lpis does nothing): a count-0 object stays allocated in lpi_xa."""

from __future__ import annotations

from itsrace.hyp.design import Design

DESIGN = Design("fault:no-deferred-release", base="kvm",
                summary="vgic_release_deleted_lpis releases nothing")


@DESIGN.override
def vgic_release_deleted_lpis(self, s):
    """Nothing."""
    return
