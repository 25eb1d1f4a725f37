"""The README's examples work as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_writing_your_own_model_snippet_prints_what_it_promises(tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None
    script = tmp_path / "snippet.py"
    script.write_text(code.group(1))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    promised = re.search(r"print\(.*\)\s+# (\w+)", code.group(1))
    assert promised is not None and out.returncode == 0, out.stderr
    assert out.stdout.strip() == promised.group(1)
    without_reset = re.sub(r"@m\.action\ndef Reset\(s\):\n(    .*\n)+", "", code.group(1))
    assert without_reset != code.group(1)
    script.write_text(without_reset)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "fail"


def test_the_quick_tours_bench_and_replay_line_runs_as_written(tmp_path: Path) -> None:
    """``bench --bug`` exits 1 (a violation); the tour chains replay with ``;`` so it runs."""
    line = next(ln for ln in README.read_text().splitlines() if "--trace-out bug.json" in ln)
    command = line.split("#", 1)[0].strip()
    assert "; itsrace replay bug.json" in command
    src = Path(__file__).resolve().parents[1] / "src"
    shell = f'itsrace() {{ PYTHONPATH="{src}" "{sys.executable}" -m itsrace "$@"; }}\n{command}\n'
    out = subprocess.run(["bash", "-c", shell], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr  # replay's status: the bug reproduces
    assert out.stdout.splitlines()[-1].startswith("reproduces: ")
