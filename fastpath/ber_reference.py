"""The slow, obviously-correct reference of the BER kernel (_ber.pyx), in pure Python.

Same rules, same results: :func:`decode_bytes` returns the accepted rows and the
rejects of a whole file held in memory.  Tests and the fuzzer compare the kernel
with it on random and mutated files; nothing in the product uses it.
"""
from __future__ import annotations

import calendar

MAX_DEPTH = 24
MAX_RECORD = 65535
NA = -(1 << 63)

# reason codes (as in _ber.pyx)
(R_TRUNCATED, R_PAST, R_BAD_LENGTH, R_INDEF_PRIM, R_NO_EOC, R_TOO_DEEP, R_TAG_TOO_LONG,
 R_NOT_RECORD, R_LEN_MISMATCH, R_NOT_BER, R_WRONG_FORM, R_BAD_DIGIT, R_BAD_NDIGITS,
 R_BAD_TIME, R_BAD_INT, R_BAD_DURATION, R_MISSING, R_DUPLICATE, R_BAD_LOCATION,
 R_TOO_LONG, R_GARBAGE) = range(1, 22)
# field codes
(F_RECORD, F_IMSI, F_IMEI, F_MSISDN, F_OTHER, F_LOCATION, F_LAC, F_CI, F_PLMN, F_SEIZURE,
 F_ANSWER, F_RELEASE, F_SMSTIME, F_DURATION, F_CAUSE, F_CAMEL, F_CDR_HEADER) = range(1, 18)
F_OTHER_TP = 18

FIELDS = {
    0: {1: F_IMSI, 2: F_IMEI, 3: F_MSISDN, 5: F_OTHER, 12: F_LOCATION, 22: F_SEIZURE,
        23: F_ANSWER, 24: F_RELEASE, 25: F_DURATION, 30: F_CAUSE},
    1: {1: F_IMSI, 2: F_IMEI, 3: F_MSISDN, 4: F_OTHER, 9: F_LOCATION, 19: F_SEIZURE,
        20: F_ANSWER, 21: F_RELEASE, 22: F_DURATION, 27: F_CAUSE},
    2: {1: F_IMSI, 2: F_IMEI, 3: F_MSISDN, 7: F_LOCATION, 9: F_SMSTIME, 12: F_OTHER_TP},
    3: {2: F_IMSI, 3: F_IMEI, 4: F_MSISDN, 7: F_LOCATION, 8: F_SMSTIME, 12: F_CAMEL},
}
KINDS = {0: 0, 1: 1, 6: 2, 7: 3}


class Bad(Exception):
    """A reject: reason code, field code, two numbers, byte offset where seen."""

    def __init__(self, code, field, a=0, b=0, at=0):
        super().__init__(code, field, a, b, at)
        self.code, self.field, self.a, self.b, self.at = code, field, a, b, at


class Tlv:
    def __init__(self, cls, cons, tag, vstart, vend, nxt):
        self.cls, self.cons, self.tag, self.vstart, self.vend, self.next = cls, cons, tag, vstart, vend, nxt


def read_tlv(d: bytes, pos: int, end: int, depth: int, field: int) -> Tlv:
    if pos >= end:
        raise Bad(R_PAST, field, 1, 0, pos)
    c = d[pos]
    pos += 1
    cls, cons, tag = c >> 6, (c >> 5) & 1, c & 0x1F
    if tag == 0x1F:
        tag, k = 0, 0
        while True:
            if pos >= end:
                raise Bad(R_PAST, field, 1, 0, pos)
            c = d[pos]
            pos += 1
            k += 1
            if k > 4:
                raise Bad(R_TAG_TOO_LONG, field, k, 0, pos - 1)
            tag = (tag << 7) | (c & 0x7F)
            if not c & 0x80:
                break
    if pos >= end:
        raise Bad(R_PAST, field, 1, 0, pos)
    c = d[pos]
    pos += 1
    if c == 0x80:
        if not cons:
            raise Bad(R_INDEF_PRIM, field, 0, 0, pos - 1)
        if depth >= MAX_DEPTH:
            raise Bad(R_TOO_DEEP, field, MAX_DEPTH, 0, pos - 1)
        q = pos
        while True:
            if end - q < 2:
                raise Bad(R_NO_EOC, field, 0, 0, q)
            if d[q] == 0 and d[q + 1] == 0:
                return Tlv(cls, cons, tag, pos, q, q + 2)
            try:
                q = read_tlv(d, q, end, depth + 1, field).next
            except Bad as e:
                if e.code == R_PAST and e.a == 1:
                    e.code = R_NO_EOC
                raise
    if c == 0xFF or (c > 0x80 and c & 0x7F > 4):
        raise Bad(R_BAD_LENGTH, field, c, 0, pos - 1)
    if c < 0x80:
        length = c
    else:
        n = c & 0x7F
        if end - pos < n:
            raise Bad(R_PAST, field, 1, 0, pos)
        length = int.from_bytes(d[pos:pos + n], "big")
        pos += n
    if length > end - pos:
        raise Bad(R_PAST, field, length, end - pos, pos)
    return Tlv(cls, cons, tag, pos, pos + length, pos + length)


