"""Read the MSC's own CDR files: 3GPP TS 32.298 CS records, BER, in TS 32.297 files.

:func:`read_ber_events` turns files of ``moCallRecord [0]``, ``mtCallRecord [1]``,
``moSMSRecord [6]`` and ``mtSMSRecord [7]`` into the same :class:`EventBatch`
objects as the CSV reader; :func:`read_ber_records` gives every decoded field as
a DataFrame.  The field mapping, the type-of-number rule and the cell token are
in ``docs/input-formats-ber.md``.

Files are read in blocks (plain or gzip, by content), never whole.  A bad record
(truncated, a length past its container, a wrong tag, garbage bytes, a bad field)
is rejected with its file, byte offset (in the uncompressed file), field and
reason; decoding goes on with the next record, found by the CDR header length or,
when that cannot be trusted, by scanning for the next plausible record.
"""
from __future__ import annotations

import logging
import os
import pathlib
import struct

import numpy as np

from simbox.errors import EmptyInputError, InputError
from simbox.fastpath import _ber
from simbox.fastpath.badrecords import BadRecords
from simbox.fastpath.bytesource import ByteSource, open_source
from simbox.fastpath.events import COLUMNS, CellDict, EventBatch, decode_array
from simbox.fastpath.stats import ReadStats, RejectsWriter, check_policy
from simbox.progress import as_progress

log = logging.getLogger(__name__)

BLOCK_BYTES = 4 << 20     # bytes read at a time
HEAD_BYTES = 4096          # bytes read first, to sniff the layout and the file header
FILE_HEADER_MIN = 52       # TS 32.297 file header without filter, extension, release extensions
FILE_HEADER_MAX = 1 << 16

RECORD_NAMES = ("moCallRecord", "mtCallRecord", "moSMSRecord", "mtSMSRecord")

# reason strings, indexed by the kernel's reason codes (R_* in _ber.pyx)
REASONS = (
    "ok",
    "truncated file",
    "length runs past its container",
    "bad length octets",
    "indefinite length on a primitive value",
    "missing end-of-contents",
    "nesting too deep",
    "tag number too large",
    "wrong tag",
    "record length mismatch",
    "not BER",
    "wrong tag form",
    "bad BCD digit",
    "bad number of digits",
    "bad time stamp",
    "bad integer",
    "bad callDuration",
    "missing field",
    "duplicate field",
    "bad location",
    "record too long",
    "garbage bytes",
)
REASON_HEADER = "bad file header"

_OTHER = ("calledNumber", "callingNumber", "destinationNumber", "cAMELSMSInformation.callingPartyNumber")
_SMSTIME = ("seizureTime", "seizureTime", "originationTime", "deliveryTime")
_FIELDS = {
    2: "servedIMSI", 3: "servedIMEI", 4: "servedMSISDN", 6: "location",
    7: "location.locationAreaCode", 8: "location.cellId", 9: "location.mCC-MNC",
    10: "seizureTime", 11: "answerTime", 12: "releaseTime", 14: "callDuration",
    15: "causeForTerm", 16: "cAMELSMSInformation", 17: "CDR header",
}


def field_name(field: int, kind: int) -> str | None:
    """Name of a kernel field code in a record of kind ``kind`` (-1 = not known)."""
    if field == 0:
        return None
    if field == 1:
        return RECORD_NAMES[kind] if kind >= 0 else "record"
    if field == 5:
        return _OTHER[kind] if kind >= 0 else "number"
    if field == 13:
        return _SMSTIME[kind] if kind >= 0 else "time"
    return _FIELDS.get(field, "record")


def reason_detail(code: int, field: int, a: int, b: int, offset: int = 0, at: int = 0) -> str | None:
    """The numbers of a reject, in words (``at``: where in the file the problem was seen)."""
    if code == 21:
        return f"{a} bytes skipped; {REASONS[b]} at byte {at}"
    words = _detail(code, field, a, b)
    if at != offset and code not in (1, 17):
        words = f"{words}, at byte {at}" if words else f"at byte {at}"
    return words


