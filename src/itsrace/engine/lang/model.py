"""The public :class:`Model`: level-1 variables, actions and properties (:mod:`.core`) plus
level-2 processes, procedures and locks (:mod:`.process`).

The two halves live in two modules so that imports go one way: the process translator and the
compiler work on :class:`~itsrace.engine.lang.core.ModelCore`, and only this class, which users
instantiate, knows both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from itsrace.engine.lang import process as _process
from itsrace.engine.lang.core import (
    ActionDef,
    ModelCore,
    PropertyDef,
    VarDecl,
    check,
    lockfree,
    parse_function,
    require,
)


class Model(ModelCore):
    """A model for the checker: variables, actions, properties, processes.

    Build one, then hand it to :func:`itsrace.engine.check_model`. See ``docs/modelling.md`` for
    level 1 (actions) and ``docs/processes.md`` for level 2 (processes with locks).
    """

    def process(self, fn: Callable[..., Any] | None = None, **options: Any) -> Any:
        """Decorator: a sequential process, translated into step actions. See
        :func:`itsrace.engine.lang.process.add_process` for the options (instances, cpu, irq, ...)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            _process.add_process(self, f, **options)
            return f

        return register(fn) if fn is not None else register

    def procedure(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: a helper function that processes call; inlined at each call site."""
        _process.add_procedure(self, fn)
        return fn

    def spinlock(self, name: str, shape: int | Sequence[int] = (), *, sym: str | None = None, doc: str = "") -> VarDecl:
        """Declare a spinlock (or an array of them): 0 when free, owner pid + 1 when held."""
        return _process.declare_spinlock(self, name, shape, sym=sym, doc=doc)

    def rwlock(self, name: str, shape: int | Sequence[int] = (), *, sym: str | None = None, doc: str = "") -> VarDecl:
        """Declare a reader-writer lock (or an array of them)."""
        return _process.declare_rwlock(self, name, shape, sym=sym, doc=doc)


__all__ = ["ActionDef", "Model", "ModelCore", "PropertyDef", "VarDecl", "check", "lockfree", "parse_function", "require"]
