"""``Watcher``: take each new CDR file of a drop folder once, keep the window, raise alerts.

One poll (:meth:`Watcher.poll`) lists the drop folder, takes the files that are
ready (not a dotfile, not ``*.tmp`` / ``*.part``, size and modification time
unchanged for ``settle`` seconds) in arrival order (modification time, then name),
and for each file:

1. skips it when the ledger holds a file of the same size and SHA-256 (the same file
   dropped twice, or again after a restart);
2. reads its events (any format simbox reads; malformed records to
   ``STATE_DIR/rejects/<file>.csv``, as a scan does);
3. writes the new versions of its hours' slices and commits them with its ledger row
   in one transaction (:mod:`simbox.watch.store`; a backlog: up to ``batch`` files
   within ``catch_up`` of network time together, refreshed once: :meth:`Watcher.poll`);
4. recomputes the features of the subscribers it touched, rescores the SIMs whose
   features changed (every SIM once a network hour: :mod:`simbox.watch.rescore`), regroups the
   deployments where flagged SIMs changed (all once a network hour:
   :mod:`simbox.watch.regroup`), appends the alerts to
   ``OUT_DIR/alerts.jsonl`` (:mod:`simbox.watch.alerts`) and rewrites the scan's files
   in ``OUT_DIR/current/`` atomically (one folder rename).

A file that fails to read is retried at the next polls, and after ``retries``
failures moved to ``DROP_DIR/quarantine/`` with ``<name>.reason.txt``.  A state that
cannot be written (a full disk) is reported and the file retried: never skipped.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from simbox.errors import ConfigError, EmptyInputError, OutputError, SimboxError
from simbox.fastpath.badrecords import RejectsWriter
from simbox.fastpath.columns import load_mapping
from simbox.fastpath.events import COLUMNS
from simbox.fastpath.stats import MAX_REJECT_SHARE, ReadStats
from simbox.training.folder import sha256_file
from simbox.watch.alerts import AlertLog, diff, iso, line
from simbox.watch.policy import AlertPolicy
from simbox.watch.regroup import Regrouper
from simbox.watch.rescore import Rescorer
from simbox.watch.store import Store
from simbox.watch.window import Window

log = logging.getLogger("simbox.watch")

DEFAULT_WINDOW = "7d"
#: no alert before the state holds this much network time: the model scores days of
#: behaviour, and hours of a call centre look like a SIM box (docs/watch.md)
DEFAULT_MIN_HISTORY = "2d"
#: a backlog is taken in groups of at most this many files (a day of 15-minute drops),
#: refreshed once a group ...
DEFAULT_BATCH = 96
#: ... and of at most this much network time past the newest event before the group
#: (an alert in a backlog comes at most this much network time late: docs/watch.md)
DEFAULT_CATCH_UP = "1h"
#: ``--catch-up auto``: the files ready at a poll all go in with one refresh (committed in
#: groups of at most ``batch`` files and :data:`GROUP_EVENTS` events): under load a watch
#: refreshes less often instead of falling behind (docs/watch.md, "Throughput")
AUTO = "auto"
#: events read into memory before a group is committed (the memory of a commit: about
#: 150 bytes an event, read columns, slice rows and the merged hours: some 0.6 GB)
GROUP_EVENTS = 1 << 22
SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".reason.txt")
QUARANTINE = "quarantine"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_FULL = (errno.ENOSPC, errno.EDQUOT)


def parse_duration(text, what: str = "--window") -> int:
    """Seconds of ``7d``, ``36h``, ``90m``, ``600s`` or a number of seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = int(text)
    else:
        m = re.fullmatch(r"\s*([0-9]+)\s*([smhdw]?)\s*", str(text))
        if not m:
            raise ConfigError(f"{what} {text!r}: give a duration such as 7d, 36h or 90m")
        seconds = int(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds <= 0:
        raise ConfigError(f"{what} {text!r}: give a positive duration such as 7d")
    return seconds


def parse_catch_up(text) -> int | None:
    """Seconds of a ``--catch-up`` duration, or None for ``auto`` (load-driven: every file
    ready at a poll, one refresh)."""
    if isinstance(text, str) and text.strip().lower() == AUTO:
        return None
    try:
        return parse_duration(text, "--catch-up")
    except ConfigError:
        raise ConfigError(f"--catch-up {text!r}: give a duration such as 1h or 1d, or {AUTO} "
                          "(every file ready at a poll, one refresh)") from None


def state_full(exc: BaseException) -> bool:
    """Whether an error writing the state is a full disk (reported and retried)."""
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)


