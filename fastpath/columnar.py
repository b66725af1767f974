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
- the file is read in batches of at most ``READ_ROWS`` rows within a row group
  (ORC: a stripe), whose buffers stay in the CPU caches; plain batches (see
  ``_plain``) are converted in place by the ``_columnar`` kernels into pooled event
  columns handed on ``chunk_rows`` at a time, other batches by the normaliser:
  memory is bounded by a few batches, whatever the file's size;
- a rejected record is located by ``row group R, row I`` (``stripe S, row I`` for
  ORC; both 0-based) in place of a line number, and its record is its values
  joined with ``,``; a row longer than the CSV reader's ``MAX_RECORD`` is rejected
  whole, as a CSV record that long is.

Parquet files are recognised by their ``PAR1`` magic number, ORC files by
``ORC``; both need a seekable file (standard input is read into memory first).
Hive-partitioned datasets (``date=2026-03-01/hour=13/part-0.parquet``) are
folders of such files: ``fastpath/window.py`` gives the time span a file's path
covers so that ``--from/--to`` skip the partitions outside the window unread.
"""
from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simbox.errors import ConfigError, EmptyInputError, InputError
from simbox.fastpath.badrecords import RECORD_CHARS
from simbox.fastpath.columns import _norm, load_mapping
from simbox.fastpath.csvread import MAX_RECORD, REASONS, _csvread
from simbox.fastpath import _columnar, parquet_pages
from simbox.fastpath.columnar_values import (RULES, STRING_VIEW, Values, cell_table, int64s,
                                             record_type_codes)
from simbox.fastpath.events import COLUMNS, CellDict, EventBatch
from simbox.fastpath.machine import usable_cores
from simbox.fastpath.partition import _threaded
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
        self._scratch = np.empty(0, np.int64)   # int64 durations before they are int32
        self.values = Values()
        self._cell_build = None
        self._pf = None

    def _open(self, src):
        local = getattr(src, "path", None) is not None and not src.gzipped
        f = src.f if local else None
        if f is None or not f.seekable():
            f, local = io.BytesIO(src.read()), False   # a stream: Parquet and ORC need to seek
        try:
            if self.kind == "parquet":
                import pyarrow.parquet as pq  # lazy: only for Parquet input
                # a local file is read by Arrow itself (no Python file object between the
                # decoder and the pages; not memory-mapped: its pages would count as ours)
                source = src.path if local else f
                pf = pq.ParquetFile(source)
                self._pf = pf if local else None
                opened = []

                def read(i, cols):
                    if not opened:
                        opened.append(pq.ParquetFile(source, read_dictionary=self._as_dictionary(
                            pf.metadata, cols)))
                    return opened[0].iter_batches(batch_size=min(self.chunk_rows, READ_ROWS),
                                                  row_groups=[i], columns=cols, use_threads=False)
                return pf.schema_arrow, pf.metadata.num_rows, pf.num_row_groups, read
            import pyarrow.orc as orc  # lazy: only for ORC input
            of = orc.ORCFile(src.path if local else f)
            return of.schema, of.nrows, of.nstripes, _OrcStripes(
                of, src.path if local else f, min(self.chunk_rows, READ_ROWS)).read
        except (OSError, pa.ArrowException) as e:
            raise InputError(f"{self.name}: cannot read it as {self.kind.upper()} "
                             f"({str(e).splitlines()[0]})") from None

    def _as_dictionary(self, meta, cols) -> list:
        """The columns of ``cols`` to read dictionary-encoded: the record type and cell columns
        (a few distinct values: no string per row), and each text column the file stores
        mostly dictionary-encoded (fewer uncompressed bytes than half its values' plain
        encoding, 4 + the shortest value's length each: times sorted within a row group,
        durations): the kernels then convert each distinct value once."""
        keep = {_norm(n) for fld in ("record_type", "cell_id")
                for n in self.m.source_columns(fld)}
        out = [c for c in cols if _norm(c) in keep]
        if meta.num_row_groups == 0:
            return out
        rg = meta.row_group(0)
        for j in range(rg.num_columns):
            c = rg.column(j)
            if c.path_in_schema not in cols or c.path_in_schema in out \
                    or c.physical_type != "BYTE_ARRAY" or not c.has_dictionary_page:
                continue
            st = c.statistics
            shortest = min(len(st.min), len(st.max)) if st is not None and st.has_min_max \
                and isinstance(st.min, (str, bytes)) else 0
            if c.total_uncompressed_size * 2 < c.num_values * (4 + shortest):
                out.append(c.path_in_schema)
        return out

    def _batches(self, src):
        self.stats.files += 1
        self.src = src
        schema, nrows, ngroups, read = self._open(src)
        wanted, names = self.columns_read(schema.names)
        where = "row group" if self.kind == "parquet" else "stripe"
        if nrows == 0:
            raise EmptyInputError(f"{self.name}: no rows")
        self._pending = None
        fields = self._page_plan() if self._pf is not None else None
        if fields is not None:
            yield from self._page_batches(fields, read, ngroups, wanted, names)
            return
        size = self.size or 0
        done = 0
        decoded = self._decoded(read, ngroups, names, where)
        if DECODE_THREAD and usable_cores() > 1:
            decoded = _threaded(decoded)    # Arrow decodes (GIL released) beside the kernels
        for g, row, batch in decoded:
            if batch is not None:
                yield from self._append(batch, wanted, f"{where} {g}", row)
                continue
            adv = size * (g + 1) // ngroups - done
            done += adv
            self.stats.bytes += adv
            if adv:
                self.progress(adv, total=self.size)
        yield from self._flush()

    def _page_plan(self):
        """The :func:`parquet_pages.plan` of the open Parquet file for the fast path's fields
        (None: read it through pyarrow)."""
        if not (PAGES and self.fast) or any(not self.m.source_columns(f) for f in
                                            ("record_type", "start_time", "imsi")):
            return None
        if self._cell_build is None:
            self._cell_build = cell_table(self.cells)
        fields = {}
        for fld, key in FIELDS:
            names = self.m.source_columns(fld)
            name = self.header[int(self.col[names[0]][1:])] if names else None
            if fld in ("record_type", "cell_id"):
                build = record_type_codes(self.m) if fld == "record_type" else self._cell_build
                null = None if fld == "record_type" else -1

                def strings(arr, out, fld=fld, build=build, null=null):
                    return self.values.codes(arr, fld, build, null, out)
                fields[key] = (name, (null is not None, null or 0), (build, strings))
            else:
                fields[key] = (name, RULES[fld], None)
        plan = parquet_pages.plan(self._pf, fields, self.m)
        if plan is not None:
            self._constant = {key: 0 if key != "cell" else -1 for key, (name, _, _) in
                              fields.items() if name is None}
        return plan

    def _page_batches(self, fields, read, ngroups: int, wanted, names):
        """The event batches of a local Parquet file decoded by the page kernels
        (``parquet_pages``), each row group from the first row they cannot take on read
        through pyarrow (:meth:`_append`, the normaliser)."""
        meta = self._pf.metadata
        size, done = self.size or 0, 0
        chunks = parquet_pages.Chunks(self.src.path)
        pool = ThreadPoolExecutor(1, thread_name_prefix="simbox-pages") \
            if DECODE_THREAD and usable_cores() > 1 else None
        try:
            for g in range(ngroups):
                try:
                    rg = parquet_pages.RowGroup(meta, g, fields, chunks, pool)
                except OSError as e:
                    raise InputError(f"{self.name}: row group {g} cannot be read "
                                     f"({str(e).splitlines()[0]})") from None
                row = 0
                while row < rg.rows:
                    if self._pending is not None and \
                            self._pending[1] == len(self._pending[0]["time"]):
                        yield from self._flush()
                    if self._pending is None:
                        self._pending = (self._take(min(rg.rows - row, self.chunk_rows)), 0)
                    full, k = self._pending
                    n = min(rg.rows - row, len(full["time"]) - k)
                    cols = {name: a[k:k + n] for name, a in full.items()}
                    if not rg.fill(cols, n):
                        break
                    for key, value in self._constant.items():
                        cols[key][:] = value
                    self._pending = (full, k + n)
                    self.stats.records += n
                    self.stats.accepted += n
                    row += n
                del rg
                if row < meta.row_group(g).num_rows:     # the rest through pyarrow
                    yield from self._rest(read, g, row, wanted, names)
                adv = size * (g + 1) // ngroups - done
                done += adv
                self.stats.bytes += adv
                if adv:
                    self.progress(adv, total=self.size)
        finally:
            chunks.close()
            if pool is not None:
                pool.shutdown()
        yield from self._flush()

    def _rest(self, read, g: int, row: int, wanted, names):
        """The events of row group g from ``row`` on, read through pyarrow."""
        at = 0
        try:
            for batch in read(g, names):
                end = at + batch.num_rows
                if end > row:
                    start = max(row, at)
                    yield from self._append(batch.slice(start - at), wanted, f"row group {g}",
                                            start)
                at = end
        except (OSError, pa.ArrowException) as e:
            raise InputError(f"{self.name}: row group {g} cannot be read "
                             f"({str(e).splitlines()[0]})") from None

    def _decoded(self, read, ngroups: int, names, where: str):
        """(group, first row, batch) of every read batch of the file, and (group, rows, None)
        at the end of each row group (stripe)."""
        for g in range(ngroups):
            row = 0
            try:
                for batch in read(g, names):
                    yield g, row, batch
                    row += batch.num_rows
            except (OSError, pa.ArrowException) as e:
                raise InputError(f"{self.name}: {where} {g} cannot be read "
                                 f"({str(e).splitlines()[0]})") from None
            yield g, row, None

    def _append(self, batch, wanted, where: str, first: int):
        """The events of a read batch: a plain one is converted into the pending event columns
        (yielded when full, so that event batches hold up to ``chunk_rows`` rows whatever the
        size of the read batches); another one by :meth:`convert`, after the pending ones."""
        n = batch.num_rows
        if not self.fast or n == 0:
            yield from self.convert(batch, wanted, where, first)
            return
        if self._pending is not None and self._pending[1] + n > len(self._pending[0]["time"]):
            yield from self._flush()
        if self._pending is None:
            self._pending = (self._take(n), 0)
        full, k = self._pending
        if not self._fill_plain({name: a[k:k + n] for name, a in full.items()},
                                self._columns(batch, wanted)):
            yield from self._flush()
            yield from self.convert(batch, wanted, where, first, plain=False)
            return
        self._pending = (full, k + n)
        self.stats.records += n
        self.stats.accepted += n

    def _flush(self):
        """The pending event columns as one batch (memory of the pool: the consumer hands it
        back)."""
        if self._pending is None:
            return
        full, k = self._pending
        self._pending = None
        if k == 0:
            self._give_back(full)
            return
        yield EventBatch({name: a[:k] for name, a in full.items()}, source=self.name,
                         reusable=True, home=lambda cols: self._give_back(full))

    def _take(self, n: int) -> dict:
        """Full-size event columns (at least ``n`` rows) from the pool, or new ones."""
        full = self._pool.pop() if self._pool else None
        if full is None or len(full["time"]) < n:
            size = max(n, min(self.chunk_rows, 1 << 20))
            full = {name: np.empty(size, dtype) for name, dtype in COLUMNS}
        return full

    def _give_back(self, full):
        if len(self._pool) < POOL:
            self._pool.append(full)

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

    def _columns(self, batch, wanted):
        """column(field): the batch's column of a field (its first source column), or None."""
        pos = {f"c{j}": k for k, j in enumerate(wanted)}

        def column(fld):
            names = self.m.source_columns(fld)
            return batch.column(pos[self.col[names[0]]]) if names else None
        return column

    def _plain(self, batch, wanted):
        """The event columns of a batch whose every value is in its plain form (record types
        of the profile's table, ``YYYY-MM-DDTHH:MM:SSZ`` or timestamp times, digit strings
        or non-negative integers of the right lengths, whole-second durations, cell tokens
        without spaces or ``.``), read by the ``_columnar`` kernels, and the callable that
        takes them back; None when one is not (the normaliser then reads the batch, and
        says what is wrong)."""
        n = batch.num_rows
        full = self._take(n)
        if not self._fill_plain({name: a[:n] for name, a in full.items()},
                                self._columns(batch, wanted)):
            self._give_back(full)
            return None
        return {name: a[:n] for name, a in full.items()}, lambda cols: self._give_back(full)

    def _fill_plain(self, out, column) -> bool:
        """Fill ``out`` (the event columns of ``_plain``); False at the first value not plain."""
        if not self.values.codes(column("record_type"), "record_type",
                                 record_type_codes(self.m), None, out["rtype"]):
            return False
        t = column("start_time")
        if _is_instant(t.type):
            if not self._instants_plain(t, out["time"]):
                return False
        elif not self.values.fill(t, RULES["start_time"], out["time"]):
            return False
        if column("imsi") is None:
            return False
        for fld, key in (("imsi", "imsi"), ("imei", "imei"), ("msisdn", "msisdn"),
                         ("other_party", "other")):
            arr = column(fld)
            if arr is None:
                out[key][:] = 0
            elif not self.values.fill(arr, RULES[fld], out[key]):
                return False
        d = column("duration_s")
        if d is None:
            out["duration"][:] = 0
        else:
            n = len(d)
            if len(self._scratch) < n:
                self._scratch = np.empty(n, np.int64)
            if not self.values.fill(d, RULES["duration_s"], self._scratch[:n]):
                return False
            out["duration"][:] = self._scratch[:n]
        cell = column("cell_id")
        if cell is None:
            out["cell"][:] = -1
            return True
        if self._cell_build is None:
            self._cell_build = cell_table(self.cells)
        return self.values.codes(cell, "cell_id", self._cell_build, -1, out["cell"])

    def _instants_plain(self, arr, out) -> bool:
        """Epoch seconds of a timestamp column into ``out`` by the kernel (a date, or a time
        without a zone read in the profile's IANA zone: by pyarrow); False at a null."""
        t = arr.type
        if isinstance(arr, pa.ChunkedArray) or pa.types.is_date(t) or (
                t.tz is None and self.m.timezone):
            sec, null = self._instants(arr)
            out[:] = sec
            return not null.any()
        v, valid, off, _keep = int64s(arr)
        shift = self.m.offset_seconds if t.tz is None else 0
        return _columnar.instants(v, valid, off, _UNITS[t.unit], shift, out) == -1

    def convert(self, batch, wanted, where: str, first: int, plain: bool = True, rows=None):
        """The events of a record batch of the columns ``wanted`` (:meth:`columns_read`), its
        bad records rejected at ``"{where}, row {first + i}"`` (``plain=False``: the batch is
        known not to be plain; ``rows``: the row of each record, when not 0, 1, 2...)."""
        n = batch.num_rows
        if n == 0:
            return
        plain = self._plain(batch, wanted) if self.fast and plain else None
        if plain is not None:               # every value in its plain form: no normaliser
            self.stats.records += n
            self.stats.accepted += n
            cols, home = plain              # memory of a pool: the consumer hands it back
            yield EventBatch(cols, source=self.name, reusable=True, home=home)
            return
        long_rows = _too_long(batch) if rows is None else None
        if long_rows is not None:           # as the CSV reader: rejected before any field
            self.stats.records += len(long_rows)
            for i in long_rows:
                self.bad.reject(self.name, TOO_LONG, f"longer than {MAX_RECORD:,} bytes",
                                line=f"{where}, row {first + int(i)}", field=None,
                                record=",".join(_cut(c, int(i)) for c in batch.columns))
            keep = np.setdiff1d(np.arange(n), long_rows)
            yield from self.convert(batch.take(pa.array(keep)), wanted, where, first, False,
                                    keep)
            return
        rows = np.arange(n) if rows is None else rows
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
                            line=f"{where}, row {first + int(rows[i])}", field=col,
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
        unit = _UNITS[arr.type.unit]
        if arr.type.tz is None and self.m.timezone:
            arr = pc.assume_timezone(arr, self.m.timezone, ambiguous="earliest",
                                     nonexistent="earliest")
        raw = _np(arr.cast(pa.int64()), 0)
        sec = np.floor_divide(raw, unit)
        if arr.type.tz is None and not self.m.timezone:
            sec = sec - self.m.offset_seconds
        return sec.astype(np.int64), _isnull(arr)


