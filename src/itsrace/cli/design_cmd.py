"""``itsrace design``: write your own design (a patch to a base model) and read one as a diff.

    itsrace design new my_patch.py --base xen-4.10 --override its_discard_event [--override ...]
    itsrace design show my_patch.py            # or a shipped design: itsrace design show unmapped-tag
    itsrace design show xen-4.10               # a base model: the functions a design can override

``new`` writes a runnable design file holding a copy of each function you name; edit the copies,
then ``itsrace check --design my_patch.py`` or ``itsrace matrix --designs xen-4.10,my_patch.py``.
Checking the unedited file gives exactly the base's verdicts and state counts. ``show`` prints
each overridden function as a unified diff against the version it replaces, with file lines.
``docs/designs.md`` walks through checking a patch in ten minutes.

A design file is Python and runs with your rights when you name it.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from itsrace.cli.common import EXIT_OK, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "design", help="write a new design file from a base's functions, or show a design as a diff",
        description=(__doc__ or "").split("\n\n")[0],
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    new = sub.add_parser("new", help="write a design file with copies of the functions to change")
    new.add_argument("file", metavar="FILE.py", help="the design file to write (must not exist)")
    new.add_argument("--base", required=True, metavar="NAME|FILE.py",
                     help="what the patch applies to: a base model, a shipped design or a design file")
    new.add_argument("--override", action="append", default=[], metavar="FUNCTION", required=True,
                     help="a function to copy into the file for editing (repeatable)")
    new.add_argument("--name", help="the design's name (default: the file name)")
    new.set_defaults(func=run_new)
    show = sub.add_parser("show", help="print a design as a unified diff against its base")
    show.add_argument("design", metavar="NAME|FILE.py")
    show.set_defaults(func=run_show)
    parser.set_defaults(func=lambda args: parser.error("name an action: new or show"))


def run_new(args: argparse.Namespace) -> int:
    from itsrace.cli.check_cmd import load_design
    from itsrace.hyp.design import DesignError
    from itsrace.hyp.patch import new_design_source

    if not args.file.endswith(".py"):
        raise UsageError(f"{args.file}: a design file must end in .py")
    name = args.name or re.sub(r"[^A-Za-z0-9.-]+", "-", os.path.basename(args.file)[:-3]).strip("-") or "my-design"
    base = load_design(args.base)
    base_ref = args.base
    if args.base.endswith(".py"):  # keep the reference working from where the new file lives
        base_ref = os.path.relpath(os.path.abspath(args.base), os.path.dirname(os.path.abspath(args.file)))
    try:
        text = new_design_source(base, base_ref, name, args.override)
    except DesignError as exc:
        raise UsageError(str(exc)) from None
    try:
        with open(args.file, "x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise UsageError(f"{args.file} exists already: choose another name (nothing was written)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {args.file}: {exc.strerror or exc}") from None
    print(f"wrote {args.file}: design '{name}' on {base.name}, overriding {', '.join(dict.fromkeys(args.override))}")
    print(f"next: edit it, then  itsrace design show {args.file}  and  itsrace matrix --designs {base.name},{args.file}")
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    from itsrace.cli.check_cmd import load_design
    from itsrace.hyp.design import DesignError
    from itsrace.hyp.patch import design_diff

    design = load_design(args.design)
    try:
        print(design_diff(design), end="")
    except DesignError as exc:
        raise UsageError(str(exc)) from None
    return EXIT_OK
