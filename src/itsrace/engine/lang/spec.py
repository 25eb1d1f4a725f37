"""Model specs: a picklable, JSON-able recipe for rebuilding a model in another process.

A compiled model cannot cross a process boundary: its successor function is generated Python
code living in an in-memory module, and a :class:`~itsrace.engine.lang.model.Model` holds action
functions and closures. Worker processes, Ray actors, swarm walkers and checkpoint files
therefore carry a :class:`ModelSpec` instead, *the call that builds the model*::

    spec = ModelSpec("itsrace.models.lpi_toy", "build", {"vcpus": 3, "lpis": 4})
    model = spec.build()        # calls itsrace.models.lpi_toy.build(vcpus=3, lpis=4)
    c = spec.compile()          # compiled once per process and cached

``module`` is a dotted module name, or the path of a ``.py`` file (for models kept outside a
package; every worker must be able to read the same path). ``kwargs`` must be JSON values
(numbers, strings, booleans, ``None``, lists, dicts) so that a checkpoint can record them.

Building must be deterministic: every process that builds the spec must get the same model,
hence the same generated source. :meth:`ModelSpec.compile` records the digest of that source
and :func:`source_digest` lets callers (workers, checkpoints) verify it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang.compile import Compiled, compile_model
from itsrace.engine.lang.model import Model

_SPEC_ATTR = "_itsrace_spec"


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_json(v, where)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ModelError(f"model spec argument {where}: dict keys must be strings, got {k!r}")
            _check_json(v, where)
        return
    raise ModelError(
        f"model spec argument {where} = {value!r} is not a JSON value (number, string, bool, None, list, dict)"
    )


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model: ``module.function(**kwargs)``.

    Instances are cheap to pickle and to store as JSON (:meth:`to_dict`/:meth:`from_dict`), so
    they are what the parallel, Ray and swarm backends send to their workers and what a
    checkpoint records.
    """

    module: str
    function: str = "build"
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.module or not isinstance(self.module, str):
            raise ModelError("model spec: module must be a non-empty string")
        if not self.function.isidentifier():
            raise ModelError(f"model spec: function {self.function!r} is not an identifier")
        for k, v in self.kwargs.items():
            _check_json(v, k)

    # -- identity ------------------------------------------------------------------------------
    def describe(self) -> str:
        """``"itsrace.models.lpi_toy:build(vcpus=3, lpis=4)"``: for messages and reports."""
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return f"{self.module}:{self.function}({args})"

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "function": self.function, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        if not isinstance(data, dict) or not isinstance(data.get("module"), str):
            raise ModelError(f"not a model spec: {data!r}")
        kwargs = data.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ModelError(f"model spec kwargs must be a dict, got {kwargs!r}")
        return cls(data["module"], str(data.get("function", "build")), dict(kwargs))

    def key(self) -> str:
        """A canonical string: equal specs have equal keys (used for caching and comparison)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def __hash__(self) -> int:
        return hash(self.key())

    # -- building ------------------------------------------------------------------------------
    def resolve(self) -> Callable[..., Model]:
        """Import the module (or load the ``.py`` file) and return the builder function."""
        if self.module.endswith(".py") or os.sep in self.module:
            path = os.path.abspath(self.module)
            name = "itsrace_spec_" + hashlib.sha1(path.encode()).hexdigest()[:12]
            module = sys.modules.get(name)
            if module is None:
                if not os.path.exists(path):
                    raise ModelError(f"model spec: no such model file '{self.module}'")
                loader_spec = importlib.util.spec_from_file_location(name, path)
                if loader_spec is None or loader_spec.loader is None:
                    raise ModelError(f"model spec: cannot load '{self.module}' as Python")
                module = importlib.util.module_from_spec(loader_spec)
                sys.modules[name] = module
                try:
                    loader_spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
        else:
            try:
                module = importlib.import_module(self.module)
            except ImportError as exc:
                raise ModelError(f"model spec: cannot import module '{self.module}': {exc}") from exc
        fn = getattr(module, self.function, None)
        if not callable(fn):
            raise ModelError(f"model spec: '{self.module}' has no function '{self.function}'")
        return fn

    def build(self) -> Model:
        """Call the builder and return a fresh model, tagged with this spec (see :func:`spec_of`)."""
        model = self.resolve()(**self.kwargs)
        if not isinstance(model, Model):
            raise ModelError(f"model spec {self.describe()} returned {type(model).__name__}, not a Model")
        setattr(model, _SPEC_ATTR, self)
        return model

    def compile(self) -> Compiled:
        """Build and compile, once per process (later calls return the cached ``Compiled``)."""
        cached = _COMPILED.get(self.key())
        if cached is None:
            cached = compile_model(self.build())
            _COMPILED[self.key()] = cached
        return cached

    @classmethod
    def of(cls, builder: Callable[..., Model], **kwargs: Any) -> ModelSpec:
        """The spec of ``builder(**kwargs)`` for a module-level builder function."""
        module = getattr(builder, "__module__", None)
        name = getattr(builder, "__qualname__", "")
        if not module or not name.isidentifier():
            raise ModelError(f"{builder!r} is not a module-level function; a model spec cannot name it")
        if module == "__main__":
            main = sys.modules.get("__main__")
            path = getattr(main, "__file__", None)
            if not path:
                raise ModelError("a builder defined in an interactive session cannot be named by a spec")
            module = os.path.abspath(path)
        return cls(module, name, dict(kwargs))


_COMPILED: dict[str, Compiled] = {}


def spec_of(model: Model | Compiled) -> ModelSpec | None:
    """The spec a model was built from (set by :meth:`ModelSpec.build`), or ``None``."""
    m = model.model if isinstance(model, Compiled) else model
    spec = getattr(m, _SPEC_ATTR, None)
    return spec if isinstance(spec, ModelSpec) else None


def source_digest(c: Compiled) -> str:
    """A digest of the generated source: two processes compiled the same model iff they agree."""
    return hashlib.sha256(c.source.encode()).hexdigest()[:20]


def require_spec(model: ModelSpec | Model | Compiled, what: str) -> ModelSpec:
    """The spec to send to workers, or a one-line ``ModelError`` saying how to provide one."""
    if isinstance(model, ModelSpec):
        return model
    spec = spec_of(model)
    if spec is None:
        raise ModelError(
            f"{what} needs a model spec so that workers can rebuild the model: pass "
            "ModelSpec('package.module', 'build', {...}) or a model built with ModelSpec(...).build()"
        )
    return spec


__all__ = ["ModelSpec", "require_spec", "source_digest", "spec_of"]
