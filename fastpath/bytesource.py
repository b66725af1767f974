"""One byte source for every reader: a path, ``-`` or a file object, read once, inflated.

:func:`open_source` turns what the user gave into a :class:`ByteSource`: the
content's bytes (gzip inflated with ISA-L, in a thread of its own when a second
core is usable; several members and zero padding allowed), read exactly once, so
pipes, FIFOs and standard input work.  The first bytes can be looked at without
consuming them (:meth:`ByteSource.peek`): that is how formats are sniffed.

A damaged gzip stream never loses what came before the damage: the stream just
ends, and :attr:`ByteSource.problem` is then ``(reason, detail)``
(:data:`TRUNCATED` or :data:`CORRUPT`); a reader reports it through its
bad-record policy (``simbox.fastpath.badrecords``) as one rejected record.
"""
from __future__ import annotations

import io
import os
import queue
import stat
import sys
import threading
import zlib

from simbox.errors import InputError
from simbox.fastpath.machine import usable_cores

__all__ = ["ByteSource", "open_source", "GZIP_MAGIC", "SNIFF_BYTES", "TRUNCATED", "CORRUPT",
           "STDIN", "decompressor", "GZIP_ERRORS"]

GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 4096             # the head a format is sniffed from (inflated when gzip)
STDIN = "-"                    # the name that means standard input
RAW_CHUNK = 4 << 20            # compressed bytes read per inflate step
INFLATE_STEP = 128 << 10       # inflated bytes per call (a corrupt stream loses at most this)
PREFETCH_PIECES = 32           # inflated pieces the thread may run ahead
TRUNCATED = "truncated gzip"
CORRUPT = "corrupt gzip"

#: inflate in a background thread when there is a second core to run it (on one
#: core the thread only adds hand-overs: measured 30% slower)
THREADED_INFLATE = usable_cores() > 1


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

    def decompressor():
        """A gzip decompressor with ``decompress(data, max_length)``, ``needs_input``, ``eof``."""
        return _igzip.IgzipDecompressor(flag=_igzip.DECOMP_GZIP)

    GZIP_ERRORS = (_igzip.IsalError, zlib.error, EOFError)
except ImportError:  # pragma: no cover - isal is a dependency
    decompressor = ZlibDecompressor
    GZIP_ERRORS = (zlib.error, EOFError)


