"""The state folder of ``simbox watch``: one SQLite file and the window's hour slices.

``STATE_DIR/state.sqlite`` holds, in tables:

- ``ledger``: one row per file taken into the state (name, size, sha256, events,
  network time...); a file of the same size and checksum is never read twice;
- ``slices``: the manifest, one row per UTC hour of the window and the file that
  holds its events (``STATE_DIR/slices/<hour>.<version>.npy``);
- ``cells``: the cell dictionary (code -> token) the slices' cell codes refer to;
- ``meta``: the newest event time seen, the window, the counters;
- ``failures``: files that failed to read, with their attempts;
- ``flags`` and ``alerts``: the SIMs flagged now, and every alert raised
  (``alerts.jsonl`` in the output folder is written from this table);
- ``partials``: the per-subscriber partials of each whole UTC day of the window
  (``STATE_DIR/partials/<day>.<version>.npa``, memory-mapped) and the slice files they
  were made from.

Crash safety: a drop (one file, or the files of a backlog taken together) writes its
new slice versions under names no manifest row uses, fsyncs them, then records the
ledger rows, the manifest, the new cells and the newest time in **one** transaction.
A ``kill -9`` before the commit leaves files no manifest row names (removed at the
next start: :meth:`Store.collect`); after it, the old versions (removed after the
commit, or at the next start).  A file is thus either fully in the state and in the
ledger, or in neither.

The partials are made from the slices: a ``partials`` row holds the names of the slice
files its day's partials were made from, and is used only while they are still the
day's slices (a late file committed, then a kill before its day's partials were written
again: the day is made again from its slices).  A partials file is written and synced
under a fresh name before its row names it, as a slice.
"""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

import numpy as np

from simbox.errors import InputError, OutputError
#: a slice's rows: the event columns, the IMSI first (slices are sorted by every field in
#: this order, so a subscriber's events are one run found by binary search)
from simbox.fastpath.slicerows import ROW_DTYPE as SLICE_DTYPE  # noqa: F401
from simbox.fastpath.slicerows import ROW_FIELDS as SLICE_FIELDS  # noqa: F401

SCHEMA_VERSION = 1

_TABLES = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists ledger (
    id integer primary key, name text not null, size integer not null, sha256 text not null,
    mtime real not null, processed_at real not null, records integer not null,
    events integer not null, duplicates integer not null, rejected integer not null,
    too_old integer not null, network_time integer, ahead integer not null default 0,
    unique (sha256, size));
create table if not exists slices (hour integer primary key, file text not null,
    events integer not null);
create table if not exists cells (code integer primary key, token text not null);
create table if not exists failures (name text primary key, size integer, mtime real,
    attempts integer not null, error text not null, at real not null);
create table if not exists flags (imsi text primary key, class text not null,
    score real not null, alerted_score real not null, deployment text, first_alert real);
create table if not exists alerts (seq integer primary key, line text not null);
create table if not exists partials (day integer primary key, file text not null,
    slices text not null);
