"""Parquet row groups decoded page by page straight into event columns (the columnar
reader's fast path for local Parquet files; kernels: ``_parquet_pages.pxi``).

pyarrow decodes a Parquet page into an Arrow array (every string copied, offsets and
validity built, fresh memory each batch) that the ``_columnar`` kernels then read
again.  Here each wanted column chunk is read into a buffer kept from one row group to
the next, its pages are found by their headers and decompressed by Arrow's codecs
(``pyarrow.Codec``), and the kernel converts each value to its event code as it reads
the page: a dictionary page is converted once per chunk, a dictionary-encoded data page
is a gather by its indices, a PLAIN page is converted value by value.

:func:`plan` says whether a file can be read this way (flat columns of string, integer
or timestamp type, codecs Arrow has; else the reader uses pyarrow for the whole file);
:class:`RowGroup` fills event columns ``n`` rows at a time and says False at the first
value or page it cannot take (a value not in its plain form, another encoding, a
damaged page): the reader then reads the rest of that row group through pyarrow and the
normaliser, which reject what is wrong exactly as before.  Memory: the wanted column
chunks of one row group (what pyarrow reads too) and one decompressed page per column.
"""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from simbox.fastpath import _columnar

#: Parquet codec -> pyarrow codec (LZ4: the Hadoop framing or raw, the metadata cannot tell)
CODECS = {"UNCOMPRESSED": None, "SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd",
          "BROTLI": "brotli", "LZ4_RAW": "lz4_raw"}
PHYSICAL = {"BYTE_ARRAY": _columnar.PQ_BYTE_ARRAY, "INT32": _columnar.PQ_INT32,
            "INT64": _columnar.PQ_INT64}
DICTIONARY_PAGE, DATA_PAGE, INDEX_PAGE, DATA_PAGE_V2 = 2, 0, 1, 3
_UNITS = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}


class Field:
    """How one event column comes from one file column: ``key`` (the event column),
    ``index`` (the file's leaf column), and the kernel's ``PageColumn`` arguments; for a
    record type or cell column, ``codes`` = (``build(list of str) -> (codes, bad)`` for its
    dictionary pages, ``strings(array, out) -> bool`` for its PLAIN pages: ``out`` = the
    codes of an Arrow string array, False at a bad one)."""

    def __init__(self, key, index, mode, physical, max_def, rule=None, unit=1, shift=0,
                 null_ok=False, null_value=0, codes=None):
        self.key, self.index = key, index
        self.codes, self.strings = codes if codes is not None else (None, None)
        self.args = (mode, physical, max_def, rule, unit, shift, null_ok, null_value)


def plan(pf, fields, m):
    """The :class:`Field` of each event column of a ``pyarrow.parquet.ParquetFile`` whose
    columns are ``fields`` (event key -> (column name or None, rule, codes); the rule of a
    record type or cell column: (null_ok, null_value), its codes: :class:`Field`'s), or None when
    one cannot be read by the kernels (a nested or repeated column, another type, a codec
    Arrow lacks, a time without zone read in an IANA zone)."""
    schema, arrow = pf.schema, pf.schema_arrow
    leaves = {schema.column(j).path: j for j in range(len(schema))}
    meta = pf.metadata
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        for j in range(rg.num_columns):
            if rg.column(j).compression not in CODECS:
                return None
    out = []
    for key, (name, rule, build) in fields.items():
        if name is None:
            continue
        j = leaves.get(name)
        if j is None or arrow.get_field_index(name) < 0:
            return None
        col = schema.column(j)
        t = arrow.field(name).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        phys = PHYSICAL.get(col.physical_type)
        if phys is None or col.max_repetition_level != 0 or col.max_definition_level > 1:
            return None
        max_def = col.max_definition_level
        text = pa.types.is_string(t) or pa.types.is_large_string(t)
        if build is not None:                           # record type, cell: codes
            if not text:
                return None
            null_ok, null_value = rule
            out.append(Field(key, j, _columnar.PQ_CODES, phys, max_def, null_ok=null_ok,
                             null_value=null_value, codes=build))
        elif text:
            out.append(Field(key, j, _columnar.PQ_TEXT, phys, max_def, rule))
        elif pa.types.is_timestamp(t):
            if rule[0] != _columnar.ISO or phys != _columnar.PQ_INT64 or (
                    t.tz is None and m.timezone):
                return None
            out.append(Field(key, j, _columnar.PQ_INSTANT, phys, max_def, unit=_UNITS[t.unit],
                             shift=m.offset_seconds if t.tz is None else 0))
        elif pa.types.is_integer(t) and rule[0] != _columnar.ISO:
            out.append(Field(key, j, _columnar.PQ_INT, phys, max_def, rule))
        else:
            return None
    return out


