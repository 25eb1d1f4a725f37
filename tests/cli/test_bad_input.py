"""Bad input, everywhere the command line takes it: flags, scenario files, design files, traces,
checkpoints. Each case must end with exactly one line on stderr and exit status 2 (bad input) or
3 (a limit), never a traceback, never 0 or 1.

(The ITS script runner has its own suite: tests/its/test_its_bad_input.py.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from itsrace.cli.main import main

GOOD_SCENARIO = ('name = "s"\n[setup]\nsteps = ["MAPD dev=0", "MAPC col=0 vcpu=0", "MAPTI dev=0 ev=0 lpi=0 col=0"]\n'
                 '[guest]\nvcpu0 = ["DISCARD dev=0 ev=0"]\n')


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors exit through SystemExit
        code = int(exc.code) if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code: int, err: str, want: int = 2) -> None:
    assert code == want, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


# -- flags -------------------------------------------------------------------------------------------
FLAGS = [
    ["check", "--max-states", "0"], ["check", "--max-states", "x"], ["check", "--max-seconds", "0"],
    ["check", "--max-seconds", "-1"], ["check", "--max-seconds", "nan"], ["check", "--max-seconds", "inf"],
    ["check", "--max-memory", "0"], ["check", "--max-memory", "-5"], ["check", "--max-memory", "nan"],
    ["check", "--checkpoint-every", "-1"], ["check", "--checkpoint-every", "nan"], ["check", "--checkpoint-every", "0"],
    ["check", "--workers", "0"], ["check", "--workers", "x"], ["check", "--backend", "mpi"],
    ["check", "--ray-address", "1.2.3.4"], ["check", "--dfs", "--fingerprints"], ["check", "--symmetry", "slow"],
    ["check", "--sleep", "--por"], ["check", "--swarm", "0"], ["check", "--swarm", "5", "--por"],
    ["check", "--workers", "2", "--dfs"], ["check", "--trace-style", "pretty"], ["check", "--trace-out", "t.json"],
    ["check", "--mutate", "early-free"], ["check", "--frobnicate"], ["check", "--scenario"], ["check", "--design"],
    ["check", "--design", ""], ["check", "--design", "nope"], ["check", "--scenario", "nope"],
    ["check", "--scenario", "missing.toml"], ["check", "--design", "missing.py", "--scenario", "discard-vs-lpi"],
    ["check", "--design", "xen-4.10.txt", "--scenario", "discard-vs-lpi"],
    ["matrix", "--designs", ""], ["matrix", "--designs", ","], ["matrix", "--designs", "nope"],
    ["matrix", "--scenarios", "nope"], ["matrix", "--scenarios", ",,"], ["matrix", "--jobs", "0"],
    ["matrix", "--jobs", "-3"], ["matrix", "--jobs", "x"], ["matrix", "--designs", "xen-4.10,xen-4.10"],
    ["matrix", "--checkpoint", "c.ckpt"], ["matrix", "--resume", "c.ckpt"], ["matrix", "--max-states", "-1"],
    ["matrix", "--sleep", "--por"], ["matrix", "--dfs", "--fingerprints"],
    ["matrix", "--scenarios", "guest", "--wide"], ["check", "--scenario", "guest", "--wide"],
    ["design"], ["design", "new"], ["design", "new", "x.py"], ["design", "new", "x.py", "--base", "xen-4.10"],
    ["design", "new", "x.txt", "--base", "xen-4.10", "--override", "gic_set_lr"],
    ["design", "new", "x.py", "--base", "nope", "--override", "gic_set_lr"],
    ["design", "new", "x.py", "--base", "xen-4.10", "--override", "nope"],
    ["design", "new", "x.py", "--base", "missing.py", "--override", "gic_set_lr"],
    ["design", "show"], ["design", "show", "nope"], ["design", "show", "missing.py"], ["design", "remove", "x"],
    ["replay"], ["replay", "missing.json"], ["replay", "/dev/null"], ["replay", "."],
    ["list"], ["list", "mutations"], ["list", "everything"],
    ["bench"], ["bench", "nope"], ["bench", "lpi-toy", "--vcpus", "0"], ["bench", "lpi-toy", "--vcpus", "99"],
    ["bench", "lpi-toy", "--lpis", "x"], ["bench", "lpi-toy", "--max-seconds", "0"],
    ["bench", "lpi-toy", "--max-memory", "0"], ["bench", "lpi-toy", "--checkpoint-every", "nan"],
    ["bench", "lpi-toy", "--workers", "0"], ["bench", "lpi-toy", "--dfs", "--fingerprints"],
    ["its"], ["its", "run"], ["its", "run", "missing.its"],
    ["nope"], ["--nope"],
]


@pytest.mark.parametrize("argv", FLAGS, ids=[" ".join(a) or "-" for a in FLAGS])
def test_bad_flags(tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        code, out, err = run(argv, capsys)
    finally:
        os.chdir(cwd)
    one_line(code, err)
    assert not (tmp_path / "x.py").exists()


# -- scenario files ----------------------------------------------------------------------------------
SCENARIOS = {
    "not-toml": "name = \n",
    "no-name": "[guest]\nvcpu0 = []\n",
    "empty-name": 'name = ""\n',
    "name-int": "name = 3\n",
    "unknown-top": 'name = "s"\n[frob]\nx = 1\n',
    "unknown-topology-key": 'name = "s"\n[topology]\ncpus = 1\n',
    "vcpus-zero": 'name = "s"\n[topology]\nvcpus = 0\n',
    "vcpus-huge": 'name = "s"\n[topology]\nvcpus = 4096\n',
    "vcpus-str": 'name = "s"\n[topology]\nvcpus = "1"\n',
    "vcpus-bool": 'name = "s"\n[topology]\nvcpus = true\n',
    "pcpus-wrong-len": 'name = "s"\n[topology]\nvcpus = 2\nvcpu_pcpus = [1]\n',
    "pcpus-shared": 'name = "s"\n[topology]\nvcpus = 2\nvcpu_pcpus = [1, 1]\n',
    "pcpus-range": 'name = "s"\n[topology]\nvcpu_pcpus = [9]\n',
    "lrs-huge": 'name = "s"\n[topology]\nlrs = 100\n',
    "events-huge": 'name = "s"\n[topology]\nevents = 1000000\n',
    "vlpis-huge": 'name = "s"\n[topology]\nvlpis = 16777216\n',
    "active-int": 'name = "s"\n[topology]\nlpi_active_state = 1\n',
    "topology-not-table": 'name = "s"\ntopology = 3\n',
    "setup-not-list": 'name = "s"\n[setup]\nsteps = "MAPD dev=0"\n',
    "setup-unknown-cmd": 'name = "s"\n[setup]\nsteps = ["FROB"]\n',
    "setup-bad-arg": 'name = "s"\n[setup]\nsteps = ["MAPD dev=x"]\n',
    "setup-dev-range": 'name = "s"\n[setup]\nsteps = ["MAPD dev=7"]\n',
    "setup-unknown-field": 'name = "s"\n[setup]\nsteps = ["MAPD device=0"]\n',
    "setup-missing-field": 'name = "s"\n[setup]\nsteps = ["MAPTI dev=0 ev=0"]\n',
    "setup-mapti-unmapped": 'name = "s"\n[setup]\nsteps = ["MAPTI dev=0 ev=0 lpi=0 col=0"]\n',
    "setup-discard": 'name = "s"\n[setup]\nsteps = ["MAPD dev=0", "DISCARD dev=0 ev=0"]\n',
    "setup-mapd-twice": 'name = "s"\n[setup]\nsteps = ["MAPD dev=0", "MAPD dev=0"]\n',
    "setup-lr-unmapped": 'name = "s"\n[setup]\nsteps = ["LR vcpu=0 lpi=0"]\n',
    "setup-lr-state": 'name = "s"\n[setup]\nsteps = ["LR vcpu=0 lpi=0 state=gone"]\n',
    "guest-unknown-vcpu": 'name = "s"\n[guest]\nvcpu7 = ["SYNC"]\n',
    "guest-not-list": 'name = "s"\n[guest]\nvcpu0 = "SYNC"\n',
    "guest-unknown-cmd": 'name = "s"\n[guest]\nvcpu0 = ["FROB"]\n',
    "guest-empty-batch": 'name = "s"\n[guest]\nvcpu0 = [""]\n',
    "guest-lpi-range": 'name = "s"\n[guest]\nvcpu0 = ["MAPTI dev=0 ev=0 lpi=9 col=0"]\n',
    "guest-negative": 'name = "s"\n[guest]\nvcpu0 = ["DISCARD dev=-1 ev=0"]\n',
    "universe-max-zero": 'name = "s"\n[guest]\nuniverse = ["SYNC"]\nmax_commands = -1\n',
    "universe-vcpus": 'name = "s"\n[guest]\nuniverse = ["SYNC"]\nuniverse_vcpus = [5]\n',
    "msis-bad": 'name = "s"\n[devices]\nmsis = ["dev=0"]\n',
    "msis-range": 'name = "s"\n[devices]\nmsis = ["dev=0 ev=9"]\n',
    "exits-negative": 'name = "s"\n[bounds]\nexits = -1\n',
    "exits-huge": 'name = "s"\n[bounds]\nexits = 1000000\n',
    "bounds-unknown": 'name = "s"\n[bounds]\nsteps = 3\n',
    "nesting-zero": 'name = "s"\n[topology]\nlpi_nesting = 0\n',
    "nesting-huge": 'name = "s"\n[topology]\nlpi_nesting = 9\n',
    "nesting-str": 'name = "s"\n[topology]\nlpi_nesting = "2"\n',
    "wide-str": 'name = "s"\nwide = "yes"\n',
    "wide-int": 'name = "s"\nwide = 1\n',
    "rewrites-not-list": 'name = "s"\n[guest]\nrewrites = "ITTE dev=0 ev=0 col=0"\n',
    "rewrites-int": 'name = "s"\n[guest]\nrewrites = [3]\n',
    "rewrites-empty": 'name = "s"\n[guest]\nrewrites = [""]\n',
    "rewrites-unknown-table": 'name = "s"\n[guest]\nrewrites = ["GITS dev=0"]\n',
    "rewrites-missing-field": 'name = "s"\n[guest]\nrewrites = ["ITTE dev=0 ev=0"]\n',
    "rewrites-unknown-field": 'name = "s"\n[guest]\nrewrites = ["DTE dev=0 size=3"]\n',
    "rewrites-range": 'name = "s"\n[guest]\nrewrites = ["CTE col=0 vcpu=5"]\n',
    "rewrites-negative": 'name = "s"\n[guest]\nrewrites = ["ITTE dev=0 ev=0 col=0 lpi=-1"]\n',
    "rewrites-bad-value": 'name = "s"\n[guest]\nrewrites = ["DTE dev=zero"]\n',
    "rewrites-too-many": 'name = "s"\n[guest]\nrewrites = ["DTE dev=0", "DTE dev=0", "DTE dev=0", "DTE dev=0", "DTE dev=0"]\n',
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_bad_scenario_files(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / f"{name}.toml"
    f.write_text(SCENARIOS[name])
    code, out, err = run(["check", "--scenario", str(f)], capsys)
    one_line(code, err)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00", b"name = \"\xe9\"\n"], ids=["binary", "latin-1"])
def test_scenario_bytes(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bytes.toml"
    f.write_bytes(content)
    code, _, err = run(["check", "--scenario", str(f)], capsys)
    one_line(code, err)
    assert "UTF-8" in err


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null", "/"])
def test_scenario_special_files(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check", "--scenario", path], capsys)
    one_line(code, err)


# -- design files ------------------------------------------------------------------------------------
HEADER = "from itsrace.hyp.design import Design\nDESIGN = Design('d', base='xen-4.10')\n"
DESIGNS = {
    "syntax": "def (:\n",
    "raises": "raise ValueError('no')\n",
    "exit0": "import sys\nsys.exit(0)\n",
    "exit1": "import sys\nsys.exit(1)\n",
    "exit-msg": "raise SystemExit('bye')\n",
    "no-design": "x = 1\n",
    "design-not-design": "DESIGN = 3\n",
    "bad-base": "from itsrace.hyp.design import Design\nDESIGN = Design('d', base='nope')\n",
    "missing-base-file": "from itsrace.hyp.design import Design\nDESIGN = Design('d', base='other.py')\n",
    "self-base": "from itsrace.hyp.design import Design\nDESIGN = Design('d', base='bad.py')\n",
    "empty-name": "from itsrace.hyp.design import Design\nDESIGN = Design('', base='xen-4.10')\n",
    "summary-int": "from itsrace.hyp.design import Design\nDESIGN = Design('d', base='xen-4.10', summary=1)\n",
    "unknown-function": HEADER + "@DESIGN.override\ndef nope(self, s):\n    pass\n",
    "wrong-params": HEADER + "@DESIGN.override\ndef gic_set_lr(self, s):\n    pass\n",
    "add-existing": HEADER + "@DESIGN.procedure\ndef gic_set_lr(self, s, v, i, r, state):\n    pass\n",
    "override-twice": HEADER + ("@DESIGN.override\ndef is_current(cpu, v):\n    return True\n"
                                "@DESIGN.override\ndef is_current(cpu, v):\n    return True\n"),
    "override-class": HEADER + "@DESIGN.override\nclass X:\n    pass\n",
    "var-bad-name": HEADER + "DESIGN.var('a b', bool)\n",
    "var-twice": HEADER + "DESIGN.var('a', bool)\nDESIGN.var('a', bool)\n",
    "var-bad-shape": HEADER + "DESIGN.var('a', bool, 'NOPE')\n",
    "var-clash": HEADER + "DESIGN.var('tree', bool)\n",
    "var-init": HEADER + "DESIGN.var('a', range(2), init=7)\n",
    "unknown-state": HEADER + ("from itsrace.xen.consts import ND, NE\n@DESIGN.override\n"
                               "def gicv3_remove_guest_event(self, s, dev: range(ND), ev: range(NE)):\n"
                               "    s.nope = 1\n"),
    "unsupported-construct": HEADER + ("from itsrace.xen.consts import ND, NE\n@DESIGN.override\n"
                                       "def gicv3_remove_guest_event(self, s, dev: range(ND), ev: range(NE)):\n"
                                       "    with open('x'):\n        pass\n"),
    "pure-raises": HEADER + "@DESIGN.override\ndef is_current(cpu: int, v: int) -> bool:\n    return 1 // 0\n",
    "pure-exits": HEADER + "@DESIGN.override\ndef is_current(cpu: int, v: int) -> bool:\n    raise SystemExit(0)\n",
    "import-missing": "import no_such_module_xyz\n",
}


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_bad_design_files(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.py"
    f.write_text(DESIGNS[name])
    for argv in (["check", "--design", str(f), "--scenario", "discard-vs-lpi"],
                 ["matrix", "--designs", str(f), "--scenarios", "discard-vs-lpi", "--jobs", "1"]):
        code, _, err = run(argv, capsys)
        one_line(code, err)
        assert "bad.py" in err


# -- traces ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trace_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tr") / "t.json"
    assert main(["check", "--scenario", "unmap-unmapped-collection", "--trace-out", str(path)]) == 1
    return path.read_text()


def _edit(text: str, change: str) -> str:
    data = json.loads(text)
    if change == "list":
        return "[]"
    if change == "format":
        data["format"] = "other"
    elif change == "model":
        data["params"]["model"] = "nope"
    elif change == "design-file":
        data["params"]["design"] = "evil.py"
    elif change == "design-int":
        data["params"]["design"] = 3
    elif change == "scenario":
        data["params"]["scenario"] = "nope"
    elif change == "extra-param":
        data["params"]["mutations"] = ["early-free"]
    elif change == "steps-str":
        data["steps"] = "x"
    elif change == "initial-str":
        data["initial"] = {"x": "y"}
    elif change == "no-steps":
        del data["steps"]
    elif change == "params-list":
        data["params"] = []
    return json.dumps(data)


@pytest.mark.parametrize("change", ["list", "format", "model", "design-file", "design-int", "scenario", "extra-param",
                                    "steps-str", "initial-str", "no-steps", "params-list"])
def test_bad_traces(tmp_path: Path, trace_text: str, change: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.json"
    f.write_text(_edit(trace_text, change))
    code, out, err = run(["replay", str(f)], capsys)
    one_line(code, err)
    assert not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe", b"null", b"42"], ids=["empty", "truncated", "binary",
                                                                                    "null", "number"])
def test_trace_bytes(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.json"
    f.write_bytes(content)
    code, _, err = run(["replay", str(f)], capsys)
    one_line(code, err)


@pytest.mark.parametrize("item", ["design", "=x", "vcpus=x", "design="])
def test_bad_set(tmp_path: Path, trace_text: str, item: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "t.json"
    f.write_text(trace_text)
    code, _, err = run(["replay", str(f), "--set", item], capsys)
    one_line(code, err)


# -- checkpoints -------------------------------------------------------------------------------------
def test_checkpoint_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "dir").mkdir()
    os.symlink(tmp_path / "target", tmp_path / "link")
    for target in (tmp_path / "missing" / "c.ckpt", tmp_path / "dir", tmp_path / "link", Path("/dev/null")):
        code, _, err = run(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--checkpoint", str(target)], capsys)
        one_line(code, err)
    assert not (tmp_path / "target").exists() and os.path.islink(tmp_path / "link")


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04junk"], ids=["empty", "garbage", "bad-zip"])
def test_checkpoint_files(tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.ckpt"
    f.write_bytes(content)
    code, _, err = run(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--resume", str(f)], capsys)
    one_line(code, err)


def test_checkpoint_header_that_is_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    f = tmp_path / "c.ckpt"
    with open(f, "wb") as fh:
        np.savez(fh, meta=np.frombuffer(json.dumps([1, 2]).encode(), dtype=np.uint8))
    code, _, err = run(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--resume", str(f)], capsys)
    one_line(code, err)
    with open(f, "wb") as fh:
        np.savez(fh, meta=np.frombuffer(json.dumps({"header": [1]}).encode(), dtype=np.uint8))
    code, _, err = run(["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--resume", str(f)], capsys)
    one_line(code, err)


# -- limits: exit 3 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["check", "--scenario", "discard-vs-lpi", "--max-states", "10"],
    ["check", "--scenario", "guest", "--max-memory", "1"],
    ["matrix", "--designs", "xen-4.10", "--scenarios", "discard-vs-lpi", "--max-states", "10", "--jobs", "1"],
    ["bench", "lpi-toy", "--vcpus", "2", "--lpis", "2", "--max-states", "10"],
])
def test_limits_exit_3(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(argv, capsys)
    assert code == 3 and ("limit" in out or "inconclusive" in out.lower())


def test_a_good_scenario_still_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The suite's inputs are bad for their stated reason only: the same shape, fixed, runs."""
    f = tmp_path / "good.toml"
    f.write_text(GOOD_SCENARIO)
    code, out, _ = run(["check", "--scenario", str(f)], capsys)
    assert code == 0 and "PASS" in out


