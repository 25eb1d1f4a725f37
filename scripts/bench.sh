#!/usr/bin/env bash
# Run the benchmark set: one JSON file per run in bench-results/, plus bench-results/table.md.
# Benchmarks are measurements, not tests. Usage: scripts/bench.sh [OUTDIR]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-bench-results}"
VENV="${ITSRACE_VENV:-.venv}"
[ -x "$VENV/bin/itsrace" ] || { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet -e ".[ray]"; }
mkdir -p "$OUT"
run() {  # name, then bench arguments
  local name="$1"; shift
  "$VENV/bin/itsrace" bench "$@" --json --out "$OUT/$name.json" >/dev/null
  echo "$name done (exit $?)" >&2
}
run lpi-3x3            lpi-toy --vcpus 3 --lpis 3
run lpi-3x4            lpi-toy --vcpus 3 --lpis 4
run lpi-3x4-fp         lpi-toy --vcpus 3 --lpis 4 --fingerprints
run lpi-3x4-sym-fast   lpi-toy --vcpus 3 --lpis 4 --symmetry fast
run lpi-3x4-sym-exact  lpi-toy --vcpus 3 --lpis 4 --symmetry exact
run lpi-3x4-workers2   lpi-toy --vcpus 3 --lpis 4 --workers 2
run lpi-3x3-por        lpi-toy --vcpus 3 --lpis 3 --por
run lpi-3x3-bug        lpi-toy --vcpus 3 --lpis 3 --bug
"$VENV/bin/itsrace" check --json > "$OUT/hyp-xen-4.10.json"
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
hyp = json.loads((out / "hyp-xen-4.10.json").read_text())
rows += ["", "| xen-4.10 scenario | verdict | distinct states | seconds | violated |", "|---|---|---|---|---|"]
for r in hyp if isinstance(hyp, list) else hyp.get("scenarios", []):
    rows.append(f"| {r['scenario']} | {r['verdict']} | {r['states']:,} | {r['seconds']:.1f} | {', '.join(r['violated']) or '-'} |")
(out / "table.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY
