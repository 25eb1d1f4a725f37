"""Where each step of the ``kvm`` base model is in the Linux tree: the machine-readable form of
``docs/kvm-model-map.md`` (the mechanism is :mod:`itsrace.hyp.srcmap`, shared with Xen).

The modelled files come from four commits of ``intel-lab-lkp/linux`` (the newest stored
versions, 2026 code; ``docs/kvm-model-map.md`` says why). Each short file name below links to
its own commit on GitHub. A step whose model line carries ``[its.c:LINE]`` (or ``[vgic.c:LINE]``,
``[v3.c:LINE]``, optionally with the C function, ``[its.c:638 vgic_its_resolve_lpi]``; the
lines of the map's "steps" column) is shown at that line; every other step at the first line
of the KVM function its model function stands for (:data:`FUNCTIONS`, the "location" column). A function
this table does not know yet (a model that gained a procedure) falls back to the model's own
location; ``tests/kvm/test_kvm_srcmap.py`` keeps every procedure of the base model in the table.
"""

from __future__ import annotations

from itsrace.hyp.srcmap import CLocation, SourceMap

TREE = "Linux arm64 vgic-its (2026, intel-lab-lkp/linux)"
REPO = "https://github.com/intel-lab-lkp/linux/blob"

# short name -> (path in linux.git, commit of intel-lab-lkp/linux the model was read at)
COMMITS: dict[str, tuple[str, str]] = {
    "its.c": ("arch/arm64/kvm/vgic/vgic-its.c", "0a15de082a7ffca2eb0b9d62a4489b12bb333d57"),
    "vgic.c": ("arch/arm64/kvm/vgic/vgic.c", "014a16727ce264c18a60b68323b4a2e462f0f397"),
    "v3.c": ("arch/arm64/kvm/vgic/vgic-v3.c", "22e4f8420e6f2589234ee249126e17f1d795322d"),
    "mmio-v3.c": ("arch/arm64/kvm/vgic/vgic-mmio-v3.c", "0202d9ee7f88efbf0de090c8624b9ae3a8fa5910"),
}
FILES: dict[str, str] = {short: f"{REPO}/{commit}/{path}#L{{line}}" for short, (path, commit) in COMMITS.items()}
FILES.update({
    "vgic.h": "",  # not read at the modelled commit (docs/kvm-model-map.md)
    "arm.c": "",  # kvm_arch_vcpu_ioctl_run: not read
    "vgic-mmio.c": "",  # dispatch_mmio_write: not read
    "device": "",  # not C: the device, the VMM or the guest
    "hardware": "",
})

