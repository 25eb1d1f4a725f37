"""JSON Schemas of itsrace's machine-readable output, shipped with the package.

* ``check.schema.json``: one object of ``itsrace check --scenario S --json`` (and each row of
  ``itsrace check --json`` without ``--scenario``, which leaves out ``violations``);
* ``matrix.schema.json``: the list ``itsrace matrix --json`` prints;
* ``trace.schema.json``: a trace file (``--trace-out``; ``itsrace replay`` reads it);
* ``bench.schema.json``: the object ``itsrace bench MODEL --json`` prints (and ``--out FILE``
  writes).

Each output object carries ``schema_version`` (traces also their ``format``); a change that
breaks a reader bumps it. ``tests/cli/test_schemas.py`` validates real output against these.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("check", "matrix", "trace", "bench")


def load(name: str) -> dict[str, Any]:
    """The schema ``name`` (one of :data:`NAMES`) as a dict."""
    if name not in NAMES:
        raise ValueError(f"unknown schema {name!r}: one of {', '.join(NAMES)}")
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


__all__ = ["NAMES", "load"]