class _OrcStripes:
    """``read(i, cols)``: the record batches of stripe i of an ORC file, in order (i = 0, 1,
    ...), streamed by Arrow's ORC scanner in batches of ``rows`` (``ORCFile.read_stripe``
    decodes a whole stripe at once: twice the CPU, and a stripe's worth of memory); the
    stripes' row counts come from reading each stripe's narrowest column alone."""

    def __init__(self, of, source, rows: int):
        self.of, self.source, self.rows = of, source, rows
        self.it, self.rest = None, None

    def _cheapest(self, cols):
        schema = self.of.schema
        fixed = [c for c in cols if pa.types.is_integer(schema.field(c).type)
                 or pa.types.is_timestamp(schema.field(c).type)]
        return (fixed or cols)[0]

    def read(self, i, cols):
        if self.it is None:
            import pyarrow.dataset as ds  # lazy: only for ORC input
            from pyarrow import fs  # lazy: only for ORC input
            one = self._cheapest(cols)
            self.counts = [self.of.read_stripe(k, columns=[one]).num_rows
                           for k in range(self.of.nstripes)]
            local = isinstance(self.source, (str, os.PathLike))
            fragment = ds.OrcFileFormat().make_fragment(
                os.fspath(self.source) if local else self.source,
                filesystem=fs.LocalFileSystem() if local else None)
            self.it = iter(fragment.to_batches(columns=cols, batch_size=self.rows,
                                               use_threads=False))
        need = self.counts[i]
        while need > 0:
            b = self.rest if self.rest is not None else next(self.it, None)
            self.rest = None
            if b is None:
                raise pa.ArrowInvalid(f"stripe {i} ends early")
            if b.num_rows > need:
                b, self.rest = b.slice(0, need), b.slice(need)
            need -= b.num_rows
            if b.num_rows:
                yield b


