"""Per-IMSI reduction of event columns: the wrapper of ``_aggregate.pyx``.

:func:`reduce_events` takes the events of one partition (every event of each of
its IMSIs, in any order), drops exact duplicates and returns a
:class:`Reduced`: one row per IMSI with the kernel quantities of :data:`SLOTS`
(in the column order the caller asks for), the local hour-of-day histogram, the
IMSI-IMEI, IMSI-cell and IMSI-site pair tables and the moves (site changes).  :class:`TimeZone` gives the kernels the
local-time offsets (DST-correct, looked up per 15 minutes of UTC time).
"""
from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass

import numpy as np

from simbox.errors import ConfigError, InputError
from simbox.fastpath.events import COLUMNS
from simbox.fastpath import _aggregate, _partition
from simbox.fastpath._aggregate import SLOTS  # noqa: F401  (re-exported)

OFFSET_BUCKET = 900
MAX_OFFSET_BUCKETS = 1 << 23   # ~240 years of 15-minute buckets
COARSE_BUCKETS = 24            # offsets sampled every 6 hours, refined where they change
_FIRST_SECOND = -62135596800 + 86400     # 0001-01-02 UTC: datetime's range, a day inside
_LAST_SECOND = 253402300799 - 86400      # 9999-12-30 UTC


class TimeZone:
    """An IANA time zone and its UTC offsets per 15-minute bucket of UTC time."""

    def __init__(self, name: str = "UTC"):
        import zoneinfo  # lazy: zoneinfo loads sysconfig, on every parser build otherwise
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(f"unknown time zone {name!r}: give an IANA name such as "
                              "'Asia/Shanghai' or 'Europe/Berlin' (default UTC)") from None
        self.name = name

    def table(self, tmin: int, tmax: int) -> tuple[np.ndarray, int]:
        """(offsets int32 per bucket, first bucket) covering epoch seconds tmin..tmax."""
        q0 = int(tmin) // OFFSET_BUCKET
        q1 = int(tmax) // OFFSET_BUCKET
        if q1 - q0 + 1 > MAX_OFFSET_BUCKETS:
            raise InputError(f"event times span {tmin}..{tmax} (epoch seconds), more than "
                             "240 years: check the input's time column")
        return _offsets(self.name, q0, q1), q0

    def offsets(self, times) -> np.ndarray:
        """UTC offsets (seconds) of local time at the given epoch seconds."""
        times = np.asarray(times, dtype=np.int64)
        if len(times) == 0:
            return np.zeros(0, np.int64)
        tab, q0 = self.table(times.min(), times.max())
        return tab[times // OFFSET_BUCKET - q0].astype(np.int64)


@functools.lru_cache(maxsize=64)
def _offsets(name: str, q0: int, q1: int) -> np.ndarray:
    """UTC offsets (int32 seconds) of the buckets q0..q1 (bucket q starts at q * 900 s).

    Offsets are sampled every :data:`COARSE_BUCKETS`; only a block whose two ends
    differ (a transition inside it) is looked up bucket by bucket.  Offsets are
    assumed not to change and change back within one block (6 hours).
    """
    n = q1 - q0 + 1
    if name == "UTC":
        return np.zeros(n, np.int32)
    import zoneinfo  # lazy: as above
    zone = zoneinfo.ZoneInfo(name)
    step = COARSE_BUCKETS
    s0 = q0 - q0 % step
    m = (q1 - s0) // step + 1                   # blocks s0 + step*i ..+step-1 cover q0..q1
    ends = np.array([_utcoffset(zone, (s0 + step * i) * OFFSET_BUCKET) for i in range(m + 1)],
                    dtype=np.int32)
    full = np.repeat(ends[:-1], step)
    for i in np.flatnonzero(ends[1:] != ends[:-1]):
        b = s0 + step * int(i)
        full[step * i:step * (i + 1)] = [_utcoffset(zone, (b + k) * OFFSET_BUCKET)
                                         for k in range(step)]
    return full[q0 - s0:q0 - s0 + n].copy()


def _utcoffset(zone, t: int) -> int:
    """UTC offset (seconds) of ``zone`` at epoch second ``t`` (clamped to years 1..9999)."""
    t = min(max(t, _FIRST_SECOND), _LAST_SECOND)
    return int(datetime.datetime.fromtimestamp(t, zone).utcoffset().total_seconds())


@dataclass
class CellTable:
    """Per cell code: site code, latitude, longitude (NaN = not located), and the ranks
    of cells and sites by name (ties for the "main" cell/site go to the lowest rank)."""

    site: np.ndarray        # int32 site code per cell code
    lat: np.ndarray         # float64
    lon: np.ndarray         # float64
    cell_rank: np.ndarray   # int32 per cell code
    site_rank: np.ndarray   # int32 per site code

    @classmethod
    def build(cls, site, lat, lon, cell_names, site_names) -> "CellTable":
        return cls(np.asarray(site, np.int32), np.asarray(lat, float), np.asarray(lon, float),
                   _ranks(cell_names), _ranks(site_names))

    @classmethod
    def unlocated(cls, tokens) -> "CellTable":
        n = len(tokens)
        return cls.build(np.arange(n), np.full(n, np.nan), np.full(n, np.nan), tokens, tokens)


def _ranks(names) -> np.ndarray:
    """Rank of each name in sorted order (code-point order; ties: the earlier first).

    Sorted as Python strings: a fixed-width ``str`` array would cost the longest name
    times the number of names (one 3 MiB cell name among 1,500 cells: 19 GB)."""
    names = names.tolist() if isinstance(names, np.ndarray) else list(names)
    rank = np.empty(len(names), np.int32)
    rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names), dtype=np.int32)
    return rank


