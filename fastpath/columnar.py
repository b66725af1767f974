"""Read Parquet and ORC CDR files into :class:`EventBatch` objects, streaming.

A columnar file is read through the same column profiles as CSV (names, codes,
time formats, null tokens, subscriber keys) and normalised by the profiled
engine's :class:`~simbox.fastpath.profile_read.Normaliser`, so a Parquet copy of a
CSV file gives the same events, counts, reasons and rejects.  What differs:

- the file's schema is the header (column names matched as in CSV);
- columns are read as they are typed: strings as text; integers and decimals as
  their digits; a ``timestamp`` time column is an instant (with a zone: that
  instant; without one: wall-clock time of the profile's ``timezone`` or
  ``utc_offset``, else UTC) and is not parsed as text;
- the record batches are those of the file (``pyarrow.parquet`` row groups,
  ORC stripes), cut to at most ``chunk_rows`` rows: memory is bounded by one
  batch, whatever the file's size;
- a rejected record is located by ``row group R, row I`` (``stripe S, row I`` for
  ORC; both 0-based) in place of a line number, and its record is its values
  joined with ``,``.

Parquet files are recognised by their ``PAR1`` magic number, ORC files by
``ORC``; both need a seekable file (standard input is read into memory first).
Hive-partitioned datasets (``date=2026-03-01/hour=13/part-0.parquet``) are
folders of such files: ``fastpath/window.py`` gives the time span a file's path
covers so that ``--from/--to`` skip the partitions outside the window unread.
"""
from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simbox.errors import ConfigError, EmptyInputError, InputError
from simbox.fastpath.columns import _norm, load_mapping
from simbox.fastpath import _columnar
from simbox.fastpath.events import COLUMNS, CellDict, EventBatch, RecordType
from simbox.fastpath.profile_read import (REASON_TEXT, R_TIME, Normaliser, _Profiled, _isnull,
                                          _np)
from simbox.fastpath.stats import ReadStats, check_policy

# ---- the reader -----------------------------------------------------------------------------

def sample_csv(path, rows: int = 2000) -> str | None:
    """The first ``rows`` rows of a Parquet or ORC file as CSV text under a header line
    (timestamps in ISO-8601 with their offset), or None when the file is neither: what
    ``simbox columns detect`` reads to propose a profile."""
    with open(path, "rb") as f:
        head = f.read(4)
    try:
        if head == b"PAR1":
            import pyarrow.parquet as pq  # lazy: only for Parquet input
            batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
        elif head[:3] == b"ORC":
            import pyarrow.orc as orc  # lazy: only for ORC input
            of = orc.ORCFile(path)
            batch = of.read_stripe(0).slice(0, rows) if of.nstripes else None
        else:
            return None
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"{path}: cannot read it ({str(e).splitlines()[0]})") from None
    if batch is None:
        raise EmptyInputError(f"{path}: no rows")
    import pyarrow.csv as pcsv  # lazy: only here
    text = pa.table([_as_text(c) for c in batch.columns], names=batch.schema.names)
    out = io.BytesIO()
    pcsv.write_csv(text, out, pcsv.WriteOptions(quoting_style="needed"))
    return out.getvalue().decode("utf-8", "replace")


def read_columnar_events(source, *, kind: str, mapping="canonical", cells: CellDict | None = None,
                         stats: ReadStats | None = None, rejects=None,
                         on_bad_records: str = "skip", chunk_rows: int = 1_000_000,
                         progress=None, name: str | None = None):
    """Iterate over the :class:`EventBatch` objects of one Parquet (``kind="parquet"``) or
    ORC (``kind="orc"``) file.

    The other arguments are those of :func:`simbox.fastpath.csvread.read_csv_events`.
    Raises :class:`EmptyInputError` for a file without rows, :class:`InputError` when
    the file's schema lacks a column the profile reads or the file is damaged.
    """
    if kind not in ("parquet", "orc"):
        raise ConfigError(f"kind must be parquet or orc, not {kind!r}")
    m = load_mapping(mapping)
    check_policy(on_bad_records)
    if int(chunk_rows) < 1:
        raise ConfigError(f"chunk_rows must be positive, not {chunk_rows}")
    return _Columnar(source, m, cells if cells is not None else CellDict(),
                     stats if stats is not None else ReadStats(), rejects, on_bad_records,
                     int(chunk_rows), progress, name, kind).batches()


