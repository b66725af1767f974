"""Partial reductions per time slice and their merge: the wrapper of the partial kernels
of ``_aggregate.pyx`` (``_aggregate_partial.pxi``, ``_aggregate_merge.pxi``).

A :class:`Partials` holds, per subscriber, the state of its events of one slice from
which every output of :func:`~simbox.fastpath.aggregate.reduce_events` follows (counts,
sums, first / last times, boundary state, and sorted (key, count) runs: docs/internals.md,
"Merging partial reductions").  Three operations::

    p = partials_from_events(cols, timezone=tz)          # the kernel, writing partials
    p = partials_from_rows([hour1, hour2], timezone=tz)  # the same, of slice rows
    q = combine([p_monday, p_tuesday, p_wednesday])     # merge, slices in time order
    red = finish(q, columns=..., ncols=..., cells=...)  # the kernel's rows and tables

so that ``finish(combine([partials_from_events(a), partials_from_events(b)]))`` equals
``reduce_events(a + b)`` when the events of ``a`` are in whole UTC hours before those of
``b`` (integers and most floats bit for bit; the standard deviations of durations and
gaps to about 1e-15: their squared deviations are summed in value order).
Rows are in ascending subscriber order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simbox.fastpath import _aggregate, _partition
from simbox.fastpath.aggregate import TABLES, CellTable, Reduced, TimeZone
from simbox.fastpath.events import COLUMNS
from simbox.fastpath.slicerows import ROW_DTYPE

SCALARS = _aggregate.PARTIAL_SCALARS
KINDS = _aggregate.PARTIAL_KINDS           # (name, width) of each list, in kind order


def ranges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The indices a[0]..b[0]-1, a[1]..b[1]-1, ... as one array."""
    n = b - a
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = np.repeat(a - np.r_[0, np.cumsum(n)[:-1]], n)
    return offs + np.arange(total)