TOO_LONG = REASONS[_csvread.REASON_TOO_LONG]
_UNITS = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}
POOL = 4                        # batches handed back and kept for refilling (as csvread)
READ_ROWS = 1 << 16             # rows of a read batch: its Arrow buffers stay in the caches
#: local Parquet files are decoded by the page kernels (``parquet_pages``) where they can be
PAGES = True
#: (field, event column) of the fast path
FIELDS = (("record_type", "rtype"), ("start_time", "time"), ("imsi", "imsi"), ("imei", "imei"),
          ("msisdn", "msisdn"), ("other_party", "other"), ("duration_s", "duration"),
          ("cell_id", "cell"))
#: Arrow decodes the file in a thread of its own (a queue of 2 read batches) while this one
#: converts (when the process may use two cores or more)
DECODE_THREAD = True


def _too_long(batch):
    """Rows of a batch whose values take more than MAX_RECORD bytes together (the CSV reader's
    "record too long": no field can be that long), or None."""
    total = None
    for arr in batch.columns:
        t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
        if arr.nbytes <= MAX_RECORD or not (
                pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t)
                or pa.types.is_large_binary(t) or t == STRING_VIEW):
            continue
        if pa.types.is_dictionary(arr.type):
            idx = _np(arr.indices.cast(pa.int64()), -1)
            lens = np.append(_np(pc.binary_length(arr.dictionary), 0).astype(np.int64), 0)
            size = lens[idx]                            # a null index (-1): the 0 appended
        else:
            size = _np(pc.binary_length(arr), 0).astype(np.int64)
        total = size if total is None else total + size
    if total is None or not (total > MAX_RECORD).any():
        return None
    return np.flatnonzero(total > MAX_RECORD)


def _cut(arr, i: int) -> str:
    """Value i of a column as text, cut to RECORD_CHARS bytes (a rejected record's field)."""
    v = arr.slice(i, 1)
    t = v.type
    if pa.types.is_dictionary(t):
        v = v.cast(t.value_type)
    if not (pa.types.is_binary(v.type) or pa.types.is_large_binary(v.type)):
        v = v.cast(pa.large_string()).cast(pa.large_binary())
    v = pc.binary_slice(v, 0, RECORD_CHARS)[0].as_py()
    return "" if v is None else v.decode("utf-8", "backslashreplace")


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