def batch_reader(mapping, *, name: str, cells: CellDict, stats: ReadStats, rejects=None,
                 on_bad_records: str = "skip"):
    """The normalisation of a columnar reader for record batches that come from elsewhere
    (a Spark partition): ``r.columns_read(header)`` checks a schema's names, then
    ``r.convert(batch, wanted, where, first)`` yields the events of each batch."""
    m = load_mapping(mapping)
    check_policy(on_bad_records)
    return _Columnar(None, m, cells, stats, rejects, on_bad_records, 1 << 62, None, name,
                     "parquet")


class _Columnar(_Profiled):
    """The profiled reader's header check, normaliser and rejects over record batches of a
    columnar file (``_Profiled.batches`` opens the ByteSource and calls ``_batches``)."""

    def __init__(self, *args):
        *args, self.kind = args
        super().__init__(*args)
        self._pool = []             # full-size event columns handed back by the consumer

    def _open(self, src):
        f = src.f if getattr(src, "path", None) is not None and not src.gzipped else None
        if f is None or not f.seekable():
            f = io.BytesIO(src.read())           # a stream: Parquet and ORC need to seek
        try:
            if self.kind == "parquet":
                import pyarrow.parquet as pq  # lazy: only for Parquet input
                pf = pq.ParquetFile(f)
                opened = []

                def read(i, cols):
                    # record types and cells come as dictionaries: fewer strings to make
                    if not opened:
                        keep = {_norm(n) for fld in ("record_type", "cell_id")
                                for n in self.m.source_columns(fld)}
                        opened.append(pq.ParquetFile(
                            f, read_dictionary=[c for c in cols if _norm(c) in keep]))
                    return opened[0].iter_batches(batch_size=self.chunk_rows, row_groups=[i],
                                                  columns=cols, use_threads=False)
                return pf.schema_arrow, pf.metadata.num_rows, pf.num_row_groups, read
            import pyarrow.orc as orc  # lazy: only for ORC input
            of = orc.ORCFile(f)
            return of.schema, of.nrows, of.nstripes, \
                lambda i, cols: pa.Table.from_batches([of.read_stripe(i, columns=cols)]).to_batches(
                    self.chunk_rows)
        except (OSError, pa.ArrowException) as e:
            raise InputError(f"{self.name}: cannot read it as {self.kind.upper()} "
                             f"({str(e).splitlines()[0]})") from None

    def _batches(self, src):
        self.stats.files += 1
        self.src = src
        schema, nrows, ngroups, read = self._open(src)
        wanted, names = self.columns_read(schema.names)
        where = "row group" if self.kind == "parquet" else "stripe"
        if nrows == 0:
            raise EmptyInputError(f"{self.name}: no rows")
        size = self.size or 0
        done = 0
        for g in range(ngroups):
            row = 0
            try:
                for batch in read(g, names):
                    yield from self.convert(batch, wanted, f"{where} {g}", row)
                    row += batch.num_rows
            except (OSError, pa.ArrowException) as e:
                raise InputError(f"{self.name}: {where} {g} cannot be read "
                                 f"({str(e).splitlines()[0]})") from None
            adv = size * (g + 1) // ngroups - done
            done += adv
            self.stats.bytes += adv
            if adv:
                self.progress(adv, total=self.size)

    def columns_read(self, header) -> tuple:
        """(indices, names) of the columns of ``header`` the profile reads, in header order
        (InputError when one is missing)."""
        self.header = list(header)
        self._check_header(self.header)
        wanted = sorted({int(c[1:]) for c in self.col.values()})
        m = self.m
        # the fast path: profiles the CSV kernel reads (no null tokens, keys, parties...),
        # ISO times, one cell column (see _plain)
        self.fast = (m.engine == "kernel" and m.time_format == "iso" and not m.float_numbers
                     and len(m.source_columns("cell_id")) <= 1)
        return wanted, [self.header[j] for j in wanted]

    def _plain(self, batch, wanted):
        """The event columns of a batch whose every value is in its plain form (record types
        of the profile's table, ``YYYY-MM-DDTHH:MM:SSZ`` or timestamp times, digit strings
        or non-negative integers of the right lengths, whole-second durations, cell tokens
        without spaces or ``.``), read by the ``_columnar`` kernels; None when one is not
        (the normaliser then reads the batch, and says what is wrong)."""
        pos = {f"c{j}": k for k, j in enumerate(wanted)}
        n = batch.num_rows

        def column(fld):
            names = self.m.source_columns(fld)
            return batch.column(pos[self.col[names[0]]]) if names else None

        full = self._pool.pop() if self._pool else None
        if full is None or len(full["time"]) < n:
            size = max(n, min(self.chunk_rows, 1 << 20))
            full = {name: np.empty(size, dtype) for name, dtype in COLUMNS}
        out = {name: a[:n] for name, a in full.items()}
        if not self._fill_plain(out, column):
            self._pool.append(full)
            return None
        return out, lambda cols: self._pool.append(full) if len(self._pool) < POOL else None

    def _fill_plain(self, out, column) -> bool:
        """Fill ``out`` (the event columns of ``_plain``); False at the first value not plain."""
        if not _record_types(column("record_type"), self.m, out["rtype"]):
            return False
        t = column("start_time")
        if _is_instant(t.type):
            sec, null = self._instants(t)
            if null.any():
                return False
            out["time"][:] = sec
        elif _kernel(_columnar.iso_utc_times, t, out["time"]) != -1:
            return False
        for fld, key, lo, hi in (("imsi", "imsi", 15, 15), ("imei", "imei", 14, 16),
                                 ("msisdn", "msisdn", 1, 18), ("other_party", "other", 1, 18)):
            arr, codes = column(fld), out[key]
            if arr is None:
                codes[:] = 0
            elif _digits(arr, lo, hi, codes) != -1:
                return False
            if fld == "imsi" and not codes.all():
                return False
        d = column("duration_s")
        if d is None:
            out["duration"][:] = 0
        elif _durations(d, out["duration"]) is None:
            return False
        return _cell_codes(column("cell_id"), self.cells, out["cell"])

    def convert(self, batch, wanted, where: str, first: int):
        """The events of a record batch of the columns ``wanted`` (:meth:`columns_read`), its
        bad records rejected at ``"{where}, row {first + i}"``."""
        n = batch.num_rows
        if n == 0:
            return
        plain = self._plain(batch, wanted) if self.fast else None
        if plain is not None:               # every value in its plain form: no normaliser
            self.stats.records += n
            self.stats.accepted += n
            cols, home = plain              # memory of a pool: the consumer hands it back
            yield EventBatch(cols, source=self.name, reusable=True, home=home)
            return
        time_cols = {self.col[c] for c in self.m.source_columns("start_time")}
        arrays, epoch = [], None
        for j, arr in zip(wanted, batch.columns):
            cname = f"c{j}"
            if cname in time_cols and len(time_cols) == 1 and _is_instant(arr.type):
                epoch = self._instants(arr)
                arr = pa.nulls(n, pa.string())
            else:
                arr = _as_text(arr)
            arrays.append(arr)
        text = pa.RecordBatch.from_arrays(arrays, names=[f"c{j}" for j in wanted])
        conv = _ColumnarNormaliser(self.m, text, self.col, self.cells, self.book, batch, epoch)
        out, reason, field = conv.run()
        self.stats.records += n
        self.stats.skipped += int(conv.skipped.sum())
        for i in np.flatnonzero(reason > 0):
            col = field[i] or None
            value = conv.raw(col, int(i)) if col else ""
            self.bad.reject(self.name, REASON_TEXT[int(reason[i])], f"value {value!r}",
                            line=f"{where}, row {first + int(i)}", field=col,
                            record=conv.record(int(i)))
        ok = (reason == 0) & ~conv.skipped
        self.stats.accepted += int(ok.sum())
        if not ok.any():
            return
        idx = np.flatnonzero(ok) if not ok.all() else slice(None)
        extra = {h: np.array(conv.val(h).to_pylist(), dtype=object)[idx] for h in self.m.keep}
        yield EventBatch({name: out[name][idx] for name, _ in COLUMNS}, source=self.name,
                         extra=extra or None)

    def _instants(self, arr):
        """(epoch seconds, null mask) of a timestamp or date column (see the module docstring)."""
        if pa.types.is_date(arr.type):
            arr = arr.cast(pa.timestamp("s"))
        unit = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[arr.type.unit]
        if arr.type.tz is None and self.m.timezone:
            arr = pc.assume_timezone(arr, self.m.timezone, ambiguous="earliest",
                                     nonexistent="earliest")
        raw = _np(arr.cast(pa.int64()), 0)
        sec = np.floor_divide(raw, unit)
        if arr.type.tz is None and not self.m.timezone:
            sec = sec - self.m.offset_seconds
        return sec.astype(np.int64), _isnull(arr)


