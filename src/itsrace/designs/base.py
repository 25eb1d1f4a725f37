"""The design plug-in interface: the decision points the April 2017 thread argued about.

The hypervisor model (:mod:`itsrace.hyp`) is Xen's code structure: the same functions, locks and
data. Where the thread proposed alternatives, the model asks the design. A design is a frozen
:class:`Design` value; each field answers one question, and the model compiles the answer into
its steps (the answers are constants, so a design costs nothing at check time).

The decision points (field: question, the Xen 4.10 answer first):

``mapti_pristine``
    Does MAPTI mark the new ``pending_irq`` PRISTINE before publishing it in the radix tree
    (vgic-v3-its.c:778)? Xen: yes. "check for NULL" only: no.
``pristine_lr_scan``
    When a PRISTINE ``pending_irq`` is raised, does ``gic_find_unused_lr`` reuse a used LR that
    already holds its vINTID (gic.c:466-475)? Xen: yes.
``stale_lr``
    What ``gic_update_one_lr`` does with an LR whose vINTID has no (or a new) ``pending_irq``:
    ``"null-or-pristine"`` (Xen, gic.c:528: clear the LR if the lookup is NULL or the
    ``pending_irq`` is PRISTINE), ``"null"`` (only a NULL lookup clears it: the thread's option
    III), ``"tag"`` (NULL clears; an UNMAPPED-tagged ``pending_irq`` is retired: Andre's plan).
``discard``
    What ``its_discard_event`` does with the ``pending_irq``, which may still be in an LR:
    ``"reinit"`` (Xen, vgic-v3-its.c:610-623: delete from the tree, unlink from the lists,
    re-initialise; the LR is left alone), ``"tag"`` (Andre: tag it UNMAPPED first, then cut the
    host LPI; if it is in an LR, leave it in the tree and on the lists and let the LR clean-up
    retire it; otherwise retire it now).
``inject_checks_tag``
    Does the injection path drop an LPI whose ``pending_irq`` is tagged UNMAPPED? (Only
    meaningful with ``discard = "tag"``.)
``refcount``
    Is a ``pending_irq`` a reference-counted object, like KVM's ``vgic_irq``? Xen: no. With
    ``True`` (the ``kvm-refcount`` design, ``docs/hyp-model.md``): every ITE holds a reference,
    so does membership of a vCPU's ``inflight_irqs`` (KVM's ap_list), and the injection path
    takes a transient one with a *try-get* in the same step as its lookup; the put that drops
    the last reference evicts the object from the index (radix tree = KVM's ``lpi_xa``) in that
    same step; a MAPTI of a vINTID whose object is still alive shares it (objects are per
    vINTID); MAPD V=0 frees only unreferenced objects (the rest are freed by their final put);
    the index is read under RCU and written under an IRQ-safe lock, so lookups never wait.
``unmap_free``
    When MAPD V=0 frees the ``pend_irqs`` array: ``"immediate"`` (Xen: after discarding every
    event, gic-v3-its.c:558-561), ``"deferred"`` (when the last tagged ``pending_irq`` has been
    retired: Andre's count-down).

``discard`` also accepts ``"put"`` (only with ``refcount``): DISCARD drops only the ITE's
reference; the object stays indexed, on its vCPU's lists and in its LR until the vCPU's exit
syncs the EOIed LR and drops the list reference (KVM's ``its_free_ite``).

Writing your own design: make a ``Design(...)`` with the answers you want and either register
it in :data:`itsrace.designs.DESIGNS` or put it in a Python file as ``DESIGN = Design(...)`` and
pass the file's path to ``itsrace check --design``. See ``docs/hyp-model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

STALE_LR = ("null-or-pristine", "null", "tag")
DISCARD = ("reinit", "tag", "put")
UNMAP_FREE = ("immediate", "deferred")


class DesignError(ValueError):
    """A design's answers are inconsistent or unknown. ``str()`` is one line."""


@dataclass(frozen=True)
class Design:
    """A race-handling design for Xen's vITS / vGIC: one answer per decision point."""

    name: str
    summary: str
    source: str = ""
    mapti_pristine: bool = True
    pristine_lr_scan: bool = True
    stale_lr: str = "null-or-pristine"
    discard: str = "reinit"
    inject_checks_tag: bool = False
    unmap_free: str = "immediate"
    refcount: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.stale_lr not in STALE_LR:
            raise DesignError(f"design '{self.name}': stale_lr must be one of {', '.join(STALE_LR)}")
        if self.discard not in DISCARD:
            raise DesignError(f"design '{self.name}': discard must be one of {', '.join(DISCARD)}")
        if self.unmap_free not in UNMAP_FREE:
            raise DesignError(f"design '{self.name}': unmap_free must be one of {', '.join(UNMAP_FREE)}")
        if (self.discard == "put") != self.refcount:
            raise DesignError(f"design '{self.name}': discard='put' and refcount=True go together "
                              "(only a reference-counted object can outlive its ITE)")
        tagging = self.discard == "tag"
        if tagging != (self.stale_lr == "tag"):
            raise DesignError(f"design '{self.name}': discard='tag' and stale_lr='tag' go together "
                              "(a tagged pending_irq must be retired by the LR clean-up)")
        if self.inject_checks_tag and not tagging:
            raise DesignError(f"design '{self.name}': inject_checks_tag needs discard='tag'")
        if self.unmap_free == "deferred" and not tagging:
            raise DesignError(f"design '{self.name}': unmap_free='deferred' needs discard='tag'")

    def answers(self) -> dict[str, object]:
        """The decision-point answers (every field but the descriptive ones)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "summary", "source")}
