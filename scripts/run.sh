#!/usr/bin/env bash
# Set up a virtual environment (if needed) and run itsrace's main job on its built-in default:
# the verdict matrix, every shipped design against every shipped scenario.
# Extra arguments are passed to `itsrace matrix` (e.g. --designs xen-4.10,my_patch.py).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ITSRACE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install --quiet -e .
exec "$VENV/bin/itsrace" matrix "$@"
