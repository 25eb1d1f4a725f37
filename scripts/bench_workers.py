"""Measure the compiled backend's worker speedup (issue 11: 2 workers at least 1.8x faster than 1,
on lpi-toy 3x4 and on `guest`). Benchmarks are measurements, not tests.

Usage: bench_workers.py OUT.json [--repeats N] [--workers 1,2] [--cases lpi-toy-3x4,guest]

Each case's model is built and its C library compiled (and searched once, untimed) first; then
the 1- and 2-worker searches alternate, N times each, in this process. For every search it
records the wall seconds and the CPU seconds (user+sys of the whole process, all threads:
`time.process_time`) around `check_native`, and the 1-minute load average before it. The machine
is shared: with other busy processes, a second thread only gets CPU time the scheduler would
otherwise give to one (sessions are scheduled as groups), so compare walls from quiet runs (load
below 1), or compare CPU seconds, whose ratio bounds the speedup: 2 x CPU(1) / CPU(2) when both
threads run all the time. A closer estimate takes the threads' imbalance into account: the
span (`itsrace_span` in `rt_search.c`: over every phase between two barriers, the CPU seconds of
the thread that worked longest) plus the process's CPU outside the search threads is about
what the wall time would be with a CPU per thread ("est_wall"); it is an estimate, not a
measurement: a busy machine hides the threads' competition for memory bandwidth (too fast),
and a thread descheduled during a phase leaves its chunks to the other (too slow).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import time
from typing import Any

from itsrace.engine import compile_model
from itsrace.engine.lang.compile import Compiled
from itsrace.engine.native.runner import check_native
from itsrace.models import lpi_toy


def build(case: str) -> Compiled:
    if case == "lpi-toy-3x4":
        return compile_model(lpi_toy.build(3, 4))
    if case == "guest":
        from itsrace.catalog import build_from_names

        return compile_model(build_from_names("xen-4.10", "guest"))
    raise SystemExit(f"bench_workers.py: unknown case {case!r} (lpi-toy-3x4, guest)")


def one(c: Compiled, workers: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    r = check_native(c, workers=workers, stop_on_violation=False, progress=False)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    span = (ctypes.c_double * 2)()
    if workers > 1:
        c.__dict__["_native"].lib.itsrace_span(span)
    est = cpu - span[1] + span[0] if workers > 1 else cpu
    return {"workers": workers, "wall": round(wall, 3), "cpu": round(cpu, 3), "est_wall": round(est, 3),
            "span": round(span[0], 3), "threads_cpu": round(span[1], 3), "load": round(load, 2),
            "search_seconds": round(r.stats.seconds, 3), "states": r.stats.distinct_states,
            "transitions": r.stats.transitions, "verdict": r.verdict, "violated": sorted(r.violated)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--cases", default="lpi-toy-3x4,guest")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    report: dict[str, Any] = {"cpus": os.cpu_count(), "cases": {}}
    lines = []
    for case in args.cases.split(","):
        c = build(case)
        check_native(c, workers=1, stop_on_violation=False, progress=False)  # compile + warm the caches
        runs = []
        for _ in range(args.repeats):
            for w in counts:
                runs.append(one(c, w))
                print(json.dumps({"case": case, **runs[-1]}), flush=True)
        same = len({(r["states"], r["transitions"], r["verdict"], tuple(r["violated"])) for r in runs}) == 1
        best = {w: {k: min(r[k] for r in runs if r["workers"] == w) for k in ("wall", "cpu", "est_wall")}
                for w in counts}
        med = {w: statistics.median(r["wall"] for r in runs if r["workers"] == w) for w in counts}
        report["cases"][case] = {"runs": runs, "best": best, "median_wall": med, "same_results": same}
        base = best[counts[0]]
        for w in counts[1:]:
            lines.append(f"{case}: {counts[0]} worker best wall {base['wall']:.2f} s (CPU {base['cpu']:.2f} s), "
                         f"{w} workers best wall {best[w]['wall']:.2f} s (CPU {best[w]['cpu']:.2f} s): "
                         f"wall {base['wall'] / best[w]['wall']:.2f}x, at most {w * base['cpu'] / best[w]['cpu']:.2f}x by CPU, "
                         f"estimated {base['cpu'] / best[w]['est_wall']:.2f}x with a CPU per thread (span); "
                         f"loads {min(r['load'] for r in runs):.1f}-{max(r['load'] for r in runs):.1f}; "
                         f"same results: {same}")
    report["summary"] = lines
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
