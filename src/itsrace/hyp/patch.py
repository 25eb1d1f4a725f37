"""Designs as patches: write a new design file from a base's functions, show a design as a diff.

:func:`new_design_source` is ``itsrace design new``: a runnable design file holding a copy of each
named function of the base (so checking the unedited file gives exactly the base's verdicts and
state counts), with the imports those copies need. :func:`design_diff` is ``itsrace design show``:
each overridden function as a unified diff against the version it replaces, with the files'
real line numbers, plus the functions and state the design adds.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import inspect
import json
import os
import re
import sys
import textwrap
import types
from collections.abc import Callable, Iterable
from typing import Any

from itsrace.hyp.design import BaseModel, Design, DesignError, resolve

_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def function_source(fn: Callable[..., Any]) -> tuple[list[str], int]:
    """The function's source lines without its decorators, and the file line of its ``def``."""
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise DesignError(f"cannot read the source of {getattr(fn, '__name__', fn)}: {exc}") from None
    text = textwrap.dedent("".join(lines)).splitlines()
    skip = next(i for i, line in enumerate(text) if line.lstrip().startswith("def "))
    return text[skip:], first + skip


def short_path(path: str) -> str:
    """A source path as a reader wants it: relative to the current directory when below it,
    else from the ``itsrace`` package on."""
    rel = os.path.relpath(path)
    if not rel.startswith(".."):
        return rel
    marker = os.sep + "itsrace" + os.sep
    return path[path.rindex(marker) + 1:] if marker in path else path


def overridable(design: Design | BaseModel) -> dict[str, list[str]]:
    """Every function a design on ``design`` can override, by kind."""
    out: dict[str, list[str]] = {}
    for name, (_fn, info) in resolve(design).functions.items():
        out.setdefault(info["kind"], []).append(name)
    return out