@dataclass
class Drop:
    """What one file brought (logged, in the summary and the report's "since last drop")."""

    name: str
    size: int
    records: int = 0
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    too_old: int = 0
    ahead: int = 0                 # events dated a window after the rest (clock errors)
    network_time: int | None = None
    seconds: float = 0.0           # reading and committing
    refresh_seconds: float = 0.0   # features, scores, deployments, alerts, outputs
    touched: int = 0               # subscribers reduced again
    alerts: list = field(default_factory=list)
    sha256: str = ""
    mtime: float = 0.0

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "size", "records", "events", "duplicates",
                                           "rejected", "too_old", "ahead", "touched")}
        d.update(network_time=iso(self.network_time), seconds=round(self.seconds, 3),
                 refresh_seconds=round(self.refresh_seconds, 3), alerts=len(self.alerts))
        return d


class Watcher:
    """Continuous scanning of a drop folder (see the module docstring and docs/watch.md).

    ``out_dir`` None: alerts and scores are kept in the state only (a library caller
    reads :attr:`result`).  ``hooks``: callables given the alert lines of each drop
    that raised some.  ``on_flagged``: a callable given the flagged table (the scan's
    ``flagged.csv``) after each drop, returning the table to alert on (exclusions hook
    here).  ``exclude``, ``history``, ``dismiss_margin``: the feedback loop, as
    :func:`simbox.scan.scan`'s (docs/feedback.md): excluded and dismissed SIMs are kept
    off the flags (``excluded.csv``), and every drop is recorded in the history store
    (None: the default store; False: none).  The exclusions file is read again when it
    changes and at each new UTC day, so edits and expiries apply without a restart.
    ``early``: the early-warning layer (:mod:`simbox.watch.early`): young SIMs of
    gateways and modems that only dial out or only take SMS are alerted before the model
    has their days of behaviour.  ``alert_policy``: when a flag becomes an alert and
    when it is cleared (:mod:`simbox.watch.policy`; None: the default settings).
    ``clock``: wall time (tests).  The other options are
    :func:`simbox.scan`'s.
    """

    def __init__(self, drop_dir, state_dir, out_dir=None, *, window=DEFAULT_WINDOW, model=None,
                 threshold: float | None = None, timezone: str | None = None, cells=None,
                 tac=None, columns="canonical", on_bad_records="skip",
                 max_reject_share=MAX_REJECT_SHARE, settle: float = 5.0, retries: int = 3,
                 report: bool = True, hooks=(), on_flagged=None, link_rules=None,
                 batch: int = DEFAULT_BATCH, catch_up=DEFAULT_CATCH_UP,
                 min_history=DEFAULT_MIN_HISTORY, exclude=None, history=None,
                 dismiss_margin: float | None = None, early: bool = True,
                 alert_policy: AlertPolicy | None = None, clock=time.time):
        from simbox.scan import load_model, open_feedback, no_cells  # lazy: pandas, the model
        from simbox.sites import load_cells                    # lazy: as above
        from simbox.training.run import model_timezone         # lazy: as above
        self.drop_dir = Path(drop_dir)
        if not self.drop_dir.is_dir():
            raise ConfigError(f"{self.drop_dir}: no such folder (give the folder the mediation "
                              "system drops CDR files into)")
        self.window_s = parse_duration(window)
        self.min_history = 0 if min_history in (0, "0") else parse_duration(min_history,
                                                                             "--min-history")
        if settle < 0 or retries < 1 or batch < 1:
            raise ConfigError("--settle must be >= 0, --retries and --batch >= 1")
        self.batch = int(batch)
        self.catch_up = parse_catch_up(catch_up)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.settle, self.retries, self.report = float(settle), int(retries), report
        self.hooks, self.on_flagged, self.link_rules = list(hooks), on_flagged, link_rules
        self.clock, self.early = clock, bool(early)
        # the column profile read once (a bad one is refused here, not file after file)
        self.read_options = dict(columns=load_mapping(columns), on_bad_records=on_bad_records,
                                 max_reject_share=max_reject_share)
        self.model, self.model_name = load_model(model)
        self.threshold = self.model.threshold if threshold is None else float(threshold)
        # the policy's young-SIM score comes from the model's card unless it is set
        self.alert_policy = (AlertPolicy() if alert_policy is None else alert_policy
                             ).for_model(self.model)
        if self.threshold is None or not np.isfinite(self.threshold):
            raise ConfigError(f"{self.model_name}: the model has no operating threshold; give "
                              "--threshold")
        self.timezone, self.timezone_source = model_timezone(timezone, self.model,
                                                             self.model_name)
        self.cell_frame = load_cells(cells) if cells is not None else no_cells()
        self.located = cells is not None
        self.feedback = open_feedback(exclude, history, dismiss_margin)
        self._exclude_path = exclude if isinstance(exclude, (str, os.PathLike)) else None
        self._exclude_seen = self._exclusions_stamp()
        self.store = Store(state_dir)
        self.store.lock()
        for name in self.store.collect():
            log.info("%s: removed a slice version of an interrupted drop", name)
        tz0 = self.store.meta("timezone")
        if tz0 is not None and tz0 != self.timezone:
            log.warning("state %s was kept in time zone %s, now %s: the features of the whole "
                        "window are computed again in %s", state_dir, tz0, self.timezone,
                        self.timezone)
        self.store.set_meta("timezone", self.timezone)
        self.store.set_meta("window_s", self.window_s)
        self.window = Window(self.store, self.window_s, self.timezone,
                             cells=self.cell_frame.reset_index() if self.located else None,
                             tac=tac)
        self.alert_log = AlertLog(self.out_dir / "alerts.jsonl") if self.out_dir else None
        self.known = self.store.known()
        self._sizes: dict = {}      # name -> (size, mtime) at the last poll (settling files)
        self.rescorer = Rescorer(lambda X: self.model.predict(X, threshold=self.threshold))
        self.regrouper = Regrouper()
        self.result = None          # the ScanResult of the last drop
        self.last: list = []        # the Drops of the last poll
        self.timings: dict = {}     # seconds of each step of the last refresh
        if self.window.slices:      # a restart: the window's table, and alerts not yet raised
            self.refresh([])
        elif self.alert_log is not None:
            self.alert_log.flush(self.store)

    def close(self) -> None:
        self.store.close()
        if self.feedback["store"] is not None and self.feedback["own_store"]:
            self.feedback["store"].close()

    def _exclusions_stamp(self):
        """What decides whether the exclusions file is read again: its size and time, and
        the UTC day (an exclusion expires at a day's start)."""
        if self._exclude_path is None:
            return None
        try:
            st = os.stat(self._exclude_path)
            return (st.st_size, st.st_mtime_ns, int(self.clock() // 86400))
        except OSError:
            return None

    def _current_feedback(self) -> dict:
        """The feedback of this refresh: the exclusions read again if they changed (a file
        that no longer reads is logged and the previous exclusions kept)."""
        from simbox.feedback.exclusions import read_exclusions  # lazy: feedback only
        stamp = self._exclusions_stamp()
        if stamp is not None and stamp != self._exclude_seen:
            try:
                self.feedback["exclusions"] = read_exclusions(self._exclude_path)
                self._exclude_seen = stamp
                log.info("%s: exclusions read again", self._exclude_path)
            except (SimboxError, OSError) as exc:
                log.error("%s: kept the previous exclusions (%s)", self._exclude_path, exc,
                          extra={"fields": {"event": "exclusions_error", "error": str(exc)}})
        return self.feedback

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- files -----------------------------------------------------------------------
    def ready(self, once: bool = False) -> list:
        """The files to take now, in arrival order: ``(path, size, mtime)``."""
        now = self.clock()
        found, sizes = [], {}
        for e in os.scandir(self.drop_dir):
            name = e.name
            if name.startswith(".") or name.endswith(SKIPPED_SUFFIXES):
                continue
            try:
                if not e.is_file():
                    continue
                st = e.stat()
            except FileNotFoundError:        # moved away meanwhile
                continue
            key = (name, st.st_size, st.st_mtime)
            if key in self.known:
                continue
            sizes[name] = key[1:]
            settled = now - st.st_mtime >= self.settle and (
                once or self.settle == 0 or self._sizes.get(name) == key[1:])
            if settled:
                found.append((st.st_mtime, name, st.st_size))
        self._sizes = sizes
        return [(self.drop_dir / n, s, m) for m, n, s in sorted(found)]

    def poll(self, once: bool = False) -> list:
        """Take the files ready now, each followed by its alerts; returns their Drops.

        A backlog (several files ready at once: after a stop, or a replay) is taken in
        groups: up to ``batch`` files, until their events reach ``catch_up`` seconds of
        network time past the window's newest event before the group (in a new state,
        past the first file's newest event), committed together
        (one slice version per hour, one transaction), then one refresh.  The alerts of a
        group carry the network time of its newest event.  One file ready at a time is
        committed and refreshed alone.

        ``catch_up`` None (``--catch-up auto``, load-driven): every file ready now is
        taken with **one** refresh at the end, committed in groups of at most ``batch``
        files or :data:`GROUP_EVENTS` events (the memory bound); the more files wait,
        the larger the cycle, so a watch under load refreshes less often instead of
        falling behind."""
        drops, group, events = [], [], 0
        auto = self.catch_up is None
        start = self.window.newest
        for path, size, mtime in self.ready(once):
            taken = self._read_file(path, size, mtime, group)
            if taken is None:
                continue
            group.append(taken)
            events += len(taken[1]["time"])
            if auto:
                if len(group) >= self.batch or events >= GROUP_EVENTS:
                    drops += self._commit(group, refresh=False)
                    group, events = [], 0
                continue
            newest = max((d.network_time for d, _ in group if d.network_time is not None),
                         default=None)
            if start is None:              # a new state: from the first file's newest event
                start = newest
            span = 0 if newest is None else newest - start
            if len(group) >= self.batch or span >= self.catch_up:
                drops += self._commit(group)
                group, start = [], self.window.newest
        if group:
            drops += self._commit(group, refresh=not auto)
        if auto and drops:
            self.refresh(drops)
        self.last = drops
        return drops

    def take(self, path: Path, size: int, mtime: float) -> Drop | None:
        """Read one file and commit it into the state, without a refresh; None when it is
        not taken (a duplicate, a failure: retried or quarantined, or a full disk: retried)."""
        taken = self._read_file(path, size, mtime, [])
        if taken is None:
            return None
        drops = self._commit([taken], refresh=False)
        return drops[0] if drops else None

    def _read_file(self, path: Path, size: int, mtime: float, group: list):
        """(its Drop, its event columns) of one file, or None when it is not taken: a
        file of the same content in the ledger or in ``group`` (the files read before it
        and not yet committed), or a failure to read (retried, then quarantined)."""
        t0 = time.monotonic()
        name = path.name
        try:
            digest = sha256_file(path)
            same = self.store.in_ledger(digest, size) or next(
                (d.name for d, _ in group if (d.sha256, d.size) == (digest, size)), None)
            if same is not None:
                log.info("%s: the same file as %s, already taken; skipped", name, same,
                         extra={"fields": {"event": "duplicate_file", "file": name, "as": same}})
                self.known.add((name, size, mtime))
                return None
            cols, stats = self._read(path)
        except Exception as exc:        # any failure to read: retried, then quarantined
            self._failed(path, size, mtime, exc)
            return None
        drop = Drop(name, size, records=stats.records, rejected=stats.rejected_total,
                    sha256=digest, mtime=mtime)
        drop.seconds = time.monotonic() - t0
        # the group's span is checked on the newest event read (the window decides later)
        drop.network_time = int(cols["time"].max()) if len(cols["time"]) else None
        return drop, cols

    def _commit(self, group: list, refresh: bool = True) -> list:
        """Commit the files of ``group`` ((Drop, columns) in the order read) into the state
        in one transaction, then refresh (``refresh``); returns their Drops (none when the
        state cannot be written: a full disk, logged; the files are taken again at the
        next poll)."""
        t0 = time.monotonic()
        drops = [d for d, _ in group]
        try:
            pending = self.window.add([cols for _, cols in group])
            rows = []
            for d, c in zip(drops, pending.files):
                d.events, d.duplicates, d.too_old, d.ahead = c.events, c.duplicates, \
                    c.too_old, c.ahead
                d.network_time = c.network_time
                rows.append(dict(name=d.name, size=d.size, sha256=d.sha256, mtime=d.mtime,
                                 processed_at=self.clock(), records=d.records, events=d.events,
                                 duplicates=d.duplicates, rejected=d.rejected,
                                 too_old=d.too_old, ahead=d.ahead, network_time=d.network_time))
            meta = {"newest": pending.newest}
            started = self.store.meta("started")
            if pending.oldest is not None and (started is None or pending.oldest < started):
                meta["started"] = pending.oldest
            try:
                replaced = self.store.commit(rows, pending.new, pending.expired,
                                             self.window.celldict.tokens, meta)
            except BaseException:
                self.store.remove(f for f, _ in pending.new.values())
                raise
        except Exception as exc:
            if not state_full(exc) and not isinstance(exc, OSError):
                raise
            names = ", ".join(d.name for d in drops)
            log.error("%s: cannot write the state in %s: %s; the file is taken again at the "
                      "next poll", names, self.store.folder, _words(exc),
                      extra={"fields": {"event": "state_error", "file": names,
                                        "error": _words(exc)}})
            return []
        self.store.remove(replaced)
        self.window.apply(pending)
        share = (time.monotonic() - t0) / len(drops)
        for d in drops:
            self.known.add((d.name, d.size, d.mtime))
            d.seconds += share
            if d.ahead:
                log.warning("%s: %d event(s) dated more than the window after the rest of the "
                            "file and the state were not taken (a clock error would expire the "
                            "whole window)", d.name, d.ahead,
                            extra={"fields": {"event": "ahead", "name": d.name,
                                              "ahead": d.ahead}})
        if refresh:
            self.refresh(drops)
        return drops

    def _read(self, path: Path):
        from simbox.fastpath.readers import open_events  # lazy: the readers' stacks
        stats = ReadStats()
        # (the file and its folder made at the first reject only)
        rejects = RejectsWriter(self.store.folder / "rejects" / f"{path.name}.csv")
        try:
            batches = [b.columns() for b in open_events(
                [path], cells=self.window.celldict, stats=stats, rejects=rejects,
                **self.read_options)]
        except EmptyInputError:         # a quiet quarter hour: a file of no records is taken
            batches = []
        finally:
            rejects.close()
        if len(batches) == 1:           # (a file of one batch: its columns, not a copy)
            cols = batches[0]
        elif batches:
            cols = {n: np.concatenate([b[n] for b in batches]) for n, _ in COLUMNS}
        else:
            cols = {n: np.empty(0, t) for n, t in COLUMNS}
        return cols, stats

    def _failed(self, path: Path, size: int, mtime: float, exc: Exception) -> None:
        reason = _words(exc)
        shown = reason if str(path) in reason else f"{path}: {reason}"   # where, once
        attempts = self.store.failed(path.name, size, mtime, reason, self.clock())
        fields = {"event": "file_failed", "file": path.name, "attempt": attempts,
                  "error": reason}
        if attempts < self.retries:
            log.error("%s (attempt %d of %d; retried at the next poll)", shown,
                      attempts, self.retries, extra={"fields": fields})
            return
        where = self._quarantine(path, reason, attempts)
        log.error("%s (attempt %d of %d): moved to %s", shown, attempts,
                  self.retries, where, extra={"fields": {**fields, "event": "quarantined",
                                                         "to": str(where)}})

    def _quarantine(self, path: Path, reason: str, attempts: int) -> Path:
        text = (f"file: {path.name}\nreason: {reason}\nattempts: {attempts}\n"
                f"quarantined_at: {iso(self.clock())}\n")
        for folder in (self.drop_dir / QUARANTINE, self.store.folder / QUARANTINE):
            try:
                folder.mkdir(exist_ok=True)
                dest = folder / path.name
                if dest.exists():
                    dest = folder / f"{path.name}.{int(self.clock())}"
                (folder / f"{dest.name}.reason.txt").write_text(text, encoding="utf-8")
                shutil.move(os.fspath(path), dest)
            except OSError:
                continue
            self.store.forget_failure(path.name)
            self.store.set_meta("quarantined", self.store.meta("quarantined", 0) + 1)
            return dest
        raise OutputError(f"{path}: cannot move the file to {self.drop_dir / QUARANTINE} nor "
                          f"{self.store.folder / QUARANTINE}: give write access to one of them")

    # -- features, scores, alerts, outputs -------------------------------------------
    def refresh(self, drops: list) -> None:
        """The window's features (touched subscribers again), scores of the SIMs whose
        features changed, deployments, alerts, outputs."""
        from simbox.scan import NO_CELLS_NOTE, assemble, held_back  # lazy: pandas, deployments
        from simbox.watch.callers import GroupCalls
        t0 = time.monotonic()
        marks = [("features", t0)]
        res, todo = self.window.features()
        if len(res.features) == 0:
            return
        feats = res.features
        marks.append(("scores", time.monotonic()))
        preds = self._score(feats)
        marks.append(("deployments, sites, reasons", time.monotonic()))
        network_time = self.window.newest
        summary = {"model": self.model_name, "threshold_source": "given or the model's",
                   "timezone": self.timezone, "timezone_source": self.timezone_source,
                   "subscriber_key": res.key_kinds,
                   "coordinates": "known" if self.located else "unknown",
                   "records": {"accepted": self.window.events(),
                               "files": self.store.files()},
                   "scanned_at": iso(self.clock()),
                   "watch": {"window_s": self.window_s, "network_time": iso(network_time),
                             "window_events": self.window.events()}}

        def score(X):
            return self.model.predict(X, threshold=self.threshold)["score"].to_numpy()
        held = held_back(res, preds, self.threshold, self._current_feedback(), summary)
        result = assemble(res, preds, self.cell_frame, threshold=self.threshold,
                          rules=self.link_rules, score=score, summary=summary, exclude=held,
                          grouping=partial(self.regrouper, full=self.rescorer.last["full"]))
        if self.feedback["store"] is not None:
            self.feedback["store"].record_scan(result, kind="watch", out=self.out_dir)
        if not self.located:
            result.summary["notes"] = [NO_CELLS_NOTE] + result.summary.get("notes", [])
        marks.append(("alerts", time.monotonic()))
        flagged = result.flagged
        if self.early:
            flagged = self._with_early(res, preds, flagged, held, network_time)
        if self.on_flagged is not None:
            flagged = self.on_flagged(flagged)
        key = flagged.columns[0]
        history = network_time - self.store.meta("started", network_time)
        if history >= self.min_history:
            before = self.store.flags()
            flagged, state = self.alert_policy.apply(
                flagged, res, preds, before=before, state=self.store.meta("policy", {}),
                network_time=network_time, threshold=self.threshold,
                in_group=GroupCalls(self.window, res))
            self.store.set_meta("policy", state)      # a rerun of this drop gives the same
            flags, alerts = diff(before, flagged, network_time=network_time,
                                 now=self.clock(), key=key)
            lines = [line(a) for a in alerts]
            self.store.record_alerts(flags, lines)
        else:
            alerts, lines = [], []
            log.info("warming up: %.1f h of network time in the state, alerts from %.1f h on",
                     history / 3600, self.min_history / 3600,
                     extra={"fields": {"event": "warming_up", "history_s": history}})
        if self.alert_log is not None:
            self.alert_log.flush(self.store)
        for hook in self.hooks if lines else ():
            hook(lines)
        for d in drops:
            d.alerts = alerts
            d.touched = len(todo)
        result.summary["since_last_drop"] = {
            "files": [d.as_dict() for d in drops], "alerts": alerts,
            "network_time": iso(network_time)}
        self.result = result
        marks.append(("outputs", time.monotonic()))
        if self.out_dir is not None:
            try:
                result.write(self.out_dir / "current", report=self.report)
            except OSError as exc:       # OutputError too: the alerts are out already
                log.error("%s: the outputs are not rewritten (%s); they are at the next drop",
                          self.out_dir / "current", _words(exc),
                          extra={"fields": {"event": "output_error", "error": _words(exc)}})
        marks.append(("", time.monotonic()))
        self.timings = {a: round(t1 - t, 4) for (a, t), (_, t1) in zip(marks, marks[1:])}
        self.timings.update(self.window.timings)     # features = reduce + post
        self.timings.update({f"regroup_{k}": v for k, v in self.regrouper.last.items()})
        seconds = time.monotonic() - t0
        for d in drops:
            d.refresh_seconds = seconds / len(drops)
        self._account(drops, seconds)
        for d in drops:
            log.info("%s: %d events (%d duplicate, %d older than the window), %d subscribers "
                     "reduced again, %d alert(s), %.2f s", d.name, d.events, d.duplicates,
                     d.too_old, d.touched, len(d.alerts), d.seconds + d.refresh_seconds,
                     extra={"fields": {"event": "drop", **d.as_dict()}})

    def _with_early(self, res, preds, flagged, held, network_time) -> pd.DataFrame:
        """The flagged table and the early layer's SIMs not in it (nor excluded or
        dismissed), in its columns (the scan's outputs in ``current/`` stay the model's)."""
        from simbox.watch.early import NEW_AFTER, early_flags, early_held
        started = self.store.meta("started", network_time)
        early = early_flags(res, newest=network_time,
                            oldest=max(started, network_time - self.window_s),
                            min_history=max(self.min_history, NEW_AFTER),
                            timezone=self.timezone, scores=preds["score"])
        key = flagged.columns[0]
        early = early[~early.index.isin(flagged[key].astype(str))]
        if held is not None:
            early = early[~early.index.isin(held.index)]
        early = early_held(early, res, self.feedback)
        if early.empty:
            return flagged
        return pd.concat([flagged, early.rename_axis(key).reset_index()], ignore_index=True)

    def _score(self, feats: pd.DataFrame) -> pd.DataFrame:
        """Predictions of every SIM: the SIMs the drop changed scored again, the others'
        kept; every SIM each network hour (:mod:`simbox.watch.rescore`)."""
        preds = self.rescorer(feats, self.window.newest)
        self.store.set_meta("scoring", self.rescorer.last)
        return preds

    def _account(self, drops: list, refresh_s: float) -> None:
        total = self.store.meta("totals", {"events": 0, "seconds": 0.0, "drops": 0})
        total["events"] += sum(d.events for d in drops)
        total["seconds"] += sum(d.seconds for d in drops) + refresh_s
        total["drops"] += len(drops)
        self.store.set_meta("totals", total)
        if drops:
            self.store.set_meta("last_drop", drops[-1].as_dict())

    # -- the loop --------------------------------------------------------------------
    def run(self, *, once: bool = False, interval: float = 2.0, stop=None) -> int:
        """Poll until interrupted (``once``: take what is ready and return); ``stop``: a
        callable ending the loop when true.  Returns the number of files taken."""
        taken = 0
        while True:
            taken += len(self.poll(once=once))
            if once or (stop is not None and stop()):
                return taken
            time.sleep(interval)


def _words(exc: BaseException) -> str:
    if isinstance(exc, SimboxError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return f"{type(exc).__name__}: {exc}"


def _scoring(sc):
    return {**sc, "last_full": iso(sc["last_full"])} if sc else None


def status(state_dir) -> dict:
    """What ``simbox watch status`` shows: files taken, lag, events per second, state
    size, window, failures, the last alert (read while a watcher runs)."""
    folder = Path(state_dir)
    if not (folder / "state.sqlite").exists():
        raise ConfigError(f"{folder}: no watch state here (give the --state folder of "
                          "simbox watch)")
    store = Store(folder)
    try:
        now = time.time()
        db = store.db
        files, last_at = db.execute("select count(*), max(processed_at) from ledger").fetchone()
        last = db.execute("select name, network_time from ledger order by id desc limit 1") \
            .fetchone()
        totals = store.meta("totals", {"events": 0, "seconds": 0.0, "drops": 0})
        slices = db.execute("select count(*), coalesce(sum(events), 0) from slices").fetchone()
        failing = db.execute("select name, attempts, error from failures order by at").fetchall()
        alert = db.execute("select line from alerts order by seq desc limit 1").fetchone()
        newest = store.meta("newest")
        return {
            "state": os.fspath(folder), "files": files,
            "last_file": last[0] if last else None,
            "last_file_network_time": iso(last[1]) if last else None,
            "lag_s": round(now - last_at, 1) if last_at else None,
            "network_time": iso(newest),
            "network_lag_s": round(now - newest, 1) if newest is not None else None,
            "events_per_s": round(totals["events"] / totals["seconds"], 1)
            if totals["seconds"] else None,
            "last_drop": store.meta("last_drop"),
            "window_s": store.meta("window_s"), "window_hours": slices[0],
            "window_events": slices[1], "state_bytes": store.size(),
            "alerts": store.alert_count(),
            "last_alert": json.loads(alert[0]) if alert else None,
            "failing": [{"file": n, "attempts": a, "error": e} for n, a, e in failing],
            "quarantined": store.meta("quarantined", 0),
            "scoring": _scoring(store.meta("scoring")),
        }
    finally:
        store.close()
