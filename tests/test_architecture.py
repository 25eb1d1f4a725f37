"""The package layout of docs/architecture.md, pinned: imports go one way and form no cycle.

Every ``import`` in ``src/itsrace`` counts, including those inside functions (a lazy import is
still a dependency). A layer may import its own modules and the layers below it, nothing above.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "itsrace"

# lower index = lower layer; a module may import only its own layer or lower ones
LAYERS: list[tuple[str, ...]] = [
    ("itsrace",),  # the package's __init__: its version only
    ("itsrace.its",),
    ("itsrace.engine.errors", "itsrace.engine.files"),
    ("itsrace.engine.lang",),
    ("itsrace.engine.explore",),
    ("itsrace.engine.native",),  # the compiled backend: same Result objects as explore's search
    ("itsrace.engine.reduce",),
    ("itsrace.engine.scale",),
    ("itsrace.engine",),  # the package's public face (__init__)
    ("itsrace.models", "itsrace.hyp"),
    ("itsrace.xen", "itsrace.kvm"),
    ("itsrace.catalog",),
    ("itsrace.cli", "itsrace.__main__"),  # __main__: `python -m itsrace`
]


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("itsrace"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("itsrace") and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def graph() -> dict[str, set[str]]:
    mods = {module_name(p): p for p in PKG.rglob("*.py")}
    return {m: {i for i in imports_of(p) if i in mods and i != m} for m, p in mods.items()}


def layer_of(mod: str) -> int:
    best, index = -1, len(LAYERS)
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > best:
                best, index = len(prefix), i
    return index


def test_every_module_has_a_layer() -> None:
    assert [m for m in graph() if layer_of(m) == len(LAYERS)] == []


def test_imports_go_down_the_layers() -> None:
    wrong = [f"{m} imports {i}" for m, deps in graph().items() for i in deps
             if layer_of(i) > layer_of(m) and not i.startswith(m + ".")]
    assert wrong == []


def test_no_import_cycles() -> None:
    g = graph()
    # a package's __init__ may re-export its own modules; that is not a cycle of concerns
    edges = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in g.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(edges[m]):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert cycles == []
