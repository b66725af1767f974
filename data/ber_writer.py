"""Write events as the MSC would: TS 32.298 CS records, BER, in TS 32.297 CDR files.

The encoder of ``simbox simulate --format ber`` (and of the BER tests and
benchmark).  Events in the CSV contract (``record_type, start_time, imsi, imei,
msisdn, other_party, duration_s, cell_id``) become ``moCallRecord``,
``mtCallRecord``, ``moSMSRecord`` and ``mtSMSRecord`` that
:mod:`simbox.fastpath.ber` decodes back to exactly the same events (see
docs/input-formats-ber.md for the mapping).  DATA rows have no CS record: they
are counted and not written.
"""
from __future__ import annotations

import datetime as _dt
import gzip as _gzip
import os
import pathlib
import shutil
import struct
import tempfile
import types

import numpy as np

from simbox.data import writers
from simbox.fastpath.events import RECORD_TYPE_NAMES, RecordType, decode_array

RECORD_TAGS = {"MOC": 0, "MTC": 1, "SMS_MO": 6, "SMS_MT": 7}
CDR_HEADER = b"\xe0\x26\x09"       # release 7+9 (Rel-16), version 0; format 1 (BER), TS number 6
FILE_HEADER_LENGTH = 54
RECORDING_ENTITY = b"\x91\x44\x77\x00\x00\x00\x10"
CALL_REFERENCE = b"\x00\x00\x00\x01"
SERVICE_CENTRE = b"\x91\x44\x77\x58\x10\x06\x50"
CLASSMARK = b"\x33\x19\xa2"


def length_octets(n: int, long_form: bool = False) -> bytes:
    """BER definite length (``long_form`` forces the long form, valid BER)."""
    if n < 0x80 and not long_form:
        return bytes((n,))
    b = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return bytes((0x80 | len(b),)) + b


def tag_octets(tag: int, constructed: bool = False) -> bytes:
    """Context-specific identifier octets of ``[tag]`` (long form from 31)."""
    first = 0x80 | (0x20 if constructed else 0)
    if tag < 31:
        return bytes((first | tag,))
    groups = []
    while True:
        groups.append(tag & 0x7F)
        tag >>= 7
        if not tag:
            break
    groups.reverse()
    return bytes((first | 0x1F,)) + bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def tlv(tag: int, value: bytes) -> bytes:
    return tag_octets(tag) + length_octets(len(value)) + value


def constructed(tag: int, content: bytes, indefinite: bool = False) -> bytes:
    if indefinite:
        return tag_octets(tag, True) + b"\x80" + content + b"\x00\x00"
    return tag_octets(tag, True) + length_octets(len(content)) + content


def tbcd(digits: str) -> bytes:
    """TBCD octets of a digit string (low nibble first, F filler)."""
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def ton_octet(digits: str) -> int:
    """Type of number for a number of the CSV contract: international for E.164-looking
    numbers (7+ digits, no leading 0), unknown (as dialled) otherwise; ISDN plan."""
    return 0x91 if len(digits) >= 7 and digits[0] != "0" else 0x81


def address(digits: str) -> bytes:
    """ISDN-AddressString / BCDDirectoryNumber of a digit string."""
    return bytes((ton_octet(digits),)) + tbcd(digits)


def tp_address(digits: str) -> bytes:
    """TS 23.040 address (SmsTpDestinationNumber) of a digit string."""
    return bytes((len(digits), ton_octet(digits))) + tbcd(digits)


