"""Race-handling designs for Xen's vITS/vGIC, plugged into :mod:`itsrace.hyp`.

A design answers the decision points the April 2017 thread argued about
(:class:`~itsrace.designs.base.Design`). Shipped designs are listed in :data:`DESIGNS`;
:func:`get_design` also accepts the path of a Python file defining ``DESIGN = Design(...)``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from itsrace.designs.base import Design, DesignError
from itsrace.designs.kvm_refcount import DESIGN as KVM_REFCOUNT
from itsrace.designs.null_check import DESIGN as NULL_CHECK
from itsrace.designs.unmapped_tag import DESIGN as UNMAPPED_TAG
from itsrace.designs.xen_4_10 import DESIGN as XEN_4_10

DESIGNS: dict[str, Design] = {d.name: d for d in (XEN_4_10, UNMAPPED_TAG, NULL_CHECK, KVM_REFCOUNT)}


def get_design(name_or_path: str) -> Design:
    """A shipped design by name, or ``DESIGN`` from a Python file (any problem: DesignError)."""
    if name_or_path in DESIGNS:
        return DESIGNS[name_or_path]
    path = Path(name_or_path)
    if name_or_path.endswith(".py") or path.is_file():
        if not path.is_file():
            raise DesignError(f"cannot read design file '{name_or_path}'")
        spec = importlib.util.spec_from_file_location(f"itsrace_user_design_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise DesignError(f"cannot load design file '{name_or_path}'")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except DesignError:
            raise
        except Exception as exc:  # a user's file: report, don't crash
            raise DesignError(f"{path.name}: {type(exc).__name__}: {exc}") from None
        design = getattr(module, "DESIGN", None)
        if not isinstance(design, Design):
            raise DesignError(f"{path.name}: no DESIGN = Design(...) in the file")
        return design
    raise DesignError(f"unknown design '{name_or_path}' (known: {', '.join(DESIGNS)}; or a .py file)")


__all__ = ["DESIGNS", "Design", "DesignError", "get_design"]