def children(d, t: Tlv, depth, field):
    q = t.vstart
    while q < t.vend:
        c = read_tlv(d, q, t.vend, depth, field)
        yield c
        q = c.next


def tbcd(d: bytes, a: int, b: int, maxdig: int, field: int) -> tuple[str, int]:
    """Digits of the TBCD octets d[a:b]."""
    digits = ""
    filled = False
    for j in range(a, b):
        for x in (d[j] & 0xF, d[j] >> 4):
            if filled:
                if x != 0xF:
                    raise Bad(R_BAD_DIGIT, field, x, 0, j)
            elif x == 0xF:
                filled = True
            elif x > 9:
                raise Bad(R_BAD_DIGIT, field, x, 0, j)
            else:
                digits += str(x)
    if len(digits) > maxdig:
        raise Bad(R_BAD_NDIGITS, field, len(digits), 0, a)
    return digits, len(digits)


def code_of(digits: str) -> int:
    return int("1" + digits[:18]) if digits else 0


def primitive(t, field):
    if t.cons:
        raise Bad(R_WRONG_FORM, field, 1, 0, t.vstart)


def address(d, t, field):
    primitive(t, field)
    if t.vend == t.vstart:
        return 0, -1
    return code_of(tbcd(d, t.vstart + 1, t.vend, 18, field)[0]), (d[t.vstart] >> 4) & 7


