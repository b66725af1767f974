"""Open a local HTML file in headless Chromium and record what happened.

Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (fd 3 in,
fd 4 out, NUL-separated JSON) with the standard library only.  Records console
messages, uncaught exceptions, log entries (CSP violations land there) and every
network request other than the page itself and ``data:`` URLs, and takes a
full-page screenshot.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-pipe"]


def chromium_missing_reason() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return (f"{CHROMIUM} not found: install Debian's chromium package "
                "(apt-get install chromium; .ci/run does) to run the browser test")
    return None


@dataclass
class PageRun:
    console: list = field(default_factory=list)      # (level, text)
    exceptions: list = field(default_factory=list)   # text
    log: list = field(default_factory=list)          # (level, source, text)
    requests: list = field(default_factory=list)     # urls other than the page and data:
    loaded: bool = False
    title: str = ""
    screenshot: Path | None = None
    size: tuple = (0, 0)

    @property
    def errors(self) -> list[str]:
        out = [f"console.{lvl}: {t}" for lvl, t in self.console if lvl in ("error", "assert")]
        out += [f"exception: {t}" for t in self.exceptions]
        out += [f"log {lvl} ({src}): {t}" for lvl, src, t in self.log if lvl == "error"]
        return out


class _Pipe:
    def __init__(self, proc, write_fd, read_fd):
        self.proc, self.wfd, self.rfd = proc, write_fd, read_fd
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read(self, timeout):
        r, _, _ = select.select([self.rfd], [], [], timeout)
        if not r:
            return False
        chunk = os.read(self.rfd, 1 << 20)
        if not chunk:
            raise RuntimeError("chromium closed the DevTools pipe")
        self.buf += chunk
        while b"\0" in self.buf:
            raw, self.buf = self.buf.split(b"\0", 1)
            self.events.append(json.loads(raw))
        return True

    def call(self, method, params=None, session=None, timeout=30.0):
        mid = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.events):
                if m.get("id") == mid:
                    del self.events[i]
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    return m.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout} s")
            self._read(left)

    def drain(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        out = [m for m in self.events if "method" in m]
        self.events = [m for m in self.events if "method" not in m]
        return out


def open_page(path, screenshot=None, width=1280, timeout=60.0) -> PageRun:
    """Load ``path`` (a local file) headless; record events; save a screenshot."""
    url = Path(path).absolute().as_uri()
    run = PageRun()
    profile = tempfile.mkdtemp(prefix="simbox-chromium-")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    cmd = ["bash", "-c", f'exec "$@" 3<&{to_child_r} 4>&{from_child_w}', "chromium", CHROMIUM,
           *FLAGS, f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen(cmd, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(to_child_r)
    os.close(from_child_w)
    pipe = _Pipe(proc, to_child_w, from_child_r)
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        sid = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            pipe.call(f"{domain}.enable", session=sid)
        pipe.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        pipe.call("Page.navigate", {"url": url}, session=sid)
        deadline = time.monotonic() + timeout
        events = []
        while not run.loaded and time.monotonic() < deadline:
            events += pipe.drain(0.2)
            run.loaded = any(e["method"] == "Page.loadEventFired" for e in events)
        events += pipe.drain(1.0)   # late console messages and requests
        for e in events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                run.console.append((p.get("type"), text))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                run.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
            elif m == "Log.entryAdded":
                en = p.get("entry", {})
                run.log.append((en.get("level"), en.get("source"), en.get("text", "")))
            elif m == "Network.requestWillBeSent":
                req = p.get("request", {}).get("url", "")
                if req != url and not req.startswith("data:"):
                    run.requests.append(req)
        run.title = pipe.call("Runtime.evaluate", {"expression": "document.title",
                                                   "returnByValue": True},
                              session=sid)["result"].get("value", "")
        if screenshot is not None:
            metrics = pipe.call("Page.getLayoutMetrics", session=sid)
            size = metrics.get("cssContentSize") or metrics.get("contentSize")
            height = int(min(size["height"], 16000))
            pipe.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                      session=sid)
            shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=sid)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            run.screenshot, run.size = Path(screenshot), (width, height)
        try:
            pipe.send("Browser.close")
        except OSError:
            pass
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(to_child_w)
        os.close(from_child_r)
        shutil.rmtree(profile, ignore_errors=True)
    return run
