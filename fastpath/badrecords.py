"""The one bad-record policy of every reader, and the rejects file.

pandas maps ``on_bad_lines`` onto one code path; so does simbox: every reader
(CSV, BER, pcap/pcapng, and any new one) reports a bad record with one call,
:meth:`BadRecords.reject`, giving a ``(reason, detail)`` pair and where it was.
The policy then, always in this order:

1. counts it: ``stats.rejected[reason] += 1`` (``reason`` is a short fixed text,
   the key of the counts and the ``reason`` column of the rejects file);
2. writes it to the rejects file (when there is one): file, line, byte offset,
   field, reason, detail, the record (cut to :data:`RECORD_CHARS` characters);
3. with ``on_bad_records="error"``, raises :class:`simbox.errors.ParseError`
   (one line: ``file:line (byte N): field 'f': reason (detail)``, long values cut).

Readers count the records they see (``stats.records``) themselves.
"""
from __future__ import annotations

import csv
import io
import os
import threading

from simbox.errors import ConfigError, ParseError, shorten

__all__ = ["BadRecords", "RejectsWriter", "check_policy", "BAD_RECORD_POLICIES",
           "REJECTS_COLUMNS", "RECORD_CHARS"]

REJECTS_COLUMNS = ("file", "line", "byte_offset", "field", "reason", "detail", "record")
BAD_RECORD_POLICIES = ("skip", "error")
RECORD_CHARS = 2000          # a longer record is cut in the rejects file (its length is said)


def check_policy(on_bad_records: str) -> str:
    """``on_bad_records`` if it is a policy (``skip``, ``error``), else ConfigError."""
    if on_bad_records not in BAD_RECORD_POLICIES:
        raise ConfigError(f"on_bad_records must be one of {', '.join(BAD_RECORD_POLICIES)}, "
                          f"not {on_bad_records!r}")
    return on_bad_records


def _record_text(record) -> str:
    if record is None:
        return ""
    if isinstance(record, (bytes, bytearray, memoryview)):
        n = len(record)
        text = bytes(record[:RECORD_CHARS]).decode("utf-8", "backslashreplace")
        return text + f"... ({n} bytes)" if n > RECORD_CHARS else text
    record = str(record)
    if len(record) > RECORD_CHARS:
        return record[:RECORD_CHARS] + f"... ({len(record)} characters)"
    return record


class RejectsWriter:
    """Appends rejected records to a CSV file (``REJECTS_COLUMNS``), thread-safe.

    With ``path=None`` nothing is written but the counts are still kept.  The
    file is created on the first reject only, so a clean run leaves no empty
    rejects file.  Readers do not call it directly: they go through
    :class:`BadRecords`.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = os.fspath(path) if path is not None else None
        self._fh = None
        self._writer = None
        self._lock = threading.Lock()
        self.count = 0

    def write(self, file, reason, *, line=None, byte_offset=None, field=None, record=None,
              detail=None):
        self.count += 1
        if self.path is None:
            return
        row = [os.fspath(file), "" if line is None else line,
               "" if byte_offset is None else byte_offset, shorten(field) if field else "",
               reason, "" if detail is None else shorten(detail, 300), _record_text(record)]
        with self._lock:
            if self._fh is None:
                d = os.path.dirname(self.path)
                if d:
                    os.makedirs(d, exist_ok=True)
                self._fh = io.open(self.path, "w", newline="", encoding="utf-8")
                self._writer = csv.writer(self._fh)
                self._writer.writerow(REJECTS_COLUMNS)
            self._writer.writerow(row)

    def close(self):
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BadRecords:
    """The bad-record policy of one read: count, write to the rejects file, raise on ``error``.

    ``on_bad_records``: ``"skip"`` (go on with the next record) or ``"error"``
    (raise at the first).  ``rejects``: a :class:`RejectsWriter` or None (counted
    only).  ``stats``: the :class:`ReadStats` whose ``rejected`` counter is kept.
    """

    __slots__ = ("policy", "rejects", "stats", "raises")

    def __init__(self, on_bad_records: str = "skip", rejects=None, stats=None):
        from simbox.fastpath.stats import ReadStats  # lazy: stats imports this module
        self.policy = check_policy(on_bad_records)
        self.raises = self.policy == "error"
        self.rejects = rejects
        self.stats = stats if stats is not None else ReadStats()

    def reject(self, name, reason: str, detail: str | None = None, *, line=None, offset=None,
               field=None, record=None) -> None:
        """One bad record of input ``name``: ``reason`` (fixed text), ``detail`` (its numbers),
        ``line`` (1-based) and/or ``offset`` (byte offset in the content), ``field``,
        ``record`` (bytes or text, cut when written)."""
        self.stats.rejected[reason] += 1
        if self.rejects is not None:
            self.rejects.write(name, reason, line=line, byte_offset=offset, field=field,
                               record=record, detail=detail)
        if self.raises:
            raise ParseError(reason, name, line, field=field, offset=offset, detail=detail)
