"""Alerts of ``simbox watch``: what changed in the shutdown list since the last drop.

After each drop the flagged table (the scan's ``flagged.csv``) is compared with the
SIMs flagged after the drop before (kept in the state, so a restart neither repeats
nor loses an alert):

- ``new``: a SIM flagged now and not before;
- ``escalated``: a SIM flagged before and now, whose class changed or whose score rose
  by at least :data:`ESCALATE` over the score of its last alert;
- ``cleared``: a SIM flagged before and not now (its score fell under the threshold,
  or its events left the window).

Each alert is one JSON object (:data:`ALERT_FIELDS`), one a line, appended to
``OUT_DIR/alerts.jsonl`` and handed to the hooks (:func:`command_hook`,
:func:`url_hook`).
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pandas as pd

from simbox.errors import ConfigError

log = logging.getLogger("simbox.watch")

ALERT_FIELDS = ("imsi", "class", "score", "reasons", "deployment", "site", "first_seen",
                "alerted_at", "network_time", "state")
ESCALATE = 0.1        # a score this much above the score last alerted is an escalation


def iso(t) -> str | None:
    """Epoch seconds or a Timestamp as ISO 8601 UTC (``2026-03-01T12:00:05Z``)."""
    if t is None or (not isinstance(t, str) and pd.isna(t)):
        return None
    ts = pd.Timestamp(t, unit="s") if isinstance(t, (int, float)) else pd.Timestamp(t)
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def diff(before: dict, flagged: pd.DataFrame, *, network_time, now: float,
         key: str = "imsi") -> tuple[dict, list]:
    """``(flags now, alerts)`` from the flags of the last drop and the flagged table now.

    ``before``/flags now: imsi -> (class, score, score last alerted, deployment, wall time
    of the first alert).  Alerts are dicts of :data:`ALERT_FIELDS`, new and escalated
    ones by score (highest first), then the cleared ones by SIM.
    """
    flags, raised, cleared = {}, [], []
    when, net = iso(now), iso(network_time)
    for row in flagged.to_dict(orient="records"):
        imsi = str(row[key])
        cls, score = str(row["class"]), float(row["score"])
        dep = None if pd.isna(row.get("deployment_id")) else str(row["deployment_id"])
        old = before.get(imsi)
        state = None
        if old is None:
            state = "new"
        elif cls != old[0] or score >= old[2] + ESCALATE:
            state = "escalated"
        alerted = score if state else old[2]
        flags[imsi] = (cls, score, alerted, dep, now if old is None else old[4])
        if state:
            raised.append({"imsi": imsi, "class": cls, "score": round(score, 4),
                           "reasons": _text(row.get("reasons")), "deployment": dep,
                           "site": _text(row.get("main_site")) or None,
                           "first_seen": iso(row.get("first_seen")), "alerted_at": when,
                           "network_time": net, "state": state})
    for imsi in sorted(set(before) - set(flags)):
        cls, score, _, dep, _ = before[imsi]
        cleared.append({"imsi": imsi, "class": cls, "score": None, "reasons": "",
                        "deployment": dep, "site": None, "first_seen": None, "alerted_at": when,
                        "network_time": net, "state": "cleared"})
    raised.sort(key=lambda a: (-a["score"], a["imsi"]))
    return flags, raised + cleared


def _text(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def line(alert: dict) -> str:
    return json.dumps({k: alert[k] for k in ALERT_FIELDS}, separators=(", ", ": "))


class AlertLog:
    """``alerts.jsonl``: the alert lines of the state's ``alerts`` table, appended in order.

    The lines already in the file are counted (a partial last line, left by a kill, is
    cut), so after a crash the lines not yet written are appended once.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.count = None

    def _count(self) -> int:
        if not os.path.exists(self.path):
            return 0
        with open(self.path, "rb+") as f:
            data = f.read()
            end = data.rfind(b"\n") + 1
            if end != len(data):            # a line cut by a kill: written again
                f.truncate(end)
        return data.count(b"\n", 0, end)

    def flush(self, store) -> list:
        """Append the alerts of ``store`` not yet in the file; returns their lines."""
        if self.count is None:
            self.count = self._count()
        lines = store.alerts_after(self.count)
        if lines:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("".join(ln + "\n" for ln in lines))
                f.flush()
                os.fsync(f.fileno())
            self.count += len(lines)
        return lines


def command_hook(cmd: str, timeout: float = 60.0):
    """A hook running ``cmd`` (split like a shell does, not run by one) once per drop that
    raised alerts, with their JSON lines on its standard input."""
    argv = shlex.split(cmd)

    def hook(lines: list) -> None:
        try:
            done = subprocess.run(argv, input="".join(ln + "\n" for ln in lines), text=True,
                                  timeout=timeout, capture_output=True)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("--on-alert %s: %s", cmd, exc)
            return
        if done.returncode:
            log.error("--on-alert %s: exit status %d: %s", cmd, done.returncode,
                      done.stderr.strip().splitlines()[-1:] or "")
    return hook


def url_hook(url: str, *, timeout: float = 10.0, retries: int = 3, backoff: float = 1.0):
    """A hook POSTing the alerts of a drop as one JSON array to ``url``, retried
    ``retries`` times (``backoff`` seconds, doubling) on a network error or a 5xx."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"--on-alert-url {url!r}: give an http:// or https:// URL")

    def hook(lines: list) -> None:
        body = ("[" + ", ".join(lines) + "]").encode("utf-8")
        wait = backoff
        for attempt in range(1, retries + 2):
            req = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    r.read()
                return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    log.error("--on-alert-url %s: HTTP %d, alerts not accepted", url, exc.code)
                    return
                err = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                err = str(getattr(exc, "reason", exc))
            if attempt <= retries:
                log.warning("--on-alert-url %s: %s (attempt %d), retrying in %.0f s", url, err,
                            attempt, wait)
                time.sleep(wait)
                wait *= 2
        log.error("--on-alert-url %s: %s after %d attempts; the alerts stay in alerts.jsonl",
                  url, err, retries + 1)
    return hook
