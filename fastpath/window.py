"""The event-time window of ``--from/--to``: every reader's events filtered, hive partitions pruned.

:class:`TimeWindow` holds ``[start, end)`` in epoch seconds UTC (either end open).
``open_events`` drops the events outside it from every batch (counted in
``ReadStats.filtered``: read and valid, but outside the window; not rejected) and
skips, unread, the files of a hive-partitioned dataset whose path lies outside it
(counted in ``ReadStats.pruned_files``).
"""
from __future__ import annotations

import datetime
import re

import numpy as np

from simbox.errors import ConfigError


def parse_time(value, option: str) -> int | None:
    """Epoch seconds of an ISO-8601 time or date (no zone: UTC), a datetime, or epoch
    seconds; None stays None.  ConfigError naming ``option`` otherwise."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime.datetime):
        dt = value
    elif isinstance(value, datetime.date):
        dt = datetime.datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{option} {text!r}: give an ISO-8601 time or date, e.g. "
                              "2026-03-01 or 2026-03-01T13:00:00Z (UTC unless a zone is "
                              "given)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp())


class TimeWindow:
    """Events with ``start <= time < end`` (epoch seconds UTC; None: open)."""

    def __init__(self, start=None, end=None):
        self.start = parse_time(start, "--from")
        self.end = parse_time(end, "--to")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ConfigError(f"--to ({_iso(self.end)}) must be after --from ({_iso(self.start)})")

    @classmethod
    def of(cls, time_from=None, time_to=None):
        """A window, or None when neither end is given (nothing filtered)."""
        if time_from is None and time_to is None:
            return None
        return cls(time_from, time_to)

    def __repr__(self):
        return f"TimeWindow({_iso(self.start)}, {_iso(self.end)})"

    def mask(self, times: np.ndarray) -> np.ndarray:
        """True for the times inside the window."""
        keep = np.ones(len(times), bool)
        if self.start is not None:
            keep &= times >= self.start
        if self.end is not None:
            keep &= times < self.end
        return keep

    def overlaps(self, lo: int, hi: int) -> bool:
        """Whether ``[lo, hi)`` meets the window."""
        return (self.end is None or lo < self.end) and (self.start is None or hi > self.start)

    def keeps_path(self, path) -> bool:
        """False only for a hive partition path that lies wholly outside the window."""
        span = hive_window(path)
        return span is None or self.overlaps(*span)

    def filter(self, batch, stats):
        """``batch`` without its events outside the window (counted in ``stats.filtered``),
        or None when none is left."""
        keep = self.mask(batch.time)
        n = int(keep.sum())
        stats.filtered += len(keep) - n
        if n == len(keep):
            return batch
        return batch.take(np.flatnonzero(keep)) if n else None


def _iso(t):
    if t is None:
        return "open"
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- hive partitions ------------------------------------------------------------------------

_SEGMENT = re.compile(r"^([A-Za-z_]+)=([^/\\]+)$")
_DAY_KEYS = ("date", "dt", "day", "event_date", "ds")
_HOUR_KEYS = ("hour", "hr", "hh")


def _day(value: str):
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.datetime.strptime(value, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            pass
    return None


def hive_window(path: str):
    """``(start, end)`` epoch seconds (UTC, end exclusive) that a hive-partitioned file's
    path covers, or None when its path names no date.

    A day is ``date=``/``dt=``/``day=``/``ds=`` (``2026-03-01`` or ``20260301``) or
    ``year=/month=/day=``; an hour (``hour=13``) narrows it to that hour.  Partition
    values are read as UTC days and hours.
    """
    keys = {}
    for seg in re.split(r"[/\\]", str(path)):
        m = _SEGMENT.match(seg)
        if m:
            keys[m.group(1).lower()] = m.group(2)
    start = None
    for k in _DAY_KEYS:
        if k in keys:
            start = _day(keys[k])
            if start is not None:
                break
    if start is None and {"year", "month", "day"} <= set(keys):
        try:
            start = datetime.datetime(int(keys["year"]), int(keys["month"]), int(keys["day"]),
                                      tzinfo=datetime.timezone.utc)
        except ValueError:
            start = None
    if start is None:
        return None
    span = 86400
    for k in _HOUR_KEYS:
        if k in keys and keys[k].isdigit() and int(keys[k]) < 24:
            start += datetime.timedelta(hours=int(keys[k]))
            span = 3600
            break
    t0 = int(start.timestamp())
    return t0, t0 + span