MAX_DURATION = 172800
POOL = 4                        # batches handed back and kept for refilling (as csvread)


def _text(arr):
    """A string column as ``pa.string()`` (one chunk), or None for another type."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return arr if pa.types.is_string(arr.type) else None


def _kernel(fn, arr, out, *args) -> int:
    """``fn`` of ``_columnar`` on a string array's buffers (-2: not a string array)."""
    arr = _text(arr)
    if arr is None:
        return -2
    bits, offsets, data = arr.buffers()
    u8 = np.frombuffer(bits, np.uint8) if bits is not None else np.zeros(0, np.uint8)
    off = np.frombuffer(offsets, np.int32)
    dat = np.frombuffer(data, np.uint8) if data is not None else np.zeros(1, np.uint8)
    return fn(u8, off, dat, arr.offset, len(arr), *args, out)


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _digits(arr, lo, hi, out) -> int:
    """Digits codes of a string or integer column into ``out`` (-1: all plain)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if pa.types.is_integer(arr.type):
        v = _np(arr.cast(pa.int64()), -1)
        if (v < -1).any():
            return 0
        null = v == -1
        k = np.searchsorted(_POW10, np.where(null, 0, v), side="right")   # digits of v
        k = np.maximum(k, 1)
        if ((~null) & ((k < lo) | (k > hi))).any():
            return 0
        out[:] = np.where(null, 0, _POW10[np.minimum(k, 18)] + v)
        return -1
    return _kernel(_columnar.digits_codes, arr, out, lo, hi)


def _durations(arr, out):
    """Whole seconds 0..MAX_DURATION of a string or integer column into ``out``, or None."""
    if pa.types.is_integer(arr.type):
        v = _np(arr.cast(pa.int64()), 0)
        if ((v < 0) | (v > MAX_DURATION)).any():
            return None
        out[:] = v
        return out
    return out if _kernel(_columnar.small_ints, arr, out, MAX_DURATION) == -1 else None


def _dictionary(arr):
    """(indices as int64 with -1 for null, distinct values as str list) of a column."""
    if not pa.types.is_dictionary(arr.type):
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.cast(pa.string())
        arr = pc.dictionary_encode(arr)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return _np(arr.indices.cast(pa.int64()), -1), arr.dictionary.cast(pa.string()).to_pylist()


def _record_types(arr, m, out) -> bool:
    """Record type codes into ``out`` (uint8) when every value is a code of the profile's
    table that is not skipped; else False."""
    idx, values = _dictionary(arr)
    table = []
    for v in values:
        rt = m.record_types.get(v, "?")
        if rt is None or rt == "?":
            return False
        table.append(int(RecordType[rt]))
    if (idx < 0).any():
        return False
    if table:
        np.take(np.array(table, np.uint8), idx, out=out)
    return True


def _cell_codes(arr, cells, out) -> bool:
    """Codes in ``cells`` of a cell column into ``out`` (-1: null or empty); False when a
    token holds a space or a ``.`` (the normaliser trims and reads ``7585772.0`` as
    ``7585772``)."""
    if arr is None:
        out[:] = -1
        return True
    idx, values = _dictionary(arr)
    if any("." in v or v != v.strip() for v in values):
        return False
    table = np.array([cells.code(v) if v else -1 for v in values] + [-1], np.int32)
    np.take(table, idx, out=out)
    return True


def _is_instant(t) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t)


def _as_text(arr):
    """A column as strings (binary kept: the normaliser checks UTF-8 itself)."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.cast(t.value_type), t.value_type
    if pa.types.is_string(t) or pa.types.is_binary(t):
        return arr
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        return arr.cast(pa.string() if pa.types.is_large_string(t) else pa.binary())
    if pa.types.is_timestamp(t):      # a timestamp read as text (a time split over columns)
        return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S" + ("%z" if t.tz else ""))
    return arr.cast(pa.string())


class _ColumnarNormaliser(Normaliser):
    """The profiled normaliser, with a time column of instants taken as they are and rejects
    that show the file's own values."""

    def __init__(self, m, text, col, cells, book, original, epoch):
        super().__init__(m, text, col, cells, book)
        self.original, self.epoch = original, epoch
        self.index = {f"c{j}": k for k, j in
                      enumerate(sorted(int(c[1:]) for c in set(col.values())))}

    def times(self):
        if self.epoch is None:
            return super().times()
        sec, null = self.epoch
        self.fail(null, R_TIME, self.m.source_columns("start_time")[0])
        return np.where(null, 0, sec)

    def raw(self, header_name: str, i: int) -> str:
        v = self.original.column(self.index[self.col[header_name]])[i].as_py()
        return v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else \
            ("" if v is None else str(v))

    def record(self, i: int) -> str:
        vals = (c[i].as_py() for c in self.original.columns)
        return ",".join("" if v is None else v.decode("utf-8", "backslashreplace")
                        if isinstance(v, bytes) else str(v) for v in vals)