"""


class Store:
    """The SQLite file and slice files of one state folder (one process at a time)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.slice_dir = self.folder / "slices"
        self.partial_dir = self.folder / "partials"
        try:
            self.slice_dir.mkdir(parents=True, exist_ok=True)
            self.partial_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.folder}: cannot create the state folder ({exc.strerror}); "
                             "give a writable folder for --state") from None
        self.db = sqlite3.connect(self.folder / "state.sqlite", isolation_level=None)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")
        self.db.executescript(_TABLES)
        version = self.meta("schema", None)
        if version is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif int(version) != SCHEMA_VERSION:
            raise InputError(f"{self.folder}: state of another simbox version (schema {version}, "
                             f"this simbox {SCHEMA_VERSION}); give a new --state folder")

    def lock(self) -> None:
        """Hold the state folder for this process (``flock`` on ``STATE_DIR/lock``, released
        by the kernel however the process ends): a second watcher on it is refused."""
        import fcntl  # lazy: POSIX only
        self._lock = open(self.folder / "lock", "a+")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            pid = self._lock.read().strip() or "?"
            self._lock.close()
            raise OutputError(f"{self.folder}: another simbox watch (pid {pid}) keeps this "
                              "state; stop it first, or give another --state") from None
        self._lock.truncate(0)
        self._lock.write(f"{os.getpid()}\n")
        self._lock.flush()

    def close(self) -> None:
        self.db.close()
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()

    # -- meta ------------------------------------------------------------------------
    def meta(self, key: str, default=None):
        row = self.db.execute("select value from meta where key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_meta(self, key: str, value) -> None:
        self.db.execute("insert or replace into meta values (?, ?)", (key, json.dumps(value)))

    # -- ledger ----------------------------------------------------------------------
    def in_ledger(self, sha256: str, size: int):
        """The name under which a file of this content was taken, or None."""
        row = self.db.execute("select name from ledger where sha256 = ? and size = ?",
                              (sha256, size)).fetchone()
        return row[0] if row else None

    def known(self) -> set:
        """(name, size, mtime) of every file in the ledger (not hashed again)."""
        return {(n, s, m) for n, s, m in self.db.execute("select name, size, mtime from ledger")}

    def files(self) -> int:
        return self.db.execute("select count(*) from ledger").fetchone()[0]

    # -- slices ----------------------------------------------------------------------
    def manifest(self) -> dict:
        """hour -> slice file name, of the slices of the state."""
        return dict(self.db.execute("select hour, file from slices"))

    def write_slice(self, hour: int, rows: np.ndarray) -> str:
        """Write a new version of an hour's slice (sorted, distinct rows) under a fresh name,
        synced to disk; returns the file name (recorded by :meth:`commit`)."""
        name = f"{hour}.{uuid.uuid4().hex[:12]}.npy"
        _write_synced(self.slice_dir / name, [rows])
        return name

    def slice_writer(self) -> "SliceWriter":
        """A :class:`SliceWriter` of this state (the slices of one drop)."""
        return SliceWriter(self)

    def read_slice(self, name: str) -> np.ndarray:
        """A slice's rows, memory-mapped (read only)."""
        return np.load(self.slice_dir / name, mmap_mode="r", allow_pickle=False)

    def remove(self, names) -> None:
        for n in names:
            (self.slice_dir / n).unlink(missing_ok=True)

    def collect(self) -> list:
        """Remove slice and partials files no row names (of a drop killed before its
        commit, or versions replaced by one); returns their names."""
        live = set(self.manifest().values())
        dead = [p.name for p in self.slice_dir.iterdir() if p.name not in live]
        self.remove(dead)
        live = {f for f, _ in self.partials().values()}
        gone = [p.name for p in self.partial_dir.iterdir() if p.name not in live]
        self.remove_partials(gone)
        return dead + gone

    def size(self) -> int:
        """Bytes of the state folder (slices, partials, SQLite file and its journal)."""
        total = 0
        for p in [*self.slice_dir.iterdir(), *self.partial_dir.iterdir(),
                  *self.folder.glob("state.sqlite*")]:
            try:
                total += p.stat().st_size
            except FileNotFoundError:
                pass
        return total

    # -- partials of whole days -------------------------------------------------------
    def partials(self) -> dict:
        """day -> (partials file, the slice files they were made from)."""
        return {d: (f, json.loads(s)) for d, f, s in
                self.db.execute("select day, file, slices from partials")}

    def write_partials(self, day: int, p) -> str:
        """Write the partials ``p`` of day ``day`` under a fresh name, synced to disk;
        returns the file name (recorded by :meth:`record_partials`)."""
        name = f"{day}.{uuid.uuid4().hex[:12]}.npa"
        _write_synced(self.partial_dir / name, [p.imsi, p.sc, p.off, *p.dat])
        return name

    def record_partials(self, day: int, name: str, slices: list) -> None:
        """Name the file ``name`` (of :meth:`write_partials`, made from the slice files
        ``slices``) in the ``partials`` row of day ``day``; the version it replaces is
        removed."""
        old = self.db.execute("select file from partials where day = ?", (day,)).fetchone()
        self.db.execute("insert or replace into partials values (?, ?, ?)",
                        (day, name, json.dumps(sorted(slices))))
        if old and old[0] != name:
            self.remove_partials([old[0]])

    def read_partials(self, name: str):
        """The partials of a file of :meth:`write_partials`, memory-mapped (read only)."""
        from simbox.fastpath.partials import Partials   # lazy: the kernels
        path = self.partial_dir / name
        arrays = []
        with open(path, "rb") as f:
            end = os.fstat(f.fileno()).st_size
            while f.tell() < end:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                at = f.tell()
                size = int(np.prod(shape)) * dtype.itemsize
                arrays.append(np.memmap(path, dtype, "r", at, shape) if size else
                              np.zeros(shape, dtype))
                f.seek(at + size)
        return Partials(arrays[0], arrays[1], arrays[2], arrays[3:])

    def drop_partials(self, days) -> None:
        """Forget the partials of days that left the window (their files removed)."""
        for day in days:
            row = self.db.execute("select file from partials where day = ?", (day,)).fetchone()
            if row:
                self.db.execute("delete from partials where day = ?", (day,))
                self.remove_partials([row[0]])

    def remove_partials(self, names) -> None:
        for n in names:
            (self.partial_dir / n).unlink(missing_ok=True)

    # -- cells -----------------------------------------------------------------------
    def cell_tokens(self) -> list:
        rows = self.db.execute("select code, token from cells order by code").fetchall()
        if any(code != i for i, (code, _) in enumerate(rows)):
            raise InputError(f"{self.folder}: the cell dictionary of the state is damaged "
                             "(codes not dense); give a new --state folder")
        return [t for _, t in rows]

    # -- the commit of a drop --------------------------------------------------------
    def commit(self, ledger_rows: list, new_slices: dict, dropped_hours, cell_tokens: list,
               meta: dict) -> list:
        """Record the files of a drop in one transaction: their ledger rows, the new slice
        versions (hour -> (file, events)), the hours that left the window, the cell tokens
        added since the last commit and ``meta``.  Returns the replaced slice files (to
        remove)."""
        old = self.manifest()
        first_new = self.db.execute("select count(*) from cells").fetchone()[0]
        with _transaction(self.db):
            for row in ledger_rows:
                cols = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                self.db.execute(f"insert into ledger ({cols}) values ({marks})",
                                tuple(row.values()))
                self.db.execute("delete from failures where name = ?", (row["name"],))
            for hour in dropped_hours:
                self.db.execute("delete from slices where hour = ?", (hour,))
            for hour, (name, events) in new_slices.items():
                self.db.execute("insert or replace into slices values (?, ?, ?)",
                                (hour, name, events))
            self.db.executemany("insert into cells values (?, ?)",
                                [(i, t) for i, t in enumerate(cell_tokens[first_new:], first_new)])
            for k, v in meta.items():
                self.set_meta(k, v)
        return [old[h] for h in list(new_slices) + list(dropped_hours) if h in old]

    # -- failures --------------------------------------------------------------------
    def failed(self, name: str, size: int, mtime: float, error: str, at: float) -> int:
        """Count a failed attempt at a file; returns its attempts so far (a changed file
        starts again at 1)."""
        row = self.db.execute("select size, mtime, attempts from failures where name = ?",
                              (name,)).fetchone()
        attempts = row[2] + 1 if row and row[0] == size and row[1] == mtime else 1
        self.db.execute("insert or replace into failures values (?, ?, ?, ?, ?, ?)",
                        (name, size, mtime, attempts, error, at))
        return attempts

    def forget_failure(self, name: str) -> None:
        self.db.execute("delete from failures where name = ?", (name,))

    # -- flags and alerts ------------------------------------------------------------
    def flags(self) -> dict:
        """imsi -> (class, score, alerted score, deployment, first alert wall time)."""
        return {r[0]: r[1:] for r in self.db.execute("select * from flags")}

    def record_alerts(self, flags: dict, lines: list) -> None:
        """Replace the flags and append the alerts' JSON lines, in one transaction."""
        with _transaction(self.db):
            self.db.execute("delete from flags")
            self.db.executemany("insert into flags values (?, ?, ?, ?, ?, ?)",
                                [(k, *v) for k, v in flags.items()])
            self.db.executemany("insert into alerts (line) values (?)", [(ln,) for ln in lines])

    def alerts_after(self, n: int) -> list:
        """The alert lines after the first ``n`` (in the order raised)."""
        return [r[0] for r in self.db.execute(
            "select line from alerts order by seq limit -1 offset ?", (n,))]

    def alert_count(self) -> int:
        return self.db.execute("select count(*) from alerts").fetchone()[0]


class SliceWriter:
    """The new slice versions of a drop written and synced by one thread beside the caller
    (:meth:`Store.write_slice` each), so that writing and syncing an hour overlaps merging
    the next.  A context manager: at its end every file is on disk, or, if one failed or
    the block raised, every file it wrote is removed and the first error raised::

        with store.slice_writer() as out:
            for hour, rows in merged:
                out.write(hour, rows)
        names = out.names()          # hour -> file name
    """

    def __init__(self, store: Store):
        from concurrent.futures import ThreadPoolExecutor  # lazy: a drop's writes only
        self.store = store
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="simbox-slices")
        self._jobs: dict = {}

    def write(self, hour: int, rows: np.ndarray) -> None:
        """Queue ``rows`` (not changed afterwards) as the new version of ``hour``."""
        self._jobs[hour] = self._pool.submit(self.store.write_slice, hour, rows)

    def names(self) -> dict:
        """hour -> the file written (after the block)."""
        return {h: j.result() for h, j in self._jobs.items()}

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        self._pool.shutdown(wait=True)
        errors = [j.exception() for j in self._jobs.values() if j.exception() is not None]
        if kind is not None or errors:
            self.store.remove(j.result() for j in self._jobs.values() if j.exception() is None)
        if kind is None and errors:
            raise errors[0]
        return False


def _write_synced(path: Path, arrays: list) -> None:
    """Write ``arrays`` one after the other in ``.npy`` format to a new file, synced to
    disk (removed again if writing fails)."""
    try:
        with open(path, "wb") as f:
            for a in arrays:
                np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


class _transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("begin immediate")

    def __exit__(self, kind, exc, tb):
        self.db.execute("rollback" if kind else "commit")
        return False
