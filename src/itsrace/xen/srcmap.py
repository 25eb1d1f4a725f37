"""Where each model step is in the C tree: the machine-readable form of ``docs/xen-model-map.md``.

The mechanism is :mod:`itsrace.hyp.srcmap` (shared with KVM); this module holds Xen's tables.
Two sources, most precise first:

1. **A step annotation** in the model's own comment, in the fixed form ``[file.c:LINE]`` (the
   short file names below), e.g. ``spin_lock_irqsave(...)  # [vgic-v3-its.c:607] lock the ITTE
   vCPU``. It names the C line of that one step and is stripped from the text a timeline shows.
2. **The function's location** (:data:`FUNCTIONS`): the C function a model function stands for
   and the line its body starts at. A step without an annotation falls back to it.

Every step of the base model and of the shipped Xen designs carries its own annotation
(``tests/hyp/test_srcmap.py`` fails on a step without one; model-internal control steps that
the timeline hides carry one too, there being no exemption list). In a **design** file:

* ``[file.c:LINE]`` is the RELEASE-4.10.0 line of the step: the unchanged C line, or, for a
  step the patch changes, the 4.10 line the patch changes (so the reader opens the 4.10 file at
  the place the patch applies);
* ``[patch]`` marks code the patch adds that has no 4.10 line (a new function such as
  unmapped-tag's ``its_cleanup_lpi``, a new test such as ``test_bit(UNMAPPED)``). Such a step is
  shown at the design file's own line, ``unmapped_tag.py:74 (patch)``, with no link.

A function a design adds and this table does not know, in a step with no annotation, has no C
location (:func:`locate` returns ``None``; the caller shows the model location instead).
"""

from __future__ import annotations

from itsrace.hyp.srcmap import ANNOTATION, PATCH, CLocation, SourceMap, split_annotation

TREE = "Xen RELEASE-4.10.0"
TAG = "RELEASE-4.10.0"

# short name -> path in xen.git
FILES = {
    "gic-v3-lpi.c": "xen/arch/arm/gic-v3-lpi.c",
    "vgic.c": "xen/arch/arm/vgic.c",
    "vgic-v3.c": "xen/arch/arm/vgic-v3.c",
    "gic.c": "xen/arch/arm/gic.c",
    "gic-v3.c": "xen/arch/arm/gic-v3.c",
    "vgic-v3-its.c": "xen/arch/arm/vgic-v3-its.c",
    "gic-v3-its.c": "xen/arch/arm/gic-v3-its.c",
    "traps.c": "xen/arch/arm/traps.c",
    "entry.S": "xen/arch/arm/arm64/entry.S",
    "io.c": "xen/arch/arm/io.c",
    "rwlock.c": "xen/common/rwlock.c",
    "rwlock.h": "xen/include/xen/rwlock.h",
    "hardware": "",  # not C: the device, the GIC or the guest
}

