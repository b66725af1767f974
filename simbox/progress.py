"""A progress bar on stderr for long steps (no dependency, no print to stdout).

Library functions take ``progress=None | callable``; the CLI passes a
:class:`Progress`.  Drawn only when stderr is a terminal unless forced.
"""
from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, label: str = "", total: float | None = None, unit: str = "",
                 stream=None, enabled: bool | None = None, min_interval: float = 0.2):
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = self.stream.isatty() and os.environ.get("SIMBOX_NO_PROGRESS", "") == ""
        self.enabled = enabled
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0.0
        self.start = time.monotonic()
        self._last = 0.0
        self.min_interval = min_interval

    def stage(self, label: str, total: float | None = None, unit: str = ""):
        """Start a new stage (a new bar)."""
        self.finish()
        self.label, self.total, self.unit, self.done = label, total, unit, 0.0
        self.start = time.monotonic()
        self._last = 0.0

    def __call__(self, advance: float = 0.0, total: float | None = None):
        if total is not None:
            self.total = total
        self.done += advance
        now = time.monotonic()
        if self.enabled and now - self._last >= self.min_interval:
            self._last = now
            self._draw(now)

    def _draw(self, now, end="\r"):
        el = now - self.start
        if self.total:
            frac = min(1.0, self.done / self.total)
            bar = "#" * int(frac * 30)
            eta = el / frac - el if frac > 0 else 0
            text = f"{self.label:<22} [{bar:<30}] {frac*100:5.1f}% {el:6.1f}s eta {eta:5.0f}s"
        else:
            text = f"{self.label:<22} {self.done:,.0f} {self.unit} {el:6.1f}s"
        self.stream.write(text[:110].ljust(110) + end)
        self.stream.flush()

    def finish(self):
        if self.enabled and self.label:
            self._draw(time.monotonic(), end="\n")
            self.label = ""
