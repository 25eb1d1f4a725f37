"""``itsrace matrix``: the verdict matrix, every design against every scenario.

    itsrace matrix                                      # every shipped design x every shipped scenario
    itsrace matrix --designs xen-4.10,my_patch.py --scenarios discard-vs-lpi,guest
    itsrace matrix --json                               # one object per cell

This is the thread's question answered: which approach is right. Each row is a design (a base
model, a shipped design or a design file), each column a scenario; each cell is the verdict of a
complete search and the properties it violates (``itsrace check --design D --scenario S`` prints
the counterexample). Cells run in parallel, ``--jobs`` at a time (default: one per core).
Interrupted (Ctrl-C), it prints the cells finished so far.

Exit status: 0 every cell holds, 1 some cell fails, 2 bad input, 3 a limit or an interruption
left some cell undecided (and none failed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

from itsrace.cli.common import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_VIOLATION, UsageError
from itsrace.cli.render import ProgressLine
from itsrace.cli.searchopts import SearchOptions, add_search_flags
from itsrace.engine.explore.search import Progress

# short names for the cells; the legend under the table spells them out
SHORT = {
    "use-after-free": "UAF", "use-after-reinit": "UAR", "null-deref": "NULL", "double-free": "DFREE",
    "xen-bug": "BUG", "duplicate-lr": "DUP-LR", "lr-wrong-pending-irq": "WRONG-LR", "lr-agrees": "LR-AGREE",
    "list-lock": "LIST-LOCK", "spurious-delivery": "SPURIOUS", "msi-delivered": "LOST-MSI",
    "device-cleaned-up": "LEAK", "free-while-referenced": "FREE-REF", "queue-consumed": "QUEUE",
    "deadlock": "DEADLOCK", "lock-order": "LOCK-ORDER", "lock-discipline": "LOCK-USE",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "matrix", help="check every design against every scenario: the verdict matrix",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="exit status: 0 every cell holds, 1 some cell fails, 2 bad input, 3 some cell undecided",
    )
    parser.add_argument("--designs", default="all", metavar="A,B|all",
                        help="designs (names or .py files), comma-separated (default: every shipped design)")
    parser.add_argument("--scenarios", default="all", metavar="X,Y|all",
                        help="scenarios (names or .toml files), comma-separated (default: every shipped scenario "
                             "but the wide universes)")
    parser.add_argument("--wide", action="store_true",
                        help="with --scenarios all: the wide universes too (guest-wide, guest-2vcpu: millions "
                             "of states, minutes per design)")
    parser.add_argument("--json", action="store_true", help="print the cells as a JSON list")
    parser.add_argument("--html", metavar="FILE",
                        help="also write a self-contained HTML report: the matrix, each failing cell linked to "
                             "its counterexample as swimlanes")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="cells checked at once (default: one per core; 1 with --workers)")
    add_search_flags(parser)
    parser.set_defaults(func=run)


def _split(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UsageError(f"empty list {text!r}: name at least one, or 'all'")
    return items


def selection(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The designs and scenarios to check, each validated (a bad one is a UsageError now, not
    in a worker halfway through)."""
    from itsrace.catalog import DESIGNS
    from itsrace.cli.check_cmd import load_design
    from itsrace.hyp.scenario import (
        ScenarioError,
        default_scenario_names,
        load_scenario,
        scenario_names,
    )

    designs = list(DESIGNS) if args.designs == "all" else _split(args.designs)
    if args.scenarios == "all":
        scenarios = scenario_names() if args.wide else default_scenario_names()
    elif args.wide:
        raise UsageError("--wide adds the wide universes to --scenarios all; name them in --scenarios instead")
    else:
        scenarios = _split(args.scenarios)
    for d in designs:
        load_design(d)
    for s in scenarios:
        try:
            load_scenario(s)
        except ScenarioError as exc:
            raise UsageError(str(exc)) from None
    if len(set(designs)) != len(designs) or len(set(scenarios)) != len(scenarios):
        raise UsageError("a design or scenario is named twice")
    return designs, scenarios


