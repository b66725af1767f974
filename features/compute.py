"""compute_features(): CDR / signaling inputs -> per-IMSI feature table (see docs/internals.md)."""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import threading
import time
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np

from simbox.errors import ConfigError, TooManyRejectsError
from simbox.fastpath.aggregate import (SLOTS, Reduced, TimeZone, Workspace, reduce_events,
                                       slot_columns)
from simbox.fastpath.events import CellDict, decode_buffers, normalise_cell_id
from simbox.fastpath.keys import MSISDN_BASE, decode_ids, key_column, kind_of
from simbox.fastpath.partition import DEFAULT_MEMORY_LIMIT, parse_memory, reduce_partitioned
from simbox.fastpath.stats import (MAX_REJECT_SHARE, ReadStats, RejectsWriter, check_policy,
                                   check_share, reject_share_error)
from simbox.fastpath.window import TimeWindow
from simbox.features import post
from simbox.features.frames import arrow_table, is_frame
from simbox.features.probes import drop_probe_calls, probe_codes
from simbox.features.registry import REGISTRY, feature_names
from simbox.features.tables import Cells, cell_table, load_cells, load_tac
from simbox.progress import as_progress

POST_FEATURES = set(post.POST)
# rows per batch read: the reader refills the batches the partitioner hands back, so
# the batches in flight (a few) are all the fresh memory reading needs beyond the events
BATCH_ROWS = 1 << 18
KERNEL_FEATURES = set(SLOTS)
assert {f.name for f in REGISTRY} <= KERNEL_FEATURES | POST_FEATURES, "a feature has no implementation"


@dataclass
class FeatureResult:
    """What :func:`compute_features` returns (see docs/internals.md).

    ``features`` (a DataFrame) is built on first use from ``columns``; ``sims``,
    ``hours``, ``devices`` and ``cells`` likewise (by ``tables()``, once):
    ``simbox features`` writes the feature table from ``columns`` without pandas.
    """

    columns: dict              # "imsi" (str array, sorted), then one array per feature (registry order)
    tables: object             # () -> (sims, hours, devices, cells), called once on first use
    stats: ReadStats
    timezone: str
    seconds: float
    info: dict | None = None   # partitioning details: rows, spills, splits
    #: the subscriber key of each row when some key is not an IMSI (None: every key is one)
    subscriber_key: object = None
    key_collisions: int = 0    # distinct tokens hashed to one key (see fastpath/keys.py)
    _features: object = field(default=None, init=False, repr=False)
    _index: object = field(default=None, init=False, repr=False)
    _lock: object = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def key_index(self):
        """The keys as one pandas Index of objects named ``imsi``, made once (the scan builds
        ``features`` and the tables in two threads): the index of ``features`` and of ``sims``
        and the categories of the pair tables' ``imsi``, so that lookups between them are
        answered by identity, each key converted and hashed once."""
        with self._lock:
            if self._index is None:
                import pandas as pd  # lazy: simbox features never imports pandas
                self._index = pd.Index(self.columns["imsi"], name="imsi", dtype=object)
            return self._index

    @property
    def key_kinds(self) -> dict:
        """Subscribers per kind of key: ``{"imsi": n}`` or e.g. ``{"imsi": n, "msisdn": m}``."""
        if self.subscriber_key is None:
            return {"imsi": len(self.columns["imsi"])}
        kinds, counts = np.unique(self.subscriber_key.astype(str), return_counts=True)
        return {str(k): int(c) for k, c in zip(kinds, counts)}

    @property
    def key_column(self) -> str:
        """The key column's name in the outputs: ``imsi``, or ``subscriber`` when some key
        is not an IMSI (:func:`~simbox.fastpath.keys.key_column`).  Inside, the tables
        keep the name ``imsi``."""
        return key_column(self.key_kinds)

    @property
    def features(self):
        """DataFrame: index imsi (str), columns feature_names() with the registry's dtypes."""
        if self._features is None:
            import pandas as pd  # lazy: simbox features never imports pandas
            cols = dict(self.columns)
            del cols["imsi"]
            self._features = pd.DataFrame(cols, index=self.key_index(), copy=False)
        return self._features

    @property
    def shape(self) -> tuple[int, int]:
        """(IMSIs, features) of the feature table."""
        return len(self.columns["imsi"]), len(self.columns) - 1

    def _table(self, i: int):
        if callable(self.tables):
            self.tables = self.tables()
        return self.tables[i]

    sims = property(lambda self: self._table(0),
                    doc="index imsi: msisdn, main_imei, main_tac, device_type, ...")
    hours = property(lambda self: self._table(1),
                     doc="int32 (n_imsi, 24) events per local hour of day")
    devices = property(lambda self: self._table(2),
                       doc="imsi, imei, events, first_seen, last_seen")
    cells = property(lambda self: self._table(3), doc="imsi, cell_id, events")

    def summary(self) -> str:
        n, k = self.shape
        key = "IMSIs"
        if self.subscriber_key is not None:
            kinds = ", ".join(f"{c:,} {k_}" for k_, c in self.key_kinds.items())
            key = f"subscribers (key column {self.key_column}: {kinds})"
            if self.key_collisions:
                key += f" ({self.key_collisions} token collision(s))"
        return f"{n:,} {key} x {k} features from {self.stats.summary()}, in {self.seconds:.1f} s"


