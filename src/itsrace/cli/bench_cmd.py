"""``itsrace bench MODEL``: explore a benchmark model exhaustively and report speed and memory.

    itsrace bench lpi-toy --vcpus 3 --lpis 4 [--bug] [--fingerprints] [--dfs]
                          [--symmetry fast|exact] [--por] [--workers N [--backend ray]]
                          [--swarm SECONDS] [--checkpoint FILE] [--resume FILE]
                          [--max-states N] [--max-seconds S] [--json] [--out FILE]
                          [--trace-out FILE] [--trace-style STYLE]

Prints distinct states, transitions, depth, seconds, states/s, peak memory and bytes per state
as a small table, or with ``--json`` one JSON object (keys ``schema_version``, ``model``,
``params``, ``options``,
``verdict``, ``distinct_states``, ``transitions``, ``depth``, ``seconds``,
``states_per_second``, ``peak_rss_bytes``, ``bytes_per_state``, ...). ``--out FILE``
additionally writes that JSON object to FILE, so runs can be collected and compared. Its JSON
Schema ships as ``itsrace/schemas/bench.schema.json`` (``itsrace.schemas.load("bench")``).

When a property fails (``--bug``), the counterexample is printed (text mode) and
``--trace-out FILE`` saves it as a trace that ``itsrace replay FILE`` re-executes.

Exit status: 0 every property holds, 1 a property is violated, 2 bad input, 3 inconclusive (a
limit stopped the search). Benchmark figures are measurements, not pass/fail criteria.

Extending: models come from :mod:`itsrace.engine.lang.registry` (each parameter of a registered model
becomes an option here). Search options are shared with ``itsrace check`` in
:mod:`itsrace.cli.searchopts`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from itsrace.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INCONCLUSIVE,
    EXIT_OK,
    EXIT_VIOLATION,
    UsageError,
)
from itsrace.cli.searchopts import SearchOptions, add_search_flags, run_search
from itsrace.engine import FAIL, PASS, ModelError, Result
from itsrace.engine.explore.report import STYLES, format_violation
from itsrace.engine.lang.registry import MODELS, ModelEntry, get

EXIT_FOR_VERDICT = {PASS: EXIT_OK, FAIL: EXIT_VIOLATION}


# -- command-line interface ------------------------------------------------------------------
def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="explore a benchmark model and report states, transitions, speed and memory",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="models: " + "; ".join(f"{e.name}: {e.summary}" for e in MODELS.values()),
    )
    parser.add_argument("model", metavar="MODEL", help=f"benchmark model ({', '.join(sorted(MODELS))})")
    _add_model_params(parser)
    add_search_flags(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    out.add_argument("--out", metavar="FILE", help="also write the JSON object to FILE")
    out.add_argument("--trace-out", metavar="FILE", help="save the first counterexample as a trace file")
    out.add_argument("--trace-style", choices=STYLES, default="auto", help="how to print a counterexample")
    parser.set_defaults(func=run)


def _add_model_params(parser: argparse.ArgumentParser) -> None:
    """One option per parameter name across all registered models (default: not given)."""
    group = parser.add_argument_group("model parameters")
    seen: set[str] = set()
    for entry in MODELS.values():
        for p in entry.params:
            if p.name in seen:
                continue
            seen.add(p.name)
            text = f"{p.help} ({entry.name}; default {p.default})"
            if p.kind is bool:
                group.add_argument(p.option, dest=p.name, action="store_true", default=None, help=text)
            else:
                group.add_argument(p.option, dest=p.name, type=int, default=None, metavar="N", help=text)


def model_params(entry: ModelEntry, args: argparse.Namespace) -> dict[str, Any]:
    """The model parameters given on the command line, checked against ``entry``."""
    given = {p: getattr(args, p) for p in _all_param_names() if getattr(args, p, None) is not None}
    try:
        return entry.resolve(given)
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def _all_param_names() -> list[str]:
    return list(dict.fromkeys(p.name for e in MODELS.values() for p in e.params))


def run(args: argparse.Namespace) -> int:
    try:
        entry = get(args.model)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    params = model_params(entry, args)
    options = SearchOptions.from_args(args)
    for path in (args.out, args.trace_out):
        if path is not None:
            _check_writable(path)
    try:
        spec = entry.spec(params)
        model = spec.build()
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    result = run_search(model, spec, options)
    rec = record(entry, params, options, result)
    if args.trace_out and result.violations:
        trace = result.violations[0].trace
        trace.params = entry.trace_params(params)
        _write(args.trace_out, trace.to_json() + "\n")
        rec["trace_file"] = args.trace_out
    if args.out:
        _write(args.out, json.dumps(rec, indent=2) + "\n")
    if args.json:
        print(json.dumps(rec, indent=2))
    else:
        print(format_table(rec))
        for violation in result.violations:
            print()
            print(format_violation(violation, args.trace_style))
        if args.trace_out:
            print(f"\ntrace saved to {args.trace_out}" if result.violations else "\nno counterexample to save")
    return EXIT_FOR_VERDICT.get(result.verdict, EXIT_INCONCLUSIVE)


# -- results -----------------------------------------------------------------------------------
SCHEMA_VERSION = 1  # of the --json object; src/itsrace/schemas/bench.schema.json


def record(entry: ModelEntry, params: dict[str, Any], options: SearchOptions, result: Result) -> dict[str, Any]:
    """The benchmark result as a JSON-ready dict."""
    stats = result.stats.as_dict()
    return {
        "schema_version": SCHEMA_VERSION,
        "model": entry.name,
        "model_name": result.model,
        "params": params,
        "options": asdict(options),
        "verdict": result.verdict,
        "reason": result.reason,
        **{k: stats[k] for k in (
            "distinct_states", "transitions", "depth", "seconds", "states_per_second",
            "peak_rss_bytes", "bytes_per_state", "collision_probability", "engine",
        )},
        "violations": [
            {"property": v.property, "kind": v.kind, "steps": [s.action for s in v.trace.steps]}
            for v in result.violations
        ],
    }


def format_table(rec: dict[str, Any]) -> str:
    """Two aligned columns: quantity and value."""
    options = SearchOptions(**rec["options"])
    params = " ".join(f"{k}={v}" for k, v in rec["params"].items())
    rows: list[tuple[str, str]] = [
        ("verdict", rec["verdict"] + (f" ({rec['reason']})" if rec["reason"] else "")),
        ("distinct states", f"{rec['distinct_states']:,}"),
        ("transitions", f"{rec['transitions']:,}"),
        ("depth", f"{rec['depth']:,}"),
        ("seconds", f"{rec['seconds']:.2f}"),
        ("states/s", f"{rec['states_per_second']:,}"),
        ("peak memory", f"{rec['peak_rss_bytes'] / 2**20:,.1f} MiB"),
        ("bytes/state", f"{rec['bytes_per_state']:,.1f}"),
        ("engine", rec.get("engine", "python")),
    ]
    if rec["collision_probability"] is not None:
        rows.append(("collision prob.", f"{rec['collision_probability']:.3g}"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{rec['model']} {params} ({options.describe()})"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


# -- files --------------------------------------------------------------------------------------
def _check_writable(path: str) -> None:
    """Fail before a long search, not after it, if an output file cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write '{path}'")


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w") as fh:
            fh.write(text)
    except OSError as exc:
        print(f"itsrace: error: cannot write '{path}': {exc.strerror}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
