"""The report opened in headless Chromium: every image loads, the console stays clean, and
the page opens with its summary, as a reader sees it.

Chromium is driven over the Chrome DevTools protocol on a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL bytes on file
descriptors 3 and 4), so no websocket client or browser driver is needed.
Console errors are collected from ``Runtime.consoleAPICalled``,
``Runtime.exceptionThrown`` and ``Log.entryAdded`` (which also reports
resources that fail to load).

In CI (``CI`` or ``BORDERSIM_REQUIRE_BROWSER`` set; ``.ci/run`` installs
Chromium) a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--remote-debugging-pipe"]

TINY = {
    "name": "browser",
    "start": "2017-10-09",
    "duration": "3d",
    "warmup": "6h",
    "replications": 2,
    "seed": 2,
    "classes": {"truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000}},
    "crossings": {"ak-tilek": {"demand": {"truck_loaded": 96}, "stages": [
        {"name": "kz-entry", "lanes": [{"name": "freight", "serves": ["truck_loaded"],
                                        "booths": 2,
                                        "service": {"truck_loaded": "25min"}}]}]}},
    "policy": [{"at": "2017-10-10", "label": "Slower checks",
                "service_factor": {"truck_loaded": 1.5}},
               {"at": "2017-10-11", "label": "Back to normal", "reset": True}],
    "economics": {"vehicle_cost_per_hour": {"truck_loaded": 7.0}},
}


def _chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if os.environ.get("CI") or os.environ.get("BORDERSIM_REQUIRE_BROWSER"):
        pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install it "
                    "(apt-get install chromium; .ci/run does)")
    pytest.skip(f"Chromium not installed ({CHROMIUM} missing): the report is not opened in a "
                "browser here; `apt-get install chromium` to run this test")


class DevTools:
    """A headless Chromium and its DevTools protocol over a pipe."""

    def __init__(self, profile: Path):
        def high(fd: int) -> int:     # out of the way of the 3 and 4 the child needs
            new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
            os.close(fd)
            return new

        to_r, to_w = map(high, os.pipe())
        from_r, from_w = map(high, os.pipe())
        cmd = [_chromium_or_skip(), *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        def pipes_on_3_and_4() -> None:     # runs in the child, before it closes other fds
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen(cmd, pass_fds=(3, 4), preexec_fn=pipes_on_3_and_4,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.out, self.inp = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.inp, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            e = self._read(deadline)
            if e.get("method") == method:
                return e
            self.events.append(e)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.out)
        os.close(self.inp)


IMAGES_JS = """JSON.stringify(Array.from(document.images).map(i => ({
  src: i.getAttribute('src'), alt: i.getAttribute('alt'), complete: i.complete,
  width: i.naturalWidth, height: i.naturalHeight})))"""

# what a reader sees first: the summary's place, size and words, and the first heading
SUMMARY_JS = """JSON.stringify((() => {
  const s = document.getElementById('summary');
  if (!s) return null;
  const r = s.getBoundingClientRect();
  const first = document.querySelector('h2');
  const img = document.images.length ? document.images[0].getBoundingClientRect().top : null;
  return {text: s.innerText, top: r.top + window.scrollY, height: r.height, width: r.width,
          visible: getComputedStyle(s).display !== 'none' && r.height > 0,
          first_h2: first ? first.innerText : null, first_image_top: img,
          viewport: window.innerHeight};
})())"""


def open_page(page: Path, profile: Path, extra: str | None = None):
    """Load a page; return its images (as the browser sees them) and its console errors,
    and with ``extra`` also what that script returns."""
    dt = DevTools(profile)
    try:
        target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = dt.send("Target.attachToTarget", {"targetId": target,
                                                    "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            dt.send(f"{domain}.enable", session=session)
        dt.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        dt.wait_for("Page.loadEventFired")
        images = json.loads(dt.send("Runtime.evaluate", {"expression": IMAGES_JS,
                                                         "returnByValue": True},
                                    session=session)["result"]["value"])
        more = None
        if extra:
            more = json.loads(dt.send("Runtime.evaluate", {"expression": extra,
                                                           "returnByValue": True},
                                      session=session)["result"]["value"])
        dt.send("Runtime.evaluate", {"expression": "1"}, session=session)   # flush events
        errors = []
        for e in dt.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error",
                                                                                   "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description")))
                                       for a in p.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append(f"{p['entry'].get('source')}: {p['entry'].get('text')} "
                              f"{p['entry'].get('url', '')}")
        return (images, errors, more) if extra else (images, errors)
    finally:
        dt.close()


def test_report_opens_in_chromium_with_every_image_loaded_and_no_console_errors(tmp_path):
    _chromium_or_skip()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(TINY))
    runner = CliRunner()
    res = runner.invoke(cli, ["run", str(tmp_path / "s.yaml"), "--workers", "1", "--quiet",
                              "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["report", str(tmp_path / "out")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    images, errors, summary = open_page(tmp_path / "out" / "report.html", tmp_path / "profile",
                                        SUMMARY_JS)
    figures = sorted(p.name for p in (tmp_path / "out" / "figures").glob("*.png"))
    assert sorted(i["src"] for i in images) == [f"figures/{n}" for n in figures]
    for i in images:
        assert i["complete"] and i["width"] > 300 and i["height"] > 100, i
        assert i["alt"], i
    assert errors == []
    # the summary is the first section, on the first screen, above every figure
    assert summary and summary["visible"], summary
    assert summary["first_h2"] == "Summary"
    assert summary["top"] < summary["viewport"] and summary["width"] > 400
    assert summary["first_image_top"] > summary["top"] + summary["height"]
    text = summary["text"]
    cost = next(line for line in (tmp_path / "out" / "costs.csv").read_text().splitlines()
                if line.startswith("all,all,total,"))
    from bordersim.numbers import money
    assert f"cost {money(float(cost.split(',')[3]), 'USD')}" in text, text
    assert "95% CI" in text and "truck_loaded" in text and "worst queues" in text


def test_a_self_contained_report_shows_every_embedded_figure(tmp_path):
    _chromium_or_skip()
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(TINY))
    runner = CliRunner()
    res = runner.invoke(cli, ["run", str(tmp_path / "s.yaml"), "--workers", "1", "--quiet",
                              "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["report", str(tmp_path / "out"), "--self-contained",
                              "--format", "svg"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    alone = tmp_path / "alone" / "report.html"          # the page without its folder
    alone.parent.mkdir()
    alone.write_bytes((tmp_path / "out" / "report.html").read_bytes())
    images, errors = open_page(alone, tmp_path / "profile")
    assert len(images) == len(list((tmp_path / "out" / "figures").glob("*.svg"))) > 0
    for i in images:
        assert i["src"].startswith("data:image/svg+xml;base64,")
        assert i["complete"] and i["width"] > 300 and i["height"] > 100, i["alt"]
    assert errors == []


def test_the_browser_check_sees_a_broken_image_and_a_console_error(tmp_path):
    """The check above would pass vacuously if the harness saw nothing: show it sees both."""
    _chromium_or_skip()
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img src="figures/missing.png" alt="gone">'
                    "<script>console.error('deliberate')</script></body></html>")
    images, errors = open_page(page, tmp_path / "profile")
    assert len(images) == 1 and images[0]["width"] == 0
    assert any("deliberate" in e for e in errors), errors
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in errors), errors