class Chunks:
    """The buffers of one file's column chunks, kept from one row group to the next."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY)
        self.bufs = {}
        self.scratch = {}       # event key -> int64 values of a column narrower than int64

    def read(self, index: int, offset: int, size: int):
        buf = self.bufs.get(index)
        if buf is None or len(buf) < size:      # a quarter more: the next chunk may be larger
            buf = self.bufs[index] = np.empty(max(size + size // 4, 1 << 16), np.uint8)
        view = memoryview(buf)[:size]
        got = os.preadv(self.fd, [view], offset) if size else 0
        return view[:got]

    def scratch_of(self, key: str, n: int):
        buf = self.scratch.get(key)
        if buf is None or len(buf) < n:
            buf = self.scratch[key] = np.empty(n, np.int64)
        return buf[:n]

    def close(self):
        os.close(self.fd)
        self.bufs, self.scratch = {}, {}


class _Pages:
    """One column chunk's pages, fed to its kernel (``PageColumn``) as they are needed."""

    def __init__(self, field, data, codec):
        self.field, self.data, self.codec = field, data, codec
        self.col = _columnar.PageColumn(*field.args)
        self.pos = 0
        self.h = np.empty(_columnar.HEADER_SLOTS, np.int64)

    def _expand(self, body, size: int):
        if self.codec is None:
            return body
        return np.frombuffer(self.codec.decompress(body, decompressed_size=size, asbytes=False),
                             np.uint8)

    def next_page(self) -> bool:
        """Start the chunk's next data page (converting a dictionary page on the way); False
        at the chunk's end, a damaged page or one the kernel cannot read."""
        h = self.h
        while True:
            n = _columnar.page_header(self.data, self.pos, h)
            if n < 0:
                return False
            start = self.pos + n
            size = int(h[_columnar.H_PAGE_COMPRESSED])
            if start + size > len(self.data):
                return False
            body = self.data[start:start + size]
            self.pos = start + size
            kind, count = int(h[_columnar.H_PAGE_TYPE]), int(h[_columnar.H_PAGE_VALUES])
            full = int(h[_columnar.H_PAGE_UNCOMPRESSED])
            if kind == DICTIONARY_PAGE:
                page = self._expand(body, full)
                if self.field.codes is None:
                    if not self.col.dictionary(page, count):
                        return False
                    continue
                values = _columnar.byte_arrays(page, count)
                if values is None:
                    return False
                try:
                    text = [v.decode("utf-8") for v in values]
                except UnicodeDecodeError:
                    return False
                codes, bad = self.field.codes(text)
                self.col.set_table(np.ascontiguousarray(codes, np.int64),
                                   np.ascontiguousarray(bad, np.uint8))
                continue
            if kind == DATA_PAGE:
                if not self.col.page(None, self._expand(body, full), count,
                                     int(h[_columnar.H_PAGE_ENCODING])):
                    return False
            elif kind == DATA_PAGE_V2:
                rep, dfn = int(h[_columnar.H_PAGE_REP_BYTES]), int(h[_columnar.H_PAGE_DEF_BYTES])
                if rep > 0 or dfn < 0 or dfn > size:
                    return False
                values = body[dfn:]
                if h[_columnar.H_PAGE_IS_COMPRESSED] != 0:
                    values = self._expand(values, full - dfn)
                if not self.col.page(body[:dfn] if self.field.args[2] else None, values,
                                     count, int(h[_columnar.H_PAGE_ENCODING])):
                    return False
            elif kind == INDEX_PAGE:
                continue
            else:
                return False
            if count > 0:
                return True

    def take(self, out, n: int) -> bool:
        """OUT out[:n]: the chunk's next n values; False as soon as one is not plain."""
        k = 0
        while k < n:
            if self.col.left == 0 and not self.next_page():
                return False
            if self.col.plain_codes:
                got = self._strings(out[k:], n - k)
            else:
                got = self.col.take(out[k:], n - k)
            if got < 0:
                return False
            k += got
        return True


    def _strings(self, out, n: int) -> int:
        """The codes of the next values of a record type or cell column's PLAIN page (a
        dictionary that overflowed, or none), through the reader's ``strings``; -1 at a bad
        one."""
        k = min(n, self.col.left)
        offsets, valid = np.empty(k + 1, np.int32), np.empty(k, np.uint8)
        data = np.empty(self.col.plain_bytes, np.uint8)
        if self.col.strings(k, offsets, data, valid) < 0:
            return -1
        arr = pa.Array.from_buffers(pa.string(), k, [
            None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little")),
            pa.py_buffer(offsets), pa.py_buffer(data)])
        try:
            arr.validate(full=True)                 # UTF-8
        except pa.ArrowInvalid:
            return -1
        return k if self.field.strings(arr, out[:k]) else -1


