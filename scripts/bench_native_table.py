"""Read scripts/bench.sh's native runs from OUTDIR and print (and write OUTDIR/native.md) the
issue-11 target table: each figure, the commands it comes from, and whether the target is met."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

out = Path(sys.argv[1])


def load(name: str) -> dict[str, Any] | None:
    f = out / f"{name}.json"
    if not f.exists() or not f.read_text().strip():
        return None
    data = json.loads(f.read_text())
    return data[0] if isinstance(data, list) else data


def spin(name: str) -> dict[str, float] | None:
    f = out / f"{name}.out"
    if not f.exists():
        return None
    text = f.read_text()
    m = re.search(r"elapsed time ([\d.e+]+) seconds", text)
    states = re.search(r"(\d+) states, stored", text)
    peak = json.loads((out / f"{name}.time").read_text())["max_rss_kb"] * 1024
    return {"seconds": float(m.group(1)) if m else float("nan"), "states": int(states.group(1)) if states else 0,
            "peak": peak}


def secs(r: dict[str, Any] | None) -> float:
    return float(r["seconds"]) if r else float("nan")


rows: list[tuple[str, str, str, str, str]] = []
IT = "itsrace"
gp, gc, gc2, gw = load("guest-python"), load("guest-c"), load("guest-c-w2"), load("guest-wide-c")
l1, l2, lfp = load("lpi34-c"), load("lpi34-c-w2"), load("lpi34-c-fp")
sb, sd = spin("spin-bfs"), spin("spin-dfs")

if gp and gc:
    same = (gp["states"], gp["transitions"], gp["violated"]) == (gc["states"], gc["transitions"], gc["violated"])
    ratio = secs(gp) / secs(gc)
    rows.append(("guest (xen-4.10): C at least 10x faster than Python",
                 "`scripts/bench_search.py xen-4.10 guest OUT.json --engine python` / `--engine c` "
                 f"(the search `{IT} check --design xen-4.10 --scenario guest` runs)", f"search: Python {secs(gp):.2f} s, C {secs(gc):.2f} s; end to end (model build, cached C library, traces): {gp['end_to_end_seconds']:.2f} s vs {gc['end_to_end_seconds']:.2f} s ({gc['states']:,} states, same results: {same})",
                 f"{ratio:.1f}x", "met" if ratio >= 10 and same else "not met"))
if l1 and sb:
    ratio = secs(l1) / sb["seconds"]
    dfs = f"; SPIN DFS {sd['seconds']:.2f} s ({sd['states']:,} states)" if sd else ""
    rows.append(("lpi-toy 3x4: C at most 0.5x the time of SPIN BFS",
                 f"`{IT} bench lpi-toy --vcpus 3 --lpis 4 --engine c`; `spin -a -DNC=3 -DNL=4 bench/lpi-toy.pml`, "
                 "`gcc -O2 -DSAFETY -DNOREDUCE -DBFS -DMEMLIM=16384`, `./pan -m10000000 -w24` (DFS: without -DBFS)",
                 f"C {secs(l1):.2f} s ({l1['distinct_states']:,} states), SPIN BFS {sb['seconds']:.2f} s "
                 f"({sb['states']:,} states){dfs}", f"{ratio:.2f}x", "met" if ratio <= 0.5 else "not met"))
if lfp:
    bps = lfp["peak_rss_bytes"] / lfp["distinct_states"]
    rows.append(("fingerprints: at most 16 bytes/state of whole-process peak RSS on lpi-toy 3x4",
                 f"`{IT} bench lpi-toy --vcpus 3 --lpis 4 --engine c --fingerprints`",
                 f"peak {lfp['peak_rss_bytes'] / 2**20:.1f} MiB for {lfp['distinct_states']:,} states, {secs(lfp):.2f} s",
                 f"{bps:.1f} B/state", "met" if bps <= 16 else "not met"))
if l1 and l2:
    ratio = secs(l1) / secs(l2)
    rows.append(("lpi-toy 3x4: 2 workers at least 1.8x faster than 1",
                 f"`{IT} bench lpi-toy --vcpus 3 --lpis 4 --engine c [--workers 2]`",
                 f"1 worker {secs(l1):.2f} s, 2 workers {secs(l2):.2f} s", f"{ratio:.2f}x",
                 "met" if ratio >= 1.8 else "not met"))
if gc and gc2:
    ratio = secs(gc) / secs(gc2)
    rows.append(("guest: 2 workers at least 1.8x faster than 1",
                 "`scripts/bench_search.py xen-4.10 guest OUT.json --engine c [--workers 2]`",
                 f"1 worker {secs(gc):.2f} s, 2 workers {secs(gc2):.2f} s", f"{ratio:.2f}x",
                 "met" if ratio >= 1.8 else "not met"))
if gw:
    done = not gw["reason"]
    rows.append(("guest-wide exhausted in under 60 s",
                 f"`{IT} check --design xen-4.10 --scenario bench/guest-wide.toml --engine c` "
                 "(timed: `scripts/bench_search.py xen-4.10 bench/guest-wide.toml OUT.json --engine c`)",
                 f"{gw['states']:,} states, {gw['transitions']:,} transitions, {secs(gw):.2f} s search, "
                 f"{gw['end_to_end_seconds']:.2f} s end to end, verdict {gw['verdict']} "
                 f"({', '.join(gw['violated'])})", "exhausted" if done else gw["reason"],
                 "met" if done and secs(gw) < 60 else "not met"))

lines = ["| target | commands | measured | ratio | |", "|---|---|---|---|---|"]
lines += [f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]
(out / "native.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
