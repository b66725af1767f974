"""The child of test_crash.py: a Watcher taking every file of a drop folder, then exiting.

argv: DROP STATE OUT [POINT N]; environment: CELLS, BATCH (files committed together when
several are ready, default 1; whatever network time they span).  With POINT, the process kills itself (SIGKILL) at the
N-th pass through POINT (``before_commit``, ``after_commit``, ``after_alerts``,
``mid_alert_line``, ``partials_written``: a day's partials file written, not yet named in
the state, ``partials_recorded``: named).
"""
import os
import signal
import sys

from simbox.watch import Watcher
from simbox.watch import alerts, store

drop, state, out = sys.argv[1:4]
point, n = (sys.argv[4], int(sys.argv[5])) if len(sys.argv) > 5 else (None, 0)
seen = {"count": 0}


def die_at(name):
    if name == point:
        seen["count"] += 1
        if seen["count"] == n:
            os.kill(os.getpid(), signal.SIGKILL)


def dies(cls, name, before=None, after=None):
    """``cls.name`` replaced by a method that passes the points ``before`` and ``after``."""
    method = getattr(cls, name)

    def wrapped(self, *a, **k):
        if before:
            die_at(before)
        r = method(self, *a, **k)
        if after:
            die_at(after)
        return r
    setattr(cls, name, wrapped)


flush = alerts.AlertLog.flush


def flush_(self, st):
    if point == "mid_alert_line" and self.count is not None:
        lines = st.alerts_after(self.count)
        if lines:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a") as f:       # half a line, then the kill
                f.write(lines[0][: len(lines[0]) // 2])
            die_at("mid_alert_line")
    return flush(self, st)


alerts.AlertLog.flush = flush_
dies(store.Store, "commit", "before_commit", "after_commit")
dies(store.Store, "record_alerts", after="after_alerts")
dies(store.Store, "write_partials", after="partials_written")
dies(store.Store, "record_partials", after="partials_recorded")
with Watcher(drop, state, out, window="7d", cells=os.environ["CELLS"], timezone="UTC", settle=0,
             report=False, batch=int(os.environ.get("BATCH", "1")),
             catch_up=os.environ.get("CATCH_UP", "30d")) as w:
    while w.poll():
        pass
print("done")