# model function -> (KVM function, short file, first line); from docs/kvm-model-map.md
FUNCTIONS: dict[str, tuple[str, str, int]] = {
    # vgic_irq lifetime (irq.py)
    "vgic_get_lpi": ("vgic_get_lpi", "vgic.c", 66),
    "vgic_get_irq_ref": ("vgic_get_irq_ref", "vgic.h", 0),
    "vgic_release_lpi_locked": ("vgic_release_lpi_locked", "vgic.c", 135),
    "vgic_put_irq": ("vgic_put_irq", "vgic.c", 155),
    "vgic_put_irq_norelease": ("vgic_put_irq_norelease", "vgic.c", 150),
    "vgic_release_deleted_lpis": ("vgic_release_deleted_lpis", "vgic.c", 179),
    # creating LPIs and their configuration (its_cmds.py)
    "vgic_add_lpi": ("vgic_add_lpi", "its.c", 76),
    "update_lpi_config": ("update_lpi_config", "its.c", 288),
    "vgic_v3_lpi_sync_pending_status": ("vgic_v3_lpi_sync_pending_status", "v3.c", 313),
    "update_affinity": ("update_affinity", "its.c", 321),
    "update_affinity_collection": ("update_affinity_collection", "its.c", 371),
    # queueing, ap_lists, list registers (vgic.py)
    # helpers for a lock every caller takes at its own line (465, 759, 1130, ...): no one line
    "ap_list_lock": ("raw_spin_lock(&vgic_cpu->ap_list_lock)", "vgic.c", 0),
    "ap_list_unlock": ("raw_spin_unlock(&vgic_cpu->ap_list_lock)", "vgic.c", 0),
    "vgic_queue_irq_unlock": ("vgic_queue_irq_unlock", "vgic.c", 416),
    "vgic_prune_ap_list": ("vgic_prune_ap_list", "vgic.c", 750),
    "vgic_flush_pending_lpis": ("vgic_flush_pending_lpis", "vgic.c", 195),
    "vgic_v3_fold_lr_state": ("vgic_v3_fold_lr_state", "v3.c", 36),
    "vgic_flush_lr_state": ("vgic_flush_lr_state", "vgic.c", 1004),
    "kvm_vgic_sync_hwstate": ("kvm_vgic_sync_hwstate", "vgic.c", 1071),
    "kvm_vgic_flush_hwstate": ("kvm_vgic_flush_hwstate", "vgic.c", 1135),
    # the translation cache (cache.py)
    "vgic_its_check_cache": ("vgic_its_check_cache", "its.c", 539),
    "vgic_its_cache_translation": ("vgic_its_cache_translation", "its.c", 564),
    "vgic_its_invalidate_cache": ("vgic_its_invalidate_cache", "its.c", 602),
    "vgic_its_invalidate_all_caches": ("vgic_its_invalidate_all_caches", "its.c", 614),
    # MSIs (msi.py) and triggers
    "kvm_set_msi": ("KVM_SIGNAL_MSI / irqfd -> kvm_set_msi", "device", 0),
    "vgic_its_inject_msi": ("vgic_its_inject_msi", "its.c", 727),
    "vgic_its_inject_cached_translation": ("vgic_its_inject_cached_translation", "its.c", 702),
    "vgic_its_trigger_msi": ("vgic_its_trigger_msi", "its.c", 680),
    # ITS commands (its_cmds.py, vcpu.py)
    "vgic_mmio_write_its_cwriter": ("vgic_mmio_write_its_cwriter", "its.c", 1562),
    "vgic_its_process_commands": ("vgic_its_process_commands", "its.c", 1526),
    "vgic_its_cmd_handle_movall": ("vgic_its_cmd_handle_movall", "its.c", 1358),
    # guest register writes (docs/kvm-model-map.md)
    "dispatch_mmio_write": ("dispatch_mmio_write", "vgic-mmio.c", 0),
    "vgic_mmio_write_v3r_ctlr": ("vgic_mmio_write_v3r_ctlr", "mmio-v3.c", 285),
    "vgic_mmio_write_its_ctlr": ("vgic_mmio_write_its_ctlr", "its.c", 1720),
    "vgic_its_handle_command": ("vgic_its_handle_command", "its.c", 1408),
    "its_free_ite": ("its_free_ite", "its.c", 758),
    "vgic_its_cmd_handle_discard": ("vgic_its_cmd_handle_discard", "its.c", 797),
    "vgic_its_cmd_handle_mapd": ("vgic_its_cmd_handle_mapd", "its.c", 1160),
    "vgic_its_free_device": ("vgic_its_free_device", "its.c", 1099),
    "vgic_its_cmd_handle_mapc": ("vgic_its_cmd_handle_mapc", "its.c", 1203),
    "vgic_its_cmd_handle_mapi": ("vgic_its_cmd_handle_mapi", "its.c", 1031),
    "vgic_its_cmd_handle_movi": ("vgic_its_cmd_handle_movi", "its.c", 828),
    "vgic_its_cmd_handle_clear": ("vgic_its_cmd_handle_clear", "its.c", 1250),
    "vgic_its_cmd_handle_inv": ("vgic_its_cmd_handle_inv", "its.c", 1280),
    "vgic_its_cmd_handle_invall": ("vgic_its_cmd_handle_invall", "its.c", 1333),
    "vgic_its_invall": ("vgic_its_invall", "its.c", 1303),
    "vgic_its_cmd_handle_int": ("vgic_its_cmd_handle_int", "its.c", 1395),
    # vCPUs and the guest
    "vcpu": ("kvm_arch_vcpu_ioctl_run: guest exit / entry", "arm.c", 0),
    "guest_acknowledges": ("guest reads ICC_IAR1_EL1", "hardware", 0),
    "guest_eoi": ("guest writes ICC_EOIR1_EL1", "hardware", 0),
    "guest_writes_property": ("guest writes its LPI property table", "hardware", 0),
}

KVM = SourceMap(TREE, FILES, FUNCTIONS)


def locate(function: str, comment: str = "", where: str = "") -> CLocation | None:
    """The Linux location of a step of model function ``function`` (see the module docstring)."""
    return KVM.locate(function, comment, where)


__all__ = ["COMMITS", "FILES", "FUNCTIONS", "KVM", "TREE", "locate"]
