"""The rolling window of ``simbox watch``: hour slices of events, and the feature table.

The window is the last ``window_s`` seconds (whole UTC hours) before the newest event
time seen: hour ``h`` (``time // 3600``) is in it while ``h > newest_hour - hours``.
Each hour of the window is a *slice*: its distinct events (exact duplicates dropped,
as the kernel drops them), sorted by subscriber, in a file of the state folder
(:mod:`simbox.watch.store`), memory-mapped; in memory only the index of each slice
(its subscribers and where their events start).

A drop (:meth:`Window.add`) merges its events into the slices of their hours and
expires the hours that left the window.  The subscribers it touched (events in the
drop, or in an expired hour) get their kernel rows again; the kernel rows of the others
are kept from the last drop (:meth:`Reduced.take`); the features computed over all
subscribers (shared IMEIs, neighbours, co-movement, percentile ranks) are computed again
over all rows (:func:`~simbox.features.features_from_reduced`).

A touched subscriber's kernel row is the merge (:mod:`simbox.fastpath.partials`) of its
partials, in time order: its events of the window's first UTC day (the hours still in
the window) and of its last day, as partials, and between them its partials of
each whole day (``Window.days``: each day's partials made once from its slices, when it
becomes a whole day of the window, stored in the state folder and memory-mapped, so a
restart reads them back: :meth:`Store.write_partials`; a day that becomes whole is the
held partials of its closed hours merged with its other hours', or the partials made at
the commits of a backlog from the rows in memory, ``Window.segments``: ``_day_from_closed``),
the whole days' partials merged into one (``Window.middle``: made at the second refresh of
a new set of whole days, the first merging the days themselves; held in memory).  The
partials of the first day and of the last day's hours before the newest are held in memory
between drops (``Window.held``: made again only for the subscribers of the hours that
expired, closed or were rewritten since), so a drop reduces only the touched subscribers'
events of the newest hour and merges four partials per subscriber whatever the window's
length.
Stored partials are used only while they were made from the day's slice files as they
are now.  A late file that adds
events to a whole day makes that day's partials of the subscribers it touched again
(``Window.stale``) and stores them again.  With ``merge = False`` (or a window
of less than three UTC days) the touched subscribers' whole window is reduced again by
the batch kernel (:func:`~simbox.fastpath.aggregate.reduce_events`).  Either way the
table equals ``compute_features`` of the same files with the events outside the window
dropped (tests/watch/test_incremental*.py).  docs/watch.md has the measurements.  The
methods of the days (the plan, whole days, the middle, the held and the segments' partials)
are in :mod:`simbox.watch.days`.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from simbox.fastpath.aggregate import (TABLES, Reduced, TimeZone, Workspace, reduce_events,
                                      slot_columns)
from simbox.fastpath.events import COLUMNS, CellDict
from simbox.fastpath.partials import Partials, combine, finish, partials_from_rows, ranges
from simbox.fastpath.slicerows import distinct_keys, merge_rows
from simbox.features import feature_names, features_from_reduced
from simbox.features.tables import cell_table, load_cells, load_tac
from simbox.watch.days import DAY_HOURS, HOUR, DayPartials
from simbox.watch.store import SLICE_DTYPE, Store

log = logging.getLogger("simbox.watch")

#: events reduced at once when subscribers are reduced again (bounds the memory of a drop)
CHUNK_EVENTS = 1 << 21


def hour_rows(got: list) -> tuple:
    """(the slice rows of the files' events of one hour, the rows of each file there) from
    ``got`` ``[(file, its event columns, its positions there: None for all)]``: the files'
    rows one after the other in one array (no array per file, no concatenation)."""
    sizes = [len(cols["time"]) if sel is None else len(sel) for _, cols, sel in got]
    rows = np.empty(sum(sizes), SLICE_DTYPE)
    at = 0
    for (_, cols, sel), n in zip(got, sizes):
        for name in SLICE_DTYPE.names:
            rows[name][at:at + n] = cols[name] if sel is None else cols[name][sel]
        at += n
    return rows, sizes


def _far_ahead(t: np.ndarray, newest: int | None, window_s: int) -> np.ndarray | None:
    """Mask of the event times ``t`` of a file dated more than a window after both the
    file's median time and the newest event of the state (or twice the file's spread below
    its median, when a file spans more than that), None when there is none.  Such an event
    is a clock error: one row dated 2199 would move the window past every other event and
    expire the whole state.  A file of late records with a few current ones, a file after
    a gap of days, a backlog spanning weeks: all taken."""
    if len(t) == 0:
        return None
    t0, t1 = int(t.min()), int(t.max())
    if t1 - t0 <= int(window_s):        # (no time past the earliest by a window: none is
        return None                     # past the median by one; no median needed)
    mid = int(np.median(t))
    base = mid if newest is None else max(mid, int(newest))
    far = t > base + max(int(window_s), 2 * (mid - t0))
    return far if far.any() else None


def window_hours(window_s: int) -> int:
    return max(1, -(-int(window_s) // HOUR))


def in_window(times, newest: int, window_s: int) -> np.ndarray:
    """Mask of the event times inside the window ending at the newest time ``newest``."""
    first = int(newest) // HOUR - window_hours(window_s) + 1
    return np.asarray(times) // HOUR >= first


@dataclass
class Slice:
    """One hour of the window: its file and, in memory, its subscriber index."""

    name: str
    rows: np.ndarray          # memory-mapped SLICE_DTYPE rows, sorted
    imsi: np.ndarray          # distinct subscribers, sorted
    start: np.ndarray         # where each subscriber's events start (len(imsi) + 1 entries)

    @classmethod
    def open(cls, store: Store, name: str) -> "Slice":
        rows = store.read_slice(name)
        col = np.asarray(rows["imsi"])
        if len(col):
            first = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
        else:
            first = np.zeros(0, np.int64)
        return cls(name, rows, col[first].copy(), np.r_[first, len(col)].astype(np.int64))

    def spans(self, imsis: np.ndarray) -> tuple:
        """(position in ``imsis``, start, stop) of the sorted ``imsis`` that have events here."""
        pos = np.searchsorted(self.imsi, imsis)
        pos_c = np.minimum(pos, max(len(self.imsi) - 1, 0))
        hit = (pos < len(self.imsi)) & (self.imsi[pos_c] == imsis) if len(self.imsi) else \
            np.zeros(len(imsis), bool)
        p = pos[hit]
        return np.flatnonzero(hit), self.start[p], self.start[p + 1]


@dataclass
class FileCount:
    """What one file of a drop brought into the window."""

    events: int = 0            # events inside the window
    duplicates: int = 0        # of them, already in the window (or twice in the file)
    too_old: int = 0           # events older than the window (not kept)
    ahead: int = 0             # events dated a window after the rest (not kept)
    network_time: int | None = None   # the file's newest event time
    oldest: int | None = None  # the file's oldest event time in the window


@dataclass
class Pending:
    """A drop's change to the window (one or more files), written but not yet committed."""

    new: dict                  # hour -> (file name, rows)
    expired: list              # hours that leave the window
    newest: int
    files: list                # a FileCount per file, in the order taken
    touched: np.ndarray        # subscribers with events in the drop (in the window)
    segments: list = field(default_factory=list)   # ({hour: slice file}, Partials)

    @property
    def oldest(self) -> int | None:
        return min((f.oldest for f in self.files if f.oldest is not None), default=None)

