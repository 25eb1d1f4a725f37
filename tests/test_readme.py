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
