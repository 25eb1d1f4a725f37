"""``itsrace replay TRACE.json``: re-execute a saved counterexample against its model.

    itsrace replay TRACE.json [--set NAME=VALUE ...] [--trace-style STYLE] [--quiet]

The trace names its model and the parameters it was built with (``trace.params``, filled in by
``itsrace bench --trace-out`` and later ``itsrace check``); the model is rebuilt from the
registry (:mod:`itsrace.engine.lang.registry`), every step is executed again, and the end state is
checked against the violated property. Typical use: keep the trace of a bug, fix the model or
the design, and replay to see whether the bug is gone. ``--set NAME=VALUE`` changes one build
parameter first: ``itsrace replay bug.json --set bug=false`` replays the trace of the buggy
variant on the fixed one.

Hypervisor-model traces (``itsrace check --scenario S --trace-out F``) record
``{"model": "hyp", "design": D, "scenario": S}``; the same design and scenario are rebuilt.
``--set design=null-check`` replays a Xen 4.10 counterexample on another design. A trace is
data: when it names a design *file*, that file is not run unless you name it yourself
(``--set design=FILE.py``).

Output is the trace (unless ``--quiet``) and one verdict line:

``reproduces: <how the property fails>``
    every step is enabled and does what the trace says, and the property fails at the end;
``diverges at step N: <what differs>``
    step N is not enabled, unknown, or changes other values than recorded (step 0 is the initial
    state); ``does not reproduce: <why>`` when every step replays but the property now holds.

Exit status: 0 the trace reproduces; 1 it diverges or does not reproduce (the bug is gone or the
model changed); 2 bad input (missing or malformed file, unknown model, bad parameters). These
differ from ``check``/``bench`` on purpose: for ``replay``, success *is* the violation showing up
again, so a regression script can say ``itsrace replay bug.json || echo "bug no longer occurs"``.
"""

from __future__ import annotations

import argparse
from typing import Any

from itsrace.cli.common import EXIT_OK, EXIT_VIOLATION, UsageError
from itsrace.engine import ModelError, ReplayResult, Trace, compile_model, replay
from itsrace.engine.explore.report import STYLES, format_trace
from itsrace.engine.lang.registry import get_for_trace, model_for_trace, parse_value

EXIT_REPRODUCES = EXIT_OK
EXIT_DIVERGES = EXIT_VIOLATION


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="re-execute a saved counterexample trace against its model",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="exit status: 0 reproduces, 1 diverges or does not reproduce, 2 bad input",
    )
    parser.add_argument("trace", metavar="TRACE.json", help="a trace saved by --trace-out")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
        help="change a model parameter before replaying (repeatable), e.g. --set bug=false",
    )
    parser.add_argument("--trace-style", choices=(*STYLES, "cpu"), default="auto",
                        help="how to print the trace (auto: per-CPU in C terms for hypervisor traces)")
    parser.add_argument("--fold", action="store_true",
                        help="fold the steps of CPUs not involved in the failure (per-CPU timeline)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        trace = Trace.load(args.trace)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    try:
        given = typed_overrides(trace, args.overrides)
        params = {**trace.params, **given}
        model = model_for_trace(trace.model, params, named_by_user=given.keys())
        compiled = compile_model(model)
    except ModelError as exc:
        raise UsageError(f"{args.trace}: {exc}") from None
    if model.name != trace.model:
        print(f"note: the trace was found in model {trace.model}; replaying it on {model.name}")
    result = replay(compiled, trace)
    if not args.quiet:
        print_trace(trace, model, args.trace_style, args.fold)
        print()
    print(verdict_line(result))
    return EXIT_REPRODUCES if result.reproduces else EXIT_DIVERGES


def print_trace(trace: Trace, model: Any, style: str, fold: bool = False) -> None:
    """The trace in ``style``; ``cpu`` (and ``auto`` for a hypervisor-model trace) tells it per
    CPU in C terms, like ``itsrace check``."""
    from itsrace.cli.render import print_story, story_of, text_width, without_locals

    is_hyp = trace.params.get("model") == "hyp"
    if style == "cpu" and not is_hyp:
        raise UsageError("--trace-style cpu needs a hypervisor-model trace (itsrace check --trace-out)")
    if style == "cpu" or (style == "auto" and is_hyp):
        print_story(story_of(trace, model), fold)
    else:
        print(format_trace(without_locals(trace, model) if is_hyp else trace, style, width=text_width()))


def parse_overrides(items: list[str]) -> dict[str, int | bool]:
    """``["bug=false", "vcpus=3"]`` -> ``{"bug": False, "vcpus": 3}``."""
    out: dict[str, int | bool] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            out[name.strip().replace("-", "_")] = parse_value(value)
        except ModelError as exc:
            raise UsageError(f"--set {item}: {exc}") from None
    return out


def typed_overrides(trace: Trace, items: list[str]) -> dict[str, Any]:
    """``--set`` values read the way the trace's model declares them: a string parameter
    (``design=null-check``) is kept as text, a list parameter split at commas; parameters the
    model does not declare, and models the registry does not know, are read by
    :func:`parse_overrides` (and then rejected when the model is built)."""
    try:
        entry = get_for_trace(str(trace.params.get("model", trace.model)))
    except ModelError:
        return parse_overrides(items)
    params = {p.name: p for p in entry.params}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        try:
            out[name] = params[name].parse(text) if name in params else parse_value(text)
        except ModelError as exc:
            raise UsageError(f"--set {item}: {exc}") from None
    return out


def verdict_line(result: ReplayResult) -> str:
    """``reproduces: ...``, ``diverges at step N: ...`` or ``does not reproduce: ...``."""
    if result.reproduces:
        return f"reproduces: {result.message}"
    if result.diverged_at is not None:
        message = result.message
        prefix = f"step {result.diverged_at}: "
        if message.startswith(prefix):  # the engine's messages already name the step
            message = message[len(prefix):]
        return f"diverges at step {result.diverged_at}: {message}"
    return f"does not reproduce: {result.message}"
