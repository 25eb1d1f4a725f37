"""Search options shared by ``itsrace bench`` and ``itsrace check``: one place that maps flags to
the engine's search functions.

    --dfs --fingerprints --max-states N --max-seconds S --max-memory MIB   the sequential search
    --symmetry fast|exact --por --sleep                      reductions (docs/reductions.md)
    --workers N [--backend processes|ray] [--ray-address A]  parallel search (docs/parallel.md)
    --swarm SECONDS                                          random diversified search (never "pass")
    --checkpoint FILE [--checkpoint-every S] [--resume FILE] nothing lost on interruption
    --engine c|python                                        compiled C search (default when a
                                                             compiler works) or the Python one

Combinations the engine cannot do soundly or at all are refused with one line (exit 2), never
silently ignored.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

from itsrace.cli.common import UsageError
from itsrace.engine import Limits, Model, ModelError, Result, check_model
from itsrace.engine.explore.search import Progress
from itsrace.engine.lang.spec import ModelSpec


@dataclass(frozen=True)
class SearchOptions:
    """How to search: everything that changes speed or memory but not the verdict."""

    strategy: str = "bfs"
    fingerprints: bool = False
    max_states: int | None = None
    max_seconds: float | None = None
    max_memory: int | None = None  # bytes
    symmetry: str | None = None  # None | "fast" | "exact"
    por: bool = False
    sleep: bool = False
    workers: int = 1
    backend: str = "processes"
    ray_address: str | None = None
    swarm: float | None = None  # seconds
    checkpoint: str | None = None
    checkpoint_every: float = 60.0
    resume: str | None = None
    engine: str = "auto"  # "auto": C where the options allow it and a compiler works

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SearchOptions:
        opts = cls(
            strategy="dfs" if getattr(args, "dfs", False) else "bfs",
            fingerprints=getattr(args, "fingerprints", False),
            max_states=getattr(args, "max_states", None),
            max_seconds=getattr(args, "max_seconds", None),
            max_memory=_mib(getattr(args, "max_memory", None)),
            symmetry=getattr(args, "symmetry", None),
            por=getattr(args, "por", False),
            sleep=getattr(args, "sleep", False),
            workers=getattr(args, "workers", 1),
            backend=getattr(args, "backend", "processes"),
            ray_address=getattr(args, "ray_address", None),
            swarm=getattr(args, "swarm", None),
            checkpoint=getattr(args, "checkpoint", None),
            checkpoint_every=getattr(args, "checkpoint_every", 60.0),
            resume=getattr(args, "resume", None),
            engine=getattr(args, "engine", None) or "auto",
        )
        opts.validate()
        return opts

    def validate(self) -> None:
        if self.max_states is not None and self.max_states < 1:
            raise UsageError("--max-states must be at least 1")
        if self.max_seconds is not None and not (self.max_seconds > 0 and math.isfinite(self.max_seconds)):
            raise UsageError("--max-seconds must be a positive number of seconds")
        if self.max_memory is not None and self.max_memory < 1:
            raise UsageError("--max-memory must be a positive number of MiB")
        if not (self.checkpoint_every > 0 and math.isfinite(self.checkpoint_every)):
            raise UsageError("--checkpoint-every must be a positive number of seconds")
        if self.workers < 1:
            raise UsageError("--workers must be at least 1")
        if self.swarm is not None and not self.swarm > 0:
            raise UsageError("--swarm takes a positive number of seconds")
        if self.strategy == "dfs" and self.fingerprints:
            raise UsageError("--fingerprints searches breadth-first; it cannot be combined with --dfs")
        if self.backend == "ray" and self.workers < 2 and self.swarm is None:
            raise UsageError("--backend ray needs --workers N with N >= 2")
        if self.ray_address and self.backend != "ray":
            raise UsageError("--ray-address needs --backend ray")
        parallel = self.workers > 1 and self.swarm is None
        if parallel and (self.strategy == "dfs" or self.fingerprints or self.symmetry or self.por):
            raise UsageError("--workers runs an exact breadth-first search; drop --dfs/--fingerprints/--symmetry/--por")
        if self.swarm is not None and (self.symmetry or self.por or self.checkpoint or self.resume):
            raise UsageError("--swarm cannot be combined with --symmetry, --por or checkpoints")
        if self.por and (self.strategy == "dfs" or self.checkpoint or self.resume):
            raise UsageError("--por searches breadth-first without checkpoints; drop --dfs/--checkpoint/--resume")
        if self.sleep and self.por:
            raise UsageError("--sleep and --por together can miss violations (the cycle proviso does not "
                             "see sleeping actions); use one of them (docs/reductions.md)")
        if self.sleep and (self.symmetry or self.strategy == "dfs" or self.workers > 1 or self.swarm is not None
                           or self.checkpoint or self.resume):
            raise UsageError("--sleep is a breadth-first search of its own; drop --symmetry/--dfs/--workers/"
                             "--swarm/--checkpoint/--resume")
        if self.symmetry and (self.checkpoint or self.resume) and not self.por:
            raise UsageError("checkpoints are not supported with --symmetry")
        if self.engine == "c" and self.python_only():
            raise UsageError(f"--engine c runs breadth-first searches without {self.python_only()}; "
                             "drop it or use --engine python")

    def python_only(self) -> str:
        """The first option only the Python backend implements ('' if none)."""
        ckpt = bool(self.checkpoint or self.resume)
        for flag, on in (("--dfs", self.strategy == "dfs"), ("--symmetry", self.symmetry), ("--por", self.por),
                         ("--sleep", self.sleep), ("--swarm", self.swarm is not None),
                         ("--backend ray", self.backend == "ray"),
                         ("checkpoints with --workers or --fingerprints",
                          ckpt and (self.workers > 1 or self.fingerprints))):
            if on:
                return flag
        return ""

    def describe(self) -> str:
        if self.swarm is not None:
            return f"swarm {self.swarm:g} s, {self.workers} worker(s)"
        parts = [self.strategy, "fingerprint visited set" if self.fingerprints else "exact visited set"]
        if self.symmetry:
            parts.append(f"symmetry {self.symmetry}")
        if self.por:
            parts.append("partial-order reduction")
        if self.sleep:
            parts.append("sleep sets")
        if self.workers > 1:
            parts.append(f"{self.workers} workers" + (" on ray" if self.backend == "ray" else ""))
        if self.engine != "auto":
            parts.append(f"{self.engine} engine")
        return ", ".join(parts)

    def limits(self) -> Limits:
        return Limits(max_states=self.max_states, max_seconds=self.max_seconds, max_memory=self.max_memory)


def add_search_flags(parser: argparse.ArgumentParser) -> None:
    """The flags above, in a group of their own."""
    group = parser.add_argument_group("search")
    group.add_argument("--dfs", action="store_true", help="depth-first instead of breadth-first")
    group.add_argument("--fingerprints", action="store_true", help="store 64-bit keys instead of states")
    group.add_argument("--max-states", type=int, metavar="N", help="stop (inconclusive) after about N states")
    group.add_argument("--max-seconds", type=float, metavar="S",
                       help="stop (inconclusive) after about S seconds, building the model included")
    group.add_argument("--max-memory", type=float, metavar="MIB",
                       help="stop (inconclusive) when the process's resident memory reaches MIB mebibytes")
    group.add_argument("--symmetry", choices=("fast", "exact"), help="symmetry reduction over the model's scalarsets")
    group.add_argument("--por", action="store_true", help="partial-order reduction (ample sets)")
    group.add_argument("--sleep", action="store_true",
                       help="sleep sets: follow fewer transitions, visit every state (not with --por)")
    group.add_argument("--workers", type=int, default=1, metavar="N", help="parallel breadth-first search with N workers")
    group.add_argument("--backend", choices=("processes", "ray"), default="processes", help="where the workers run")
    group.add_argument("--ray-address", metavar="ADDR", help="an existing Ray cluster (default: start a local one)")
    group.add_argument("--swarm", type=float, metavar="SECONDS", help="random diversified search; finds bugs, never proves")
    group.add_argument("--checkpoint", metavar="FILE", help="save the search state to FILE periodically and when stopped")
    group.add_argument("--checkpoint-every", type=float, default=60.0, metavar="S", help="seconds between checkpoints")
    group.add_argument("--resume", metavar="FILE", help="continue the search saved in FILE")
    group.add_argument("--engine", choices=("c", "python"),
                       help="compiled C search (the default when a C compiler works) or the Python one")


def run_search(model: Model, spec: ModelSpec | None, opts: SearchOptions, *,
               stop_on_violation: bool = True, progress: Progress = None) -> Result:
    """Run the search ``opts`` asks for. ``spec`` rebuilds the model in worker processes.
    ``progress`` is the search's (:data:`itsrace.engine.explore.search.Progress`); the plain
    search and the C backend feed a callback, the others draw their own line on a terminal."""
    limits = opts.limits()
    own_line = None if callable(progress) else progress  # swarm, parallel, reductions
    try:
        if opts.engine != "python" and not opts.python_only():
            from itsrace.engine.native import runner

            if opts.workers == 1:
                return runner.check(model, engine=opts.engine, fingerprints=opts.fingerprints, limits=limits,
                                    stop_on_violation=stop_on_violation, progress=progress,
                                    checkpoint=opts.checkpoint, checkpoint_every=opts.checkpoint_every,
                                    resume=opts.resume)
            try:
                return runner.check(model, engine=opts.engine, fingerprints=opts.fingerprints, limits=limits,
                                    stop_on_violation=stop_on_violation, progress=progress,
                                    workers=opts.workers, fallback=False)
            except runner.NativeFallback as exc:  # the Python backend's workers are processes (below)
                runner.notice(str(exc))
        if opts.swarm is not None:
            from itsrace.engine.scale.swarm import check_swarm

            return check_swarm(_need_spec(spec, "--swarm"), workers=opts.workers, seconds=opts.swarm,
                               stop_on_violation=stop_on_violation, progress=own_line)
        if opts.workers > 1:
            from itsrace.engine.scale.parallel import check_parallel

            return check_parallel(_need_spec(spec, "--workers"), workers=opts.workers, backend=opts.backend,
                                  address=opts.ray_address, limits=limits, stop_on_violation=stop_on_violation,
                                  progress=own_line, checkpoint=opts.checkpoint,
                                  checkpoint_every=opts.checkpoint_every, resume=opts.resume)
        if opts.symmetry or opts.por or opts.sleep:
            from itsrace.engine.reduce.por import reduced_check

            kwargs: dict[str, Any] = {"fingerprints": opts.fingerprints, "limits": limits,
                                      "stop_on_violation": stop_on_violation, "progress": own_line}
            if not (opts.por or opts.sleep):
                kwargs["strategy"] = opts.strategy
            return reduced_check(model, symmetry=opts.symmetry, por=opts.por, sleep=opts.sleep, **kwargs)
        return check_model(model, strategy=opts.strategy, fingerprints=opts.fingerprints, limits=limits,
                           stop_on_violation=stop_on_violation, progress=progress,
                           checkpoint=opts.checkpoint, checkpoint_every=opts.checkpoint_every,
                           resume=opts.resume)
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def _mib(value: float | None) -> int | None:
    if value is None:
        return None
    if not (value > 0 and math.isfinite(value)):
        raise UsageError("--max-memory must be a positive number of MiB")
    return int(value * 2**20)


def _need_spec(spec: ModelSpec | None, flag: str) -> ModelSpec:
    if spec is None:
        raise UsageError(f"{flag} needs a model that worker processes can rebuild")
    return spec
