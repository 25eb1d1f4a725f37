"""Bit-packed state layout: every array element of every variable is one *slot* of an integer.

A state is a single Python ``int``. Slot ``k`` holds ``value - lo`` in ``width`` bits at bit
offset ``off``. Packing makes states cheap to hash and store (an int of a few machine words
instead of a tuple of objects), and makes most successors a mask-and-or of the parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang.core import ModelCore, VarDecl, value_at


@dataclass(frozen=True)
class Slot:
    var: str
    index: tuple[int, ...]
    ident: str  # Python-identifier suffix: "pend__2", "lr__1__0"
    lo: int
    hi: int
    off: int
    width: int

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    @property
    def label(self) -> str:
        return self.var + "".join(f"[{i}]" for i in self.index)


class Layout:
    """Where each variable element lives in the packed state, plus encode/decode."""

    def __init__(self, model: ModelCore) -> None:
        self.vars: dict[str, VarDecl] = dict(model.vars)
        self.slots: list[Slot] = []
        self.by_key: dict[tuple[str, tuple[int, ...]], Slot] = {}
        off = 0
        for decl in model.vars.values():
            if "__" in decl.name:
                raise ModelError(f"variable name '{decl.name}' must not contain '__'")
            width = max(1, (decl.hi - decl.lo).bit_length())
            for index in decl.indices():
                ident = decl.name + "".join(f"__{i}" for i in index)
                slot = Slot(decl.name, index, ident, decl.lo, decl.hi, off, width)
                self.slots.append(slot)
                self.by_key[(decl.name, index)] = slot
                off += width
        self.bits = off
        # arrays indexed through a pointer: var -> the index a NULL pointer maps to (ModelCore.objects)
        self.null_index: dict[str, int] = dict(getattr(model, "null_index", {}))
        # fields protected by a lock: var -> (lock, "same" | "any") (ModelCore.protected_by)
        self.field_locks: dict[str, tuple[str, str]] = dict(getattr(model, "field_locks", {}))

    def slots_of(self, var: str) -> list[Slot]:
        decl = self.vars[var]
        return [self.by_key[(var, idx)] for idx in decl.indices()]

    def encode(self, values: dict[str, Any]) -> int:
        """Pack ``{var: scalar or nested tuples}``; missing variables take their ``init``."""
        s = 0
        for slot in self.slots:
            decl = self.vars[slot.var]
            if slot.var in values:
                v = value_at(values[slot.var], slot.index)
            else:
                v = decl.init_at(slot.index)
            if not slot.lo <= v <= slot.hi:
                raise ModelError(f"{slot.label} = {v} is outside its domain [{slot.lo}, {slot.hi}]")
            s |= (v - slot.lo) << slot.off
        return s

    def slot_values(self, s: int) -> list[int]:
        return [((s >> sl.off) & sl.mask) + sl.lo for sl in self.slots]

    def decode(self, s: int) -> dict[str, Any]:
        """Unpack to ``{var: int or nested tuples}`` in declaration order."""
        flat = dict(zip(((sl.var, sl.index) for sl in self.slots), self.slot_values(s), strict=True))
        out: dict[str, Any] = {}
        for decl in self.vars.values():
            out[decl.name] = _nest(decl, flat)
        return out

    def flat(self, s: int) -> dict[str, int]:
        """Unpack to ``{"lr[1]": 3, ...}`` with one entry per slot."""
        return {sl.label: v for sl, v in zip(self.slots, self.slot_values(s), strict=True)}


def _nest(decl: VarDecl, flat: dict[tuple[str, tuple[int, ...]], int], prefix: tuple[int, ...] = ()) -> Any:
    depth = len(prefix)
    if depth == len(decl.shape):
        return flat[(decl.name, prefix)]
    return tuple(_nest(decl, flat, prefix + (i,)) for i in range(decl.shape[depth]))