# -- the guest register writes and MSI sources (issue 10 phase 2): one line, exit 2 -----------------
_TWO = 'name = "s"\n[topology]\nvcpus = 2\n'
GUEST_REG_SCENARIOS = {
    "gicr-unknown-key": _TWO + '[guest]\nvcpu1 = ["GICR_CTLR vcpu=0 enable_lpis=0 rwp=1"]\n',
    "gicr-vcpu-range": _TWO + '[guest]\nvcpu1 = ["GICR_CTLR vcpu=2 enable_lpis=0"]\n',
    "gicr-bad-value": _TWO + '[guest]\nvcpu1 = ["GICR_CTLR vcpu=0 enable_lpis=2"]\n',
    "gicr-not-int": _TWO + '[guest]\nvcpu1 = ["GICR_CTLR vcpu=0 enable_lpis=off"]\n',
    "gicr-missing": _TWO + '[guest]\nvcpu1 = ["GICR_CTLR enable_lpis=0"]\n',
    "gicr-queued": _TWO + '[guest]\nvcpu1 = ["GICR_CTLR vcpu=0 enable_lpis=0; SYNC"]\n',
    "gicr-setup": _TWO + '[setup]\nsteps = ["GICR_CTLR vcpu=0 enable_lpis=0"]\n',
    "gits-unknown-key": 'name = "s"\n[guest]\nvcpu0 = ["GITS_CTLR enabled=0 quiescent=1"]\n',
    "gits-bad-value": 'name = "s"\n[guest]\nvcpu0 = ["GITS_CTLR enabled=-1"]\n',
    "gits-missing": 'name = "s"\n[guest]\nuniverse = ["GITS_CTLR"]\n',
    "gits-queued": 'name = "s"\n[guest]\nvcpu0 = ["SYNC; GITS_CTLR enabled=0"]\n',
    "msi-source-bad": 'name = "s"\n[devices]\nmsis = ["dev=0 ev=0 source=vcpu"]\n',
    "msi-source-twice": 'name = "s"\n[devices]\nmsis = ["dev=0 ev=0 source=thread source=lpi"]\n',
    "msi-source-too-many": 'name = "s"\n[devices]\nmsis = ["dev=0 ev=0", "dev=0 ev=0 source=thread", '
                           '"dev=0 ev=0", "dev=0 ev=0 source=thread"]\n',
}


@pytest.mark.parametrize("name", sorted(GUEST_REG_SCENARIOS))
def test_bad_guest_register_writes(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / f"{name}.toml"
    f.write_text(GUEST_REG_SCENARIOS[name])
    for design in ("xen-4.10", "kvm"):
        code, out, err = run(["check", "--design", design, "--scenario", str(f)], capsys)
        one_line(code, err)


@pytest.mark.parametrize("text", ["MOVALL from=0 to=2", "MOVALL from=0", "MOVALL from=0 to=1 col=0"],
                         ids=["range", "missing", "unknown-key"])
def test_bad_movall(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "movall.toml"
    f.write_text(_TWO + f'[guest]\nvcpu1 = ["{text}"]\n')
    code, out, err = run(["check", "--design", "kvm", "--scenario", str(f)], capsys)
    one_line(code, err)
