"""``itsrace list WHAT``: what ``itsrace check`` knows about.

    itsrace list scenarios     # shipped scenarios: name and what interleaving it is about
    itsrace list properties    # every property: name, kind, group, and why it matters
    itsrace list designs       # shipped designs

``--verbose`` adds each scenario's description and each property's reason.
Exit status: 0, or 2 for an unknown WHAT or a broken shipped scenario.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from itsrace.cli.common import EXIT_OK, UsageError

WHAT = ("scenarios", "properties", "designs")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list scenarios, properties or designs known to 'itsrace check'",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("what", choices=WHAT, help="what to list")
    parser.add_argument("--verbose", "-v", action="store_true", help="descriptions and reasons too")
    parser.set_defaults(func=run)


def _wrap(text: str, indent: str = "    ") -> str:
    paras = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n".join(textwrap.fill(p, 100, initial_indent=indent, subsequent_indent=indent) for p in paras if p)


def run(args: argparse.Namespace) -> int:
    if args.what == "scenarios":
        from itsrace.hyp.scenario import ScenarioError, load_named, scenario_names

        for name in scenario_names():
            try:
                sc = load_named(name)
            except ScenarioError as exc:
                raise UsageError(str(exc)) from None
            t = sc.topology
            shape = (f"{t.vcpus} vCPU, {t.lrs} LR, {t.devices} dev x {t.events} ev, {t.vlpis} vLPI"
                     f"{', guest universe of ' + str(len(sc.universe)) if sc.universe else ''}")
            print(f"{name:26} {sc.summary}")
            if args.verbose:
                print(f"{'':26} [{shape}]")
                print(_wrap(sc.description))
    elif args.what == "properties":
        from itsrace.hyp.properties import PROPERTIES

        for p in PROPERTIES.values():
            print(f"{p.name:22} {p.kind:10} {p.group:14} {p.summary}")
            if args.verbose:
                print(_wrap(p.reason))
    else:
        from itsrace.catalog import DESIGNS
        from itsrace.hyp.design import Design

        width = max(len(n) for n in DESIGNS) + 2
        for d in DESIGNS.values():
            on = f"on {d.base_name}" if isinstance(d, Design) else "base model"
            print(f"{d.name:{width}} {on:20} {d.summary}")
            if args.verbose:
                changed = ", ".join([*d.overrides, *d.added]) if isinstance(d, Design) else ""
                print(_wrap((f"Changes: {changed}. " if changed else "") + f"Source: {d.source}"))
    return EXIT_OK
