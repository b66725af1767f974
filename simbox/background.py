"""Work started in a thread at once, its result (or error) taken later."""
from __future__ import annotations

import threading

__all__ = ["Background"]


class Background:
    """``fn()`` run in a daemon thread from the start: :meth:`get` waits for its result, or
    raises what it raised."""

    def __init__(self, fn, name: str):
        self._done: dict = {}
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True, name=name)
        self._thread.start()

    def _run(self, fn):
        try:
            self._done["value"] = fn()
        except BaseException as exc:      # handed to the caller of get()
            self._done["error"] = exc

    def get(self):
        self._thread.join()
        if "error" in self._done:
            raise self._done["error"]
        return self._done["value"]
