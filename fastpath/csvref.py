"""A slow, obviously-correct CDR CSV reader: the reference the kernel is tested against.

It reads a whole file into memory and applies the rules of docs/input-formats.md
byte by byte in plain Python.  ``read_reference(path_or_bytes, mapping)``
returns ``(rows, rejects, skipped)``: rows as tuples in EventBatch column order
with the cell as its token (``None`` = unknown), rejects as
``(line, field, reason)`` tuples.  Never use it for real data.
"""
from __future__ import annotations

import calendar
import csv
import datetime
import gzip
import re

from simbox.fastpath.columns import FIELDS, load_mapping
from simbox.fastpath.events import RecordType, encode_digits

MAX_DURATION = 172800
MAX_EPOCH = 7258118400
_ISO = re.compile(rb"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d{1,9})?"
                  rb"(Z|[+-]\d\d(?::\d\d|\d\d)?)?")


def split_records(data: bytes, sep: int, quote: int, first_line: int):
    """Yield (line, raw record bytes, fields or None, bad) for each non-blank record.

    ``fields`` is a list of (content bytes, raw start, raw end) in the record;
    ``bad`` is "" or "bad quoting".
    """
    n, i, line = len(data), 0, first_line
    while i < n:
        start, fields, bad, nl_in = i, [], "", 0
        while True:
            if i < n and data[i] == quote:
                i += 1
                fs, content = i, bytearray()
                while i < n:
                    c = data[i]
                    if c == quote:
                        if i + 1 < n and data[i + 1] == quote:
                            content.append(quote)
                            i += 2
                            continue
                        break
                    nl_in += c == 10
                    content.append(c)
                    i += 1
                if i >= n:                      # never closed: the record is its first line
                    nl = data.find(b"\n", start)
                    end = n if nl < 0 else nl
                    raw = data[start:end]
                    yield line, raw[:-1] if raw.endswith(b"\r") else raw, None, "bad quoting"
                    line += 1
                    i = n if nl < 0 else nl + 1
                    break
                fe = i
                i += 1
                if i < n and data[i] not in (sep, 10):
                    if data[i] == 13 and (i + 1 == n or data[i + 1] == 10):
                        i += 1
                    else:
                        bad = "bad quoting"
                        while i < n and data[i] not in (sep, 10):
                            i += 1
                fields.append((bytes(content), fs - start, fe - start))
            else:
                j = i
                while j < n and data[j] not in (sep, 10):
                    j += 1
                fe = j - 1 if (j > i and data[j - 1] == 13 and (j == n or data[j] == 10)) else j
                fields.append((data[i:fe], i - start, fe - start))
                i = j
            if i < n and data[i] == sep:
                i += 1
                continue
            end = i
            if end > start and data[end - 1] == 13:
                end -= 1
            i += 1
            if not (len(fields) == 1 and fields[0][0] == b"" and data[start] != quote):
                yield line, data[start:end], fields, bad
            line += 1 + nl_in
            break


def _digits(v: bytes, lo, hi, empty_ok, plus_ok, float_ok):
    if plus_ok and v.startswith(b"+"):
        v = v[1:]
        if not v:
            return None
    if float_ok and b"." in v:
        m = re.fullmatch(rb"([^.]+)\.0*", v)
        if not m:
            return None
        v = m.group(1)
    if v == b"":
        return 0 if empty_ok else None
    if not (lo <= len(v) <= hi) or not re.fullmatch(rb"[0-9]+", v):
        return None
    return encode_digits(v.decode())


def _duration(v: bytes):
    if v == b"" or re.fullmatch(rb"-0+(?:\.0+)?", v):
        return 0
    m = re.fullmatch(rb"([0-9]+)(?:\.([0-9]+))?", v)
    if not m:
        return None
    d = int(m.group(1)) + (1 if m.group(2) and m.group(2)[:1] >= b"5" else 0)
    return d if d <= MAX_DURATION else None


def _finish(Y, M, D, h, mi, s, off):
    if not 1900 <= Y <= 2199:
        return None
    try:
        dt = datetime.datetime(Y, M, D, h, mi, s)
    except ValueError:
        return None
    return calendar.timegm(dt.timetuple()) - off


def _tz(z: bytes):
    """Seconds east of UTC of Z / +HH / +HHMM / +HH:MM, or None."""
    if z == b"Z":
        return 0
    m = re.fullmatch(rb"([+-])(\d\d)(?::?(\d\d))?", z)
    if not m or int(m.group(2)) > 23 or int(m.group(3) or 0) > 59:
        return None
    return (1 if m.group(1) == b"+" else -1) * (int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60)