@dataclass
class Partials:
    """Partials of subscribers (one per subscriber, ascending): ``sc`` the scalars
    (:data:`SCALARS`), ``off[k]`` where each subscriber's entries of list ``k`` start
    (n + 1 values), ``dat[k]`` the entries (:data:`KINDS` gives their widths)."""

    imsi: np.ndarray          # int64, ascending
    sc: np.ndarray            # int64 (n, len(SCALARS))
    off: np.ndarray           # int64 (len(KINDS), n + 1)
    dat: list                 # len(KINDS) int64 arrays (entries, width)

    def __len__(self) -> int:
        return len(self.imsi)

    @classmethod
    def empty(cls) -> "Partials":
        return cls(np.zeros(0, np.int64), np.zeros((0, len(SCALARS)), np.int64),
                   np.zeros((len(KINDS), 1), np.int64),
                   [np.zeros((0, w), np.int64) for _, w in KINDS])

    @property
    def nbytes(self) -> int:
        return self.imsi.nbytes + self.sc.nbytes + self.off.nbytes + sum(d.nbytes for d in self.dat)

    def take(self, rows) -> "Partials":
        """The partials of rows ``rows`` (ascending positions)."""
        rows = np.asarray(rows, np.int64)
        off = np.zeros((len(KINDS), len(rows) + 1), np.int64)
        dat = []
        for k in range(len(KINDS)):
            a, b = self.off[k][rows], self.off[k][rows + 1]
            off[k, 1:] = np.cumsum(b - a)
            dat.append(np.ascontiguousarray(self.dat[k][ranges(a, b)]))
        return Partials(self.imsi[rows], np.ascontiguousarray(self.sc[rows]), off, dat)

    def trimmed(self) -> "Partials":
        """A copy that owns no more memory than its entries (:func:`combine` returns
        views of arrays sized for the inputs)."""
        return Partials(self.imsi, self.sc, self.off, [d.copy() for d in self.dat])

    def rows_of(self, imsis: np.ndarray) -> np.ndarray:
        """The rows of the subscribers ``imsis`` (ascending) that have a partial here."""
        pos = np.searchsorted(self.imsi, imsis)
        hit = pos < len(self.imsi)
        hit[hit] = self.imsi[pos[hit]] == imsis[hit]
        return pos[hit]

    def select(self, imsis: np.ndarray) -> "Partials":
        """The partials of the subscribers ``imsis`` (ascending) that have one here."""
        return self.take(self.rows_of(imsis))

    @classmethod
    def concat(cls, parts: list) -> "Partials":
        """The partials of several sets, rows in the order given (not sorted again)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        off = np.zeros((len(KINDS), sum(len(p) for p in parts) + 1), np.int64)
        for k in range(len(KINDS)):
            base = np.cumsum([0] + [len(p.dat[k]) for p in parts[:-1]])
            off[k, 1:] = np.concatenate([p.off[k][1:] + b for p, b in zip(parts, base)])
        return cls(np.concatenate([p.imsi for p in parts]),
                   np.concatenate([p.sc for p in parts]), off,
                   [np.concatenate([p.dat[k] for p in parts]) for k in range(len(KINDS))])


def _ncell(cells: np.ndarray) -> int:
    return int(cells.max()) + 1 if len(cells) else 0


def _room(c: dict) -> list:
    """The most entries of each list for the events ``c``."""
    r = c["rtype"]
    moc, mtc = np.count_nonzero(r == 0), np.count_nonzero(r == 1)
    sms = np.count_nonzero((r == 2) | (r == 3))
    cells, imeis = np.count_nonzero(c["cell"] >= 0), np.count_nonzero(c["imei"] != 0)
    attach = np.count_nonzero(r == 5)
    room = {"day": len(r), "dur": moc, "gap": moc, "callee": moc, "caller": mtc, "sms": sms,
            "cell": cells, "dev": imeis, "run": cells, "reg": attach}
    return [room[name] for name, _ in KINDS]


def partials_from_events(cols: dict, *, timezone: TimeZone) -> Partials:
    """The partial of each subscriber's events in ``cols`` (EventBatch columns, any order;
    exact duplicates dropped)."""
    c = {name: np.ascontiguousarray(cols[name], dtype=dtype) for name, dtype in COLUMNS}
    n = len(c["time"])
    ids = np.empty(n, np.int32)
    first = _partition.dense_ids(c["imsi"], ids)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(first), np.int32)
    rank[order] = np.arange(len(first), dtype=np.int32)
    ids = rank[ids]                                   # dense ids in ascending subscriber order
    U = len(first)
    tz = timezone.table(c["time"].min(), c["time"].max()) if n else (np.zeros(0, np.int32), 0)
    sc = np.zeros((U, len(SCALARS)), np.int64)
    off = np.zeros((len(KINDS), U + 1), np.int64)
    dat = [np.empty((max(int(m), 1), w), np.int64) for m, (_, w) in zip(_room(c), KINDS)]
    _, used = _aggregate.partial_partition(c, ids, U, tz, _ncell(c["cell"]), sc, off, dat)
    # views, not copies (as combine): the room past the entries is never written, so its
    # pages hold no memory, and copying the entries cost 0.06 us an event (docs/watch.md)
    return Partials(first[order], sc, off, [d[:m] for d, m in zip(dat, used)])


def partials_from_rows(parts: list, *, timezone: TimeZone) -> Partials:
    """:func:`partials_from_events` of the events of slice rows (``slicerows.ROW_DTYPE``):
    ``parts`` each sorted by subscriber (an hour's slice or merged rows), in time order.
    Each subscriber's runs are gathered and reduced in turn (``_aggregate.partial_rows``):
    no copy of the events into columns, no partition of them by subscriber."""
    parts = [np.ascontiguousarray(p) for p in parts if len(p)]
    for p in parts:
        if p.dtype != ROW_DTYPE:
            raise TypeError(f"partials_from_rows: rows of dtype {ROW_DTYPE} expected, got {p.dtype}")
    n = sum(len(p) for p in parts)
    if n == 0:
        return Partials.empty()
    t0 = min(int(p["time"].min()) for p in parts)
    t1 = max(int(p["time"].max()) for p in parts)
    ncell = max(int(p["cell"].max()) for p in parts) + 1
    # room: a subscriber and one entry of every list per event (only what is written holds
    # memory: the room past it is never touched, as in partials_from_events)
    sc = np.zeros((n, len(SCALARS)), np.int64)
    off = np.zeros((len(KINDS), n + 1), np.int64)
    dat = [np.empty((n, w), np.int64) for _, w in KINDS]
    imsi = np.empty(n, np.int64)
    U, _, used = _aggregate.partial_rows(parts, timezone.table(t0, t1), ncell, sc, off, dat, imsi)
    return Partials(imsi[:U].copy(), sc[:U], np.ascontiguousarray(off[:, :U + 1]),
                    [d[:m] for d, m in zip(dat, used)])


def combine(parts: list) -> Partials:
    """Per subscriber, the merge of its partials in ``parts`` (sets of slices in time
    order: every event of parts[i] in whole UTC hours before those of parts[i + 1]).  A
    part is a :class:`Partials` or ``(Partials, rows)``: only those rows (ascending) of
    it, read in place (nothing copied)."""
    parts = [p if isinstance(p, tuple) else (p, None) for p in parts]
    parts = [(p, r) for p, r in parts if (len(p) if r is None else len(r))]
    if not parts:
        return Partials.empty()
    if len(parts) == 1 and parts[0][1] is None:
        return parts[0][0]
    rows = [np.arange(len(p), dtype=np.int64) if r is None else np.asarray(r, np.int64)
            for p, r in parts]
    imsi = np.concatenate([p.imsi[r] for (p, _), r in zip(parts, rows)])
    which = np.repeat(np.arange(len(parts), dtype=np.int64), [len(r) for r in rows])
    order = np.lexsort((which, imsi))
    imsi, which = imsi[order], which[order]
    row = np.concatenate(rows)[order]
    starts = np.flatnonzero(np.r_[True, imsi[1:] != imsi[:-1]])
    G = len(starts)
    gstart = np.r_[starts, len(order)].astype(np.int64)
    size = [sum(int((p.off[k][r + 1] - p.off[k][r]).sum()) for (p, _), r in zip(parts, rows))
            for k in range(len(KINDS))]
    cap = [m + (len(order) if name == "gap" else 0) for m, (name, _) in zip(size, KINDS)]
    sc = np.zeros((G, len(SCALARS)), np.int64)
    off = np.zeros((len(KINDS), G + 1), np.int64)
    dat = [np.empty((max(m, 1), w), np.int64) for m, (_, w) in zip(cap, KINDS)]
    cell = [n for n, _ in KINDS].index("cell")
    ncell = max(_ncell(p.dat[cell][:, 0]) for p, _ in parts)
    used = _aggregate.combine_partials([(p.sc, p.off, p.dat) for p, _ in parts], which, row,
                                       gstart, ncell, sc, off, dat)
    return Partials(imsi[starts], sc, off, [d[:m] for d, m in zip(dat, used)])   # no copy


def finish(p: Partials, *, columns: np.ndarray, ncols: int, cells: CellTable) -> Reduced:
    """The kernel outputs (:class:`Reduced`, rows in the order of ``p``) of partials."""
    U = len(p)
    size = {n: len(d) for d, (n, _) in zip(p.dat, KINDS)}
    room = {"dev": size["dev"], "cell": size["cell"], "site": size["cell"],
            "move": size["run"], "reg": size["reg"]}
    out = Reduced(imsi=p.imsi.copy(), feats=np.full((U, ncols), np.nan),
                  hours=np.zeros((U, 24), np.int32), msisdn=np.zeros(U, np.int64),
                  main_imei=np.zeros(U, np.int64), main_cell=np.zeros(U, np.int32),
                  main_site=np.zeros(U, np.int32),
                  **{f: np.empty(room[t], d) for t, fs in TABLES.items() for f, d in fs.items()},
                  duplicates=0)
    rows = _aggregate.finish_partials(p.sc, p.off, p.dat, cells,
                                      np.ascontiguousarray(columns, np.int32), out)
    for table, fields in TABLES.items():
        for f in fields:
            setattr(out, f, getattr(out, f)[:rows[table]])
    return out
