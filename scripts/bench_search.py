"""Time one hypervisor-model search the way ``itsrace check`` runs it, but report the search
time itself (``stats.seconds``: compilation and trace printing excluded) beside the end-to-end
time. Usage: bench_search.py DESIGN SCENARIO OUT.json [itsrace check search flags...]"""

from __future__ import annotations

import argparse
import json
import sys
import time

from itsrace.catalog import build_from_names
from itsrace.cli.searchopts import SearchOptions, add_search_flags, run_search

design, scenario, out = sys.argv[1:4]
parser = argparse.ArgumentParser()
add_search_flags(parser)
opts = SearchOptions.from_args(parser.parse_args(sys.argv[4:]))
start = time.monotonic()
model = build_from_names(design, scenario)
result = run_search(model, None, opts, stop_on_violation=False, progress=False)
record = {"design": design, "scenario": scenario, "options": opts.describe(), "engine": result.stats.engine,
          "verdict": result.verdict, "reason": result.reason, "states": result.stats.distinct_states,
          "transitions": result.stats.transitions, "violated": sorted(result.violated),
          "seconds": round(result.stats.seconds, 3), "end_to_end_seconds": round(time.monotonic() - start, 3),
          "peak_rss_bytes": result.stats.peak_rss_bytes}
with open(out, "w") as fh:
    json.dump(record, fh, indent=2)
print(json.dumps(record))
