"""``itsrace check``: model-check a vITS/vGIC design on a scenario.

    itsrace check                                  # Xen 4.10 on every named scenario: a table
    itsrace check --design xen-4.10 --scenario discard-vs-lpi [--json] [--trace-out FILE]
    itsrace check --scenario my-scenario.toml --design my_design.py

With ``--scenario``, the whole state space of the design on that scenario is explored and every
property is checked (``itsrace list properties``). When one fails, the shortest counterexample
is printed as a per-CPU timeline (``--trace-style`` picks the engine's other views) and
``--trace-out FILE`` saves it as JSON. Without ``--scenario``, every shipped scenario is checked
and a table is printed: scenario, verdict, states, seconds, violated properties.

``--scenario`` and ``--design`` take a name (``itsrace list scenarios`` / ``designs``) or a
path (a ``.toml`` scenario, a ``.py`` design file: ``itsrace design new`` writes one). A design
file is Python and runs with your rights. ``itsrace matrix`` checks several designs at once.

Exit status: 0 every property holds on the whole state space (of every scenario), 1 a property
is violated, 2 bad input (unknown name, broken scenario or design file), 3 inconclusive (a limit
from ``--max-states``/``--max-seconds``/``--max-memory``, running out of memory, or Ctrl-C
stopped a search before it found a violation). A search stopped *after* finding a violation
exits 1: the counterexample is real whatever the search did not reach; the ``inconclusive:``
line says what was left unexplored.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

from rich.text import Text

from itsrace.cli.common import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_VIOLATION, UsageError
from itsrace.cli.searchopts import SearchOptions, add_search_flags, run_search
from itsrace.engine.explore.search import Progress

DEFAULT_DESIGN = "xen-4.10"
VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
TRACE_STYLES = ("cpu", "timeline", "steps", "compact")
SCHEMA_VERSION = 1  # of the --json objects (src/itsrace/schemas/check.schema.json)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="model-check a vITS/vGIC design on a scenario (no arguments: Xen 4.10 on every scenario)",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="exit status: 0 every property holds, 1 a property fails, 2 bad input, 3 inconclusive",
    )
    parser.add_argument("--design", default=DEFAULT_DESIGN, metavar="NAME|FILE.py",
                        help=f"design to check (default {DEFAULT_DESIGN}; see 'itsrace list designs')")
    parser.add_argument("--scenario", metavar="NAME|FILE.toml",
                        help="scenario to check (default: every shipped scenario but the wide universes; see "
                             "'itsrace list scenarios')")
    parser.add_argument("--wide", action="store_true",
                        help="without --scenario: the wide universes too (guest-wide, guest-2vcpu: millions of "
                             "states, a minute or more each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (a list without --scenario)")
    parser.add_argument("--trace-out", metavar="FILE", help="save the shortest counterexample as a JSON trace")
    parser.add_argument("--trace-style", choices=TRACE_STYLES, default="cpu",
                        help="how to print a counterexample (default: per-CPU timeline)")
    parser.add_argument("--all-traces", action="store_true",
                        help="print a counterexample for every violated property, not only the shortest")
    parser.add_argument("--fold", action="store_true",
                        help="fold the steps of CPUs not involved in the failure (per-CPU timeline)")
    parser.add_argument("--html", metavar="FILE",
                        help="also write a self-contained HTML report: swimlanes, source links, object states")
    parser.add_argument("--coverage", action="store_true",
                        help="list the model steps that never fired (with --scenario)")
    add_search_flags(parser)
    parser.set_defaults(func=run)


def _limits(args: argparse.Namespace) -> SearchOptions:
    return SearchOptions.from_args(args)


def load_design(arg: str) -> Any:
    """``--design``: a shipped design's name or a design file; a mistake is a UsageError."""
    from itsrace.catalog import get_design
    from itsrace.hyp.design import DesignError

    try:
        return get_design(arg)
    except DesignError as exc:
        raise UsageError(str(exc)) from None


def _load(args: argparse.Namespace, scenario: str) -> tuple[Any, Any]:
    from itsrace.hyp.scenario import ScenarioError, load_scenario

    design = load_design(args.design)
    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    return design, sc


def recorded_design(design: Any, design_arg: str | None) -> str:
    """How a trace or a worker names the design: a file by its path, a shipped one by its name."""
    return design_arg if design_arg and design_arg.endswith(".py") else design.name


