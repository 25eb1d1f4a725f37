"""Resume a search from its checkpoint, on one process or on workers.

Lives above both searches (:mod:`itsrace.engine.explore.search` and
:mod:`itsrace.engine.scale.parallel`), which write the checkpoints it reads
(:mod:`itsrace.engine.explore.checkpoint`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.explore.checkpoint import read_header
from itsrace.engine.explore.search import check
from itsrace.engine.lang.registry import code_files_of_spec
from itsrace.engine.lang.spec import ModelSpec
from itsrace.engine.scale.parallel import check_parallel


def resume(path: str | os.PathLike[str], *, allow_code: Iterable[str] = (), **options: Any) -> Any:
    """Resume the checkpoint at ``path`` with the model rebuilt from its recorded spec.

    A checkpoint is data: if rebuilding its model would run a Python file (a model or design
    file named in the spec), that file must be in ``allow_code``, or ModelError says which.

    ``options`` go to :func:`itsrace.engine.explore.search.check` (or to
    :func:`itsrace.engine.scale.parallel.check_parallel` when ``workers`` is given); the graph-changing
    options are taken from the checkpoint. Checkpoints keep being written to ``path`` unless
    ``checkpoint=`` says otherwise.
    """
    header = read_header(path)
    if not header.spec:
        raise ModelError(f"checkpoint '{os.fspath(path)}' records no model spec: call check(model, resume=...) instead")
    spec = ModelSpec.from_dict(header.spec)
    allowed = {os.path.abspath(p) for p in allow_code}
    for code in code_files_of_spec(spec):
        if os.path.abspath(code) not in allowed:
            raise ModelError(f"checkpoint '{os.fspath(path)}' would run the Python file '{code}'; a file named "
                             f"inside a checkpoint is never run unless you pass it: resume(..., allow_code=['{code}'])")
    opts = header.options
    options.setdefault("checkpoint", path)
    options.setdefault("stop_on_violation", opts.get("stop_on_violation", True))
    if opts.get("symmetry"):
        raise ModelError("this checkpoint used symmetry reduction: call check(model, canon=..., resume=...) instead")
    if options.get("workers") or options.get("backend"):
        return check_parallel(spec, resume=path, **options)
    options.setdefault("strategy", opts.get("strategy", "bfs"))
    options.setdefault("fingerprints", opts.get("fingerprints", False))
    return check(spec.build(), resume=path, **options)


__all__ = ["resume"]
