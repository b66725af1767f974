"""Read CDR CSV files (plain or gzip) into :class:`EventBatch` objects, streaming.

The file is read in chunks of ``chunk_bytes`` (16 MiB by default); the kernel
(``_csvread.pyx``) parses the complete records of each chunk into preallocated
columns and the rest of the chunk is carried into the next.  Bytes come from
``simbox.fastpath.bytesource`` (gzip inflated there, with ISA-L in a thread).

Bad records never stop a ``skip`` run: each is counted in ``ReadStats.rejected``
by reason and written to the rejects file with its file, line, byte offset,
field and raw text; ``on_bad_records="error"`` raises :class:`ParseError` at
the first.  Line numbers are those of the record's first line; byte offsets
are offsets in the (decompressed) text.
"""
from __future__ import annotations

import csv
import io
import logging
import threading

import numpy as np

from simbox.errors import ConfigError, EmptyInputError, InputError, shorten
from simbox.fastpath import _csvread, bytesource
from simbox.fastpath.badrecords import BadRecords
from simbox.fastpath.columns import ColumnMapping, load_mapping, no_header_message
from simbox.fastpath.events import COLUMNS, CellDict, EventBatch
from simbox.fastpath.stats import ReadStats, check_policy
from simbox.fastpath.textmap import MappedTail, MappedText
from simbox.progress import as_progress

log = logging.getLogger(__name__)


CHUNK_BYTES = 16 << 20          # text read per chunk
INFLATE_STEP = bytesource.INFLATE_STEP
MAX_RECORD = 1 << 20            # a record longer than this is rejected
MAX_HEADER = 1 << 20
RECORD_KEEP = 4096               # bytes of a rejected record kept for the rejects file
WARN_AFTER = 1000                # warn when none of the first records is accepted
POOL = 4                         # batches handed back and kept for refilling
MAP_MIN = 64 << 20               # plain files at least this big are parsed in place (mmap)
REASONS = _csvread.REASONS
TRUNCATED, CORRUPT = bytesource.TRUNCATED, bytesource.CORRUPT

_caches_lock = threading.Lock()


def _cell_cache(cells: CellDict):
    """The kernel's cache of ``cells`` (and its lock), kept on the CellDict itself: it lives
    and dies with it (a table keyed by the CellDict leaked every cache, the cache
    referring to its key: 128 KiB per read with a new CellDict)."""
    with _caches_lock:
        entry = getattr(cells, "_csv_cache", None)
        if entry is None:
            entry = cells._csv_cache = (_csvread.CellCache(cells), threading.Lock())
        return entry


def _new_columns(n):
    return {name: np.empty(n, dtype) for name, dtype in COLUMNS}


def _split_header(raw: bytes, m: ColumnMapping, name: str) -> list:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}:1: the header line is not UTF-8 text (byte 0x{raw[e.start]:02x} "
                         f"at offset {e.start}); is this a CDR CSV file?") from None
    if "\r" in text:
        raise InputError(f"{name}:1: the header line holds a carriage return (\\r); lines must "
                         "end with \\n or \\r\\n (old Mac files: convert the line ends first)")
    try:
        return next(csv.reader([text], delimiter=m.separator, quotechar=m.quote), [])
    except csv.Error as e:
        raise InputError(f"{name}:1: cannot split the header line ({e})") from None


def _header_roles(header: list, m: ColumnMapping, name: str) -> list:
    wanted = [n for f in m.columns for n in m.source_columns(f)]
    names = {h.strip().lower() for h in header}
    if not any(w.strip().lower() in names for w in wanted):
        raise InputError(no_header_message(name, m, header, wanted))
    return m.resolve(header, name)


def read_csv_events(source, *, mapping="canonical", cells: CellDict | None = None,
                    stats: ReadStats | None = None, rejects=None, on_bad_records: str = "skip",
                    chunk_rows: int = 1_000_000, chunk_bytes: int = CHUNK_BYTES,
                    progress=None, name: str | None = None):
    """Iterate over the :class:`EventBatch` objects of one CDR CSV file (plain or gzip).

    ``source`` is a path, ``"-"`` (standard input), a binary file object or a
    :class:`~simbox.fastpath.bytesource.ByteSource`; ``mapping`` a profile name,
    profile file path or :class:`ColumnMapping`; ``cells`` the run's CellDict;
    ``stats`` a :class:`ReadStats` the counts are added to; ``rejects`` a
    :class:`RejectsWriter` or None; ``progress(advance_bytes, total=bytes)`` is
    called as the file is consumed.  Batches hold at most ``chunk_rows`` rows.

    Raises :class:`EmptyInputError` for a file without records,
    :class:`InputError` for a missing or unusable header, and, with
    ``on_bad_records="error"``, :class:`ParseError` at the first bad record.
    """
    m = load_mapping(mapping)
    if m.engine == "profile":           # what the kernel cannot express (profile_read.py)
        # lazy: pyarrow (~130 ms), only for the profiles the kernel cannot read
        from simbox.fastpath.profile_read import read_profiled_events  # lazy: pyarrow engine, only for profiled layouts
        return read_profiled_events(source, mapping=m, cells=cells, stats=stats, rejects=rejects,
                                    on_bad_records=on_bad_records, chunk_rows=chunk_rows,
                                    progress=progress, name=name)
    check_policy(on_bad_records)
    if int(chunk_rows) < 1 or int(chunk_bytes) < 1:
        raise ConfigError(f"chunk_rows and chunk_bytes must be positive, not {chunk_rows} "
                          f"and {chunk_bytes}")
    return _Reader(source, m, cells if cells is not None else CellDict(),
                   stats if stats is not None else ReadStats(), rejects, on_bad_records,
                   int(chunk_rows), int(chunk_bytes), progress, name).batches()