class RowGroup:
    """Row group ``g`` of a file (its wanted column chunks read through ``chunks``), filled
    into event columns by :meth:`fill`; with ``pool`` (an executor of one thread), half of
    the columns (by compressed bytes) are decoded there beside the others (the kernels and
    Arrow's codecs release the GIL)."""

    def __init__(self, meta, g: int, fields, chunks: Chunks, pool=None):
        rg = meta.row_group(g)
        self.rows = rg.num_rows
        self.pool, self.chunks = pool, chunks
        pages, sizes = [], []
        for f in fields:
            c = rg.column(f.index)
            start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
            if start is None or start < 0:
                start = c.data_page_offset
            codec = CODECS[c.compression]
            pages.append(_Pages(f, chunks.read(f.index, start, c.total_compressed_size),
                                None if codec is None else pa.Codec(codec)))
            sizes.append(c.total_uncompressed_size)
        self.halves = [pages, []]
        if pool is not None:                    # largest first, each to the lighter half
            load = [0, 0]
            self.halves = [[], []]
            for i in sorted(range(len(pages)), key=lambda i: -sizes[i]):
                h = 0 if load[0] <= load[1] else 1
                self.halves[h].append(pages[i])
                load[h] += sizes[i]

    def fill(self, out: dict, n: int) -> bool:
        """OUT the next ``n`` rows of each planned event column of ``out`` (arrays of at
        least n rows); False when one of them cannot be read here (``out`` is then partly
        written, and the row group must be read another way from the same row on)."""
        scratch = {p.field.key: self.chunks.scratch_of(p.field.key, n) for half in self.halves
                   for p in half if out[p.field.key].dtype != np.int64}
        if self.pool is None or not self.halves[1]:
            return _fill(self.halves[0], out, n, scratch)
        other = self.pool.submit(_fill, self.halves[1], out, n, scratch)
        try:
            mine = _fill(self.halves[0], out, n, scratch)
        finally:
            theirs = other.result()
        return mine and theirs


def _fill(pages, out: dict, n: int, scratch: dict) -> bool:
    for p in pages:
        key = p.field.key
        if key not in scratch:
            if not p.take(out[key], n):
                return False
            continue
        if not p.take(scratch[key], n):
            return False
        out[key][:n] = scratch[key]
    return True