def check_cell(design_arg: str, scenario_arg: str, opts: SearchOptions, keep_trace: bool = False,
               progress: Progress = False) -> dict[str, Any]:
    """One cell: build and check ``design_arg`` on ``scenario_arg`` (runs in a worker process).
    ``keep_trace`` keeps the shortest counterexample told in C terms (for ``--html``) under
    ``"story"`` (removed before ``--json`` prints the row). ``progress`` is the search's
    (a live line, in-process runs only)."""
    from itsrace.cli.check_cmd import as_json, check_one, load_design
    from itsrace.hyp.scenario import load_scenario

    design = load_design(design_arg)
    scenario = load_scenario(scenario_arg)
    model, result, seconds = check_one(design, scenario, opts, design_arg, progress=progress)
    row = as_json(design, scenario, result, seconds)
    for v in row["violations"]:
        v.pop("trace")
    if keep_trace and result.violations:
        from itsrace.cli.render import story_of

        shortest = min(result.violations, key=lambda v: len(v.trace.steps))
        row["story"] = story_of(shortest.trace, model)
    row["design_arg"], row["scenario_arg"] = design_arg, scenario_arg
    return row


def run(args: argparse.Namespace) -> int:
    opts = SearchOptions.from_args(args)
    if opts.checkpoint or opts.resume:
        raise UsageError("--checkpoint and --resume save one search: use itsrace check --scenario for that")
    jobs = args.jobs if args.jobs is not None else (1 if opts.workers > 1 else min(os.cpu_count() or 1, 8))
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.html:
        from itsrace.cli.render import check_writable

        check_writable(args.html)
    designs, scenarios = selection(args)
    cells = [(d, s) for d in designs for s in scenarios]
    start = time.monotonic()
    rows, stopped = run_cells(cells, opts, jobs, progress=not args.json and sys.stderr.isatty(),
                              keep_trace=bool(args.html))
    stories = {c: rows[c].pop("story") for c in cells if c in rows and "story" in rows[c]}
    text = format_matrix(designs, scenarios, rows, time.monotonic() - start, stopped)
    if args.json:
        print(json.dumps([rows[c] for c in cells if c in rows], indent=2))
    else:
        print_matrix(text)
    if args.html:
        write_matrix_html(args.html, designs, scenarios, rows, stories, text.splitlines()[-1])
        if not args.json:
            print(f"HTML report: {args.html}")
    verdicts = [rows[c]["verdict"] if c in rows else "inconclusive" for c in cells]
    if "fail" in verdicts:
        return EXIT_VIOLATION
    return EXIT_INCONCLUSIVE if "inconclusive" in verdicts else EXIT_OK


def print_matrix(text: str) -> None:
    """The matrix, on a terminal with passing cells green, failing ones red, undecided yellow."""
    from rich.text import Text

    from itsrace.cli.render import print_lines

    failing = "|".join(sorted({re.escape(s) for s in SHORT.values()}, key=len, reverse=True))
    lines = []
    for n, line in enumerate(text.splitlines()):
        t = Text(line)
        if n and line and not line.startswith(("S", "violated:")) and "cells checked" not in line:
            t.highlight_regex(r"(?<=\s)pass\b", "green")
            t.highlight_regex(rf"(?<=\s)(?:{failing})(?:,(?:{failing}))*\b", "bold red")
            t.highlight_regex(r"(?<=\s)limit\b", "yellow")
        lines.append(t)
    print_lines(lines)


def write_matrix_html(path: str, designs: list[str], scenarios: list[str],
                      rows: dict[tuple[str, str], dict[str, Any]], stories: dict[tuple[str, str], Any],
                      footer: str) -> None:
    """``--html FILE``: the matrix with every failing cell linked to its counterexample."""
    from itsrace.cli.render import write_file
    from itsrace.hyp.html import MatrixView, report_page

    names = {d: next((r["design"] for (dd, _), r in rows.items() if dd == d), d) for d in designs}
    view = MatrixView([names[d] for d in designs], scenarios, footer=footer)
    listed = []
    for i, d in enumerate(designs):
        for j, s in enumerate(scenarios):
            row = rows.get((d, s))
            anchor = f"cx-{i}-{j}" if (d, s) in stories else ""
            view.cells[names[d], s] = (cell_text(row), row["verdict"] if row else "", anchor)
            if anchor:
                listed.append((anchor, f"{names[d]} on {s}: {stories[d, s].property} "
                                       f"(itsrace check --design {d} --scenario {s})", stories[d, s]))
    write_file(path, report_page("itsrace: the verdict matrix", listed, view))