class _Reader:
    def __init__(self, source, m, cells, stats, rejects, policy, chunk_rows, chunk_bytes,
                 progress, name):
        self.source, self.m, self.cells, self.stats = source, m, cells, stats
        self.rejects, self.policy, self.chunk_rows = rejects, policy, chunk_rows
        self.chunk_bytes, self.progress, self.name = chunk_bytes, as_progress(progress), name
        self.header = []
        self._seen = (0, 0, 0)
        self._raw_seen = 0
        self._mapped_pos = 0
        self._warned = False
        self._pool = []          # column dicts of batches handed back (EventBatch.recycle)
        self.bad = BadRecords(policy, rejects, stats)

    def _columns(self):
        try:
            return self._pool.pop()
        except IndexError:
            return _new_columns(self.chunk_rows)

    def _take_back(self, cols):
        if len(cols["time"]) == self.chunk_rows and len(self._pool) < POOL:
            self._pool.append(cols)

    # ---- helpers ---------------------------------------------------------------
    def _progress(self, stream):
        now = max(stream.raw_pos, self._mapped_pos)
        adv = now - self._raw_seen
        self._raw_seen = now
        self.stats.bytes += adv
        if adv:
            self.progress(adv, total=self.size)

    def _sync_counts(self, parser):
        records, accepted, skipped, by_reason = parser.counts()
        if not self._warned and records >= WARN_AFTER and accepted == 0:
            self._warned = True
            top = max(by_reason, key=by_reason.get) if by_reason else None
            log.warning("%s: none of the first %d records was accepted (mostly: %s); is the "
                        "column profile %r the file's layout?", self.name, records,
                        REASONS[top] if top else "skipped", self.m.name)
        r0, a0, s0 = self._seen
        self.stats.records += records - r0
        self.stats.accepted += accepted - a0
        self.stats.skipped += skipped - s0
        self._seen = (records, accepted, skipped)

    def _reject(self, reason, line, offset, field, record, detail):
        self.bad.reject(self.name, reason, detail, line=line, offset=offset, field=field,
                        record=record)

    def _flush(self, parser, buf, base):
        for reason, col, line, rs, re_, fs, fe, aux in parser.take_rejects():
            text = REASONS[reason]
            record = bytes(buf[rs:min(re_, rs + RECORD_KEEP)])
            field = self.header[col] if col >= 0 else None
            if reason == _csvread.REASON_FIELD_COUNT:
                detail = f"expected {len(self.header)} fields, saw {aux}"
            elif reason == _csvread.REASON_UTF8:
                detail = f"byte 0x{buf[rs + aux]:02x} at offset {aux} of the record"
            elif reason == _csvread.REASON_QUOTE:
                detail = ('a quoted field must be closed by a quote followed by the separator '
                          'or the line end; a quote inside it is written ""')
            elif reason == _csvread.REASON_TOO_LONG:
                # the same words however the record fell into buffers (its end may be unread)
                detail = f"longer than {MAX_RECORD:,} bytes"
            else:
                detail = f"value {shorten(bytes(buf[fs:min(fe, fs + 64)]))!r}" if fe - fs <= 40 \
                    else f"value '{shorten(bytes(buf[fs:fs + 41]))[:40]}... ({fe - fs} bytes)'"

            self._reject(text, line, base + rs, field, record, detail)

    # ---- the read --------------------------------------------------------------
    def batches(self):
        src = bytesource.open_source(self.source, self.name, what="a CSV file")
        self.name, self.size = src.name, src.size
        try:
            yield from self._batches(src)
        finally:
            src.close()

    def _batches(self, stream):
        m, stats = self.m, self.stats
        stats.files += 1
        buf = bytearray(self._buffer_bytes(stream))
        have, eof = 0, False
        # the header line
        while True:
            with memoryview(buf) as mv:
                k = stream.readinto(mv[have:])
            self._progress(stream)
            have += k
            nl = buf.find(b"\n", 0, have)
            if nl >= 0:
                break
            if k == 0:
                eof = True
                nl = have
                break
            if have == len(buf):
                if have >= MAX_HEADER:
                    raise InputError(f"{self.name}:1: no line end in the first {MAX_HEADER:,} "
                                     "bytes; is this a CDR CSV file?")
                buf.extend(bytes(len(buf)))
        if have == 0 or (eof and not bytes(buf[:have]).strip(b"\xef\xbb\xbf \t\r\n")):
            if stream.problem:
                raise InputError(f"{self.name}: {stream.problem[0]} ({stream.problem[1]}) "
                                 "before the header line")
            raise EmptyInputError(f"{self.name}: empty file (no header line, no records)")
        self.header = _split_header(bytes(buf[:nl]), m, self.name)
        roles = _header_roles(self.header, m, self.name)
        cache, lock = _cell_cache(self.cells)
        kind, ops, args = m.time_program()
        parser = _csvread.Parser(
            len(self.header), roles, ord(m.separator), ord(m.quote), kind, ops, args,
            m.offset_seconds, m.code_table(), m.float_numbers, self.policy == "error",
            MAX_RECORD, cache)
        pos = min(nl + 1, have)
        base = 0
        mapped = self._map(stream, pos, have, eof)
        if mapped is not None:                     # parse the file's text in place, a window
            buf, have = mapped.mm, min(mapped.cut, pos + self.chunk_bytes)   # at a time
        cols = self._columns()
        out_n = 0
        while True:
            final = eof and stream.problem is None
            with lock:
                pos, out_n, status = parser.parse(
                    buf, pos, have, final, cols["rtype"], cols["time"], cols["imsi"],
                    cols["imei"], cols["msisdn"], cols["other"], cols["duration"],
                    cols["cell"], out_n)
            self._sync_counts(parser)
            self._flush(parser, buf, base)
            if mapped is not None and buf is mapped.mm:
                self._mapped_pos = pos
                self._progress(stream)
            if status == _csvread.OUT_FULL:
                yield EventBatch(cols, source=self.name, reusable=True, home=self._take_back)
                if mapped is not None and buf is mapped.mm:
                    mapped.drop(pos)
                cols = self._columns()
                out_n = 0
                continue
            if status == _csvread.REJECTS_READY:
                continue
            if eof:
                break
            if mapped is not None and buf is mapped.mm and have < mapped.cut:
                # the next window (pages behind are dropped: a long record is not kept)
                mapped.drop(pos)
                have = min(mapped.cut, have + self.chunk_bytes)
                continue
            if mapped is not None and buf is mapped.mm:
                # the mapped part is parsed: the rest goes through a buffer, read from the map
                buf = bytearray(max(self.chunk_bytes, 64))
                base, have = pos, 0
                stream = MappedTail(mapped, pos)
                pos = 0
            # carry the incomplete record over and read more
            if pos > 0:
                buf[:have - pos] = buf[pos:have]
                base += pos
                have -= pos
                pos = 0
            if have == len(buf):
                buf.extend(bytes(len(buf)))
            with memoryview(buf) as mv:
                k = stream.readinto(mv[have:])
            self._progress(stream)
            have += k
            eof = k == 0
        if stream.problem is not None:
            reason, detail = stream.problem
            stats.records += 1          # the record cut by the end of the stream (maybe empty)
            if out_n:
                yield self._last_batch(cols, out_n)
                out_n = 0
            self._reject(reason, parser.line, base + pos, None, bytes(buf[pos:have]), detail)
        if out_n:
            yield self._last_batch(cols, out_n)
        if parser.records == 0 and stream.problem is None:
            raise EmptyInputError(f"{self.name}: no records after the header line")

    def _buffer_bytes(self, stream) -> int:
        """The read buffer's first size: a chunk, or a plain file's whole text when that
        is smaller (the buffer is zeroed when made: 16 MiB for each 40,000-row drop file of
        a watch cost as much as parsing it; the buffer still grows for a longer record)."""
        if self.size is not None and stream.mappable() is not None:
            return max(min(self.chunk_bytes, self.size + 1), 64)
        return max(self.chunk_bytes, 64)

    def _map(self, stream, pos, have, eof):
        """A :class:`MappedText` of a big plain file whose header was read, else None."""
        f = stream.mappable()
        if eof or f is None or self.size is None or self.size < MAP_MIN or self.size < have:
            return None
        try:
            mapped = MappedText(f, self.size)
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        if mapped.cut <= pos:
            mapped.close()
            return None
        return mapped

    def _last_batch(self, cols, n):
        if n < self.chunk_rows // 2:
            cols = {k: v[:n].copy() for k, v in cols.items()}
        else:
            cols = {k: v[:n] for k, v in cols.items()}
        return EventBatch(cols, source=self.name, reusable=True, home=self._take_back)
