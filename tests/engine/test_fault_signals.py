"""Faults: a search killed (SIGKILL), stopped (SIGTERM) or interrupted (SIGINT) at a random
moment, sequential or on two workers, then resumed from its checkpoint, ends with exactly the
counts of an uninterrupted run; and nothing it leaves on stderr is a traceback or a
resource-tracker warning. Slow: run with ``--runslow``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ITSRACE = [sys.executable, "-m", "itsrace.cli.main"]
MODEL = ["bench", "lpi-toy", "--vcpus", "3", "--lpis", "3"]
# shared/bench/lpi-toy.md, 3 x 3
STATES, TRANSITIONS = 273_176, 3_200_316


def bench(args: list[str], kill: tuple[int, float] | None = None) -> tuple[int, str, str]:
    p = subprocess.Popen([*ITSRACE, *MODEL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    if kill is not None:
        sig, after = kill
        try:
            p.wait(after)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, sig)
    out, err = p.communicate(timeout=600)
    time.sleep(0.5)  # let orphaned workers and the resource tracker speak, if they would
    return p.returncode, out, err


def clean(err: str) -> bool:
    return "Traceback" not in err and "leaked" not in err and "Error" not in err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["kill", "term", "int"])
@pytest.mark.parametrize("workers", [1, 2])
def test_killed_then_resumed_gives_the_same_counts(tmp_path: Path, sig: int, workers: int) -> None:
    rng = random.Random(f"{sig}-{workers}")
    ckpt = tmp_path / "run.ckpt"
    common = ["--workers", str(workers), "--checkpoint", str(ckpt), "--checkpoint-every", "0.3", "--json"]
    code, _, err = bench(common, kill=(sig, rng.uniform(1.0, 4.0)))
    assert clean(err), err
    for _ in range(10):  # resume until done (a resumed run is itself never killed here)
        args = [*common, "--resume", str(ckpt)] if ckpt.exists() else common
        code, out, err = bench(args)
        assert clean(err), err
        if code in (0, 1):
            break
    result = json.loads(out)
    assert (result["distinct_states"], result["transitions"]) == (STATES, TRANSITIONS)


@pytest.mark.slow
def test_running_out_of_memory_is_inconclusive_with_the_counts_so_far() -> None:
    """An address-space limit makes the search run out of memory: exit 3, the statistics so far,
    one reason line, no traceback (before: 'error: MemoryError', exit 2, no statistics)."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (450 * 2**20, 450 * 2**20))

    p = subprocess.run([*ITSRACE, "bench", "lpi-toy", "--vcpus", "3", "--lpis", "4", "--json"], preexec_fn=limit,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 3, p.stderr
    result = json.loads(p.stdout)
    assert result["verdict"] == "inconclusive" and "out of memory" in result["reason"]
    assert 0 < result["distinct_states"] < 4_768_904 and "Traceback" not in p.stderr
