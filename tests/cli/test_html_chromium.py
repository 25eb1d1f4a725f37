"""The HTML report in a real browser: headless Chromium, driven over the DevTools protocol.

``itsrace check --html`` writes the page; Chromium loads it from disk with networking off; the
test reads every console message and uncaught exception, counts the lanes and steps, clicks the
failing step to see the object panel fill, and takes a screenshot. Skipped (with the reason)
when no Chromium is installed; ``.ci/run`` installs Debian's ``chromium`` so CI runs it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from itsrace.cli.main import main

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run does)")


class DevTools:
    """A minimal Chrome DevTools Protocol client: send commands, collect events."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def evaluate(self, expression: str) -> Any:
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return res["result"].get("value")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    assert main(["check", "--scenario", "spurious-after-remove", "--html", str(path)]) == 1
    return path


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[DevTools]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        dt = DevTools(page["webSocketDebuggerUrl"])
        yield dt
        dt.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_report_loads_without_errors_with_lanes_steps_and_provenance(report: Path, browser: DevTools,
                                                                     tmp_path: Path) -> None:
    dt = browser
    dt.send("Runtime.enable")
    dt.send("Log.enable")
    dt.send("Page.enable")
    dt.send("Page.navigate", url=report.as_uri())
    dt.wait_for("Page.loadEventFired")
    # the page: one lane per CPU plus the guest, every shown step, source links, provenance
    lanes = dt.evaluate("Array.from(document.querySelectorAll('.lane-head')).map(e => e.textContent)")
    assert lanes == ["pCPU0 (LPI handler)", "pCPU1 (vCPU0)", "guest / devices"]
    assert dt.evaluate("document.querySelectorAll('.step').length") >= 20
    assert dt.evaluate("document.querySelectorAll('.step a[href*=\"vgic-v3-its.c\"]').length") >= 3
    assert dt.evaluate("document.querySelectorAll('.step.mark').length") >= 2
    assert "freed at step" in dt.evaluate("document.querySelector('.step.fail').textContent")
    # click: the involved object's state at that step
    panel = dt.evaluate("document.querySelector('.step.fail').click(); document.querySelector('.panel pre').textContent")
    assert "dev0.pend_irqs[0]" in panel and "freed" in panel
    # fold: steps of uninvolved CPUs hidden (here the device's MSI)
    dt.evaluate("var b = document.querySelector('input.fold'); b.click();")
    assert dt.evaluate("getComputedStyle(document.querySelector('.step.uninvolved')).display") == "none"
    shot = dt.send("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    errors = [ev for ev in dt.events if ev.get("method") == "Runtime.exceptionThrown"
              or (ev.get("method") == "Runtime.consoleAPICalled" and ev["params"].get("type") in ("error", "assert"))
              or (ev.get("method") == "Log.entryAdded" and ev["params"]["entry"].get("level") == "error")]
    assert errors == []


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text()
    for needle in ("<script src", "<link ", "@import", "url(http", "<img src=\"http"):
        assert needle not in text