class _Inflater:
    """Inflated pieces of a raw binary stream (gzip members back to back), optionally threaded."""

    def __init__(self, f, head: bytes, threaded: bool):
        self.f = f
        self.head = head
        self.raw = 0                # compressed bytes read by the inflater
        self.raw_pos = 0            # compressed bytes behind the pieces delivered
        self.problem = None         # set once the last piece is delivered
        self._problem = None
        self._thread = None
        self._stop = threading.Event()
        self.pieces = self._threaded() if threaded else self._sync()

    def _read(self) -> bytes:
        if self.head:
            data, self.head = self.head, b""
        else:
            data = self.f.read(RAW_CHUNK) or b""
        self.raw += len(data)
        return data

    def _inflate(self):
        """Yield the content in pieces of at most INFLATE_STEP bytes; set _problem at the end."""
        d, feed = decompressor(), b""
        while True:
            if d.eof:
                tail = d.unused_data or self._read()
                if not tail:
                    return
                if tail[:2] == GZIP_MAGIC or tail == GZIP_MAGIC[:1]:
                    d, feed = decompressor(), tail          # the next member
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
            except GZIP_ERRORS as e:
                self._problem = (CORRUPT, f"inflate failed: {e}")
                return
            if out:
                yield out

    def _sync(self):
        for piece in self._inflate():
            self.raw_pos = self.raw
            yield piece
        self.raw_pos, self.problem = self.raw, self._problem

    def _threaded(self):
        q = queue.Queue(PREFETCH_PIECES)
        stop = self._stop

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
                    if not put((piece, self.raw)):
                        return
                put((None, self.raw))
            except BaseException as e:       # re-raised in the reading thread
                put((e, self.raw))

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

    def close(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


class ByteSource:
    """The content of one input, read once: ``peek``, then ``readinto`` / ``read``.

    Attributes: ``name`` (for messages), ``path`` (the path opened, None for a
    stream or a file object: a random-access format such as Parquet reads it there),
    ``size`` (bytes on disk, None for a pipe or a file object), ``gzipped``, ``pos`` (content bytes delivered: the offset of
    the next byte), ``raw_pos`` (bytes of the input consumed, for progress),
    ``problem`` (None, or ``(reason, detail)`` once a damaged gzip stream has ended).
    """

    def __init__(self, f, name: str, *, size=None, owned=False, threaded=None, path=None):
        self.f = f
        self.name = name
        self.path = path              # the path opened (None: a stream or a file object)
        self.size = size
        self.owned = owned
        self.pos = 0
        self._peeked = b""            # content bytes read ahead, not yet delivered
        self._raw_plain = 0
        try:
            self._start = f.tell() if f.seekable() else None
        except (AttributeError, OSError, ValueError):
            self._start = None
        magic = self._read_raw(2)
        self.gzipped = magic == GZIP_MAGIC
        if self.gzipped:
            self._inflater = _Inflater(f, magic, THREADED_INFLATE if threaded is None else threaded)
        else:
            self._inflater = None
            self._peeked = magic
            self._raw_plain = len(magic)

    def _read_raw(self, n) -> bytes:
        out = b""
        while len(out) < n:
            data = self.f.read(n - len(out))
            if not data:
                break
            out += data
        return out

    # ---- state ----------------------------------------------------------------------
    @property
    def raw_pos(self) -> int:
        if self._inflater is not None:
            return self._inflater.raw_pos
        return self._raw_plain - len(self._peeked)

    @property
    def problem(self):
        return self._inflater.problem if self._inflater is not None else None

    def mappable(self):
        """The file to map in memory when the content is a plain regular file read from
        its start and not yet consumed past the peeked head; else None."""
        if self._inflater is not None or self._start != 0 or not hasattr(self.f, "fileno"):
            return None
        try:
            return self.f if stat.S_ISREG(os.fstat(self.f.fileno()).st_mode) else None
        except (OSError, ValueError, io.UnsupportedOperation):
            return None

    # ---- reading --------------------------------------------------------------------
    def _more(self, n: int) -> bytes:
        """At least one more content byte (up to about ``n``), b"" at the end."""
        if self._inflater is not None:
            return next(self._inflater.pieces, b"")
        data = self.f.read(n) or b""
        self._raw_plain += len(data)
        return data

    def peek(self, n: int = SNIFF_BYTES) -> bytes:
        """The next ``n`` content bytes (fewer at the end), not consumed."""
        while len(self._peeked) < n:
            data = self._more(n - len(self._peeked))
            if not data:
                break
            self._peeked += data
        return self._peeked[:n]

    def readinto(self, mv) -> int:
        """Fill ``mv`` as far as the content goes; 0 only at the end."""
        mv = memoryview(mv).cast("B")
        n, w = len(mv), 0
        while w < n:
            if not self._peeked:
                if self._inflater is None and w == 0:
                    readinto = getattr(self.f, "readinto", None)
                    if readinto is not None:
                        k = readinto(mv) or 0
                        self._raw_plain += k
                        self.pos += k
                        return k
                self._peeked = self._more(max(n - w, 1 << 16))
                if not self._peeked:
                    break
            k = min(n - w, len(self._peeked))
            mv[w:w + k] = self._peeked[:k]
            self._peeked = self._peeked[k:]
            w += k
            if self._inflater is None:
                break                  # plain: hand over what the file gave (like readinto)
        self.pos += w
        return w

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` content bytes (all the rest when ``n`` < 0); fewer only at the end."""
        if n is None or n < 0:
            parts = []
            while True:
                piece = self.read(1 << 20)
                if not piece:
                    return b"".join(parts)
                parts.append(piece)
        buf = bytearray(n)
        w = 0
        with memoryview(buf) as mv:
            while w < n:
                k = self.readinto(mv[w:])
                if not k:
                    break
                w += k
        del buf[w:]
        return bytes(buf)

    def tell(self) -> int:
        return self.pos

    def close(self):
        if self._inflater is not None:
            self._inflater.close()
        if self.owned:
            self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _display_name(source, name):
    if name is not None:
        return os.fsdecode(name)
    disp = getattr(source, "name", None)
    if isinstance(disp, (str, bytes, os.PathLike)):
        return os.fsdecode(disp)
    return "<stream>"


def open_source(source, name: str | None = None, *, threaded: bool | None = None,
                what: str = "an input file") -> ByteSource:
    """A :class:`ByteSource` of a path, ``"-"`` (standard input), a file object or a ByteSource.

    ``name`` names the input in messages (default: the path, the file's name,
    ``<stdin>`` or ``<stream>``); ``threaded`` forces (or forbids) inflating in a
    thread; ``what`` says in messages what a folder is not.  A path is opened here
    and closed with the source; a file object is left open.  A missing or
    unreadable path is an :class:`InputError`.
    """
    if isinstance(source, ByteSource):
        return source
    if isinstance(source, (str, os.PathLike)) and os.fspath(source) == STDIN:
        return ByteSource(sys.stdin.buffer, name or "<stdin>", threaded=threaded)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder, not {what}") from None
        except OSError as e:
            raise InputError(f"{path}: cannot open it ({e.strerror})") from None
        try:
            st = os.fstat(f.fileno())
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
        except OSError:
            size = None
        try:
            return ByteSource(f, name or path, size=size, owned=True, threaded=threaded,
                              path=path if size is not None else None)
        except OSError as e:
            f.close()
            raise InputError(f"{path}: cannot read it ({e.strerror or e})") from None
    if not hasattr(source, "read"):
        raise InputError(f"cannot read from a {type(source).__name__}: give a path, '-' "
                         "(standard input) or a binary file object")
    disp = _display_name(source, name)
    if isinstance(source, io.TextIOBase):
        if hasattr(source, "buffer"):
            source = source.buffer
        else:                                  # StringIO: in memory anyway
            source = io.BytesIO(source.read().encode("utf-8"))
    probe = source.read(0)
    if not isinstance(probe, (bytes, bytearray)):
        raise InputError(f"{disp}: a text file object without a binary buffer; open the "
                         "file in binary mode ('rb')")
    return ByteSource(source, disp, threaded=threaded)
