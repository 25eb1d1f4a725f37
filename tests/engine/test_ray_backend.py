"""The Ray backend against a local Ray instance started by the test: same results as one process.

Skipped when Ray is not installed (``pip install 'itsrace[ray]'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from itsrace.engine import Limits, Model, ModelError, check_model, replay
from itsrace.engine.lang.spec import ModelSpec

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'itsrace[ray]' to run these tests")

from itsrace.engine.scale.parallel import check_parallel  # noqa: E402
from itsrace.engine.scale.ray_backend import ray_available  # noqa: E402


def build_broken() -> Model:
    """An action that steps outside its variable's domain: a model error inside the workers."""
    m = Model("broken")
    m.var("x", range(4), init=0)

    @m.action
    def Up(s):
        s.x = s.x + 1

    return m


def lpi(vcpus: int, lpis: int, bug: bool = False) -> ModelSpec:
    return ModelSpec("itsrace.models.lpi_toy", "build", {"vcpus": vcpus, "lpis": lpis, "bug": bug})


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_same_counts_as_one_process(local_ray: Any) -> None:
    assert ray_available()
    spec = lpi(3, 3)
    single = check_model(spec.build(), progress=False)
    r = check_parallel(spec, workers=2, backend="ray", progress=False)
    assert (r.verdict, r.stats.distinct_states, r.stats.transitions, r.stats.depth) == (
        "pass", 273_176, single.stats.transitions, single.stats.depth)
    assert ray.is_initialized()  # the test's instance is reused, not shut down


def test_bug_shortest_trace(local_ray: Any) -> None:
    spec = lpi(2, 2, bug=True)
    r = check_parallel(spec, workers=2, backend="ray", progress=False)
    assert r.verdict == "fail" and len(r.violations[0].trace) == 6
    assert replay(spec.compile(), r.violations[0].trace).reproduces


def test_limit_checkpoint_and_model_errors(local_ray: Any, tmp_path: Any) -> None:
    spec = lpi(3, 3)
    path = tmp_path / "ray.ckpt"
    r = check_parallel(spec, workers=2, backend="ray", progress=False, limits=Limits(max_states=100_000),
                       checkpoint=path)
    assert r.verdict == "inconclusive" and "state limit" in r.reason
    final = check_model(spec.build(), progress=False, resume=path)
    assert (final.verdict, final.stats.distinct_states) == ("pass", 273_176)
    with pytest.raises(ModelError, match="outside its domain"):  # raised inside an actor
        check_parallel(ModelSpec(__file__, "build_broken", {}), workers=2, backend="ray", progress=False)
