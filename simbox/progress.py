"""How long library calls report their progress: one protocol and a no-op default.

A :class:`Progress` is told three things:

- ``progress.stage(label, total=None, unit="")``: a new step begins;
- ``progress(advance, total=None)``: ``advance`` more units of the step are done;
  ``total``, when given, is the step's total (a reader learns it when it opens
  its files);
- ``progress.finish()``: the last step is over.

Library functions take ``progress=None`` and call :func:`as_progress` once, so
that ``None`` becomes :data:`NO_PROGRESS` and no caller probes what it was given.
The readers of ``simbox.fastpath`` only advance, so a plain function
``f(advance, total=None)`` is enough for them.  This module imports nothing of the
project (every layer may use it); the command line draws a :class:`Bar`.
"""
from __future__ import annotations

import os
import sys
from typing import Protocol


class Progress(Protocol):
    def stage(self, label: str, total: float | None = None, unit: str = "") -> None: ...

    def __call__(self, advance: float = 0, total: float | None = None) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    """A :class:`Progress` that says nothing: the default of every library call."""

    def stage(self, label: str, total: float | None = None, unit: str = "") -> None:
        pass

    def __call__(self, advance: float = 0, total: float | None = None) -> None:
        pass

    def finish(self) -> None:
        pass


NO_PROGRESS = NoProgress()


def as_progress(progress: Progress | None) -> Progress:
    """``progress``, or :data:`NO_PROGRESS` for None."""
    return NO_PROGRESS if progress is None else progress


def quiet(stream=None) -> bool:
    """True when no bar may be drawn: ``SIMBOX_NO_PROGRESS`` is set or the stream is no terminal."""
    stream = stream or sys.stderr
    return os.environ.get("SIMBOX_NO_PROGRESS", "") != "" or not stream.isatty()


class Bar:
    """The command line's :class:`Progress`: one tqdm bar per stage on stderr.

    Draws nothing (and costs nothing) when :func:`quiet`, unless ``enabled=True``.
    """

    def __init__(self, label: str = "", stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = (not quiet(self.stream)) if enabled is None else enabled
        self.label = label
        self._bar = None

    def stage(self, label: str, total: float | None = None, unit: str = "") -> None:
        self.finish()
        if self.enabled:
            from tqdm import tqdm  # lazy: only when a bar is drawn (the parser imports this module)
            self._bar = tqdm(desc=label, total=total, unit=unit or "it", file=self.stream,
                             unit_scale=unit == "B", unit_divisor=1024, dynamic_ncols=True,
                             mininterval=0.2, leave=True,
                             # a step that counts nothing shows its time only
                             bar_format=None if total or unit else "{desc}: {elapsed}")

    def __call__(self, advance: float = 0, total: float | None = None) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            self.stage(self.label, total)
        elif total is not None and total != self._bar.total:
            self._bar.total = total
            self._bar.bar_format = None
            self._bar.refresh()
        if advance:
            self._bar.update(advance)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
