"""The parallel search on a Ray cluster: partitions are Ray actors.

``check_parallel(spec, workers=N, backend="ray", address=...)`` runs exactly the
level-synchronous search of :mod:`itsrace.engine.scale.parallel` (same coordinator, same
:class:`~itsrace.engine.scale.parallel.Partition` code, same results), with each partition in a Ray
actor instead of a local process. Only the transport differs: in a round, every actor's
``expand`` returns N+1 objects (one batch per destination, then its report); the coordinator
passes the batch *references* straight to the owners' ``receive``, so successor batches move
between nodes through Ray's object store and never through the driver.

Running it:

* ``address=None``: start a private local Ray instance (``ray.init(num_cpus=...)``) and shut
  it down afterwards; if Ray is already initialised in this process, use that instance.
* An existing cluster: on the head node ``ray start --head --port=6379``, on every other node
  ``ray start --address=HEAD:6379``; then ``address="auto"`` from a process on a cluster node,
  or ``address="ray://HEAD:10001"`` (Ray Client) from elsewhere. Every node needs the same
  Python, ``itsrace`` and model code (install them there, or pass
  ``ray_options={"runtime_env": {...}}``, which goes to ``ray.init``).

Each actor reserves ``num_cpus`` (default 1) so N actors need N free CPUs in the cluster;
``ray_options={"actor_cpus": 0.5}`` oversubscribes. Ray is an optional dependency
(``pip install 'itsrace[ray]'``); without it this backend raises a one-line ``ModelError``.
"""

from __future__ import annotations

from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.lang.spec import ModelSpec
from itsrace.engine.scale.partition import Batch, Partition, WorkerError


def ray_available() -> bool:
    """True when ``import ray`` works."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ModelError(
            "backend='ray' needs Ray: pip install 'itsrace[ray]' (or 'ray>=2.9')"
        ) from None
    return ray


class _RayPartition(Partition):
    """A :class:`Partition` whose ``expand`` returns one object per destination (for routing
    by reference) and whose failures are re-raised on the driver with their model location."""

    def expand_split(self, seconds: float) -> tuple[Any, ...]:
        batches, report = self.expand(seconds)
        return (*batches, report)

    def receive_refs(self, *batches: Batch | None) -> dict[str, Any]:
        return self.receive(*batches)


class RayCluster:
    """N Ray actors, each a partition; the coordinator calls them and routes batch references."""

    def __init__(self, spec: ModelSpec, n: int, options: dict[str, Any], *, address: str | None = None,
                 ray_options: dict[str, Any] | None = None) -> None:
        ray = _import_ray()
        self.ray = ray
        self.n = n
        opts = dict(ray_options or {})
        actor_cpus = float(opts.pop("actor_cpus", 1))
        self.started = False
        if not ray.is_initialized():
            init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
            if address is None:
                init["num_cpus"] = max(n, 1) if actor_cpus else None
            init.update(opts)
            ray.init(address=address, **init)
            self.started = True
        actor_cls = ray.remote(num_cpus=actor_cpus, max_restarts=0)(_RayPartition)
        self.actors = [actor_cls.remote(spec.to_dict(), i, n, options) for i in range(n)]

    def _get(self, refs: Any) -> Any:
        ray = self.ray
        try:
            return ray.get(refs)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if hasattr(exc, "cause") else None
            if isinstance(cause, ModelError):
                err = ModelError(str(cause))  # the message already names the model line
                err.where = cause.where
                raise err from None
            raise WorkerError(f"a Ray worker failed: {exc}") from None
        except ray.exceptions.RayActorError as exc:
            raise WorkerError(f"a Ray worker died: {exc}") from None

    def call(self, method: str, args: list[tuple[Any, ...]]) -> list[Any]:
        refs = [getattr(a, method).remote(*x) for a, x in zip(self.actors, args, strict=True)]
        return list(self._get(refs))

    def call_one(self, i: int, method: str, *args: Any) -> Any:
        return self._get(getattr(self.actors[i], method).remote(*args))

    def round(self, seconds: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        n = self.n
        outs = [a.expand_split.options(num_returns=n + 1).remote(seconds) for a in self.actors]
        reports = list(self._get([o[n] for o in outs]))
        if any(r["stopped"] for r in reports):
            return reports, []
        recv_refs = [
            self.actors[d].receive_refs.remote(*[outs[w][d] for w in range(n) if w != d]) for d in range(n)
        ]
        return reports, list(self._get(recv_refs))

    def request_stop(self) -> None:
        """Nothing to signal: rounds are short, the coordinator stops after the current one."""

    def close(self) -> None:
        ray = self.ray
        for a in getattr(self, "actors", []):
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - best effort on shutdown
                pass
        self.actors = []
        if self.started:
            ray.shutdown()
            self.started = False


__all__ = ["RayCluster", "ray_available"]
