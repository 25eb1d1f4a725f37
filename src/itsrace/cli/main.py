"""Entry point of the ``itsrace`` command.

Each subcommand lives in its own module exposing ``register(subparsers)``; the module's
``run(args) -> int`` is stored as ``args.func``. Adding a subcommand means adding its module name
to ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from itsrace import __version__
from itsrace.cli.common import EXIT_BAD_INPUT, OneLineParser, UsageError

_SUBCOMMANDS = ["its_cmd", "check_cmd", "matrix_cmd", "design_cmd", "bench_cmd", "replay_cmd", "list_cmd"]


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="itsrace",
        description="Executable GICv3 ITS emulator and model checker for interrupt-virtualization races.",
    )
    parser.add_argument("--version", action="version", version=f"itsrace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(f"itsrace.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"itsrace.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        names = ", ".join(sorted(sub.split("_")[0] for sub in _SUBCOMMANDS))
        parser.error(f"name a command: {names}")
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"itsrace: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("itsrace: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop quietly, and keep Python's exit-time
        # flush of stdout from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
