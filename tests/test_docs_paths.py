"""The README and the docs name only files that are in the repository.

A backticked path is checked when it can be resolved: ``src/...``, ``docs/...``, ``tests/...``,
``examples/...``, ``scripts/...`` from the repository root; ``engine/...``, ``hyp/...``,
``xen/...``, ``cli/...``, ``its/...``, ``models/...`` (and deeper) from ``src/itsrace/``. Paths
into the C trees (``xen/arch/...``, ``arch/arm64/...``) are not ours and are skipped. Nothing
may point into ``shared/``, which is not part of the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "itsrace"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PATH = re.compile(r"`([A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.*-]+)+/?)`")
ROOTED = ("src/", "docs/", "tests/", "examples/", "scripts/", ".ci/")
IN_PACKAGE = ("engine/", "hyp/", "xen/", "kvm/", "cli/", "its/", "models/")
C_TREES = ("xen/arch/", "xen/include/", "arch/arm64/", "xen-project/")


def missing_paths(doc: Path) -> list[str]:
    out = []
    for m in PATH.finditer(doc.read_text()):
        path = m.group(1).rstrip("/")
        if path.startswith("shared/"):
            out.append(path)
        elif path.startswith(C_TREES) or "*" in path:
            continue
        elif path.startswith(ROOTED) and not (ROOT / path).exists():
            out.append(path)
        elif path.startswith(IN_PACKAGE) and not (PKG / path).exists():
            out.append(path)
    return out


def test_docs_name_only_files_in_the_repository() -> None:
    wrong = {doc.name: missing_paths(doc) for doc in DOCS}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_checker_catches_a_missing_file(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("see `src/itsrace/nothing_here.py`, `shared/x.md` and `engine/explore/trace.py`")
    assert missing_paths(doc) == ["src/itsrace/nothing_here.py", "shared/x.md"]


def test_a_license_ships() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "MIT License" in text and "Permission is hereby granted" in text
