"""NumPy, imported when first used: the compiled backend's searches never touch it, and its
~14 MiB of resident memory count against their bytes-per-state."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Lazy(ModuleType):
    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("numpy"), name)


numpy = _Lazy("numpy")
