"""Named, parameterised models that the command line can build: ``itsrace bench`` runs them and
``itsrace replay`` rebuilds one from a saved trace.

A trace records *how* its model was built in ``trace.params``::

    {"model": "lpi-toy", "vcpus": 2, "lpis": 2, "bug": true}

``model`` is the registry name; the other keys are the build parameters. :func:`model_for_trace`
turns that back into the :class:`~itsrace.engine.lang.model.Model`, so a counterexample saved today can
be re-executed after the model has changed and tell whether it still reproduces.

Adding a model means adding one :class:`ModelEntry` to :data:`MODELS`: its name, a one-line
summary, the module and function that build it (imported only when used, so the command line
starts fast) and its parameters. Parameters of :data:`MODELS` (the benchmarks) are small
integers or flags; each becomes a ``--name`` option of ``itsrace bench``.

:data:`TRACE_MODELS` holds models that are only *rebuilt from traces*, not benchmarked: the
hypervisor model (``"hyp"``: a design and a scenario, both strings), which
``itsrace check --trace-out`` records as ``{"model": "hyp", "design": ..., "scenario": ...}``.
Their parameters may also be strings (``kind=str``) or lists of strings (``kind=str,
many=True``); they are not ``bench`` options. :func:`get` finds benchmarks, :func:`get_for_trace`
both kinds. A string parameter marked ``code`` may name a Python file the builder runs; such a
file is only run when the user names it (:func:`model_for_trace`). Models are built through a
:class:`~itsrace.engine.lang.spec.ModelSpec`, so a registry-built model can also be sent to parallel
workers or recorded in a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang.model import Model
from itsrace.engine.lang.spec import ModelSpec


@dataclass(frozen=True)
class Param:
    """One build parameter: an integer in ``[lo, hi]`` (``hi`` may be open), a flag, a string,
    or (``kind=str, many=True``) a list of strings, stored sorted so equal sets compare equal."""

    name: str
    kind: type  # int, bool or str
    default: Any
    help: str
    lo: int | None = None
    hi: int | None = None
    many: bool = False  # only with kind=str: a list of strings
    code: bool = False  # only with kind=str: a value ending in ".py" is a Python file the builder runs

    @property
    def option(self) -> str:
        """The command-line spelling: ``--vcpus``."""
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """Return ``value`` if it is valid for this parameter; raise ModelError otherwise."""
        if self.kind is str:
            return self._check_str(value)
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ModelError(f"parameter '{self.name}' must be true or false, not {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(f"parameter '{self.name}' must be an integer, not {value!r}")
        if self.lo is not None and value < self.lo:
            raise ModelError(f"{self.option} must be at least {self.lo} (got {value})")
        if self.hi is not None and value > self.hi:
            raise ModelError(f"{self.option} must be at most {self.hi} (got {value})")
        return value

    def _check_str(self, value: Any) -> Any:
        if not self.many:
            if not isinstance(value, str) or not value:
                raise ModelError(f"parameter '{self.name}' must be a non-empty string, not {value!r}")
            return value
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise ModelError(f"parameter '{self.name}' must be a list of strings, not {value!r}")
        return sorted(set(value))

    def parse(self, text: str) -> Any:
        """A value for this parameter from the command line (``--set NAME=TEXT``): integers and
        flags as :func:`parse_value` reads them, a string as it is, a list comma-separated
        (``--set NAME=`` is the empty list)."""
        if self.kind is not str:
            return self.check(parse_value(text))
        if self.many:
            return self.check([part.strip() for part in text.split(",") if part.strip()])
        return self.check(text.strip())


@dataclass(frozen=True)
class ModelEntry:
    """A model the command line knows by name."""

    name: str
    summary: str
    module: str  # "itsrace.models.lpi_toy"
    function: str  # takes the parameters as keywords and returns the Model
    params: tuple[Param, ...]

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Complete ``given`` with defaults and check every value; unknown names are errors."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ModelError(f"model '{self.name}' has no parameter(s) {', '.join(unknown)}")
        return {p.name: p.check(given[p.name]) if p.name in given else p.default for p in self.params}

    def spec(self, given: Mapping[str, Any]) -> ModelSpec:
        """The recipe for this model with ``given`` parameters (defaults for the rest)."""
        return ModelSpec(self.module, self.function, self.resolve(given))

    def build(self, given: Mapping[str, Any]) -> Model:
        """Build the model with ``given`` parameters (defaults for the rest)."""
        return self.spec(given).build()

    def builder(self) -> Callable[..., Model]:
        """The builder function (imports its module)."""
        return ModelSpec(self.module, self.function).resolve()

    def trace_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """What a trace stores to be rebuilt later: ``{"model": name, **resolved params}``."""
        return {"model": self.name, **self.resolve(params)}

    def code_files(self, params: Mapping[str, Any]) -> dict[str, str]:
        """The Python files building with ``params`` would run: ``{param name: path}``."""
        return {p.name: params[p.name] for p in self.params
                if p.code and isinstance(params.get(p.name), str) and params[p.name].endswith(".py")}


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            name="lpi-toy",
            summary="LPI delivery through one list register per vCPU (shared/bench/lpi-toy.md)",
            module="itsrace.models.lpi_toy",
            function="build",
            params=(
                Param("vcpus", int, 3, "number of vCPUs (one list register each)", lo=1, hi=16),
                Param("lpis", int, 4, "number of LPIs", lo=1, hi=64),
                Param("bug", bool, False, "drop the 'not already in some LR' clause from Inject"),
            ),
        ),
    )
}


TRACE_MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            name="hyp",
            summary="the hypervisor model (itsrace check): a vITS/vGIC design on a scenario",
            module="itsrace.catalog",
            function="build_from_names",
            params=(
                Param("design", str, "xen-4.10", "design name or design file (.py)", code=True),
                Param("scenario", str, "spurious-after-remove", "scenario name or scenario file (.toml)"),
            ),
        ),
    )
}


def get(name: str) -> ModelEntry:
    """The benchmark called ``name``; a ModelError listing the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model '{name}' (known: {', '.join(sorted(MODELS))})") from None