def _detail(code, field, a, b):
    if code == 1:
        return f"{a} bytes needed, {b} left" if a else None
    if code == 2:
        return f"length {a}, {b} bytes left" if not (a == 1 and b == 0) else "tag or length octets cut"
    if code == 3:
        return f"length octet 0x{a:02x}"
    if code == 6:
        return f"more than {a} levels"
    if code == 8:
        return f"identifier octet 0x{a:02x} is not a context-specific constructed record tag"
    if code == 9:
        return f"the CDR header says {a} bytes, the BER record has {b}"
    if code == 10:
        return f"data record format {a}, 1 is BER"
    if code == 11:
        return "constructed, expected primitive" if a else "primitive, expected constructed"
    if code == 12:
        return f"nibble 0x{a:x}"
    if code in (13,):
        return f"{a} digits"
    if code == 14:
        return f"{a} octets, expected 9" if a != 9 else "not BCD YYMMDDhhmmss, sign, hhmm"
    if code == 15:
        return f"{a} octets"
    if code == 16:
        return f"{a} seconds, not 0-172800"
    if code == 17 and field == 10:
        return "no seizureTime, answerTime or releaseTime"
    if code in (19, 20):
        return f"{a} octets" if code == 19 else f"{a} bytes, at most 65535"
    return None


class FileHeader:
    """The TS 32.297 CDR file header (the fields simbox checks)."""

    __slots__ = ("file_length", "header_length", "cdr_count", "sequence")

    def __init__(self, head: bytes):
        (self.file_length, self.header_length) = struct.unpack_from(">II", head, 0)
        self.cdr_count, self.sequence = struct.unpack_from(">II", head, 18)


def sniff(head: bytes) -> str | None:
    """The BER layout of a file from its first (uncompressed) bytes, or None.

    ``"ts32297"``: a TS 32.297 file header followed by a CDR header with data
    record format BER and a context-specific constructed record tag.
    ``"raw"``: BER CS records back to back (the first is a context-specific
    constructed tag whose contents start with ``recordType [0]``).
    """
    if len(head) >= 12:
        flen, hlen = struct.unpack_from(">II", head, 0)
        if FILE_HEADER_MIN <= hlen <= FILE_HEADER_MAX and (flen == 0 or flen >= hlen):
            if len(head) == hlen or (len(head) < hlen and flen):   # no CDR yet / cut in the header
                return "ts32297"
            if len(head) >= hlen + 6:
                chl = 5 if head[hlen + 2] >> 5 == 7 else 4
                if head[hlen + 3] >> 5 == 1 and head[hlen + chl] >> 5 == 5:
                    return "ts32297"
    if len(head) >= 4 and head[0] >> 5 == 5 and head[0] & 0x1f != 0x1f:
        n = head[1]
        off = 2 + (n & 0x7f if 0x80 < n <= 0x84 else 0)
        if n != 0xFF and (n <= 0x84) and len(head) > off + 1 and head[off] == 0x80:
            return "raw"
    return None


def sniff_path(path) -> str | None:
    """:func:`sniff` on a file (plain or gzip)."""
    with open_source(path, threaded=False) as src:
        return sniff(src.peek(HEAD_BYTES))


def ber_files(source) -> list:
    """Files to read for a path: the file itself, or a folder's BER files (sorted, recursive)."""
    p = pathlib.Path(source)
    if not p.is_dir():
        return [p]
    files = []
    for f in sorted(x for x in p.rglob("*") if x.is_file()):
        if sniff_path(f):
            files.append(f)
        else:
            log.info("%s: not a BER CDR file, skipped", f)
    return files


_EXTRA = (("cellkey", np.int64), ("offset", np.int64), ("seizure", np.int64),
          ("answer", np.int64), ("release", np.int64), ("cause", np.int64),
          ("other_ton", np.int8))


