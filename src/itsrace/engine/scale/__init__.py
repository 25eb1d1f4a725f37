"""Searching on more than one process: hash-partitioned parallel BFS (:mod:`.parallel`, with
the worker side in :mod:`.partition`), Ray actors (:mod:`.ray_backend`), swarm search
(:mod:`.swarm`) and resuming a checkpoint on any of them (:mod:`.resume`)."""