@dataclass
class Reduced:
    """Kernel output of one partition (rows = IMSIs in order of first appearance)."""

    imsi: np.ndarray          # int64 digits codes
    feats: np.ndarray         # float64 (n_imsi, n_cols)
    hours: np.ndarray         # int32 (n_imsi, 24): events per local hour of day
    msisdn: np.ndarray        # int64: last non-empty MSISDN seen, 0 if none
    main_imei: np.ndarray     # int64: IMEI with most events (ties: smallest), 0 if none
    main_cell: np.ndarray     # int32: cell code with most events (ties: first by name), -1
    main_site: np.ndarray     # int32: site code likewise, -1
    dev_row: np.ndarray       # int32 row of the IMSI; dev_* one row per IMSI-IMEI pair
    dev_imei: np.ndarray
    dev_events: np.ndarray
    dev_first: np.ndarray
    dev_last: np.ndarray
    cell_row: np.ndarray      # int32 row of the IMSI; one row per IMSI-cell pair
    cell_code: np.ndarray
    cell_events: np.ndarray
    site_row: np.ndarray      # int32 row of the IMSI; one row per IMSI-site pair
    site_code: np.ndarray
    site_events: np.ndarray
    move_row: np.ndarray      # int32 row of the IMSI; one row per move: a change of site
    move_from: np.ndarray     # int32 site code left
    move_to: np.ndarray       # int32 site code reached
    move_time: np.ndarray     # int64 first event at the new site (epoch s)
    reg_row: np.ndarray       # int32 row of the IMSI; one row per MAP registration or CheckIMEI
    reg_imei: np.ndarray      # int64 its IMEI (0 none)
    reg_time: np.ndarray      # int64 its time (epoch s)
    reg_lac: np.ndarray       # int32 LAC + 1 of its location area (0 unknown)
    duplicates: int

    @classmethod
    def concat(cls, parts: list["Reduced"], ncols: int) -> "Reduced":
        """One Reduced of several partitions (row indices of the pair tables shifted).

        Consumes ``parts``: each field of the parts is released once concatenated, so
        memory holds one copy of the results (plus one field) at a time.
        """
        if not parts:
            parts = [reduce_events(_empty_columns(), columns=np.full(len(SLOTS), -1, np.int32),
                                   ncols=ncols, timezone=TimeZone("UTC"), cells=CellTable.unlocated([]))]
        base = np.cumsum([0] + [len(p.imsi) for p in parts[:-1]])
        cat = np.concatenate
        rows = ("dev_row", "cell_row", "site_row", "move_row", "reg_row")
        fields = {}
        for name in cls.__dataclass_fields__:
            if name == "duplicates":
                fields[name] = sum(p.duplicates for p in parts)
                continue
            if name in ("feats", "hours"):
                fields[name] = np.vstack([getattr(p, name) for p in parts])
            elif name in rows:
                fields[name] = cat([(getattr(p, name) + b).astype(np.int32) for p, b in zip(parts, base)])
            else:
                fields[name] = cat([getattr(p, name) for p in parts])
            for p in parts:
                setattr(p, name, None)
        return cls(**fields)

    def take(self, rows) -> "Reduced":
        """The rows ``rows`` (IMSI row indices, in the order given), their pair and move
        tables re-indexed; the other rows dropped.  ``duplicates`` is set to 0."""
        rows = np.asarray(rows, np.int64)
        new = np.full(len(self.imsi), -1, np.int64)
        new[rows] = np.arange(len(rows))
        fields = {}
        for name in ("imsi", "feats", "hours", "msisdn", "main_imei", "main_cell", "main_site"):
            fields[name] = getattr(self, name)[rows]
        for table, cols in TABLES.items():
            row = getattr(self, f"{table}_row")
            to = new[row]
            keep = to >= 0
            for f in cols:
                fields[f] = to[keep].astype(np.int32) if f == f"{table}_row" else getattr(self, f)[keep]
        return type(self)(**fields, duplicates=0)