class _Decoder:
    """Decodes one stream into chunks of columns; counts, and reports rejects."""

    def __init__(self, name, *, stats, rejects, policy, chunk_records, progress, full=False):
        self.name = name
        self.full = full          # also fill the columns of read_ber_records
        self.stats = stats
        self.rejects = rejects
        self.policy = policy
        self.progress = as_progress(progress)
        self.cap = max(1, int(chunk_records))
        self.records = 0          # records seen in this file
        self._consumed = 0        # raw (on disk) bytes counted so far
        self.bad = BadRecords(policy, rejects, stats)

    def _new_out(self):
        cols = {k: np.empty(self.cap, t) for k, t in COLUMNS if k != "cell"}
        cols.update({k: np.empty(self.cap if self.full or k == "cellkey" else 0, t)
                     for k, t in _EXTRA})
        return cols

    def _count(self, accepted=0, skipped=0):
        self.stats.accepted += accepted
        self.stats.skipped += skipped
        self.stats.records += accepted + skipped
        self.records += accepted + skipped

    def _advance(self, src):
        done = src.raw_pos
        if done > self._consumed:
            self.stats.bytes += done - self._consumed
            self.progress(done - self._consumed)
            self._consumed = done

    def reject(self, offset, stop, reason, field, detail, record=b""):
        self.stats.records += 1
        self.records += 1
        self.bad.reject(self.name, reason, detail, offset=offset, field=field,
                        record=bytes(record[:1000]).hex())

    def _kernel_rejects(self, rej, buf, base):
        for off, stop, code, field, kind, a, b, at in rej:
            self.reject(off, stop, REASONS[code], field_name(field, kind),
                        reason_detail(code, field, a, b, off, at), buf[off - base:stop - base])

    def run(self, stream):
        """Yield ``(columns, n)`` chunks decoded from ``stream`` (a ByteSource at its start)."""
        self._consumed = stream.raw_pos
        head = stream.read(HEAD_BYTES)
        layout = sniff(head)
        pos = 0
        header = None
        if layout == "ts32297":
            hlen = struct.unpack_from(">I", head, 4)[0]
            if len(head) < hlen:
                head += stream.read(hlen - len(head))
            if len(head) < hlen:
                self._advance(stream)
                self.reject(0, len(head), REASONS[1], "file header",
                            f"{hlen} bytes needed, {len(head)} left", head)
                return
            header = FileHeader(head)
            pos = hlen
            framing = _ber.FRAMING_TS32297
        elif layout == "raw":
            framing = _ber.FRAMING_RAW
        else:
            raise InputError(f"{self.name}: not a TS 32.297 CDR file nor BER CS records "
                             f"(first bytes {head[:8].hex()})")
        buf, end, base, final, need = bytearray(head), len(head), 0, False, False
        out, n = self._new_out(), 0
        problem, tail = None, -1
        while True:
            if not final and (need or end - pos < BLOCK_BYTES // 2):
                rest = end - pos                       # keep the unread tail, read a block after it
                buf[:rest] = buf[pos:end]
                if len(buf) < rest + BLOCK_BYTES:
                    buf.extend(bytes(rest + BLOCK_BYTES - len(buf)))
                with memoryview(buf) as mv:
                    got = stream.readinto(mv[rest:rest + BLOCK_BYTES])
                if not got:
                    final = True
                    problem = stream.problem
                base += pos
                pos, end = 0, rest + got
            rej = []
            n0 = n
            status, pos, n, skipped = _ber.decode(buf, pos, end, final, framing, out, n, rej, base)
            self._count(accepted=n - n0, skipped=skipped)
            need = status != _ber.FULL        # DONE or NEED_MORE: read on (unless at the end)
            if status == _ber.NEED_MORE and final:  # pragma: no cover - never at the end
                raise RuntimeError(f"{self.name}: BER kernel asked for bytes after the end")
            if rej:
                self._kernel_rejects(rej, buf, base)
                tail = rej[-1][1]
            self._advance(stream)
            if status == _ber.FULL:
                yield out, n
                out, n = self._new_out(), 0
            elif final and status == _ber.DONE:
                break
        if n:
            yield out, n
        if problem:
            # as the CSV reader: the cut-off end counts as one rejected record (unless the
            # kernel already rejected the record the cut went through)
            log.warning("%s: %s (%s)", self.name, *problem)
            if tail != base + end:
                self.reject(base + end, base + end, problem[0], None, problem[1])
        if header is not None:
            size = base + end
            if header.file_length and header.file_length != size:
                log.warning("%s: file header gives a length of %d bytes, the file has %d",
                            self.name, header.file_length, size)
            if header.cdr_count != self.records and header.file_length:
                log.warning("%s: file header counts %d CDRs, the file holds %d",
                            self.name, header.cdr_count, self.records)


def _iter_columns(source, *, stats, rejects, on_bad_records, chunk_records, progress, name=None,
                  full=False):
    check_policy(on_bad_records)
    rejects = rejects if rejects is not None else RejectsWriter(None)
    if isinstance(source, ByteSource) or hasattr(source, "read"):
        items = [source]
    else:
        items = [str(f) for f in ber_files(source)]
        as_progress(progress)(0, total=sum(os.path.getsize(f) for f in items))
    records = 0
    for item in items:
        src = open_source(item, name if len(items) == 1 else None, what="a BER CDR file")
        item_name = src.name
        stats.files += 1
        dec = _Decoder(item_name, stats=stats, rejects=rejects, policy=on_bad_records,
                       chunk_records=chunk_records, progress=progress, full=full)
        try:
            yield from ((item_name, out, n) for out, n in dec.run(src))
        finally:
            if src is not item:
                src.close()
        records += dec.records
        if dec.records == 0:
            log.warning("%s: no records", item_name)
    if records == 0:
        raise EmptyInputError(f"{name or source}: no CDR records")


def cell_token(key: int, plmn: str | None = None) -> str:
    """``MCCMNC-LAC-CI`` of a kernel cell key (``LAC-CI`` with no MCC-MNC and no ``plmn``)."""
    key = int(key)
    code, lac, ci = key >> 32, (key >> 16) & 0xFFFF, key & 0xFFFF
    mccmnc = str(code)[1:] if code else (plmn or "")
    return f"{mccmnc}-{lac}-{ci}" if mccmnc else f"{lac}-{ci}"


class _CellCoder:
    def __init__(self, cells: CellDict, plmn):
        self.cells = cells
        self.plmn = plmn
        self.cache = {}

    def codes(self, keys: np.ndarray) -> np.ndarray:
        import pandas as pd  # lazy: ~0.4 s, for BER input only (a hash factorisation)
        inv, uniq = pd.factorize(keys)
        m = np.empty(len(uniq), np.int32)
        for i, k in enumerate(uniq.tolist()):
            c = self.cache.get(k)
            if c is None:
                c = -1 if k < 0 else self.cells.code(cell_token(k, self.plmn))
                self.cache[k] = c
            m[i] = c
        return m[inv].astype(np.int32, copy=False)


def read_ber_events(source, *, cells: CellDict | None = None, stats: ReadStats | None = None,
                    rejects: RejectsWriter | None = None, on_bad_records: str = "skip",
                    chunk_records: int = 1_000_000, progress=None, plmn: str | None = None,
                    name: str | None = None):
    """Yield :class:`EventBatch` objects from TS 32.297 / BER CDR files.

    ``source``: a file (plain or gzip), a folder (its BER files, sorted) or a
    binary file object.  ``cells`` is the run's :class:`CellDict` (cell tokens
    are added); ``stats`` gets the counts; rejected records go to ``rejects``;
    ``on_bad_records="error"`` raises :class:`simbox.errors.ParseError` at the
    first one.  ``plmn`` (``"MCCMNC"``) completes the cell token of locations
    without an MCC-MNC.  Batches hold at most ``chunk_records`` events.
    ``progress(advance_bytes, total=bytes)`` is called as the files are read;
    ``name`` names a file object in messages.  :class:`EmptyInputError` when no
    file holds any record.
    """
    cells = cells if cells is not None else CellDict()
    stats = stats if stats is not None else ReadStats()
    coder = _CellCoder(cells, plmn)
    for name, out, n in _iter_columns(source, stats=stats, rejects=rejects,
                                      on_bad_records=on_bad_records, name=name,
                                      chunk_records=chunk_records, progress=progress):
        cols = {k: out[k][:n] for k, _ in COLUMNS if k != "cell"}
        cols["cell"] = coder.codes(out["cellkey"][:n])
        yield EventBatch(cols, source=name)


def read_ber_records(source, *, plmn: str | None = None, stats: ReadStats | None = None,
                     rejects: RejectsWriter | None = None, on_bad_records: str = "skip",
                     chunk_records: int = 1_000_000):
    """Every decoded field of the accepted records, as a pandas DataFrame (for analysts and tests).

    Columns: ``file, offset, record_type, imsi, imei, msisdn, other_party,
    other_ton, seizure, answer, release, time, duration, cause, cell_id``; times
    are epoch seconds UTC (``NaN``-free int64, :data:`NA` where absent), cause
    :data:`NA` where absent, ``other_ton`` -1 where absent.
    """
    import pandas as pd  # lazy: ~0.4 s, only for this DataFrame
    stats = stats if stats is not None else ReadStats()
    frames = []
    for name, out, n in _iter_columns(source, stats=stats, rejects=rejects,
                                      on_bad_records=on_bad_records, full=True,
                                      chunk_records=chunk_records, progress=None):
        o = {k: v[:n] for k, v in out.items()}
        frames.append(pd.DataFrame({
            "file": name, "offset": o["offset"],
            "record_type": np.array(RECORD_NAMES, dtype=object)[o["rtype"]],
            "imsi": decode_array(o["imsi"]), "imei": decode_array(o["imei"]),
            "msisdn": decode_array(o["msisdn"]), "other_party": decode_array(o["other"]),
            "other_ton": o["other_ton"].astype(np.int64), "seizure": o["seizure"],
            "answer": o["answer"], "release": o["release"], "time": o["time"],
            "duration": o["duration"], "cause": o["cause"],
            "cell_id": [cell_token(k, plmn) if k >= 0 else "" for k in o["cellkey"].tolist()],
        }))
    if not frames:
        return pd.DataFrame(columns=["file", "offset", "record_type", "imsi", "imei", "msisdn",
                                     "other_party", "other_ton", "seizure", "answer", "release",
                                     "time", "duration", "cause", "cell_id"])
    return pd.concat(frames, ignore_index=True)


NA = _ber.NA
__all__ = ["read_ber_events", "read_ber_records", "sniff", "sniff_path", "cell_token",
           "REASONS", "NA", "FileHeader"]