# -- itsrace design new ------------------------------------------------------------------------------
def new_design_source(base: Design | BaseModel, base_ref: str, name: str, functions: Iterable[str]) -> str:
    """The text of a design file named ``name`` on ``base`` (written as ``base_ref``: a name or a
    path) that overrides ``functions`` with verbatim copies of ``base``'s versions."""
    r = resolve(base)
    names = list(dict.fromkeys(functions))
    if not names:
        raise DesignError("name at least one function to override (--override NAME)")
    copies: list[str] = []
    imports: dict[str, set[str]] = {}
    for fname in names:
        if fname not in r.functions:
            close = difflib.get_close_matches(fname, r.functions, n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (itsrace design show " + base.name + " lists them)"
            raise DesignError(f"{fname} is not a function of {base.name}{hint}")
        fn, _info = r.functions[fname]
        lines, _line = function_source(fn)
        copies.append("\n".join(["@DESIGN.override", *lines]))
        for module, imported in _imports_needed(fn, "\n".join(lines), set(names)).items():
            imports.setdefault(module, set()).update(imported)
    header = [
        '# mypy: disable-error-code="valid-type"',
        f'"""``{name}``: a patch to {base.name}.',
        "",
        "Say what the patch changes and why, as in its commit message. Edit the copies below; checking",
        f"this file unedited gives exactly {base.name}'s verdicts (itsrace design show FILE prints the diff).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    lines = [f"from {m} import {', '.join(sorted(imports[m]))}" for m in sorted(imports)]
    lines.append("from itsrace.hyp.design import Design")
    body = [
        "",
        f"DESIGN = Design({json.dumps(name)}, base={json.dumps(base_ref)},",
        "                summary=\"one line: what this patch changes\")",
    ]
    return "\n".join([*header, *sorted(lines), *body, "", "", "\n\n\n".join(copies), ""])


def _imports_needed(fn: Callable[..., Any], source: str, defined_here: set[str]) -> dict[str, set[str]]:
    """``{module: names}`` to import for the names ``source`` uses, found where ``fn``'s module
    got them (its own definitions or its imports). Names of functions the new file defines, and
    modules that cannot be imported by name (design files), are left out: at check time every
    name of the base and the designs is visible anyway."""
    tree = ast.parse(source)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    fdef = tree.body[0]
    assert isinstance(fdef, ast.FunctionDef)
    local = {a.arg for a in fdef.args.args} | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
                                                 and isinstance(n.ctx, ast.Store)}
    module = sys.modules.get(fn.__module__)
    origin = _origins(module) if module is not None else {}
    out: dict[str, set[str]] = {}
    for name in sorted(used - local - defined_here - set(dir(builtins))):
        where = origin.get(name)
        if where is not None and where.startswith("itsrace"):
            out.setdefault(where, set()).add(name)
    return out


def _origins(module: types.ModuleType) -> dict[str, str]:
    """For each global of ``module``: the module to import it from."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                out[a.asname or a.name] = node.module
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[node.name] = module.__name__
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    out[t.id] = module.__name__
    return out


# -- itsrace design show -----------------------------------------------------------------------------
def design_diff(design: Design | BaseModel) -> str:
    """``design`` as a patch: a unified diff per overridden function against the version it
    replaces, then the functions and state variables it adds. A base model is listed instead."""
    if isinstance(design, BaseModel):
        out = [f"{design.name} is a base model: {design.summary}", f"source: {design.source}",
               "functions a design can override (itsrace design new FILE --base "
               f"{design.name} --override NAME):"]
        for kind, names in overridable(design).items():
            plural = "processes:" if kind == "process" else f"{kind}s:"
            out.append(textwrap.fill(", ".join(names), 100, initial_indent=f"  {plural:12} ",
                                     subsequent_indent=" " * 15))
        return "\n".join(out) + "\n"
    assert design.parent is not None
    before = resolve(design.parent)
    out = [f"design {design.name} on {design.parent.name}: {design.summary}"]
    if design.source:
        out.append(f"source: {design.source}")
    for name, fn in design.overrides.items():
        old, _info = before.functions[name]
        out.append("")
        out.extend(_diff(old, fn, f"{before.owner[name]}: {name}", f"{design.name}: {name}"))
    for name, (fn, info) in design.added.items():
        new, line = function_source(fn)
        out.append("")
        out.append(f"+++ {design.name}: new {info['kind']} {name}  ({short_path(fn.__code__.co_filename)}:{line})")
        out.extend("+" + text for text in new)
    for v in design.vars:
        shape = v.shape if isinstance(v.shape, (str, int, tuple)) else "(computed)"
        domain = getattr(v.domain, "__name__", None) or ("(computed)" if callable(v.domain) else repr(v.domain))
        out.append("")
        out.append(f"+++ {design.name}: new state {v.name}: {domain}, shape {shape}  ({v.origin})")
        if v.doc:
            out.append(f"+    {v.doc}")
    return "\n".join(out) + "\n"


def _diff(old: Callable[..., Any], new: Callable[..., Any], old_label: str, new_label: str) -> list[str]:
    a, a_line = function_source(old)
    b, b_line = function_source(new)
    head = [f"--- {old_label}  ({short_path(old.__code__.co_filename)}:{a_line})",
            f"+++ {new_label}  ({short_path(new.__code__.co_filename)}:{b_line})"]
    body = list(difflib.unified_diff(a, b, lineterm="", n=3))[2:]
    if not body:
        return [*head, "   (identical: the override is an unedited copy)"]
    return head + [_shift(line, a_line - 1, b_line - 1) for line in body]


def _shift(line: str, da: int, db: int) -> str:
    m = _HUNK.match(line)
    if not m:
        return line
    a, alen, b, blen = int(m.group(1)), m.group(2) or "", int(m.group(3)), m.group(4) or ""
    return f"@@ -{a + da}{alen} +{b + db}{blen} @@"


__all__ = ["design_diff", "function_source", "new_design_source", "overridable", "short_path"]
