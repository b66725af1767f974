"""One entry point for every input: ``open_events`` finds the files, detects each
one's format by its content and chains the readers' event batches.

Formats are a small table of :class:`Format` entries ``(name, sniff, read)``
tried in order: ``sniff(head, gzipped)`` looks at the first bytes of the
content (inflated when the file is gzip) and ``read(source, **options)``
yields :class:`EventBatch` objects.  The table holds TS 32.297 / BER CDR
files, pcap/pcapng signaling captures and CSV (tried last); readers of other
formats add one entry each with :func:`register_format`.
"""
from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from typing import Callable

from simbox.errors import EmptyInputError, InputError
from simbox.fastpath.bytesource import SNIFF_BYTES, STDIN, open_source
from simbox.fastpath.columns import load_mapping
from simbox.fastpath.csvread import read_csv_events
from simbox.fastpath.events import CellDict
from simbox.fastpath.stats import (ReadStats, check_policy, check_share,
                                   reject_share_error)
from simbox.fastpath.window import TimeWindow
from simbox.progress import as_progress

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Format:
    """An input format: ``sniff(head: bytes, gzipped: bool) -> bool`` and a reader.

    ``read(source, *, name, columns, cells, stats, rejects, on_bad_records,
    chunk_rows, progress)`` gets a :class:`~simbox.fastpath.bytesource.ByteSource`
    (content inflated, nothing consumed yet; the caller closes it) and yields
    EventBatch objects.
    """

    name: str
    sniff: Callable[[bytes, bool], bool]
    read: Callable


def _looks_like_text(head: bytes, gzipped: bool) -> bool:
    """Text CSV: no NUL byte, and the start decodes as UTF-8 (a cut last character allowed)."""
    if not head:
        return True
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:
            # a non-UTF-8 byte: text only if it is rare (a bad row, not a binary file)
            return sum(b < 9 or 13 < b < 32 for b in head) == 0
    return True


def _read_csv(source, *, name, columns, cells, stats, rejects, on_bad_records, chunk_rows,
              progress):
    return read_csv_events(source, mapping=columns, cells=cells, stats=stats, rejects=rejects,
                           on_bad_records=on_bad_records, chunk_rows=chunk_rows,
                           progress=progress, name=name)


def _looks_like_ber(head: bytes, gzipped: bool) -> bool:
    """A TS 32.297 CDR file header, or BER CS records back to back (see fastpath/ber.py)."""
    from simbox.fastpath.ber import sniff  # lazy: ~12 ms, only for BER input
    return sniff(head) is not None


def _read_ber(source, *, name, columns, cells, stats, rejects, on_bad_records, chunk_rows,
              progress):
    from simbox.fastpath.ber import read_ber_events  # lazy: ~12 ms, only for BER input
    return read_ber_events(source, cells=cells, stats=stats, rejects=rejects,
                           on_bad_records=on_bad_records, chunk_records=chunk_rows,
                           progress=progress, name=name)


def _looks_like_capture(head: bytes, gzipped: bool) -> bool:
    """pcap (either byte order, micro- or nanosecond) or pcapng magic number."""
    from simbox.fastpath.signaling import sniff_capture  # lazy: ~9 ms, only for captures
    return sniff_capture(head, gzipped)


def _read_capture(source, **options):
    from simbox.fastpath.signaling import read_capture_format  # lazy: ~9 ms, only for captures
    return read_capture_format(source, **options)


FORMATS: list = [Format("ber", _looks_like_ber, _read_ber),
                 Format("pcap", _looks_like_capture, _read_capture),
                 Format("csv", _looks_like_text, _read_csv)]


def register_format(fmt: Format, *, before: str | None = "csv") -> None:
    """Add a format to the detection table, tried before ``before`` (None: last)."""
    if any(f.name == fmt.name for f in FORMATS):
        raise ValueError(f"format {fmt.name!r} is already registered")
    names = [f.name for f in FORMATS]
    FORMATS.insert(names.index(before) if before in names else len(FORMATS), fmt)


def _columnar(kind: str, magic: bytes) -> Format:
    """Parquet or ORC (fastpath/columnar.py): known by its magic number, never gzip."""
    def read(source, *, columns, **options):
        from simbox.fastpath.columnar import read_columnar_events  # lazy: pyarrow, only for columnar input
        return read_columnar_events(source, kind=kind, mapping=columns, **options)
    return Format(kind, lambda head, gzipped: not gzipped and head.startswith(magic), read)


# before BER, whose sniffing is a guess: a compressed ORC file's first bytes can pass for
# a TS 32.297 header, and an exact magic number cannot be mistaken
register_format(_columnar("parquet", b"PAR1"), before="ber")
register_format(_columnar("orc", b"ORC"), before="ber")


def expand_inputs(inputs) -> list:
    """Paths (folders expanded, sorted, hidden files skipped), ``-`` and file objects, in order."""
    if isinstance(inputs, (str, os.PathLike)) or hasattr(inputs, "read"):
        inputs = [inputs]
    out = []
    for item in inputs:
        if hasattr(item, "read"):
            out.append(item)
            continue
        if not isinstance(item, (str, os.PathLike)):
            raise InputError(f"cannot read events from a {type(item).__name__}: give paths, "
                             "folders or binary file objects")
        path = os.fspath(item)
        if path == STDIN:
            out.append(path)
        elif os.path.isdir(path):
            found = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
            if not found:
                raise InputError(f"{path}: the folder holds no files")
            out += found
        elif os.path.exists(path):
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    if not out:
        raise InputError("no input files given")
    return out