@dataclass
class Window(DayPartials):
    """The slices of the window and the kernel rows of its subscribers."""

    store: Store
    window_s: int
    timezone: str = "UTC"
    cells: object = None               # cells.csv path / table, or None
    tac: object = None
    celldict: CellDict = field(init=False)
    slices: dict = field(init=False)   # hour -> Slice
    newest: int | None = field(init=False)
    red: Reduced | None = field(init=False, default=None)
    dirty: list = field(init=False, default_factory=list)  # subscribers to reduce again
    timings: dict = field(init=False, default_factory=dict)   # of the last features()
    merge: bool = True                 # False: reduce touched subscribers' whole window again
    days: dict = field(init=False, default_factory=dict)    # whole UTC day -> Partials
    stale: dict = field(init=False, default_factory=dict)   # day -> subscribers to redo
    saved: dict = field(init=False, default_factory=dict)   # day -> (file, slice files)
    middle: tuple | None = field(init=False, default=None)  # (inputs, days, Partials)
    held: dict = field(init=False, default_factory=dict)    # "first"/"closed" -> (slices, P)
    segments: list = field(init=False, default_factory=list)  # ({hour: slice file}, P)
    _days_seen: tuple | None = field(init=False, default=None)  # the last refresh's days
    _held_events: int = field(init=False, default=0)        # events reduced for them

    def __post_init__(self):
        self.tz = TimeZone(self.timezone)
        if self.cells is not None:
            self.cells = load_cells(self.cells)
        if self.tac is not None:
            self.tac = load_tac(self.tac)
        self.celldict = CellDict(self.store.cell_tokens())
        self.slices = {h: Slice.open(self.store, n) for h, n in self.store.manifest().items()}
        self.newest = self.store.meta("newest")
        self.saved = self.store.partials()
        self._local = threading.local()

    @property
    def hours(self) -> int:
        return window_hours(self.window_s)

    def events(self) -> int:
        return int(sum(len(s.rows) for s in self.slices.values()))

    # -- a drop ----------------------------------------------------------------------
    def add(self, files: list) -> Pending:
        """Write the new versions of the slices the events of ``files`` (the event columns
        of each file, in the order taken) fall in: one version per hour whatever the
        number of files, each file counted as if it were taken alone (its duplicates, its
        events too old for the window as it then was).

        Nothing changes in memory or in the manifest: :meth:`Store.commit`, then
        :meth:`apply` do.  The slices are written and synced by a thread while the next
        hours merge (:class:`~simbox.watch.store.SliceWriter`); files written are removed
        again if writing fails.
        """
        # hour -> [(file, its columns, its positions there: None for all)]
        newest, counts, parts = self.newest, [], {}
        for i, cols in enumerate(files):
            count, keep, newest = self._take(cols["time"], newest)
            counts.append(count)
            if count.events == 0:
                continue
            hour = (cols["time"] if keep is None else cols["time"][keep]) // HOUR
            h0, h1 = int(hour.min()), int(hour.max())
            if h0 == h1:
                parts.setdefault(h0, []).append((i, cols, keep))
                continue
            pos = np.arange(len(cols["time"])) if keep is None else keep
            for h in (np.flatnonzero(np.bincount(hour - h0)) + h0).tolist():
                parts.setdefault(h, []).append((i, cols, pos[hour == h]))
        if newest is None:
            return Pending({}, [], newest, counts, np.zeros(0, np.int64))
        first = newest // HOUR - self.hours + 1
        expired = sorted(h for h in self.slices if h < first)
        sizes, subs, day, made = {}, [], [], []
        now = newest // HOUR
        with self.store.slice_writer() as out:     # an hour written while the next merges
            for h, got in sorted(parts.items()):
                old = self.slices[h].rows if h in self.slices else None
                # each file's duplicates as if taken alone: against the hour, the files
                # before it and itself (an hour that left the window meanwhile too)
                merged, dups, their = merge_rows(old, *hour_rows(got))
                for (i, _, _), n in zip(got, dups.tolist()):
                    counts[i].duplicates += n
                subs.append(their)
                if h >= first:
                    out.write(h, merged)
                    sizes[h] = len(merged)
                    if day and day[-1][0] // DAY_HOURS != h // DAY_HOURS:
                        made += self._segment(day)
                        day = []
                    if h < now:
                        day.append((h, merged))
            made += self._segment(day)
        names = out.names()
        new = {h: (name, sizes[h]) for h, name in names.items()}
        segments = [({h: names[h] for h in hours}, p) for hours, p in made]
        return Pending(new, expired, newest, counts, distinct_keys(subs), segments)

    def _take(self, times: np.ndarray, newest: int | None) -> tuple:
        """One file's events (their ``times``): (its FileCount, the positions of its events
        inside the window, None for all, the newest time)."""
        t = np.asarray(times)
        far = _far_ahead(t, newest, self.window_s)
        keep = None if far is None else np.flatnonzero(~far)
        if keep is not None:
            t = t[keep]
        count = FileCount(ahead=len(times) - len(t),
                          network_time=int(t.max()) if len(t) else None)
        if count.network_time is not None:
            newest = count.network_time if newest is None else max(newest, count.network_time)
        if newest is None:
            return count, keep, newest
        inside = in_window(t, newest, self.window_s)
        count.too_old = int(len(t) - np.count_nonzero(inside))
        if count.too_old:
            keep = np.flatnonzero(inside) if keep is None else keep[inside]
            t = t[inside]
        count.events = int(len(t))
        count.oldest = int(t.min()) if len(t) else None
        return count, keep, newest

    def apply(self, p: Pending) -> None:
        """Take a committed drop into memory: new slices opened, expired ones closed; the
        subscribers touched marked for :meth:`features`."""
        for h in p.expired:
            s = self.slices.pop(h)
            self.dirty.append(s.imsi)
        for h, (name, _) in p.new.items():
            self.slices[h] = Slice.open(self.store, name)
        late = sorted({h // DAY_HOURS for h in p.new} & set(self.days))
        for d in late:                           # a late file: the day's partials of its
            self.stale.setdefault(d, set()).update(p.touched.tolist())   # subscribers again
        self.dirty.append(p.touched)
        self.newest = p.newest
        # partials made at a commit hold while their hours' slices are those they were
        # made from (a late file rewrites one: dropped; that hour is reduced from its slice)
        self.segments = [s for s in self.segments + p.segments if self._current(s[0])]
        if self.segments:
            self._whole_from_segments()

    def _current(self, files: dict) -> bool:
        """Whether the slices of the hours of ``files`` ({hour: slice file}) are those."""
        return all(h in self.slices and self.slices[h].name == f for h, f in files.items())

    # -- the feature table -----------------------------------------------------------
    def features(self, stats=None):
        """The feature table of the window (a FeatureResult) and the subscribers whose
        kernel rows were computed again (all of them the first time)."""
        names = feature_names()
        cols = slot_columns(names)
        table, _, _ = cell_table(self.celldict.tokens, self.cells)
        if self.red is None:
            todo = self._all_imsis()
            keep = None
        else:
            todo = distinct_keys(self.dirty)     # (arrays: a hash pass, not a set)
            keep = np.flatnonzero(~np.isin(self.red.imsi, todo))
        t0 = time.monotonic()
        parts = []
        events, plan, t_days = 0, self._plan() if self.merge else None, 0.0
        self._held_events = 0
        if plan is None:
            for _, (pieces,) in self._chunks(todo, [sorted(self.slices)]):
                chunk = _columns(pieces)
                events += len(chunk["time"])
                if len(chunk["time"]):
                    parts.append(reduce_events(chunk, columns=cols, ncols=len(names),
                                               timezone=self.tz, cells=table,
                                               workspace=self._workspace()))
        else:
            tail, days, today = plan
            t_days = time.monotonic()
            stale = set().union(*[s for d, s in self.stale.items() if d in days])
            mid = self._middle(days, self._whole_days(days), stale)   # [middle] or the days
            t_days = time.monotonic() - t_days
            now = self.newest // HOUR
            closed = [h for h in today if h < now]
            first = self._held("first", tail)              # the first day's hours
            before = self._held("closed", closed)          # the last day's closed hours
            within = set(self.held["closed"][0])            # (segments it holds: dropped)
            self.segments = [s for s in self.segments if not set(s[0]) <= within]
            held = [first, *mid, before]
            extra = sum(_entries(p, todo) for p in held)
            for subs, (cur,) in self._chunks(todo, [[h for h in today if h >= now]], extra):
                events += sum(len(p) for p in cur)
                last = partials_from_rows(cur, timezone=self.tz)
                parts.append(finish(combine([*((p, p.rows_of(subs)) for p in held), last]),
                                    columns=cols, ncols=len(names), cells=table))
            events += self._held_events
        self.red = _spliced(self.red, keep, parts, len(names))
        self.dirty = []
        t1 = time.monotonic()
        res = features_from_reduced(self.red, self.celldict, cells=self.cells, tac=self.tac,
                                    timezone=self.tz, stats=stats)
        self.timings = {"reduce": round(t1 - t0, 4), "reduced_events": events,
                        "day_partials": round(t_days, 4), "post": round(time.monotonic() - t1, 4)}
        return res, todo

    def _workspace(self) -> Workspace:
        if not hasattr(self._local, "ws"):
            self._local.ws = Workspace()
        return self._local.ws

    def _all_imsis(self) -> np.ndarray:
        return distinct_keys([s.imsi for s in self.slices.values()])

    def _chunks(self, imsis: np.ndarray, groups: list, extra: np.ndarray | None = None):
        """Per chunk of the subscribers ``imsis`` (sorted; chunks of about
        :data:`CHUNK_EVENTS` events, plus ``extra`` per subscriber when given: the entries
        of its partials merged with them; a subscriber never split): the chunk's
        subscribers and, for each list of hours in ``groups``, their events in those hours:
        a list of slice rows per hour that has some (views of the slice or copies), each
        sorted by subscriber, in the order of the hours (:func:`_columns`: as columns)."""
        if len(imsis) == 0:
            return
        spans = [[(h, *self.slices[h].spans(imsis)) for h in hours] for hours in groups]
        count = np.zeros(len(imsis), np.int64) if extra is None else extra.astype(np.int64)
        for group in spans:
            for _, pos, a, b in group:
                np.add.at(count, pos, b - a)
        bounds = np.searchsorted(np.cumsum(count), np.arange(1, 1 + int(count.sum()) // CHUNK_EVENTS + 1)
                                 * CHUNK_EVENTS, side="left")
        cuts = np.unique(np.r_[0, np.minimum(bounds + 1, len(imsis)), len(imsis)])
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            out = []
            for group in spans:
                pieces = []
                for h, pos, a, b in group:
                    i0, i1 = np.searchsorted(pos, (lo, hi)).tolist()   # (pos ascending)
                    if i1 == i0:
                        continue
                    a_, b_ = a[i0:i1], b[i0:i1]
                    rows = self.slices[h].rows
                    if np.array_equal(a_[1:], b_[:-1]):    # one run of the slice: a view
                        pieces.append(rows[int(a_[0]):int(b_[-1])])
                    else:
                        pieces.append(rows[ranges(a_, b_)])
                out.append(pieces)
            yield imsis[lo:hi], out


def _columns(pieces: list) -> dict:
    """The event columns of slice rows in pieces (views of the mapped slices or copies),
    one after the other: each field copied once, straight into its column."""
    n = sum(len(p) for p in pieces)
    cols = {}
    for name, dtype in COLUMNS:
        col = cols[name] = np.empty(n, dtype)
        at = 0
        for p in pieces:
            col[at:at + len(p)] = p[name]
            at += len(p)
    return cols


def _entries(p: Partials, imsis: np.ndarray) -> np.ndarray:
    """Per subscriber of ``imsis`` (sorted), the entries of its lists in ``p`` (0 without a
    partial there)."""
    out = np.zeros(len(imsis), np.int64)
    if len(p) == 0:
        return out
    pos = np.minimum(np.searchsorted(p.imsi, imsis), len(p) - 1)
    hit = p.imsi[pos] == imsis
    out[hit] = (p.off[:, pos[hit] + 1] - p.off[:, pos[hit]]).sum(axis=0)
    return out


def _spliced(red: Reduced | None, keep: np.ndarray | None, parts: list, ncols: int) -> Reduced:
    """``Reduced.concat([red.take(keep), *parts])`` with the kept rows (those of the
    subscribers a drop did not touch: most of the table) copied once, not twice."""
    if red is None or keep is None:
        return Reduced.concat(parts, ncols)
    new = Reduced.concat(parts, ncols) if parts else red.take(np.zeros(0, np.int64))
    nk = len(keep)
    fields = {"duplicates": new.duplicates}
    for name in ("imsi", "msisdn", "main_imei", "main_cell", "main_site"):
        fields[name] = np.concatenate([getattr(red, name)[keep], getattr(new, name)])
    for name in ("feats", "hours"):
        a, b = getattr(red, name), getattr(new, name)
        out = np.empty((nk + len(b),) + a.shape[1:], a.dtype)
        np.take(a, keep, axis=0, out=out[:nk], mode="wrap")   # ("raise" buffers)
        out[nk:] = b
        fields[name] = out
    pos = np.full(len(red.imsi), -1, np.int64)
    pos[keep] = np.arange(nk)
    for table, cols in TABLES.items():
        to = pos[getattr(red, f"{table}_row")]
        hit = to >= 0
        for f in cols:
            if f == f"{table}_row":
                fields[f] = np.concatenate([to[hit], getattr(new, f).astype(np.int64) + nk]
                                           ).astype(np.int32)
            else:
                fields[f] = np.concatenate([getattr(red, f)[hit], getattr(new, f)])
    return Reduced(**fields)