def tp_address(d, t, field):
    primitive(t, field)
    if t.vend - t.vstart < 2:
        return 0, -1
    declared, ton = d[t.vstart], (d[t.vstart + 1] >> 4) & 7
    if ton == 5:
        return 0, 5
    stop = min(t.vend, t.vstart + 2 + (declared + 1) // 2)
    digits, _ = tbcd(d, t.vstart + 2, stop, 18, field)
    return code_of(digits[:declared]), ton


def timestamp(d, t, field):
    primitive(t, field)
    v = d[t.vstart:t.vend]
    if len(v) != 9:
        raise Bad(R_BAD_TIME, field, len(v), 0, t.vstart)
    bcd = v[:6] + v[7:]
    if any(o >> 4 > 9 or o & 0xF > 9 for o in bcd) or v[6] not in (0x2B, 0x2D):
        raise Bad(R_BAD_TIME, field, 9, 0, t.vstart)
    yy, mo, dd, hh, mi, ss, oh, om = ((o >> 4) * 10 + (o & 0xF) for o in bcd)
    if (not 1 <= mo <= 12 or not 1 <= dd <= calendar.monthrange(2000 + yy, mo)[1]
            or hh > 23 or mi > 59 or ss > 59 or oh > 23 or om > 59):
        raise Bad(R_BAD_TIME, field, 9, 0, t.vstart)
    sign = 1 if v[6] == 0x2B else -1
    return calendar.timegm((2000 + yy, mo, dd, hh, mi, ss)) - sign * (oh * 3600 + om * 60)


def integer(d, t, field):
    primitive(t, field)
    v = d[t.vstart:t.vend]
    if not 1 <= len(v) <= 8:
        raise Bad(R_BAD_INT, field, len(v), 0, t.vstart)
    return int.from_bytes(v, "big", signed=True)


def location(d, t):
    if not t.cons:
        raise Bad(R_WRONG_FORM, F_LOCATION, 0, 0, t.vstart)
    lac = ci = None
    plmn = 0
    for f in children(d, t, 2, F_LOCATION):
        if f.cls != 2 or f.tag > 2:
            continue
        if f.cons:
            raise Bad(R_WRONG_FORM, F_LAC + f.tag, 1, 0, f.vstart)
        v = d[f.vstart:f.vend]
        if f.tag == 2:
            if len(v) != 3:
                raise Bad(R_BAD_LOCATION, F_PLMN, len(v), 0, f.vstart)
            ds = [v[0] & 0xF, v[0] >> 4, v[1] & 0xF, v[2] & 0xF, v[2] >> 4, v[1] >> 4]
            if ds[5] == 0xF:
                ds = ds[:5]
            if any(x > 9 for x in ds):
                raise Bad(R_BAD_LOCATION, F_PLMN, 3, 0, f.vstart)
            plmn = int("1" + "".join(map(str, ds)))
        else:
            if len(v) != 2:
                raise Bad(R_BAD_LOCATION, F_LAC + f.tag, len(v), 0, f.vstart)
            if f.tag == 0:
                lac = int.from_bytes(v, "big")
            else:
                ci = int.from_bytes(v, "big")
    if lac is None:
        raise Bad(R_MISSING, F_LAC, 0, 0, t.vstart)
    if ci is None:
        raise Bad(R_MISSING, F_CI, 0, 0, t.vstart)
    return (plmn << 32) | (lac << 16) | ci


def decode_record(d, rec, kind):
    r = dict(imsi=0, imei=0, msisdn=0, other=0, other_ton=-1, seizure=NA, answer=NA, release=NA,
             smstime=NA, duration=-1, cause=NA, cellkey=-1)
    seen = set()
    q = rec.vstart
    while q < rec.vend:
        try:
            f = read_tlv(d, q, rec.vend, 1, F_RECORD)
        except Bad as e:
            if d[q] >> 6 == 2 and d[q] & 0x1F != 0x1F and d[q] & 0x1F in FIELDS[kind]:
                fid = FIELDS[kind][d[q] & 0x1F]
                e.field = F_OTHER if fid == F_OTHER_TP else fid
            raise
        q = f.next
        if f.cls != 2:
            continue
        fid = FIELDS[kind].get(f.tag)
        if fid is None:
            continue
        if fid in seen:
            raise Bad(R_DUPLICATE, F_OTHER if fid == F_OTHER_TP else fid, 0, 0, f.vstart)
        seen.add(fid)
        if fid in (F_IMSI, F_IMEI):
            primitive(f, fid)
            lo, hi = (15, 15) if fid == F_IMSI else (14, 16)
            digits, n = tbcd(d, f.vstart, f.vend, hi, fid)
            if n < lo:
                raise Bad(R_BAD_NDIGITS, fid, n, 0, f.vstart)
            r["imsi" if fid == F_IMSI else "imei"] = code_of(digits)
        elif fid == F_MSISDN:
            r["msisdn"] = address(d, f, fid)[0]
        elif fid == F_OTHER:
            r["other"], r["other_ton"] = address(d, f, fid)
        elif fid == F_OTHER_TP:
            r["other"], r["other_ton"] = tp_address(d, f, F_OTHER)
        elif fid == F_LOCATION:
            r["cellkey"] = location(d, f)
        elif fid in (F_SEIZURE, F_ANSWER, F_RELEASE, F_SMSTIME):
            name = {F_SEIZURE: "seizure", F_ANSWER: "answer", F_RELEASE: "release",
                    F_SMSTIME: "smstime"}[fid]
            r[name] = timestamp(d, f, fid)
        elif fid == F_DURATION:
            v = integer(d, f, fid)
            if not 0 <= v <= 172800:
                raise Bad(R_BAD_DURATION, fid, v, 0, f.vstart)
            r["duration"] = v
        elif fid == F_CAUSE:
            r["cause"] = integer(d, f, fid)
        elif fid == F_CAMEL:
            if not f.cons:
                raise Bad(R_WRONG_FORM, F_CAMEL, 0, 0, f.vstart)
            for g in children(d, f, 2, F_CAMEL):
                if g.cls == 2 and g.tag == 5:
                    r["other"], r["other_ton"] = address(d, g, F_OTHER)
    if r["imsi"] == 0:
        raise Bad(R_MISSING, F_IMSI, 0, 0, rec.vstart)
    if kind <= 1:
        if r["seizure"] == NA and r["answer"] == NA and r["release"] == NA:
            raise Bad(R_MISSING, F_SEIZURE, 0, 0, rec.vstart)
        if r["duration"] < 0:
            raise Bad(R_MISSING, F_DURATION, 0, 0, rec.vstart)
        r["time"] = next(t for t in (r["seizure"], r["answer"], r["release"]) if t != NA)
    else:
        if r["smstime"] == NA:
            raise Bad(R_MISSING, F_SMSTIME, 0, 0, rec.vstart)
        r["time"] = r["smstime"]
    r["duration"] = max(r["duration"], 0)
    return r


def plausible(d, q, end, framing) -> bool:
    if framing == 1:
        if end - q < 4:
            return False
        length = (d[q] << 8) | d[q + 1]
        hl = 5 if d[q + 2] >> 5 == 7 else 4
        if end - q < hl or d[q + 3] >> 5 != 1 or length < 2 or q + hl + length > end:
            return False
        try:
            t = read_tlv(d, q + hl, q + hl + length, 0, F_RECORD)
        except Bad:
            return False
        return t.cls == 2 and t.cons == 1 and t.next == q + hl + length
    if end - q < 4 or d[q] >> 5 != 5:
        return False
    try:
        t = read_tlv(d, q, min(end, q + MAX_RECORD), 0, F_RECORD)
    except Bad:
        return False
    return t.vend - t.vstart >= 3 and d[t.vstart] == 0x80


def next_record(d, pos, end, framing) -> int:
    return next((j for j in range(pos + 1, end) if plausible(d, j, end, framing)), end)


def decode_bytes(d: bytes, pos: int, framing: int):
    """(rows, rejects, skipped) of ``d[pos:]`` (the whole rest of a file).

    rows: dicts of the decoded fields plus ``kind`` and ``offset``;
    rejects: ``(offset, stop, reason, field, kind, a, b, at)`` as the kernel reports them.
    """
    end = len(d)
    rows, rejects, skipped = [], [], 0
    while pos < end:
        kind = -1
        expect = -1          # where the next record starts if the framing lengths are right
        try:
            if framing == 1:
                if end - pos < 4 or end - pos < (5 if d[pos + 2] >> 5 == 7 else 4):
                    raise Bad(R_TRUNCATED, F_CDR_HEADER, 4, end - pos, pos)
                length = (d[pos] << 8) | d[pos + 1]
                hl = 5 if d[pos + 2] >> 5 == 7 else 4
                body, stop = pos + hl, pos + hl + length
                expect = stop
                if stop > end:
                    raise Bad(R_TRUNCATED, F_CDR_HEADER, length, end - body, pos)
                if d[pos + 3] >> 5 != 1:
                    raise Bad(R_NOT_BER, F_CDR_HEADER, d[pos + 3] >> 5, 0, pos)
                rec = read_tlv(d, body, stop, 0, F_RECORD)
                if rec.next != stop:
                    raise Bad(R_LEN_MISMATCH, F_CDR_HEADER, length, rec.next - body, pos)
            else:
                if d[pos] in (0, 0xFF):
                    pos += 1
                    continue
                body = pos
                wend = min(end, pos + MAX_RECORD)
                try:
                    rec = read_tlv(d, pos, wend, 0, F_RECORD)
                except Bad as e:
                    if e.code == R_PAST and e.a > MAX_RECORD:
                        e.code = R_TOO_LONG
                    elif e.code in (R_PAST, R_NO_EOC) and wend == end:
                        e.code = R_TRUNCATED
                    raise
                stop = expect = rec.next
            if not (rec.cls == 2 and rec.cons):
                if framing == 1:
                    rejects.append((pos, stop, R_NOT_RECORD, F_RECORD, kind, d[body], 0, body))
                    pos = stop
                    continue
                raise Bad(R_NOT_RECORD, F_RECORD, d[body], 0, body)
        except Bad as e:
            q = next_record(d, pos, end, framing)
            if not (q == expect or (e.code == R_TRUNCATED and q == end)):
                e.a, e.b, e.code = q - pos, e.code, R_GARBAGE
            rejects.append((pos, q, e.code, e.field, kind, e.a, e.b, e.at))
            pos = q
            continue
        kind = KINDS.get(rec.tag, -1)
        if kind < 0:
            skipped += 1
            pos = stop
            continue
        try:
            r = decode_record(d, rec, kind)
        except Bad as e:
            rejects.append((pos, stop, e.code, e.field, kind, e.a, e.b, e.at))
            pos = stop
            continue
        r["kind"], r["offset"] = kind, pos
        rows.append(r)
        pos = stop
    return rows, rejects, skipped
