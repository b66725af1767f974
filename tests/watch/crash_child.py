"""The child of test_crash.py: a Watcher taking every file of a drop folder, then exiting.

argv: DROP STATE OUT [POINT N]: with POINT, the process kills itself (SIGKILL) at the
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


commit, record, flush = store.Store.commit, store.Store.record_alerts, alerts.AlertLog.flush


def commit_(self, *a, **k):
    die_at("before_commit")
    r = commit(self, *a, **k)
    die_at("after_commit")
    return r


def record_(self, *a, **k):
    record(self, *a, **k)
    die_at("after_alerts")


def flush_(self, st):
    if point == "mid_alert_line" and self.count is not None:
        lines = st.alerts_after(self.count)
        if lines:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a") as f:       # half a line, then the kill
                f.write(lines[0][: len(lines[0]) // 2])
            die_at("mid_alert_line")
    return flush(self, st)


store.Store.commit, store.Store.record_alerts, alerts.AlertLog.flush = commit_, record_, flush_
write_p, record_p = store.Store.write_partials, store.Store.record_partials


def write_p_(self, *a, **k):
    name = write_p(self, *a, **k)
    die_at("partials_written")
    return name


def record_p_(self, *a, **k):
    record_p(self, *a, **k)
    die_at("partials_recorded")


store.Store.write_partials, store.Store.record_partials = write_p_, record_p_
with Watcher(drop, state, out, window="7d", cells=os.environ["CELLS"], timezone="UTC", settle=0,
             report=False) as w:
    while w.poll():
        pass
print("done")