# model function -> (C function, short file, first line); from docs/xen-model-map.md
FUNCTIONS: dict[str, tuple[str, str, int]] = {
    # physical LPIs and injection
    "gicv3_do_LPI": ("gicv3_do_LPI", "gic-v3-lpi.c", 171),
    "vgic_vcpu_inject_lpi": ("vgic_vcpu_inject_lpi", "gic-v3-lpi.c", 139),
    "vgic_vcpu_inject_irq": ("vgic_vcpu_inject_irq", "vgic.c", 511),
    "vgic_v3_lpi_to_pending": ("vgic_v3_lpi_to_pending", "vgic-v3.c", 1770),
    "vgic_v3_lpi_get_priority": ("vgic_v3_lpi_get_priority", "vgic-v3.c", 1783),
    "device_sends_msi": ("device MSI -> host ITS -> redistributor", "gic-v3-its.c", 602),
    # list registers
    "gic_find_unused_lr": ("gic_find_unused_lr", "gic.c", 456),
    "gic_set_lr": ("gic_set_lr", "gic.c", 373),
    "gic_raise_guest_irq": ("gic_raise_guest_irq", "gic.c", 483),
    "gic_update_one_lr": ("gic_update_one_lr", "gic.c", 510),
    "gic_raise_inflight_irq": ("gic_raise_inflight_irq", "gic.c", 423),
    "gic_clear_lrs": ("gic_clear_lrs", "gic.c", 597),
    "gic_restore_pending_irqs": ("gic_restore_pending_irqs", "gic.c", 622),
    "gic_inject": ("gic_inject", "gic.c", 727),
    "gic_add_to_lr_pending": ("gic_add_to_lr_pending", "gic.c", 387),
    "gic_remove_from_lr_pending": ("gic_remove_from_lr_pending", "gic.c", 407),
    "gic_remove_irq_from_queues": ("gic_remove_irq_from_queues", "gic.c", 414),
    # ITS commands
    "vgic_its_handle_cmds": ("vgic_its_handle_cmds", "vgic-v3-its.c", 909),
    # guest register writes (itsrace.xen.guest_regs)
    "dispatch_mmio_write": ("handle_mmio", "io.c", 103),
    "vgic_v3_rdistr_write_ctlr": ("__vgic_v3_rdistr_rd_mmio_write", "vgic-v3.c", 480),
    "vgic_v3_its_write_ctlr": ("vgic_v3_its_mmio_write", "vgic-v3-its.c", 1238),
    "vgic_v3_its_write_cwriter": ("vgic_v3_its_mmio_write", "vgic-v3-its.c", 1238),
    "its_handle_command": ("vgic_its_handle_cmds (command switch)", "vgic-v3-its.c", 928),
    "its_handle_mapc": ("its_handle_mapc", "vgic-v3-its.c", 321),
    "its_handle_mapd": ("its_handle_mapd", "vgic-v3-its.c", 658),
    "its_unmap_device": ("its_unmap_device", "vgic-v3-its.c", 632),
    "remove_mapped_guest_device": ("remove_mapped_guest_device", "gic-v3-its.c", 537),
    "its_discard_event": ("its_discard_event", "vgic-v3-its.c", 586),
    "vgic_init_pending_irq_invalid": ("vgic_init_pending_irq", "vgic.c", 64),
    "gicv3_remove_guest_event": ("gicv3_remove_guest_event", "gic-v3-its.c", 865),
    "its_handle_discard": ("its_handle_discard", "vgic-v3-its.c", 871),
    "its_handle_mapti": ("its_handle_mapti", "vgic-v3-its.c", 709),
    "its_handle_movi": ("its_handle_movi", "vgic-v3-its.c", 808),
    "its_handle_int": ("its_handle_int", "vgic-v3-its.c", 299),
    "its_handle_clear": ("its_handle_clear", "vgic-v3-its.c", 346),
    "update_lpi_property": ("update_lpi_property", "vgic-v3-its.c", 400),
    "update_lpi_vgic_status": ("update_lpi_vgic_status", "vgic-v3-its.c", 441),
    "its_handle_inv": ("its_handle_inv", "vgic-v3-its.c", 455),
    "its_handle_invall": ("its_handle_invall", "vgic-v3-its.c", 514),
    # vCPUs and the guest
    "vcpu": ("guest_sync / guest_irq -> enter_hypervisor_head", "traps.c", 2087),
    "guest_acknowledges": ("guest reads ICC_IAR1_EL1", "hardware", 0),
    "guest_eoi": ("guest writes ICC_EOIR1_EL1", "hardware", 0),
    "guest_writes_property": ("guest writes its LPI property table", "hardware", 0),
}

XEN = SourceMap(TREE, {short: (f"https://xenbits.xen.org/gitweb/?p=xen.git;a=blob;f={path};hb={TAG}#l{{line}}"
                                 if path else "") for short, path in FILES.items()}, FUNCTIONS)


def locate(function: str, comment: str = "", where: str = "") -> CLocation | None:
    """The C location of a step of model function ``function`` whose comment is ``comment``
    (:meth:`itsrace.hyp.srcmap.SourceMap.locate` on the Xen tables)."""
    return XEN.locate(function, comment, where)


__all__ = ["ANNOTATION", "FILES", "FUNCTIONS", "PATCH", "TAG", "TREE", "XEN", "CLocation", "locate",
           "split_annotation"]