def _empty_columns() -> dict:
    return {name: np.empty(0, dtype) for name, dtype in COLUMNS}


def slot_columns(names) -> np.ndarray:
    """The ``columns`` argument of :func:`reduce_events`: output column of each slot.

    ``names`` is the caller's column order; slots not in it are not written.
    """
    pos = {n: i for i, n in enumerate(names)}
    return np.array([pos.get(s, -1) for s in SLOTS], dtype=np.int32)


class Workspace:
    """Scratch memory of :func:`reduce_events` kept from one partition to the next
    (one per thread): the grouped events of a partition need tens of MB, and fresh
    memory costs a page fault per page."""

    def __init__(self):
        self.ev_buf = np.empty(0, np.uint8)
        self._arrays: dict = {}

    def array(self, key, n: int, dtype) -> np.ndarray:
        """Scratch array ``key`` of ``n`` rows (contents undefined), reused across calls."""
        a = self._arrays.get(key)
        if a is None or len(a) < n:
            self._arrays[key] = None
            a = self._arrays[key] = np.empty(n + n // 8, dtype)
        return a[:n]

    def events(self, n: int) -> np.ndarray:
        """A buffer for the grouped events of ``n`` events."""
        need = n * _aggregate.EV_BYTES
        if len(self.ev_buf) < need:
            self.ev_buf = None
            self.ev_buf = np.empty(need + need // 8, np.uint8)   # partitions differ a little
        return self.ev_buf


# The pair and move tables of Reduced, by the key of the kernel's row counts: field ->
# dtype.  The kernel writes at most one row per event into each.
TABLES = {
    "dev": {"dev_row": np.int32, "dev_imei": np.int64, "dev_events": np.int64,
            "dev_first": np.int64, "dev_last": np.int64},
    "cell": {"cell_row": np.int32, "cell_code": np.int32, "cell_events": np.int64},
    "site": {"site_row": np.int32, "site_code": np.int32, "site_events": np.int64},
    "move": {"move_row": np.int32, "move_from": np.int32, "move_to": np.int32,
             "move_time": np.int64},
    "reg": {"reg_row": np.int32, "reg_imei": np.int64, "reg_time": np.int64,
            "reg_lac": np.int32},
}


def reduce_events(cols: dict, *, columns: np.ndarray, ncols: int, timezone: TimeZone,
                  cells: CellTable, workspace: Workspace | None = None) -> Reduced:
    """Reduce the events of one partition (``cols``: the EventBatch columns).

    Cell codes in ``cols["cell"]`` must be < len(cells.site); the caller checks.
    ``workspace``: scratch reused across calls of one thread (None: allocated here).
    """
    c = {name: np.ascontiguousarray(cols[name], dtype=dtype) for name, dtype in COLUMNS}
    n = len(c["time"])
    if workspace is None:
        def scratch(key, dtype):
            return np.empty(n, dtype)
    else:
        def scratch(key, dtype):
            return workspace.array(key, n, dtype)
    ids = scratch("ids", np.int32)
    imsi = _partition.dense_ids(c["imsi"], ids)
    U = len(imsi)
    if n:
        tz, q0 = timezone.table(c["time"].min(), c["time"].max())
    else:
        tz, q0 = np.zeros(0, np.int32), 0
    # the tables are filled in scratch of n rows and copied out below
    out = Reduced(imsi=imsi, feats=np.full((U, ncols), np.nan), hours=np.zeros((U, 24), np.int32),
                  msisdn=np.zeros(U, np.int64), main_imei=np.zeros(U, np.int64),
                  main_cell=np.zeros(U, np.int32), main_site=np.zeros(U, np.int32),
                  **{f: scratch(f, t) for table in TABLES.values() for f, t in table.items()},
                  duplicates=0)
    rows = _aggregate.reduce_partition(
        c, ids, (tz, q0), cells, np.ascontiguousarray(columns, np.int32), out,
        ev_buf=workspace.events(n) if workspace is not None else None)
    for table, fields in TABLES.items():
        for f in fields:
            setattr(out, f, getattr(out, f)[:rows[table]].copy())
    out.duplicates = int(rows["duplicates"])
    return out
