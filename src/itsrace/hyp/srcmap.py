"""Where a model step is in the modelled C tree: the mechanism every hypervisor's source map shares.

A hypervisor package gives one :class:`SourceMap` (``itsrace.xen.srcmap``, ``itsrace.kvm.srcmap``):
the tree's name, its files (short name -> link template) and a table of model functions
(model function -> C function, short file, first line). A step is located, most precise first:

1. by a **step annotation** in the comment of the model line the step starts at, in the fixed
   form ``[file.c:LINE]`` (a short file name of the map), or ``[file.c:LINE function]`` when
   that line lies in another C function than the one the model function stands for (Xen's
   vCPU loop: ``[traps.c:2300 leave_hypervisor_tail]``); it is stripped from the text a
   timeline shows. In a design, ``[patch]`` marks code the patch adds that has no line in the modelled
   tree: the step is shown at the design file's own line, marked ``(patch)``, with no link;
2. by the **function's** first line in the table;
3. not at all (``None``): a function the table does not know, in a step without an annotation
   (the caller shows the model's own location). A model that gains functions faster than its
   table therefore still renders; ``tests/hyp/test_srcmap.py`` and ``tests/kvm/`` keep the
   tables complete.
"""

from __future__ import annotations

import linecache
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

ANNOTATION = re.compile(r"\[(?P<file>[\w.-]+\.[cSh]):(?P<line>\d+)(?: (?P<function>[A-Za-z_]\w*))?\]\s*")
PATCH = re.compile(r"\[patch\]\s*")
PATCH_FILE = "patch"  # CLocation.file of a [patch] step that has no model line to show
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@dataclass(frozen=True)
class CLocation:
    """A place in the C tree: the C function, the short file name and the line (0: not C)."""

    function: str
    file: str
    line: int
    patch: bool = False  # code a design adds: ``file:line`` is the design file's own line
    url: str = ""  # the line on the web at the modelled commit ("" when none)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} (patch)" if self.patch and self.file != PATCH_FILE else where


def split_annotation(comment: str) -> tuple[CLocation | None, str]:
    """``"[vgic-v3-its.c:607] lock"`` -> (the location without a function, ``"lock"``);
    ``"[patch] tag it"`` -> (a patch location without a place, ``"tag it"``)."""
    m = ANNOTATION.search(comment)
    if m is None:
        p = PATCH.search(comment)
        if p is None:
            return None, comment
        return CLocation("", PATCH_FILE, 0, patch=True), (comment[:p.start()] + comment[p.end():]).strip()
    text = (comment[:m.start()] + comment[m.end():]).strip()
    return CLocation(m.group("function") or "", m.group("file"), int(m.group("line"))), text


class SourceMap:
    """One modelled tree: ``files`` maps a short file name to a URL template with ``{line}``
    (``""``: not C, no link); ``functions`` maps a model function to (C function, short file,
    first line)."""

    def __init__(self, tree: str, files: Mapping[str, str],
                 functions: Mapping[str, tuple[str, str, int]]) -> None:
        self.tree = tree
        self.files = files
        self.functions = functions

    def url(self, file: str, line: int) -> str:
        template = self.files.get(file, "")
        return template.format(line=line) if template and line else ""

    def at(self, function: str, file: str, line: int) -> CLocation:
        return CLocation(function, file, line, url=self.url(file, line))

    def locate(self, function: str, comment: str = "", where: str = "") -> CLocation | None:
        """The C location of a step of model function ``function`` whose comment is ``comment``;
        ``where`` (``path:line`` of the model step) places a ``[patch]`` step in its design file."""
        known = self.functions.get(function)
        name = known[0] if known else function
        ann, _ = split_annotation(comment)
        if ann is not None and ann.patch:
            path, _, line = where.rpartition(":")
            if path and line.isdigit():
                return CLocation(name, path.replace("\\", "/").rsplit("/", 1)[-1], int(line), patch=True)
            return CLocation(name, PATCH_FILE, 0, patch=True)
        if ann is not None:
            return self.at(ann.function or name, ann.file, ann.line)
        if known is None:
            return None
        return self.at(*known)


def step_comment(where: str) -> str:
    """The comment on a step's model line (``path:line``), ``""`` when none."""
    path, _, line = where.rpartition(":")
    if not line.isdigit():
        return ""
    text = linecache.getline(path, int(line))
    return text.split("#", 1)[1].strip() if "#" in text else ""


def relative(where: str) -> str:
    """A model location relative to the repository when it lies inside it."""
    path, sep, line = where.rpartition(":")
    if sep and os.path.isabs(path) and path.startswith(REPO + os.sep):
        return f"{os.path.relpath(path, REPO)}:{line}"
    return where


__all__ = ["ANNOTATION", "PATCH", "PATCH_FILE", "CLocation", "SourceMap", "relative", "split_annotation",
           "step_comment"]
