#!/usr/bin/env bash
# Set up a virtual environment (if needed) and run lint, type checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${ITSRACE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null
"$VENV/bin/python" -m pip install --quiet -e ".[test,ray]"
"$VENV/bin/ruff" check src tests
"$VENV/bin/mypy"
# one pytest-xdist worker per core (-n 0 runs in one process); more arguments go to pytest
"$VENV/bin/python" -m pytest -n "${ITSRACE_TEST_WORKERS:-auto}" "$@"