def _sniff(src) -> tuple:
    """(first bytes of the content, inflated when gzip; gzipped) of a ByteSource, not consumed."""
    return src.peek(SNIFF_BYTES), src.gzipped


def detect_format(source, name: str = None) -> Format:
    """The Format of a path, ``-``, binary file object or ByteSource, or InputError.

    Only the head is looked at (:meth:`ByteSource.peek`): nothing is consumed, so a
    ByteSource passed in is then read by the format's reader from its start.
    """
    src = open_source(source, name)
    try:
        head, gzipped = _sniff(src)
    except OSError as e:
        raise InputError(f"{src.name}: cannot read it ({e.strerror or e})") from None
    finally:
        if src is not source:
            src.close()
    for fmt in FORMATS:
        if fmt.sniff(head, gzipped):
            return fmt
    shown = " ".join(f"{b:02x}" for b in head[:16])
    what = "inflated content" if gzipped else "first bytes"
    raise InputError(f"{src.name}: not a CDR or capture file simbox reads ({what} {shown}); the "
                     f"formats read are {', '.join(f.name for f in FORMATS)}")


def _disk_size(item) -> int:
    """Bytes of a regular file (0 for standard input, pipes and file objects)."""
    if not isinstance(item, str) or item == STDIN:
        return 0
    try:
        st = os.stat(item)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def open_events(inputs, *, columns="canonical", on_bad_records: str = "skip", rejects=None,
                cells: CellDict | None = None, stats: ReadStats | None = None,
                chunk_rows: int = 1_000_000, progress=None,
                max_reject_share: float | None = None, window: TimeWindow | None = None):
    """Event batches of every input in turn (see docs/internals.md).

    ``inputs``: a path, folder, ``-`` (standard input) or binary file object, or a
    list of them; each is read once (pipes and FIFOs work).  A file
    without records is skipped with a warning when other inputs have records;
    :class:`EmptyInputError` when none has any.  A file rejecting more than
    ``max_reject_share`` of its records raises :class:`TooManyRejectsError` once
    read (None: no limit).  ``window`` (a :class:`TimeWindow`): events outside it are
    dropped (``stats.filtered``) and hive partition files outside it are not read
    (``stats.pruned_files``).
    """
    mapping = load_mapping(columns)
    check_policy(on_bad_records)
    max_reject_share = check_share(max_reject_share)
    items = expand_inputs(inputs)
    cells = cells if cells is not None else CellDict()
    stats = stats if stats is not None else ReadStats()
    if window is not None:
        kept = [i for i in items if not isinstance(i, str) or window.keeps_path(i)]
        stats.pruned_files += len(items) - len(kept)
        if not kept:
            raise EmptyInputError(f"no input file lies in the window {window} ({len(items)} "
                                  "partition file(s) outside it)")
        items = kept
    return _events(items, mapping, on_bad_records, rejects, cells, stats, chunk_rows, progress,
                   max_reject_share, window)


class _Files:
    """The progress of several files as one step: the total is the sum of the files'
    sizes, each file's reader advancing it; a stream (size unknown up front) adds the
    total its reader reports."""

    def __init__(self, progress, items):
        self.progress = as_progress(progress)
        self.sizes = {id(i): _disk_size(i) for i in items}    # 0: a pipe, FIFO, `-`, object
        self.total = sum(self.sizes.values())
        self.progress(0, total=self.total or None)

    def of(self, item):
        """The progress handed to the reader of ``item``."""
        counted = self.sizes.get(id(item), 0) > 0

        def advance(n=0, total=None):
            nonlocal counted
            if total is not None and not counted:
                self.total, counted = self.total + total, True
            self.progress(n, total=self.total or None)
        return advance


def _events(items, mapping, on_bad_records, rejects, cells, stats, chunk_rows, progress,
            max_reject_share=None, window=None):
    files = _Files(progress, items)
    empty = []
    for item in items:
        source = open_source(item)
        snap = stats.snapshot()
        try:
            fmt = detect_format(source)
            batches = fmt.read(source, name=source.name, columns=mapping, cells=cells, stats=stats,
                               rejects=rejects, on_bad_records=on_bad_records,
                               chunk_rows=chunk_rows, progress=files.of(item))
            if window is None:
                yield from batches
            else:
                for b in batches:
                    b = window.filter(b, stats)
                    if b is not None:
                        yield b
        except EmptyInputError as e:
            if len(items) == 1:
                raise
            log.warning("%s (skipped)", e)
            empty.append(str(e))
            continue
        finally:
            source.close()
        error = reject_share_error(source.name, *stats.since(snap), max_reject_share)
        if error is not None:
            raise error
    if empty and stats.records == 0:
        raise EmptyInputError("no records in any input: " + "; ".join(empty))