def compute_features(inputs, *, cells=None, tac=None, columns="canonical", timezone="UTC",
                     memory_limit=DEFAULT_MEMORY_LIMIT, workers=2, on_bad_records="skip",
                     rejects=None, signaling=(), progress=None,
                     max_reject_share=MAX_REJECT_SHARE, probe_numbers=None, time_from=None,
                     time_to=None) -> FeatureResult:
    """Per-IMSI features of CDR files (and signaling captures); see docs/internals.md.

    ``rejects`` is a path or a :class:`RejectsWriter` (None: rejects counted only);
    ``signaling``: captures read with the inputs (an InputError if one is not a capture).
    ``workers``: threads reducing partitions.  A file, or the whole run, rejecting more
    than ``max_reject_share`` of its records raises :class:`TooManyRejectsError`
    (None: no limit); a rejects file given by path is then removed (no output).
    ``probe_numbers``: a file (or list) of test-call probe numbers whose MOC are dropped
    (:mod:`simbox.features.probes`; counted in ``info["probe_calls_dropped"]``).
    ``time_from``/``time_to``: only events in ``[time_from, time_to)`` (ISO-8601, UTC
    unless zoned; see ``fastpath/window.py``); hive partitions outside it are not read.
    """
    t0 = time.monotonic()
    tz = TimeZone(timezone)
    window = TimeWindow.of(time_from, time_to)
    parse_memory(memory_limit)
    check_policy(on_bad_records)
    max_reject_share = check_share(max_reject_share)
    probes = probe_codes(probe_numbers) if probe_numbers is not None else None
    cell_rows = load_cells(cells) if cells is not None else None
    tac_map = load_tac(tac) if tac is not None else None
    if isinstance(inputs, (str, os.PathLike)) or hasattr(inputs, "read"):
        inputs = [inputs]
    if isinstance(signaling, (str, os.PathLike)):
        signaling = [signaling]
    # lazy: the readers (isal, kernels, ~140 ms); the CLI's parser imports this module for
    # compute_features' defaults
    from simbox.fastpath.readers import open_events  # lazy: readers pull the signaling and BER stacks; only when reading files
    if signaling:
        from simbox.fastpath.signaling import check_captures  # lazy: as open_events
        check_captures(signaling)       # --signaling must name captures, not CDR files
    stats = ReadStats()
    celldict = CellDict()
    own = not isinstance(rejects, RejectsWriter)
    writer = RejectsWriter(rejects) if own else rejects
    progress = as_progress(progress)
    progress.stage("reading", unit="B")
    try:
        batches = open_events(list(inputs) + list(signaling), columns=columns,
                              on_bad_records=on_bad_records, rejects=writer, cells=celldict,
                              stats=stats, progress=progress, chunk_rows=BATCH_ROWS,
                              max_reject_share=max_reject_share, window=window)
        dropped = {}
        if probes is not None:
            batches = drop_probe_calls(batches, probes, dropped)
        with _gc_paused():
            res = features_from_events(batches, celldict, cells=cell_rows, tac=tac_map,
                                       timezone=tz, memory_limit=memory_limit, workers=workers,
                                       stats=stats, progress=progress, started=t0,
                                       reuse_batches=True)
        error = reject_share_error("the run", stats.records, stats.rejected, max_reject_share)
        if error is not None:
            raise error
        if probes is not None:
            res.info = dict(res.info or {}, **dropped)
        return res
    except TooManyRejectsError:
        if own:
            writer.close()
            if writer.path is not None and os.path.exists(writer.path):
                os.remove(writer.path)
        raise
    finally:
        if own:
            writer.close()


