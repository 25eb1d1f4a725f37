"""Shared CLI plumbing: the one-line error convention and exit codes.

Exit codes (same for every subcommand):
    0  success / every property holds
    1  a property was violated (a counterexample was printed)
    2  bad input: a wrong flag, a malformed file, an out-of-range value
    3  inconclusive: a limit stopped the search before it finished
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_BAD_INPUT = 2
EXIT_INCONCLUSIVE = 3


class UsageError(Exception):
    """Bad input from the user. Printed as one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (try '{self.prog} --help')\n")


def fail(message: str) -> NoReturn:
    """Print a one-line error naming the problem and exit with status 2."""
    print(f"itsrace: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)