def parse_time(v: bytes, fmt: str, naive_off: int):
    if fmt == "iso":
        m = _ISO.fullmatch(v)
        if not m:
            return None
        off = naive_off if m.group(7) is None else _tz(m.group(7))
        if off is None:
            return None
        return _finish(*(int(g) for g in m.groups()[:6]), off)
    if fmt in ("epoch", "epoch_ms"):
        m = re.fullmatch(rb"([0-9]{1,15})(\.[0-9]+)?", v)
        if not m:
            return None
        t = int(m.group(1)) // (1000 if fmt == "epoch_ms" else 1)
        return t if t < MAX_EPOCH else None
    return _pattern(v, {"compact": "%Y%m%d%H%M%S"}.get(fmt, fmt), naive_off)


def _pattern(v: bytes, fmt: str, off: int):
    vals = {"Y": None, "m": None, "d": None, "H": 0, "M": 0, "S": 0}
    p, i = 0, 0
    digit = lambda k: k < len(v) and 48 <= v[k] <= 57  # noqa: E731
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%" or fmt[i + 1] == "%":
            lit = ord("%") if ch == "%" else ord(ch)
            i += 2 if ch == "%" else 1
            if p >= len(v) or v[p] != lit:
                return None
            p += 1
            continue
        d = fmt[i + 1]
        i += 2
        if d == "z":
            m = re.match(rb"Z|[+-]\d\d(?::\d\d|\d\d)?", v[p:])
            if not m or _tz(m.group(0)) is None:
                return None
            off = _tz(m.group(0))
            p += len(m.group(0))
            continue
        if d == "f":
            k = p
            while digit(k):
                k += 1
            if k == p or k - p > 9:
                return None
            p = k
            continue
        short = d in "mdHMS" and i < len(fmt) and (fmt[i] != "%" or fmt[i:i + 2] == "%%")
        width = {"Y": 4, "y": 2}.get(d, 1 if short and not digit(p + 1) else 2)
        if not all(digit(p + k) for k in range(width)):
            return None
        x = int(v[p:p + width])
        p += width
        if d == "y":
            vals["Y"] = 2000 + x
        else:
            vals[d] = x
    if p != len(v):
        return None
    return _finish(vals["Y"], vals["m"], vals["d"], vals["H"], vals["M"], vals["S"], off)


def read_reference(source, mapping="canonical", max_record: int = 1 << 20):
    """(rows, rejects, skipped) of a CSV file or its bytes, by the slow reference rules.

    A record (without its line end) longer than ``max_record`` bytes is "record too long"."""
    m = load_mapping(mapping)
    data = source if isinstance(source, bytes) else open(source, "rb").read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nl = data.find(b"\n")
    head = data[: nl if nl >= 0 else len(data)].rstrip(b"\r").decode("utf-8")
    header = next(csv.reader([head], delimiter=m.separator, quotechar=m.quote))
    index = {h.strip().lower(): i for i, h in reversed(list(enumerate(header)))}
    col = {f: [index[n.strip().lower()] for n in m.source_columns(f)] for f in FIELDS}
    codes = {k.encode(): v for k, v in m.record_types.items()}
    fl = m.float_numbers
    rows, rejects, skipped = [], [], 0
    body = data[nl + 1:] if nl >= 0 else b""
    for line, raw, fields, bad in split_records(body, ord(m.separator), ord(m.quote), 2):
        def reject(reason, c=None):
            rejects.append((line, header[c] if c is not None else None, reason))
        if len(raw) > max_record:
            reject("record too long")
            continue
        if bad:
            reject(bad)
            continue
        if len(fields) != len(header):
            reject("wrong field count")
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            k = e.start
            c = next((i for i, (_, s, f) in enumerate(fields) if s <= k <= f), None)
            reject("not UTF-8", c)
            continue
        val = lambda f, k=0: fields[col[f][k]][0] if col[f] else b""  # noqa: E731
        c = col["record_type"][0]
        if val("record_type") not in codes:
            reject("unknown record type", c)
            continue
        rt = codes[val("record_type")]
        if rt is None:
            skipped += 1
            continue
        t = parse_time(val("start_time"), m.time_format, m.offset_seconds)
        if t is None:
            reject("unparsable time", col["start_time"][0])
            continue
        checks = [("imsi", (15, 15, False, False), "imsi is not 15 digits"),
                  ("imei", (14, 16, True, False), "imei is not 14-16 digits"),
                  ("msisdn", (1, 18, True, True), "msisdn is not a digit string"),
                  ("other_party", (1, 18, True, True), "other_party is not a digit string")]
        out = []
        for f, (lo, hi, e, p), reason in checks:
            d = _digits(val(f), lo, hi, e, p, fl)
            if d is None:
                reject(reason, col[f][0])
                break
            out.append(d)
        else:
            dur = _duration(val("duration_s"))
            if dur is None:
                reject("duration is not 0-172800 seconds", col["duration_s"][0])
                continue
            parts = [val("cell_id", k) for k in range(len(col["cell_id"]))]
            cell = b"-".join(parts).decode() if any(parts) else None
            rows.append((int(RecordType[rt]), t, *out, dur, cell))
    return rows, rejects, skipped
