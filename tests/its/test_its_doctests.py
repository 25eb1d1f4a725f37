"""The examples in the package's docstrings are kept true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "itsrace.its",
    "itsrace.its.memory",
    "itsrace.its.errors",
    "itsrace.its.commands",
    "itsrace.its.driver",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
