#!/usr/bin/env bash
# Run the benchmark set: one JSON file per run in bench-results/, plus bench-results/table.md.
# Benchmarks are measurements, not tests. Usage: scripts/bench.sh [OUTDIR] [native|workers|python|all]
#   workers: only the worker speedup (1 vs 2 workers of the C backend, lpi-toy 3x4 and guest, 3
#   repeats each, wall and CPU seconds) into OUTDIR/workers.json; run it on a quiet machine.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
OUT="${1:-bench-results}"
VENV="${ITSRACE_VENV:-.venv}"
[ -x "$VENV/bin/itsrace" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet -e ".[ray]"; }
WHAT="${2:-all}"   # native | workers | python | all
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
IT="$VENV/bin/itsrace"
PY="$VENV/bin/python"

# -- issue 11: the compiled (C) backend against the Python one and against SPIN -----------------
timed() {  # name, then a command: wall seconds and peak RSS of the whole process into OUT/name.time
  local name="$1"; shift
  /usr/bin/time -f '{"wall": %e, "max_rss_kb": %M}' -o "$OUT/$name.time" "$@"
}
spin_run() {  # name, pan compile flags: SPIN 6.5 on bench/lpi-toy.pml 3x4, pan.c compiled outside the timing
  local name="$1"; shift
  local dir; dir="$(mktemp -d)"
  (cd "$dir" && spin -a -DNC=3 -DNL=4 "$ROOT/bench/lpi-toy.pml" >/dev/null && gcc -O2 "$@" -o pan pan.c \
     && /usr/bin/time -f '{"wall": %e, "max_rss_kb": %M}' -o "$OUT/$name.time" ./pan -m10000000 -w24 > "$OUT/$name.out")
  rm -rf "$dir"
  echo "$name done" >&2
}
native() {
  # search seconds (stats.seconds) and end to end; `itsrace check ... --json` gives the latter only
  hypb() { local name="$1"; shift; timed "$name" "$PY" scripts/bench_search.py "$@" >/dev/null; echo "$name done" >&2; }
  hypb guest-python xen-4.10 guest "$OUT/guest-python.json" --engine python
  hypb guest-c      xen-4.10 guest "$OUT/guest-c.json" --engine c
  hypb guest-c-w2   xen-4.10 guest "$OUT/guest-c-w2.json" --engine c --workers 2
  hypb guest-wide-c xen-4.10 bench/guest-wide.toml "$OUT/guest-wide-c.json" --engine c
  timed lpi34-c      "$IT" bench lpi-toy --vcpus 3 --lpis 4 --engine c --json --out "$OUT/lpi34-c.json" >/dev/null
  timed lpi34-c-w2   "$IT" bench lpi-toy --vcpus 3 --lpis 4 --engine c --workers 2 --json --out "$OUT/lpi34-c-w2.json" >/dev/null
  timed lpi34-c-fp   "$IT" bench lpi-toy --vcpus 3 --lpis 4 --engine c --fingerprints --json --out "$OUT/lpi34-c-fp.json" >/dev/null
  if command -v spin >/dev/null; then
    spin_run spin-bfs -DSAFETY -DNOREDUCE -DBFS -DMEMLIM=16384
    spin_run spin-dfs -DSAFETY -DNOREDUCE -DMEMLIM=16384
  else
    echo "spin not installed (apt-get install spin): SPIN rows skipped" >&2
  fi
  "$PY" scripts/bench_native_table.py "$OUT"
}
workers() {  # issue 11: 2 workers against 1, best of 3 alternating runs each (scripts/bench_workers.py)
  "$PY" scripts/bench_workers.py "$OUT/workers.json" --repeats "${ITSRACE_BENCH_REPEATS:-3}" | tail -n 2
}
if [ "$WHAT" = workers ]; then workers; exit 0; fi
[ "$WHAT" = python ] || { native; workers; }
[ "$WHAT" = native ] && exit 0

