"""Read CDR CSV files (plain or gzip) into :class:`EventBatch` objects, streaming.

The file is read in chunks of ``chunk_bytes`` (16 MiB by default); the kernel
(``_csvread.pyx``) parses the complete records of each chunk into preallocated
columns and the rest of the chunk is carried into the next.  Gzip is inflated
with ISA-L (``isal``), falling back to ``zlib`` when it is missing.

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
import os
import queue
import threading
import weakref
import zlib

import numpy as np

from simbox.errors import ConfigError, EmptyInputError, InputError, ParseError
from simbox.fastpath import _csvread
from simbox.fastpath.columns import ColumnMapping, load_mapping, no_header_message
from simbox.fastpath.events import COLUMNS, CellDict, EventBatch
from simbox.fastpath.machine import usable_cores
from simbox.fastpath.stats import ReadStats, check_policy
from simbox.fastpath.textmap import Exhausted, MappedText
from simbox.progress import as_progress

log = logging.getLogger(__name__)


class ZlibDecompressor:
    """The ``isal.igzip_lib.IgzipDecompressor`` interface over ``zlib`` (the fallback)."""

    def __init__(self):
        self._d = zlib.decompressobj(31)
        self.needs_input = True

    def decompress(self, data, max_length):
        out = self._d.decompress(self._d.unconsumed_tail + data, max_length)
        # output cut at max_length may leave more to come from the same input
        self.needs_input = not self._d.unconsumed_tail and len(out) < max_length
        return out

    @property
    def eof(self):
        return self._d.eof

    @property
    def unused_data(self):
        return self._d.unused_data


try:  # ISA-L inflate is ~4x faster than zlib
    from isal import igzip_lib as _igzip

    def isal_decompressor():
        return _igzip.IgzipDecompressor(flag=_igzip.DECOMP_GZIP)

    _decompressor = isal_decompressor
    _GZIP_ERRORS = (_igzip.IsalError, zlib.error, EOFError)
except ImportError:  # pragma: no cover - isal is a dependency
    _decompressor = ZlibDecompressor
    _GZIP_ERRORS = (zlib.error, EOFError)

GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 16 << 20          # text read per chunk
RAW_CHUNK = 4 << 20             # compressed bytes read per inflate step
INFLATE_STEP = 128 << 10        # inflated bytes per call (a corrupt stream loses at most this)
PREFETCH_PIECES = 32               # inflated pieces the thread may run ahead


#: inflate in a background thread when there is a second core to run it (on one
#: core the thread only adds hand-overs: measured 30% slower)
THREADED_INFLATE = usable_cores() > 1
MAX_RECORD = 1 << 20            # a record longer than this is rejected
MAX_HEADER = 1 << 20
WARN_AFTER = 1000                # warn when none of the first records is accepted
POOL = 4                         # batches handed back and kept for refilling
MAP_MIN = 64 << 20               # plain files at least this big are parsed in place (mmap)
REASONS = _csvread.REASONS
TRUNCATED = "truncated gzip"
CORRUPT = "corrupt gzip"

_caches = weakref.WeakKeyDictionary()   # CellDict -> (CellCache, lock)
_caches_lock = threading.Lock()


def _cell_cache(cells: CellDict):
    with _caches_lock:
        entry = _caches.get(cells)
        if entry is None:
            entry = _caches[cells] = (_csvread.CellCache(cells), threading.Lock())
        return entry


# ---- byte sources --------------------------------------------------------------

class _PlainSource:
    """Text bytes of an uncompressed file; ``fill`` works like ``readinto``."""

    problem = None

    def __init__(self, f, head: bytes):
        self.f = f
        self.head = head
        self.raw_pos = 0

    def fill(self, mv) -> int:
        if self.head:
            n = min(len(mv), len(self.head))
            mv[:n] = self.head[:n]
            self.head = self.head[n:]
            self.raw_pos += n
            return n
        readinto = getattr(self.f, "readinto", None)
        if readinto is not None:
            n = readinto(mv) or 0
        else:
            data = self.f.read(len(mv)) or b""
            n = len(data)
            mv[:n] = data
        self.raw_pos += n
        return n


class _GzipSource:
    """Inflated text of a gzip file (several members allowed); ``fill`` like ``readinto``.

    At the end ``problem`` is None, or ``(reason, detail)`` when the stream is
    truncated or corrupt; the text before the problem has been delivered.  With
    ``threaded`` the file is read and inflated one step ahead in a thread (ISA-L
    releases the GIL), so inflating overlaps parsing on a second core.
    """

    def __init__(self, f, head: bytes, threaded: bool = False):
        self.f = f
        self.head = head
        self.raw_pos = 0            # compressed bytes consumed (as seen by the reader)
        self.problem = None
        self._raw = 0               # compressed bytes read by the inflater
        self._problem = None
        self._cur, self._off = b"", 0
        self._thread = None
        self._it = self._threaded() if threaded else self._sync()

    def _read(self) -> bytes:
        if self.head:
            data, self.head = self.head, b""
        else:
            data = self.f.read(RAW_CHUNK) or b""
        self._raw += len(data)
        return data

    def _inflate(self):
        """Yield the text in pieces of at most INFLATE_STEP bytes; set _problem at the end."""
        d, feed = _decompressor(), b""
        while True:
            if d.eof:
                tail = d.unused_data or self._read()
                if not tail:
                    return
                if tail[:2] == GZIP_MAGIC or tail == GZIP_MAGIC[:1]:
                    d, feed = _decompressor(), tail          # the next member
                    continue
                while tail and not tail.strip(b"\0"):
                    tail = self._read()                      # zero padding is allowed
                if tail:
                    self._problem = (CORRUPT, "bytes that are not gzip follow the compressed "
                                              "stream")
                return
            if d.needs_input:
                data, feed = feed or self._read(), b""
                if not data:
                    self._problem = (TRUNCATED, "the file ends inside the compressed stream, "
                                                "before the gzip end marker")
                    return
            else:
                data = b""
            try:
                out = d.decompress(data, INFLATE_STEP)
            except _GZIP_ERRORS as e:
                self._problem = (CORRUPT, f"inflate failed: {e}")
                return
            if out:
                yield out

    def _sync(self):
        for piece in self._inflate():
            self.raw_pos = self._raw
            yield piece
        self.raw_pos, self.problem = self._raw, self._problem

    def _threaded(self):
        q = queue.Queue(PREFETCH_PIECES)
        stop = threading.Event()

        def put(item):
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    pass
            return False

        def work():
            try:
                for piece in self._inflate():
                    if not put((piece, self._raw)):
                        return
                put((None, self._raw))
            except BaseException as e:       # re-raised in the reading thread
                put((e, self._raw))

        self._stop = stop
        self._thread = threading.Thread(target=work, name="simbox-inflate", daemon=True)
        self._thread.start()
        while True:
            piece, self.raw_pos = q.get()
            if piece is None:
                self.problem = self._problem
                return
            if isinstance(piece, BaseException):
                raise piece
            yield piece

    def fill(self, mv) -> int:
        n, w = len(mv), 0
        while w < n:
            if self._off == len(self._cur):
                piece = next(self._it, None)
                if piece is None:
                    break
                self._cur, self._off = piece, 0
            k = min(n - w, len(self._cur) - self._off)
            mv[w:w + k] = memoryview(self._cur)[self._off:self._off + k]
            self._off += k
            w += k
        return w

    def close(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


def _open(source, name):
    """(binary file object, display name, size or None, owned)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not a CSV file") from None
        except OSError as e:
            raise InputError(f"{path}: cannot open it ({e.strerror})") from None
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError:
            size = None
        return f, name or path, size, True
    if not hasattr(source, "read"):
        raise InputError(f"cannot read CSV from a {type(source).__name__}: "
                         "give a path or a binary file object")
    if isinstance(source, io.TextIOBase):
        if hasattr(source, "buffer"):
            source = source.buffer
        else:
            source = io.BytesIO(source.read().encode("utf-8"))
    disp = name or getattr(source, "name", None)
    if not isinstance(disp, (str, bytes, os.PathLike)):
        disp = "<stream>"
    return source, os.fsdecode(disp), None, False


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

    ``source`` is a path or a binary file object; ``mapping`` a profile name,
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
        from simbox.fastpath.profile_read import read_profiled_events
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
        self._warned = False
        self._pool = []          # column dicts of batches handed back (EventBatch.recycle)

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
        adv = stream.raw_pos - self._raw_seen
        self._raw_seen = stream.raw_pos
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
        self.stats.rejected[reason] += 1
        if self.rejects is not None:
            self.rejects.write(self.name, reason, line=line, byte_offset=offset, field=field,
                               record=record)
        if self.policy == "error":
            raise ParseError(reason, self.name, line, field=field, detail=detail)

    def _flush(self, parser, buf, base):
        for reason, col, line, rs, re_, fs, fe, aux in parser.take_rejects():
            text = REASONS[reason]
            record = bytes(buf[rs:re_])
            field = self.header[col] if col >= 0 else None
            if reason == _csvread.REASON_FIELD_COUNT:
                detail = f"expected {len(self.header)} fields, saw {aux}"
            elif reason == _csvread.REASON_UTF8:
                detail = f"byte 0x{record[aux]:02x} at offset {aux} of the record"
            elif reason == _csvread.REASON_QUOTE:
                detail = ('a quoted field must be closed by a quote followed by the separator '
                          'or the line end; a quote inside it is written ""')
            elif reason == _csvread.REASON_TOO_LONG:
                detail = f"no line end within {MAX_RECORD:,} bytes"
            else:
                value = bytes(buf[fs:fe]).decode("utf-8", "backslashreplace")
                if len(value) > 60:
                    value = value[:57] + "..."
                detail = f"value {value!r}"
            self._reject(text, line, base + rs, field, record, detail)

    # ---- the read --------------------------------------------------------------
    def batches(self):
        f, self.name, self.size, owned = _open(self.source, self.name)
        self.stream = None
        try:
            yield from self._batches(f)
        finally:
            if self.stream is not None:
                self.stream.close()
            if owned:
                f.close()

    def _batches(self, f):
        m, stats = self.m, self.stats
        head = f.read(2) or b""
        if head == GZIP_MAGIC:
            stream = self.stream = _GzipSource(f, head, threaded=THREADED_INFLATE)
        else:
            stream = _PlainSource(f, head)
        stats.files += 1
        buf = bytearray(max(self.chunk_bytes, 64))
        have, eof = 0, False
        # the header line
        while True:
            with memoryview(buf) as mv:
                k = stream.fill(mv[have:])
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
        mapped = self._map(f, stream, pos, have, eof)
        if mapped is not None:                     # parse the file's text in place
            buf, have = mapped.mm, mapped.cut
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
                stream.raw_pos = max(stream.raw_pos, pos)
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
            if mapped is not None and buf is mapped.mm:
                # the mapped part is parsed: the last records go through a buffer
                rest = mapped.size - pos
                buf = bytearray(max(self.chunk_bytes, 2 * rest, 64))
                buf[:rest] = mapped.mm[pos:]
                base, have, pos = pos, rest, 0
                mapped.close()
                stream = Exhausted(mapped.size)
                self._progress(stream)
            # carry the incomplete record over and read more
            if pos > 0:
                buf[:have - pos] = buf[pos:have]
                base += pos
                have -= pos
                pos = 0
            if have == len(buf):
                buf.extend(bytes(len(buf)))
            with memoryview(buf) as mv:
                k = stream.fill(mv[have:])
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

    def _map(self, f, stream, pos, have, eof):
        """A :class:`MappedText` of a big plain file whose header was read, else None."""
        if (eof or not isinstance(stream, _PlainSource) or self.size is None
                or self.size < MAP_MIN or self.size < have or not hasattr(f, "fileno")):
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