def get_for_trace(name: str) -> ModelEntry:
    """The entry a trace names: a benchmark or a trace-only model (:data:`TRACE_MODELS`)."""
    entry = MODELS.get(name) or TRACE_MODELS.get(name)
    if entry is None:
        known = ", ".join(sorted({*MODELS, *TRACE_MODELS}))
        raise ModelError(f"unknown model '{name}' (known: {known})")
    return entry


def model_for_trace(model: str, params: Mapping[str, Any], named_by_user: Collection[str] = ()) -> Model:
    """Rebuild the model a trace was found in from its ``trace.model`` and ``trace.params``.

    ``params["model"]`` names the registry entry; traces without it fall back to ``trace.model``
    (a registry name). The caller may have changed parameters on purpose (replaying a bug's trace
    on the fixed variant), so the rebuilt model's name is not required to match ``model``.

    A trace is data: a Python file it names (a design file) is run only if the user named that
    parameter too (``named_by_user``, e.g. ``--set design=FILE.py``); otherwise ModelError.
    """
    build_params = dict(params)
    entry = get_for_trace(str(build_params.pop("model", model)))
    for name, path in entry.code_files(build_params).items():
        if name not in named_by_user:
            raise ModelError(f"the trace names the Python file '{path}' as its {name}; a file named inside a "
                             f"trace is never run: to run it, name it yourself with --set {name}={path}")
    return entry.build(build_params)


def code_files_of_spec(spec: ModelSpec) -> list[str]:
    """The Python files building ``spec`` would run: the spec's module if it is a file, and the
    code parameters of the registry entry it matches (used before resuming a checkpoint)."""
    files = [spec.module] if spec.module.endswith(".py") or "/" in spec.module else []
    for entry in (*MODELS.values(), *TRACE_MODELS.values()):
        if entry.module == spec.module and entry.function == spec.function:
            files.extend(entry.code_files(spec.kwargs).values())
    return files


def parse_value(text: str) -> int | bool:
    """A parameter value from the command line: an integer, or true/false (yes/no, on/off)."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    try:
        return int(lowered)
    except ValueError:
        raise ModelError(f"value {text!r} is neither an integer nor true/false") from None
