"""``itsrace its``: drive the architectural ITS emulator.

``itsrace its run SCRIPT`` runs an ITS script (the format is documented in ``docs/its.md`` and
in :mod:`itsrace.its.script`) and prints the LPIs delivered and the errors the ITS logged.
Exit status: 0 when the script ran (ITS errors are output, not failures), 1 when an
``expect`` line failed, 2 for a script that cannot be read, parsed or carried out, or that
asks for more than a script may (the limits are in :mod:`itsrace.its.script`). A file that is
not a regular one (``/dev/zero``, a pipe), larger than 1 MiB or not UTF-8 is refused after
reading at most 1 MiB + 1 byte. A script that makes the ITS execute more than a million
command-queue slots is stopped there: one line on stderr, exit status 3 (a limit, not bad
input).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from itsrace.cli.common import EXIT_INCONCLUSIVE, OneLineParser, UsageError
from itsrace.its.script import (
    ScriptError,
    ScriptInputError,
    ScriptLimitError,
    load_script,
    run_script,
)


def register(subparsers: Any) -> None:
    """Add the ``its`` subcommand and its ``run`` action."""
    its = subparsers.add_parser(
        "its",
        help="run the architectural GICv3 ITS emulator",
        description="Drive the architectural GICv3 ITS emulator.",
    )
    its.set_defaults(func=lambda args: _usage(its))
    actions = its.add_subparsers(dest="its_action", metavar="ACTION", parser_class=OneLineParser)
    run_parser = actions.add_parser(
        "run",
        help="run an ITS script and print deliveries and errors",
        description="Run an ITS script: register writes, commands, MSIs, acks and EOIs per CPU.",
    )
    run_parser.add_argument("script", metavar="SCRIPT", help="the script file (see docs/its.md)")
    run_parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the script named by ``args.script``; returns the exit status."""
    try:
        text = load_script(args.script)
    except (OSError, ValueError, ScriptInputError) as exc:
        # ValueError: a path with a NUL byte. OSError: missing, unreadable, a loop of links.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot read {args.script}: {reason}") from None
    try:
        return run_script(text).exit_status
    except ScriptLimitError as exc:
        sys.stdout.flush()
        print(f"itsrace: error: {args.script}:{exc.line}: {exc.message}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    except ScriptError as exc:
        raise UsageError(f"{args.script}:{exc.line}: {exc.message}") from None


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.error("name an action: run")