# -- the Python backend (figures from before issue 11) ------------------------------------------
run() {  # name, then bench arguments
  local name="$1"; shift
  "$VENV/bin/itsrace" bench "$@" --engine python --json --out "$OUT/$name.json" >/dev/null
  echo "$name done (exit $?)" >&2
}
run lpi-3x3            lpi-toy --vcpus 3 --lpis 3
run lpi-3x4            lpi-toy --vcpus 3 --lpis 4
run lpi-3x4-fp         lpi-toy --vcpus 3 --lpis 4 --fingerprints
run lpi-3x4-sym-fast   lpi-toy --vcpus 3 --lpis 4 --symmetry fast
run lpi-3x4-sym-exact  lpi-toy --vcpus 3 --lpis 4 --symmetry exact
run lpi-3x4-workers2   lpi-toy --vcpus 3 --lpis 4 --workers 2
run lpi-3x3-por        lpi-toy --vcpus 3 --lpis 3 --por
run lpi-3x3-sleep      lpi-toy --vcpus 3 --lpis 3 --sleep
run lpi-3x3-bug        lpi-toy --vcpus 3 --lpis 3 --bug
hyp() {  # name, then check arguments: one JSON list per run, a row per scenario
  local name="$1"; shift
  "$VENV/bin/itsrace" check "$@" --engine python --json > "$OUT/$name.json"
  echo "$name done (exit $?: 1 means a design fails some scenario)" >&2
}
hyp hyp-xen-4.10              --design xen-4.10
hyp hyp-xen-4.10-por          --design xen-4.10 --por
hyp hyp-xen-4.10-sleep        --design xen-4.10 --sleep
hyp hyp-xen-4.10-fp           --design xen-4.10 --fingerprints
hyp hyp-xen-4.10-workers2     --design xen-4.10 --workers 2
hyp hyp-kvm-refcount          --design kvm-refcount
hyp hyp-kvm-refcount-por      --design kvm-refcount --por
hyp hyp-kvm-refcount-fp       --design kvm-refcount --fingerprints
hyp hyp-kvm-refcount-workers2 --design kvm-refcount --workers 2
"$VENV/bin/python" - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = ["| run | options | verdict | distinct states | transitions | seconds | states/s | peak MiB | bytes/state |",
        "|---|---|---|---|---|---|---|---|---|"]
for f in sorted(out.glob("lpi-*.json")):
    r = json.loads(f.read_text())
    o = r["options"]
    opts = ", ".join(k if v is True else f"{k}={v}" for k, v in o.items()
                     if v is True or (v is not False and v not in (None, 1, "bfs", "processes", 60.0)))
    rows.append(f"| {f.stem} | {opts or '-'} | {r['verdict']} | {r['distinct_states']:,} | {r['transitions']:,} | "
                f"{r['seconds']:.2f} | {r['states_per_second']:,} | {r['peak_rss_bytes'] / 2**20:,.0f} | {r['bytes_per_state']:.1f} |")
variants = [("", "none"), ("-por", "por"), ("-sleep", "sleep"), ("-fp", "fingerprints"), ("-workers2", "workers=2")]
for design in ("xen-4.10", "kvm-refcount"):
    runs = {label: {r["scenario"]: r for r in json.loads((out / f"hyp-{design}{suffix}.json").read_text())}
            for suffix, label in variants if (out / f"hyp-{design}{suffix}.json").exists()}
    labels = [label for _, label in variants if label in runs]
    rows += ["", f"| {design} scenario | verdict | violated | " + " | ".join(f"{l}: states, s" for l in labels) + " |",
             "|---|---|---|" + "---|" * len(labels)]
    for name, base in runs["none"].items():
        cells = []
        for l in labels:
            r = runs[l][name]
            same = "" if (r["verdict"], r["violated"]) == (base["verdict"], base["violated"]) else " (verdict differs!)"
            cells.append(f"{r['states']:,}, {r['seconds']:.1f}{same}")
        rows.append(f"| {name} | {base['verdict']} | {', '.join(base['violated']) or '-'} | " + " | ".join(cells) + " |")
    total = {l: sum(r["seconds"] for r in runs[l].values()) for l in labels}
    rows.append("| all | | | " + " | ".join(f"{total[l]:.1f} s" for l in labels) + " |")
(out / "table.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