def check_one(design: Any, scenario: Any, opts: SearchOptions,
              design_arg: str | None = None, progress: Progress = False) -> tuple[Any, Any, float]:
    """Build and check; returns (model, result, seconds including the build)."""
    from itsrace.engine import ModelError, compile_model
    from itsrace.engine.lang.spec import ModelSpec
    from itsrace.hyp import build_model
    from itsrace.hyp.design import DesignError
    from itsrace.hyp.scenario import ScenarioError

    start = time.monotonic()
    try:
        model = build_model(design, scenario)
        asked = opts.max_seconds
        if asked is not None:  # --max-seconds bounds the whole check, compiling included
            compile_model(model)
            opts = dataclasses.replace(opts, max_seconds=max(asked - (time.monotonic() - start), 1e-3))
    except (ScenarioError, DesignError, ModelError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    # worker processes rebuild the model from names (a design file is passed by its path)
    spec = ModelSpec("itsrace.catalog", "build_from_names", {
        "design": recorded_design(design, design_arg), "scenario": scenario.source or scenario.name})
    try:
        result = run_search(model, spec, opts, stop_on_violation=False, progress=progress)
    except ModelError as exc:
        raise UsageError(f"model error: {exc}") from None
    if asked is not None and result.reason.startswith("time limit"):
        result.reason = f"time limit {asked:g} s reached (building and compiling the model included)"
    return model, result, time.monotonic() - start


def _exit_code(verdicts: list[str]) -> int:
    if "fail" in verdicts:
        return EXIT_VIOLATION
    if "inconclusive" in verdicts:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def _shortest(result: Any) -> Any:
    return min(result.violations, key=lambda v: len(v.trace.steps))


def as_json(design: Any, scenario: Any, result: Any, seconds: float) -> dict[str, Any]:
    """One checked (design, scenario) as the JSON ``--json`` prints."""
    return {
        "schema_version": SCHEMA_VERSION,
        "design": design.name,
        "scenario": scenario.name,
        "verdict": result.verdict,
        "reason": result.reason,
        "states": result.stats.distinct_states,
        "transitions": result.stats.transitions,
        "seconds": round(seconds, 3),
        "violated": sorted(result.violated),
        "violations": [
            {"property": v.property, "kind": v.kind, "doc": v.doc, "steps": len(v.trace.steps),
             "trace": json.loads(v.trace.to_json())}
            for v in result.violations
        ],
    }


def print_trace(violation: Any, model: Any, style: str, fold: bool = False) -> None:
    """One counterexample: in C terms per CPU (``cpu``), else one of the engine's views."""
    if style == "cpu":
        from itsrace.cli.render import print_story, story_of

        print_story(story_of(violation.trace, model), fold)
    else:
        from itsrace.cli.render import text_width, without_locals
        from itsrace.engine.explore.report import format_violation

        shown = dataclasses.replace(violation, trace=without_locals(violation.trace, model))
        print(format_violation(shown, style, width=text_width()))


def run(args: argparse.Namespace) -> int:
    limits = _limits(args)
    if args.scenario is None:
        return _run_table(args, limits)
    if args.wide:
        raise UsageError("--wide adds the wide universes to the table of every scenario; with --scenario, name one")
    from itsrace.cli.render import check_writable

    if args.html:
        check_writable(args.html)
    design, scenario = _load(args, args.scenario)
    from itsrace.cli.render import progress_for

    # on a terminal: a live line (states, states/s, depth, elapsed) fed by the search's callback
    model, result, seconds = check_one(design, scenario, limits, args.design, progress=progress_for(not args.json))
    if args.html:
        write_html(args.html, design, scenario, model, result)
    if args.trace_out and result.violations:
        trace = _shortest(result).trace
        # a design loaded from a file is recorded by its path, so replay can load it again
        trace.params = {"model": "hyp", "design": recorded_design(design, args.design),
                        "scenario": scenario.source or scenario.name}
        try:
            trace.save(args.trace_out)
        except OSError as exc:
            raise UsageError(f"cannot write '{args.trace_out}': {exc.strerror}") from None
    if args.json:
        print(json.dumps(as_json(design, scenario, result, seconds), indent=2))
        return _exit_code([result.verdict])
    from itsrace.cli.render import print_lines

    head = Text(f"{design.name} on {scenario.name}: ")
    head.append(result.verdict.upper(), style=VERDICT_STYLE.get(result.verdict, ""))
    head.append(f" ({result.stats.distinct_states:,} states, {seconds:.1f} s)")
    print_lines([head])
    if result.reason:
        print(f"inconclusive: {result.reason}")
    if result.violations:
        print(f"violated: {', '.join(sorted(result.violated))}")
        print()
        shown = sorted(result.violations, key=lambda v: len(v.trace.steps))
        for v in shown if args.all_traces else shown[:1]:
            print_trace(v, model, args.trace_style, args.fold)
            print()
        if not args.all_traces and len(shown) > 1:
            print(f"(shortest counterexample shown; --all-traces prints one for each of the {len(shown)} properties)")
    if args.coverage:
        print_coverage(result)
    if args.html:
        print(f"HTML report: {args.html}")
    return _exit_code([result.verdict])


def print_coverage(result: Any) -> None:
    """``--coverage``: the model steps that never fired in the whole search."""
    never = list(result.stats.never_fired)
    total = len(result.stats.coverage) or None
    print(f"coverage: {len(never)} model step(s) never fired" + (f" (of {total})" if total else "")
          + (":" if never else ""))
    for name in never:
        print(f"  {name}")


def write_html(path: str, design: Any, scenario: Any, model: Any, result: Any) -> None:
    """``--html FILE``: the counterexample of every violated property as swimlanes."""
    from itsrace.cli.render import story_of, write_file
    from itsrace.hyp.html import report_page

    stories = [(f"cx-{v.property}", f"{design.name} on {scenario.name}: {v.property}", story_of(v.trace, model))
               for v in sorted(result.violations, key=lambda v: len(v.trace.steps))]
    intro = (f"{design.name} on {scenario.name}: {result.verdict.upper()} "
             f"({result.stats.distinct_states:,} states). Violated: {', '.join(sorted(result.violated)) or 'none'}.")
    write_file(path, report_page(f"itsrace: {design.name} on {scenario.name}", stories, intro=intro))


def _run_table(args: argparse.Namespace, limits: Any) -> int:
    from itsrace.cli.render import ProgressLine, print_lines, progress_for
    from itsrace.hyp.scenario import default_scenario_names, load_named, scenario_names

    for flag, given in (("--trace-out", args.trace_out), ("--html", args.html), ("--coverage", args.coverage)):
        if given:
            hint = " (itsrace matrix --html reports many)" if flag == "--html" else ""
            raise UsageError(f"{flag} needs --scenario{hint}")
    design = load_design(args.design)
    rows: list[dict[str, Any]] = []
    names = scenario_names() if args.wide else default_scenario_names()
    if not args.json:
        print(f"design {design.name}: {design.summary}")
        print(f"{'scenario':28} {'verdict':13} {'states':>9} {'seconds':>8}  violated properties")
    live = progress_for(not args.json)  # on a terminal: the running scenario's search
    for name in names:
        scenario = load_named(name)
        if isinstance(live, ProgressLine):
            live.prefix, live.end_line = (lambda n=name: f"{n}  "), False
        _model, result, seconds = check_one(design, scenario, limits, args.design, progress=live)
        if isinstance(live, ProgressLine):
            live.clear()
        row = as_json(design, scenario, result, seconds)
        rows.append(row)
        if not args.json:
            line = Text(f"{name:28} ")
            line.append(f"{result.verdict.upper():13}", style=VERDICT_STYLE.get(result.verdict, ""))
            line.append(f" {result.stats.distinct_states:>9,} {seconds:8.1f}  {', '.join(sorted(result.violated)) or '-'}")
            print_lines([line])
            sys.stdout.flush()
    if args.json:
        for row in rows:
            row.pop("violations")
        print(json.dumps(rows, indent=2))
    else:
        total = sum(r["seconds"] for r in rows)
        print(f"{len(rows)} scenarios, {total:.1f} s. Details: itsrace check --scenario NAME "
              f"(counterexamples as per-CPU timelines); findings: docs/findings.md")
    sys.stdout.flush()
    return _exit_code([r["verdict"] for r in rows])