def timestamp(epoch: int, offset_minutes: int = 0) -> bytes:
    """TimeStamp: BCD YYMMDDhhmmss of the local time, sign, BCD hhmm offset."""
    t = _dt.datetime.fromtimestamp(int(epoch) + offset_minutes * 60, _dt.timezone.utc)
    if not 2000 <= t.year <= 2099:
        raise ValueError(f"time {t.isoformat()} outside the years a TimeStamp holds (2000-2099)")
    off = abs(offset_minutes)
    vals = (t.year % 100, t.month, t.day, t.hour, t.minute, t.second)
    bcd = bytes((v // 10) << 4 | v % 10 for v in vals)
    oh, om = divmod(off, 60)
    return bcd + (b"+" if offset_minutes >= 0 else b"-") + bytes(((oh // 10) << 4 | oh % 10,
                                                                   (om // 10) << 4 | om % 10))


def integer(v: int) -> bytes:
    return int(v).to_bytes(max(1, (int(v).bit_length() + 8) // 8), "big", signed=True)


def location(cell_id: str, indefinite: bool = False) -> bytes:
    """LocationAreaAndCell content of a ``MCCMNC-LAC-CI`` (or ``LAC-CI``) token."""
    parts = cell_id.split("-")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"cell_id {cell_id!r} is not MCCMNC-LAC-CI")
    lac, ci = int(parts[-2]), int(parts[-1])
    if lac > 0xFFFF or ci > 0xFFFF:
        raise ValueError(f"cell_id {cell_id!r}: LAC and CI must fit 2 octets (0-65535)")
    content = tlv(0, lac.to_bytes(2, "big")) + tlv(1, ci.to_bytes(2, "big"))
    if len(parts) == 3:
        m = parts[0]
        if len(m) not in (5, 6):
            raise ValueError(f"cell_id {cell_id!r}: MCCMNC must be 5 or 6 digits")
        mnc3 = m[5] if len(m) == 6 else "F"
        plmn = bytes((int(m[1]) << 4 | int(m[0]), int(mnc3, 16) << 4 | int(m[2]),
                      int(m[4]) << 4 | int(m[3])))
        content += tlv(2, plmn)
    return content


class _Cache(dict):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        v = self[key] = self.fn(key)
        return v


def timestamps(epochs, offset_minutes: int = 0) -> list:
    """:func:`timestamp` of many epoch seconds at once (numpy), as a list of 9-byte values."""
    local = np.asarray(epochs, dtype=np.int64) + offset_minutes * 60
    days = local // 86400
    secs = local - days * 86400
    d = days.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    if len(year) and (year.min() < 2000 or year.max() > 2099):
        raise ValueError("times outside the years a TimeStamp holds (2000-2099)")
    oh, om = divmod(abs(offset_minutes), 60)
    cols = [year % 100, month_start.astype(np.int64) % 12 + 1,
            (d - month_start).astype(np.int64) + 1, secs // 3600, secs // 60 % 60, secs % 60]
    out = np.empty((len(local), 9), np.uint8)
    for i, v in enumerate(cols):
        out[:, i] = (v // 10) << 4 | v % 10
    out[:, 6] = ord("+") if offset_minutes >= 0 else ord("-")
    out[:, 7] = (oh // 10) << 4 | oh % 10
    out[:, 8] = (om // 10) << 4 | om % 10
    return [r.tobytes() for r in out]


class RecordEncoder:
    """Encodes events of the CSV contract into BER CS records (cached pieces: fast)."""

    def __init__(self, utc_offset_minutes: int = 0, indefinite: bool = False):
        self.offset = int(utc_offset_minutes)
        self.indefinite = indefinite
        ind = indefinite
        self._c = {}
        for tag in (1, 2):
            self._c["imsi", tag] = _Cache(lambda s, t=tag: tlv(t, tbcd(s)))
        for tag in (2, 3):   # IMEI ::= TBCD-STRING (SIZE (8)): F filler up to 8 octets
            self._c["imei", tag] = _Cache(lambda s, t=tag: tlv(t, tbcd(s).ljust(8, b"\xff")))
        for tag in (3, 4, 5):
            self._c["addr", tag] = _Cache(lambda s, t=tag: tlv(t, address(s)))
        self._c["tp", 12] = _Cache(lambda s: tlv(12, tp_address(s)))
        self._c["camel", 12] = _Cache(lambda s: constructed(12, tlv(5, address(s)), ind))
        for tag in (7, 9, 12):
            self._c["loc", tag] = _Cache(lambda c, t=tag: constructed(t, location(c, ind), ind))
        self._dur = _Cache(lambda v: {t: tlv(t, integer(v)) for t in (22, 25)})
        self._fixed = {t: tlv(*t) for t in ((1, SERVICE_CENTRE), (5, CLASSMARK), (6, RECORDING_ENTITY),
                                            (4, CLASSMARK), (5, SERVICE_CENTRE), (9, RECORDING_ENTITY),
                                            (8, b"\x01"), (27, b"\x00"), (27, b"\x03"),
                                            (30, b"\x00"), (30, b"\x03"), (29, CALL_REFERENCE),
                                            (32, CALL_REFERENCE))}

    def encode(self, rtype, time, imsi, imei, msisdn, other, duration, cell) -> bytes:
        """One record (see :meth:`encode_many`)."""
        return self.encode_many([rtype], [time], [imsi], [imei], [msisdn], [other],
                                [duration], [cell])[0]

    def encode_many(self, rtypes, times, imsis, imeis, msisdns, others, durations, cells) -> list:
        """BER records (bytes) of events given as columns; raises ValueError on an event
        that has no CS record (DATA) or no IMSI."""
        c, fx, ind = self._c, self._fixed, self.indefinite
        start = timestamps(times, self.offset)
        stop = timestamps(np.asarray(times, np.int64) + np.asarray(durations, np.int64), self.offset)
        out = []
        for i, rtype in enumerate(rtypes):
            tag = RECORD_TAGS.get(rtype)
            imsi, imei, msisdn, other, cell = imsis[i], imeis[i], msisdns[i], others[i], cells[i]
            if tag is None:
                raise ValueError(f"record_type {rtype!r} has no CS record")
            if not imsi:
                raise ValueError("an event without an IMSI cannot be written as a CS record")
            ts = start[i]
            f = [b"\x80\x01" + bytes((tag,))]
            if tag == 7:
                f += [fx[1, SERVICE_CENTRE], c["imsi", 2][imsi]]
                if imei:
                    f.append(c["imei", 3][imei])
                if msisdn:
                    f.append(c["addr", 4][msisdn])
                f += [fx[5, CLASSMARK], fx[6, RECORDING_ENTITY]]
                if cell:
                    f.append(c["loc", 7][cell])
                f.append(b"\x88\x09" + ts)
                if other:
                    f.append(c["camel", 12][other])
            else:
                f.append(c["imsi", 1][imsi])
                if imei:
                    f.append(c["imei", 2][imei])
                if msisdn:
                    f.append(c["addr", 3][msisdn])
                if tag == 6:
                    f += [fx[4, CLASSMARK], fx[5, SERVICE_CENTRE], fx[6, RECORDING_ENTITY]]
                    if cell:
                        f.append(c["loc", 7][cell])
                    f += [fx[8, b"\x01"], b"\x89\x09" + ts]
                    if other:
                        f.append(c["tp", 12][other])
                else:
                    mo = tag == 0
                    dur = int(durations[i])
                    if other:
                        f.append(c["addr", 5 if mo else 4][other])
                    f.append(fx[(9, RECORDING_ENTITY) if mo else (6, RECORDING_ENTITY)])
                    if cell:
                        f.append(c["loc", 12 if mo else 9][cell])
                    t0 = 22 if mo else 19
                    f.append(bytes((0x80 | t0, 9)) + ts)                       # seizureTime
                    if dur > 0:
                        f.append(bytes((0x80 | t0 + 1, 9)) + ts)               # answerTime
                    f.append(bytes((0x80 | t0 + 2, 9)) + stop[i])              # releaseTime
                    f.append(self._dur[dur][t0 + 3] if t0 + 3 in (22, 25)
                             else tlv(t0 + 3, integer(dur)))                    # callDuration
                    f.append(fx[t0 + 8, b"\x00" if dur > 0 else b"\x03"])     # causeForTerm
                    f.append(fx[t0 + 10, CALL_REFERENCE])                      # callReference
            out.append(constructed(tag, b"".join(f), ind))
        return out


def _file_time(epoch: int) -> bytes:
    """TS 32.297 file header time stamp: month, day, hour, minute, UTC offset (here +0000)."""
    t = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc)
    v = (t.month << 28) | (t.day << 23) | (t.hour << 18) | (t.minute << 12)
    return struct.pack(">I", v)


def file_header(file_length: int, n_cdrs: int, first: int, last: int, sequence: int = 1) -> bytes:
    h = struct.pack(">IIBB", file_length, FILE_HEADER_LENGTH, 0xE0, 0xE0)
    h += _file_time(first) + _file_time(last) + struct.pack(">II", n_cdrs, sequence)
    h += b"\x00" + bytes(10) + b"\xff\xff" + bytes((127, 0, 0, 1)) + bytes(4)  # closure reason, IPv4
    h += b"\x00" + struct.pack(">HH", 0, 0) + b"\x09\x09"   # lost CDRs, no filter, no extension, Rel-16
    assert len(h) == FILE_HEADER_LENGTH
    return h


def records_without_headers(data: bytes) -> bytes:
    """The BER records of a TS 32.297 file back to back, without file and CDR headers.

    The file header's length is the 4 octets at offset 4; each CDR header is 5
    octets, the first two the length of the record that follows (as written by
    :func:`file_header` and :class:`BerWriter`).
    """
    out, off = [], struct.unpack_from(">I", data, 4)[0]
    while off < len(data):
        n = int.from_bytes(data[off:off + 2], "big")
        out.append(data[off + 5:off + 5 + n])
        off += 5 + n
    return b"".join(out)


def _gzip_open(path):
    try:
        from isal import igzip  # lazy: isal may be absent (fallback below)
        return igzip.open(path, "wb", compresslevel=2)
    except ImportError:  # pragma: no cover - isal is a dependency
        return _gzip.open(path, "wb", compresslevel=6)


def _columns(df):
    """Plain lists of the contract's columns; times as epoch seconds."""
    t = df["start_time"]
    if not np.issubdtype(np.asarray(t).dtype, np.integer):
        import pandas as pd  # lazy: pandas only for datetime columns
        t = pd.to_datetime(t, utc=True).astype("int64") // 10**9
    def s(col):
        return ["" if v is None or v != v else str(v) for v in df[col].tolist()]
    return (df["record_type"].astype(str).tolist(), np.asarray(t, dtype=np.int64).tolist(),
            s("imsi"), s("imei"), s("msisdn"), s("other_party"),
            np.asarray(df["duration_s"], dtype=np.int64).tolist(), s("cell_id"))


class BerWriter:
    """A TS 32.297 CDR file written from chunks of events (DataFrames of the CSV contract).

    ``gzip=True`` compresses the file.  The file header (length, CDR count, first
    and last time) is written on :meth:`close`.  ``counts`` has ``written`` and
    ``not_cs`` (DATA rows, which have no CS record).
    """

    def __init__(self, path, *, gzip: bool = False, utc_offset_minutes: int = 0,
                 indefinite: bool = False, sequence: int = 1):
        self.path = os.fspath(path)
        self.gzip = gzip
        self.sequence = sequence
        self.encoder = RecordEncoder(utc_offset_minutes, indefinite)
        d = os.path.dirname(os.path.abspath(self.path))
        self._tmp = tempfile.NamedTemporaryFile(dir=d, prefix=".ber-", delete=False)
        self.counts = {"written": 0, "not_cs": 0}
        self._first = None
        self._last = None
        self._bytes = 0

    def write(self, df) -> None:
        """Append the CS events of a DataFrame of the CSV contract (DATA rows counted, not written)."""
        self.write_columns(_columns(df))

    def write_columns(self, cols) -> None:
        """Append events given as lists: record_type, time (epoch s), imsi, imei, msisdn,
        other_party, duration_s, cell_id."""
        keep = [i for i, rt in enumerate(cols[0]) if rt in RECORD_TAGS]
        self.counts["not_cs"] += len(cols[0]) - len(keep)
        if len(keep) < len(cols[0]):
            cols = [[col[i] for i in keep] for col in cols]
        recs = self.encoder.encode_many(*cols)
        written = len(recs)
        if written:
            t = cols[1]
            self._first = min(t) if self._first is None else min(self._first, min(t))
            self._last = max(t) if self._last is None else max(self._last, max(t))
        pack = struct.Struct(">H").pack
        data = b"".join([pack(len(r)) + CDR_HEADER + r for r in recs])
        self._tmp.write(data)
        self._bytes += len(data)
        self.counts["written"] += written

    def close(self) -> None:
        if self._tmp is None:
            return
        self._tmp.close()
        n = self.counts["written"]
        first = self._first if self._first is not None else 946684800
        last = self._last if self._last is not None else first
        header = file_header(FILE_HEADER_LENGTH + self._bytes, n, first, last, self.sequence)
        with (_gzip_open(self.path) if self.gzip else open(self.path, "wb")) as out, open(self._tmp.name, "rb") as body:
            out.write(header)
            shutil.copyfileobj(body, out, 1 << 20)
        os.unlink(self._tmp.name)
        self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None and self._tmp is not None:
            self._tmp.close()
            os.unlink(self._tmp.name)
            self._tmp = None
            return
        self.close()


def write_ber(path, events, **kwargs) -> dict:
    """Write a DataFrame (or an iterable of DataFrames) of contract events to one CDR file."""
    with BerWriter(path, **kwargs) as w:
        for df in ([events] if hasattr(events, "columns") else events):
            w.write(df)
    return w.counts


def write_network(net, out_dir, progress=None, *, records_per_file: int = 1_000_000,
                  utc_offset_minutes: int = 0, chunk: int = 200_000) -> dict:
    """``simulate(..., format="ber")``: the network's CDRs as an MSC would drop them.

    ``cdrs/`` holds TS 32.297 files ``cdrs-00001.cdr``, ... of at most
    ``records_per_file`` CS records each (MOC, MTC, SMS_MO, SMS_MT, in the order
    of the network's event log); DATA sessions have no CS record and go to
    ``cdrs/data_sessions.csv.gz`` in the CSV contract, so ``simbox features
    cdrs/`` reads the same events as from ``cdrs.csv.gz``.
    """

    folder = pathlib.Path(out_dir) / "cdrs"
    folder.mkdir(parents=True, exist_ok=True)
    c = net.cdrs
    tokens = net.cells["cell_id"].to_numpy(dtype=object)
    names = np.array(RECORD_TYPE_NAMES, dtype=object)
    cs = np.flatnonzero(c.rtype != RecordType.DATA)
    data_rows = np.flatnonzero(c.rtype == RecordType.DATA)
    paths = {"cdrs": folder}
    writer, seq, in_file = None, 0, 0
    try:
        for start in range(0, len(cs), chunk):
            idx = cs[start:start + chunk]
            cols = [names[c.rtype[idx]].tolist(), c.time[idx].tolist(),
                    decode_array(c.imsi[idx]).tolist(), decode_array(c.imei[idx]).tolist(),
                    decode_array(c.msisdn[idx]).tolist(), decode_array(c.other[idx]).tolist(),
                    c.duration[idx].tolist(),
                    np.where(c.cell[idx] >= 0, tokens[np.maximum(c.cell[idx], 0)], "").tolist()]
            done = 0
            while done < len(idx):
                if writer is None:
                    seq += 1
                    writer = BerWriter(folder / f"cdrs-{seq:05d}.cdr", sequence=seq,
                                       utc_offset_minutes=utc_offset_minutes)
                    in_file = 0
                take = min(len(idx) - done, records_per_file - in_file)
                writer.write_columns([col[done:done + take] for col in cols])
                done += take
                in_file += take
                if in_file == records_per_file:
                    writer.close()
                    writer = None
            if progress:
                progress(len(idx))
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.__exit__(RuntimeError, None, None)
    if len(data_rows):
        sub = types.SimpleNamespace(cdrs=c.take(data_rows), cells=net.cells)
        paths["data_sessions"] = writers.write_cdrs_csv(sub, folder, None,
                                                        name="data_sessions.csv.gz")["cdrs"]
        if progress:
            progress(len(data_rows))
    return paths