@contextlib.contextmanager
def _gc_paused():
    """The cyclic garbage collector off for the run: it would scan the many small
    objects of the run again and again (~3% of the time) and find no cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def features_from_events(batches, celldict: CellDict, *, cells=None, tac=None, timezone="UTC",
                         memory_limit=DEFAULT_MEMORY_LIMIT, workers=2, stats=None, progress=None,
                         started=None, tmpdir=None, reuse_batches=False) -> FeatureResult:
    """The feature table of event batches whose cell codes are in ``celldict``.

    ``cells``/``tac``: paths or DataFrames, as in :func:`compute_features`, or loaded
    (:func:`~simbox.features.tables.load_cells`, :func:`~simbox.features.tables.load_tac`).
    ``reuse_batches``: the caller keeps none of ``batches`` (their memory is recycled).
    """
    t0 = time.monotonic() if started is None else started
    tz = timezone if isinstance(timezone, TimeZone) else TimeZone(timezone)
    if is_frame(cells) and cells.index.name == "cell_id":    # a loaded table (simbox.sites)
        cells = cells.reset_index()
    if cells is not None and not isinstance(cells, Cells):
        cells = load_cells(cells)
    if tac is not None:
        tac = load_tac(tac)
    stats = stats if stats is not None else ReadStats()
    progress = as_progress(progress)
    names = feature_names()
    cols = slot_columns(names)
    state = {}

    def read_done():
        table, site_names, warning = cell_table(celldict.tokens, cells)
        state.update(table=table, site_names=site_names, warning=warning)
        progress.stage("aggregating")

    local = threading.local()       # a reduction Workspace per thread, for this run

    def reduce_fn(c):
        table = state["table"]
        if len(c["cell"]) and int(c["cell"].max()) >= len(table.site):
            raise ValueError("event cell codes are not in the run's CellDict")
        if len(c["imsi"]) and int(c["imsi"].min()) <= 0:
            raise ValueError("events without IMSI reached the aggregation")
        if not hasattr(local, "workspace"):
            local.workspace = Workspace()
        return reduce_events(c, columns=cols, ncols=len(names), timezone=tz, cells=table,
                             workspace=local.workspace)

    info: dict = {}
    parts = reduce_partitioned(batches, reduce_fn, memory_limit=memory_limit, workers=workers,
                               tmpdir=tmpdir, progress=progress, info=info, on_read_done=read_done,
                               reuse_batches=reuse_batches)
    if "table" not in state:
        read_done()
    if state["warning"]:
        warnings.warn(state["warning"], stacklevel=2)
    red = Reduced.concat(parts, len(names))
    del parts
    stats.duplicates += red.duplicates
    res = _result(red, celldict, state["table"], state["site_names"], tac, tz, stats, t0, info)
    progress.finish()
    return res


def features_from_reduced(red: Reduced, celldict: CellDict, *, cells=None, tac=None,
                          timezone="UTC", stats=None, started=None) -> FeatureResult:
    """The feature table of kernel rows already reduced (:func:`reduce_events` with the
    columns of :func:`slot_columns` of :func:`feature_names`; several reductions joined
    with :meth:`Reduced.concat`, rows kept with :meth:`Reduced.take`): the features
    computed after the kernel (``features/post.py``) over all the rows.

    ``red`` is not changed (``simbox watch`` keeps it and replaces the rows of the
    subscribers a drop touched).  ``cells``/``tac`` as in :func:`features_from_events`.
    """
    t0 = time.monotonic() if started is None else started
    tz = timezone if isinstance(timezone, TimeZone) else TimeZone(timezone)
    if cells is not None and not isinstance(cells, Cells):
        cells = load_cells(cells)
    if tac is not None:
        tac = load_tac(tac)
    table, site_names, warning = cell_table(celldict.tokens, cells)
    if warning:
        warnings.warn(warning, stacklevel=2)
    red = dataclasses.replace(red)          # _assemble releases the feature matrix it holds
    return _result(red, celldict, table, site_names, tac, tz,
                   stats if stats is not None else ReadStats(), t0, {})


def _result(red, celldict, table, site_names, tac, tz, stats, t0, info) -> FeatureResult:
    book = getattr(celldict, "keys", None)
    columns, tables, key_kind = _assemble(red, feature_names(), celldict, table, site_names,
                                          tac, tz, book)
    res = FeatureResult(columns, None, stats=stats, timezone=tz.name,
                        seconds=time.monotonic() - t0, info=info, subscriber_key=key_kind,
                        key_collisions=book.collisions if book is not None else 0)
    run = weakref.ref(res)                  # (the result holds its tables: no cycle)
    res.tables = lambda: tables(run().key_index())
    return res


def _assemble(red: Reduced, names, celldict, table, site_names, tac, tz, book=None):
    imsi_s = decode_ids(red.imsi, book).astype(str)
    order = np.argsort(imsi_s, kind="stable")
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    imsi_s = imsi_s[order]
    tokens = np.array([normalise_cell_id(t) for t in celldict.tokens], dtype=object)
    feats_sorted = red.feats[order]
    red.feats = None                         # one copy of the feature matrix at a time
    ctx = post.Context(
        imsi=red.imsi[order], msisdn=red.msisdn[order], feats=feats_sorted, names=names,
        dev_row=inv[red.dev_row], dev_imei=red.dev_imei,
        site_row=inv[red.site_row], site_code=red.site_code,
        move_row=inv[red.move_row], move_from=red.move_from, move_to=red.move_to,
        move_time=red.move_time,
        main_imei_code=red.main_imei[order], main_cell_code=red.main_cell[order],
        main_site_code=red.main_site[order], cell_tokens=tokens, site_names=site_names,
        tac=tac, tz=tz, keys=book, reg_row=inv[red.reg_row], reg_imei=red.reg_imei,
        reg_time=red.reg_time, reg_lac=red.reg_lac)
    post.fill(ctx)
    columns = {"imsi": imsi_s}
    for i, f in enumerate(REGISTRY):
        columns[f.name] = ctx.feats[:, i].astype(f.dtype)
    ctx.feats = feats_sorted = None
    key_kind = None
    if len(red.imsi) and int(red.imsi.max()) >= MSISDN_BASE:
        key_kind = kind_of(red.imsi[order])
    return (columns, lambda index=None: _tables(red, ctx, columns, imsi_s if index is None
                                                else index, inv, order, tokens, table, book,
                                                key_kind), key_kind)


def _tables(red: Reduced, ctx, feats, keys, inv, order, tokens, table, book=None,
            key_kind=None):
    """``(sims, hours, devices, cells)`` of :class:`FeatureResult` (see :func:`_assemble`;
    ``keys``: the sorted keys, or their Index, :meth:`FeatureResult.key_index`)."""
    import pandas as pd  # lazy: simbox features never imports pandas
    index = keys if isinstance(keys, pd.Index) else pd.Index(keys, name="imsi", dtype=object)
    sims = pd.DataFrame({
        "msisdn": digit_texts(ctx.msisdn),
        "main_imei": ctx.main_imei if getattr(ctx, "main_imei_code", None) is None else
        digit_texts(ctx.main_imei_code, book),      # (post made them as objects: decode_ids)
        "main_tac": ctx.main_tac, "device_type": ctx.device_type,
        "main_cell": _texts_of(ctx, "main_cell", "cell_tokens"),
        "main_site": _texts_of(ctx, "main_site", "site_names"),
        "first_seen": pd.to_datetime(feats["first_seen"], unit="s", utc=True),
        "last_seen": pd.to_datetime(feats["last_seen"], unit="s", utc=True),
        "n_events": feats["n_events"],
    }, index=index)
    if key_kind is not None:
        sims["subscriber_key"] = key_kind
    # pair tables: IMSI as a category of the index, the index itself (its keys checked once:
    # the hash table pandas keeps on it serves every later lookup of the scan)
    imsi_cat = pd.CategoricalDtype(index)
    drow = ctx.dev_row
    o = _distinct_order(drow)                # (one device a SIM: its rows ordered, no sort)
    o = np.lexsort((red.dev_imei, drow)) if o is None else o
    devices = pd.DataFrame({
        "imsi": pd.Categorical.from_codes(drow[o], dtype=imsi_cat),
        "imei": digit_texts(red.dev_imei[o], book),
        "events": red.dev_events[o],
        "first_seen": pd.to_datetime(red.dev_first[o], unit="s", utc=True),
        "last_seen": pd.to_datetime(red.dev_last[o], unit="s", utc=True)})
    crow = inv[red.cell_row]
    o = _pair_order(red.cell_row, table.cell_rank[red.cell_code] if len(red.cell_code)
                    else red.cell_code, len(table.cell_rank), inv, placed=crow)
    cells = pd.DataFrame({
        "imsi": pd.Categorical.from_codes(crow[o], dtype=imsi_cat),
        "cell_id": pd.Categorical.from_codes(red.cell_code[o], categories=pd.Index(tokens, dtype=object)),
        "events": red.cell_events[o]})
    return sims, red.hours[order], devices, cells


def digit_texts(codes, book=None):
    """``decode_ids(codes, book)`` as the column pandas makes of it (its ``str`` dtype): digits
    codes written by the kernel straight into Arrow's buffers (``decode_buffers``: no ``str``
    per row made, then converted); keys of a key book (tokens) as ``decode_ids`` gives them.
    No row: the empty object array, as before."""
    import pandas as pd  # lazy: simbox features never imports pandas
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    if not len(codes) or book is not None or int(codes.max()) >= MSISDN_BASE:
        texts = decode_ids(codes, book)
        return pd.array(texts, dtype="str") if len(codes) else texts
    import pyarrow as pa  # lazy: as pandas (which has imported it)
    data, offsets = decode_buffers(codes)
    return pd.array(pa.LargeStringArray.from_buffers(len(codes), pa.py_buffer(offsets),
                                                     pa.py_buffer(data)), dtype="str")


def _texts_of(ctx, name: str, names: str):
    """The column ``name`` of a post-processing context (``main_cell``, ``main_site``): from its
    codes (:func:`text_of_codes`) when the context has them, else its texts as they are (the
    Spark engine's context of the flagged SIMs)."""
    codes = getattr(ctx, name + "_code", None)
    return getattr(ctx, name) if codes is None else text_of_codes(codes, getattr(ctx, names))


def text_of_codes(codes, names):
    """The texts ``names[code]`` of codes (``""`` where a code is negative: as
    ``features.post`` names the main cell and site) as pandas' ``str`` array: the distinct
    names converted once, then taken by code (not a text object per row converted)."""
    import pandas as pd  # lazy: simbox features never imports pandas
    if not len(codes):                   # (no row: an empty object column, as before)
        return np.full(0, "", dtype=object)
    texts = pd.array(np.concatenate([np.array([""], dtype=object),
                                     np.asarray(names, dtype=object)]), dtype="str")
    return texts.take(np.maximum(np.asarray(codes, dtype=np.int64), -1) + 1)


def _distinct_order(row):
    """The order of ``row`` (integers in ``0..n``, n a bound of them) when its values are
    distinct: each value's position placed at its rank, no sort (a SIM with one device or
    one cell: the pair tables of a card farm); None when a value repeats."""
    row = np.asarray(row)
    if not len(row):
        return np.zeros(0, dtype=np.intp)
    if row.min() < 0:
        return None
    seen = np.bincount(row)
    if seen.max() > 1:
        return None
    rank = np.cumsum(seen) - 1               # each present value's rank among them
    order = np.empty(len(row), dtype=np.intp)
    order[rank[row]] = np.arange(len(row))
    return order


def _pair_order(row, rank, nrank, inv=None, placed=None):
    """``np.lexsort((rank, inv[row]))`` for distinct (row, rank) pairs (``inv``: a permutation
    of the rows, as :func:`_assemble`'s of the kernel's rows to the sorted keys; None: none;
    ``placed``: ``inv[row]`` when the caller has it), without a sort of random keys:

    - rows each seen once: placed by rank, no sort (:func:`_distinct_order`);
    - else the pairs sorted by (row, rank) in one combined key by a stable sort (Timsort:
      the kernel gives a row's pairs together, so the keys come in short runs it merges),
      then each row's stretch moved to the place ``inv`` gives it (linear).
    """
    placed = (row if inv is None else inv[row]) if placed is None else placed
    order = _distinct_order(placed)
    if order is not None:
        return order
    rows = len(inv) if inv is not None else int(row.max()) + 1
    if rows * max(nrank, 1) >= 1 << 62:
        return np.lexsort((rank, placed))
    order = np.argsort(row.astype(np.int64) * nrank + rank, kind="stable")
    if inv is None:
        return order
    count = np.bincount(row, minlength=rows)
    start = np.cumsum(count) - count               # each row's stretch in ``order``
    at = np.empty(rows, dtype=np.int64)
    at[inv] = np.arange(rows)                      # the row at each place
    size = count[at]
    moved = np.cumsum(size) - size                 # where each place's stretch goes
    return order[np.arange(len(order), dtype=np.int64) + np.repeat(start[at] - moved, size)]


def write_table(table, path) -> str:
    """Write a feature table (a :class:`FeatureResult` or a DataFrame indexed by imsi) to
    .parquet or .csv atomically (temp file, then rename).

    A FeatureResult goes to Parquet straight from its columns (no pandas).  Its key
    column is named :attr:`FeatureResult.key_column` (``subscriber`` when some key is
    not an IMSI, followed by each row's ``subscriber_key``).
    """
    path = os.fspath(path)
    ext = path.lower().rsplit(".", 1)[-1] if "." in os.path.basename(path) else ""
    if ext not in ("parquet", "csv"):
        raise ConfigError(f"--out {path}: give a .parquet or .csv file name")
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        if ext == "parquet":
            import pyarrow as pa  # lazy: ~80 ms, only to write Parquet
            import pyarrow.parquet as pq  # lazy: as pyarrow
            if isinstance(table, FeatureResult):
                arrow = arrow_table(table.columns)
                if table.subscriber_key is not None:     # the key is not always an IMSI
                    arrow = arrow.add_column(1, "subscriber_key",
                                             pa.array(table.subscriber_key.astype(str)))
                    arrow = arrow.rename_columns([table.key_column] + arrow.column_names[1:])
            else:
                arrow = pa.Table.from_pandas(table.reset_index(), preserve_index=False)
            pq.write_table(arrow, tmp)
        else:
            df = table.features if isinstance(table, FeatureResult) else table
            if isinstance(table, FeatureResult) and table.subscriber_key is not None:
                df = df.rename_axis(table.key_column)      # a copy: the result keeps imsi
                df.insert(0, "subscriber_key", table.subscriber_key.astype(str))
            df.reset_index().to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