def run_cells(cells: list[tuple[str, str]], opts: SearchOptions, jobs: int,
              progress: bool = False, keep_trace: bool = False) -> tuple[dict[tuple[str, str], dict[str, Any]], bool]:
    """Check every cell, ``jobs`` at a time; on Ctrl-C return what finished (and True).
    ``progress`` shows a live line on stderr: cells done, states, states/s, elapsed."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    start = time.monotonic()
    if jobs == 1:
        # in-process: the running cell's search feeds the live line (its states, states/s, depth)
        live = ProgressLine(prefix=lambda: f"cells {len(rows)}/{len(cells)}  ", end_line=False) if progress else False
        try:
            for cell in cells:
                rows[cell] = check_cell(*cell, opts, keep_trace, progress=live)
                _progress(progress, rows, len(cells), start)
        except KeyboardInterrupt:
            return rows, True
        return rows, False
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("forkserver"))
    pending: dict[Future[dict[str, Any]], tuple[str, str]] = {}
    try:
        for cell in cells:
            pending[pool.submit(check_cell, *cell, opts, keep_trace)] = cell
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                cell = pending.pop(fut)
                rows[cell] = fut.result()  # a UsageError in a cell is re-raised here, one line
                _progress(progress, rows, len(cells), start)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        return rows, True
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return rows, False


def _progress(on: bool, rows: dict[tuple[str, str], dict[str, Any]], total: int, start: float) -> None:
    """One live line on stderr (only on a terminal): cells, states, states/s, deepest trace, elapsed."""
    if not on:
        return
    done = len(rows)
    states = sum(r["states"] for r in rows.values())
    elapsed = time.monotonic() - start
    depth = max((v["steps"] for r in rows.values() for v in r["violations"]), default=0)
    line = (f"\r  cells {done}/{total}  states {states:,}  {states / max(elapsed, 1e-9):,.0f} st/s  "
            f"longest counterexample {depth}  elapsed {elapsed:,.0f} s \x1b[K")
    print(line, end="" if done < total else "\n", file=sys.stderr, flush=True)


def cell_text(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    if row["verdict"] == "pass":
        return "pass"
    if row["verdict"] == "inconclusive" and not row["violated"]:
        return "limit"
    return ",".join(SHORT.get(p, p) for p in row["violated"])


def format_matrix(designs: list[str], scenarios: list[str], rows: dict[tuple[str, str], dict[str, Any]],
                  seconds: float, stopped: bool = False) -> str:
    """Rows are designs, columns scenarios (numbered; the key follows the table)."""
    names = {d: next((r["design"] for (dd, _), r in rows.items() if dd == d), d) for d in designs}
    texts = {(d, s): cell_text(rows.get((d, s))) for d in designs for s in scenarios}
    width0 = max(len("design"), *(len(n) for n in names.values()))
    widths = [max(len(f"S{i + 1}"), *(len(texts[d, s]) for d in designs)) for i, s in enumerate(scenarios)]
    lines = ["  ".join([f"{'design':{width0}}", *(f"{'S' + str(i + 1):{w}}" for i, w in enumerate(widths))])]
    for d in designs:
        lines.append("  ".join([f"{names[d]:{width0}}", *(f"{texts[d, s]:{w}}" for s, w in zip(scenarios, widths,
                                                                                             strict=True))]))
    lines.append("")
    lines.extend(f"S{i + 1}: {s}" for i, s in enumerate(scenarios))
    used = sorted({p for r in rows.values() for p in r["violated"]})
    if used:
        lines.append("")
        lines.append("violated: " + "; ".join(f"{SHORT.get(p, p)} = {p}" for p in used))
    failed = sum(1 for r in rows.values() if r["verdict"] == "fail")
    tail = f"{len(rows)} of {len(designs) * len(scenarios)} cells checked in {seconds:.1f} s; {failed} fail"
    if stopped:
        tail += " (interrupted: '-' cells were not checked)"
    lines.append("")
    lines.append(tail + ". A counterexample: itsrace check --design D --scenario S")
    return "\n".join(lines)
