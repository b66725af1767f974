# cython: language_level=3
"""BER kernel: TS 32.298 CS records (MO/MT call, MO/MT SMS) in TS 32.297 CDR files.

Private; use :mod:`simbox.fastpath.ber`.  The wrapper hands over a buffer of
bytes of the (uncompressed) file and preallocated output columns; the kernel
walks the records in ``[pos, end)``, writes one row per accepted record and
reports every rejected one (byte offset, reason code, field code, two numbers)
to a Python list.  It never reads outside ``[pos, end)``: every length is
checked against the end of its container before it is used, and every
indefinite length is resolved against that end too, with a nesting limit.

Framings: ``FRAMING_TS32297`` (CDR header before each record, after the file
header the wrapper has already read) and ``FRAMING_RAW`` (BER records back to
back, ``0x00``/``0xFF`` filler between them ignored).
"""
import numpy as np
cimport numpy as cnp
from libc.stdio cimport fprintf, stderr
from libc.stdlib cimport abort
from libc.stdint cimport int64_t, int32_t, int16_t, int8_t, uint8_t, uint64_t, INT64_MIN

cnp.import_array()


cdef struct Tlv:
    # One BER tag-length-value read by read_tlv().
    int cls             # tag class: 0 universal, 1 application, 2 context, 3 private
    int cons            # 1 = constructed encoding, 0 = primitive
    int64_t tag         # tag number (long form decoded)
    Py_ssize_t vstart   # offset of the first content octet
    Py_ssize_t vend     # offset just after the content (definite) / of the end-of-contents (indefinite)
    Py_ssize_t next     # offset just after the whole TLV (after the end-of-contents when indefinite)


cdef struct Err:
    # Why and where a record was rejected (filled by the failing function).
    int code            # a reason code (R_* in _ber.pyx; index into ber.REASONS)
    int field           # a field code (F_* in _ber.pyx; named per record kind in ber.py)
    int64_t a           # first number for the message (meaning depends on code)
    int64_t b           # second number for the message
    Py_ssize_t at       # byte offset (in the buffer) where the problem was seen


cdef struct Row:
    # The fields of one CS record decoded by decode_record().
    int64_t imsi        # digits code, 0 = absent
    int64_t imei        # digits code, 0 = absent
    int64_t msisdn      # digits code, 0 = absent
    int64_t other       # digits code of the other party, 0 = absent
    int other_ton       # type of number of the other party (0-7), -1 = absent
    int64_t seizure     # epoch seconds UTC of seizureTime, NA_TIME = absent
    int64_t answer      # answerTime, NA_TIME = absent
    int64_t release     # releaseTime, NA_TIME = absent
    int64_t smstime     # originationTime (MO SMS) / deliveryTime (MT SMS), NA_TIME = absent
    int64_t duration    # callDuration seconds, -1 = absent
    int64_t cause       # causeForTerm, NA_CAUSE = absent
    int64_t cellkey     # (plmn digits code << 32) | (lac << 16) | ci, plmn code 0 = no MCC-MNC; -1 = no location

# framings
FRAMING_TS32297 = 1
FRAMING_RAW = 2

# statuses returned by decode()
DONE = 0        # everything up to `end` was consumed
NEED_MORE = 1   # the record at the returned position needs bytes past `end`
FULL = 2        # the output columns are full

cdef int64_t NA_TIME = INT64_MIN
cdef int64_t NA_CAUSE = INT64_MIN
NA = NA_TIME

# Every read of the input goes through B(): in the debug build (SIMBOX_DEBUG=1) it
# checks the offset against the buffer decode() was given and aborts the process on
# an overread (so a fuzzer sees it); in the normal build it is a plain load.
cdef bint CHECK_READS = SIMBOX_DEBUG
cdef Py_ssize_t _BUFLEN = 0
DEBUG_BUILD = bool(CHECK_READS)


cdef inline uint8_t B(const uint8_t* p, Py_ssize_t i) noexcept nogil:
    if SIMBOX_DEBUG and (i < 0 or i >= _BUFLEN):     # a compile-time constant: no test in release
        fprintf(stderr, b"simbox BER kernel: read at %zd outside the buffer of %zd bytes\n", i, _BUFLEN)
        abort()
    return p[i]


cdef int MAX_DEPTH = 24          # nesting limit of constructed values
cdef Py_ssize_t MAX_RECORD = 65535   # a TS 32.297 CDR length is 2 octets
cdef int64_t MAX_DURATION = 172800   # seconds (48 h), as the CSV contract

# reason codes (index into ber.REASONS)
cdef enum:
    R_OK = 0
    R_TRUNCATED = 1         # the file ends inside a record
    R_PAST_CONTAINER = 2    # a length runs past its container (a = length, b = octets left)
    R_BAD_LENGTH = 3        # reserved / too long length octets (a = first length octet)
    R_INDEF_PRIMITIVE = 4   # indefinite length on a primitive value
    R_NO_EOC = 5            # indefinite length without end-of-contents
    R_TOO_DEEP = 6          # nesting deeper than MAX_DEPTH
    R_TAG_TOO_LONG = 7      # tag number with more than 4 subsequent octets
    R_NOT_RECORD = 8        # top level is not a context-specific constructed tag (a = identifier octet)
    R_LEN_MISMATCH = 9      # CDR header length != BER length of the record (a = header, b = BER)
    R_NOT_BER = 10          # CDR header says another data record format (a = format)
    R_WRONG_FORM = 11       # primitive where constructed expected or back (a = 1 if constructed seen)
    R_BAD_DIGIT = 12        # nibble A-E, or digits after the F filler (a = nibble)
    R_BAD_NDIGITS = 13      # wrong number of digits (a = digits)
    R_BAD_TIME = 14         # TimeStamp not 9 octets or out of range (a = octets)
    R_BAD_INT = 15          # INTEGER of 0 or more than 8 octets (a = octets)
    R_BAD_DURATION = 16     # callDuration negative or above MAX_DURATION (a = value)
    R_MISSING = 17          # a field the event needs is absent
    R_DUPLICATE = 18        # a field appears twice in the SET
    R_BAD_LOCATION = 19     # LAC/CI not 2 octets, MCC-MNC not 3 BCD octets (a = octets)
    R_TOO_LONG = 20         # record longer than 65535 octets (raw framing) (a = length)
    R_GARBAGE = 21          # bytes skipped to the next plausible record (a = count, b = first reason)

# field codes (named per record kind in ber.py)
cdef enum:
    F_NONE = 0
    F_RECORD = 1
    F_IMSI = 2
    F_IMEI = 3
    F_MSISDN = 4
    F_OTHER = 5
    F_LOCATION = 6
    F_LAC = 7
    F_CI = 8
    F_PLMN = 9
    F_SEIZURE = 10
    F_ANSWER = 11
    F_RELEASE = 12
    F_SMSTIME = 13
    F_DURATION = 14
    F_CAUSE = 15
    F_CAMEL = 16
    F_CDR_HEADER = 17
    F_OTHER_TP = 18         # SmsTpDestinationNumber (reported as F_OTHER)

# record kinds = RecordType codes of events.py
cdef enum:
    K_MOC = 0
    K_MTC = 1
    K_SMS_MO = 2
    K_SMS_MT = 3

# FIELDS[kind][tag] = field code of the context tag in that record's SET
cdef uint8_t FIELDS[4][80]


cdef void _init_fields():
    cdef int k, t
    for k in range(4):
        for t in range(80):
            FIELDS[k][t] = F_NONE
    # MOCallRecord
    FIELDS[K_MOC][1] = F_IMSI
    FIELDS[K_MOC][2] = F_IMEI
    FIELDS[K_MOC][3] = F_MSISDN
    FIELDS[K_MOC][5] = F_OTHER        # calledNumber
    FIELDS[K_MOC][12] = F_LOCATION
    FIELDS[K_MOC][22] = F_SEIZURE
    FIELDS[K_MOC][23] = F_ANSWER
    FIELDS[K_MOC][24] = F_RELEASE
    FIELDS[K_MOC][25] = F_DURATION
    FIELDS[K_MOC][30] = F_CAUSE
    # MTCallRecord
    FIELDS[K_MTC][1] = F_IMSI
    FIELDS[K_MTC][2] = F_IMEI
    FIELDS[K_MTC][3] = F_MSISDN
    FIELDS[K_MTC][4] = F_OTHER        # callingNumber
    FIELDS[K_MTC][9] = F_LOCATION
    FIELDS[K_MTC][19] = F_SEIZURE
    FIELDS[K_MTC][20] = F_ANSWER
    FIELDS[K_MTC][21] = F_RELEASE
    FIELDS[K_MTC][22] = F_DURATION
    FIELDS[K_MTC][27] = F_CAUSE
    # MOSMSRecord
    FIELDS[K_SMS_MO][1] = F_IMSI
    FIELDS[K_SMS_MO][2] = F_IMEI
    FIELDS[K_SMS_MO][3] = F_MSISDN
    FIELDS[K_SMS_MO][7] = F_LOCATION
    FIELDS[K_SMS_MO][9] = F_SMSTIME   # originationTime
    FIELDS[K_SMS_MO][12] = F_OTHER_TP # destinationNumber
    # MTSMSRecord
    FIELDS[K_SMS_MT][2] = F_IMSI
    FIELDS[K_SMS_MT][3] = F_IMEI
    FIELDS[K_SMS_MT][4] = F_MSISDN
    FIELDS[K_SMS_MT][7] = F_LOCATION
    FIELDS[K_SMS_MT][8] = F_SMSTIME   # deliveryTime
    FIELDS[K_SMS_MT][12] = F_CAMEL    # cAMELSMSInformation (callingPartyNumber = originator)

_init_fields()

# TWO_DIGITS[octet] = the two TBCD digits of an octet as a number (low nibble first), -1 if
# either nibble is not a digit
cdef int16_t TWO_DIGITS[256]
for _o in range(256):
    TWO_DIGITS[_o] = (_o & 0xf) * 10 + (_o >> 4) if (_o & 0xf) <= 9 and (_o >> 4) <= 9 else -1


cdef inline int fail(Err* e, int code, int field, int64_t a, int64_t b, Py_ssize_t at) noexcept nogil:
    e.code = code
    e.field = field
    e.a = a
    e.b = b
    e.at = at
    return -1


cdef int read_tlv(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end, Tlv* t, Err* e,
                  int depth, int field) noexcept nogil:
    """Read the TLV at ``pos`` that must end by ``end``; 0 or -1 (``e`` filled)."""
    cdef uint8_t c
    cdef int64_t tag, length
    cdef int k, n
    cdef Py_ssize_t q
    cdef Tlv child
    if pos >= end:
        return fail(e, R_PAST_CONTAINER, field, 1, 0, pos)
    c = B(p, pos)
    pos += 1
    t.cls = c >> 6
    t.cons = (c >> 5) & 1
    tag = c & 0x1f
    if tag == 0x1f:
        tag = 0
        k = 0
        while True:
            if pos >= end:
                return fail(e, R_PAST_CONTAINER, field, 1, 0, pos)
            c = B(p, pos)
            pos += 1
            k += 1
            if k > 4:
                return fail(e, R_TAG_TOO_LONG, field, k, 0, pos - 1)
            tag = (tag << 7) | (c & 0x7f)
            if not (c & 0x80):
                break
    t.tag = tag
    if pos >= end:
        return fail(e, R_PAST_CONTAINER, field, 1, 0, pos)
    c = B(p, pos)
    pos += 1
    if c < 0x80:
        length = c
    elif c == 0x80:
        if not t.cons:
            return fail(e, R_INDEF_PRIMITIVE, field, 0, 0, pos - 1)
        if depth >= MAX_DEPTH:
            return fail(e, R_TOO_DEEP, field, MAX_DEPTH, 0, pos - 1)
        t.vstart = pos
        q = pos
        while True:
            if end - q < 2:
                return fail(e, R_NO_EOC, field, 0, 0, q)
            if B(p, q) == 0 and B(p, q + 1) == 0:
                t.vend = q
                t.next = q + 2
                return 0
            if read_tlv(p, q, end, &child, e, depth + 1, field) < 0:
                if e.code == R_PAST_CONTAINER and e.a == 1:
                    e.code = R_NO_EOC
                return -1
            q = child.next
    elif c == 0xff:
        return fail(e, R_BAD_LENGTH, field, c, 0, pos - 1)
    else:
        n = c & 0x7f
        if n > 4:
            return fail(e, R_BAD_LENGTH, field, c, 0, pos - 1)
        if end - pos < n:
            return fail(e, R_PAST_CONTAINER, field, 1, 0, pos)
        length = 0
        for k in range(n):
            length = (length << 8) | B(p, pos + k)
        pos += n
    if length > end - pos:
        return fail(e, R_PAST_CONTAINER, field, length, end - pos, pos)
    t.vstart = pos
    t.vend = pos + length
    t.next = pos + length
    return 0


include "_ber_fields.pxi"


cdef int decode_record(const uint8_t* p, Tlv* rec, int kind, Row* r, Err* e) noexcept nogil:
    """Fields of one MO/MT call or SMS record (a SET, any order; unknown tags skipped)."""
    cdef Tlv f
    cdef Py_ssize_t q = rec.vstart
    cdef uint64_t seen = 0
    cdef int fid, n
    r.imsi = 0
    r.imei = 0
    r.msisdn = 0
    r.other = 0
    r.other_ton = -1
    r.seizure = NA_TIME
    r.answer = NA_TIME
    r.release = NA_TIME
    r.smstime = NA_TIME
    r.duration = -1
    r.cause = NA_CAUSE
    r.cellkey = -1
    cdef int ton = 0
    cdef uint8_t c0, c1
    while q < rec.vend:
        c0 = B(p, q)
        if rec.vend - q >= 2 and (c0 & 0x1f) != 0x1f and B(p, q + 1) < 0x80 \
                and B(p, q + 1) <= rec.vend - q - 2:
            # the common case inline: a short tag and a short definite length that fits
            c1 = B(p, q + 1)
            f.cls = c0 >> 6
            f.cons = (c0 >> 5) & 1
            f.tag = c0 & 0x1f
            f.vstart = q + 2
            f.vend = q + 2 + c1
            f.next = f.vend
        elif read_tlv(p, q, rec.vend, &f, e, 1, F_RECORD) < 0:
            if (c0 >> 6) == 2 and (c0 & 0x1f) != 0x1f:     # name the field when it is ours
                fid = FIELDS[kind][c0 & 0x1f]
                if fid != F_NONE:
                    e.field = fid if fid != F_OTHER_TP else F_OTHER
            return -1
        q = f.next
        if f.cls != 2 or f.tag >= 80:
            continue
        fid = FIELDS[kind][f.tag]
        if fid == F_NONE:
            continue
        if seen & (<uint64_t>1 << fid):
            return fail(e, R_DUPLICATE, fid if fid != F_OTHER_TP else F_OTHER, 0, 0, f.vstart)
        seen |= <uint64_t>1 << fid
        if fid == F_IMSI:
            if f.cons:
                return fail(e, R_WRONG_FORM, fid, 1, 0, f.vstart)
            if tbcd(p, f.vstart, f.vend, &r.imsi, &n, 15, e, fid) < 0:
                return -1
            if n != 15:                        # as the CSV contract: an IMSI has 15 digits
                return fail(e, R_BAD_NDIGITS, fid, n, 0, f.vstart)
        elif fid == F_IMEI:
            if f.cons:
                return fail(e, R_WRONG_FORM, fid, 1, 0, f.vstart)
            if tbcd(p, f.vstart, f.vend, &r.imei, &n, 16, e, fid) < 0:
                return -1
            if n < 14:
                return fail(e, R_BAD_NDIGITS, fid, n, 0, f.vstart)
        elif fid == F_MSISDN:
            if address(p, &f, &r.msisdn, &ton, e, fid) < 0:
                return -1
        elif fid == F_OTHER:
            if address(p, &f, &r.other, &r.other_ton, e, fid) < 0:
                return -1
        elif fid == F_OTHER_TP:
            if tp_address(p, &f, &r.other, &r.other_ton, e, F_OTHER) < 0:
                return -1
        elif fid == F_LOCATION:
            if location(p, &f, &r.cellkey, e) < 0:
                return -1
        elif fid == F_SEIZURE:
            if timestamp(p, &f, &r.seizure, e, fid) < 0:
                return -1
        elif fid == F_ANSWER:
            if timestamp(p, &f, &r.answer, e, fid) < 0:
                return -1
        elif fid == F_RELEASE:
            if timestamp(p, &f, &r.release, e, fid) < 0:
                return -1
        elif fid == F_SMSTIME:
            if timestamp(p, &f, &r.smstime, e, fid) < 0:
                return -1
        elif fid == F_DURATION:
            if integer(p, &f, &r.duration, e, fid) < 0:
                return -1
            if r.duration < 0 or r.duration > MAX_DURATION:
                return fail(e, R_BAD_DURATION, fid, r.duration, 0, f.vstart)
        elif fid == F_CAUSE:
            if integer(p, &f, &r.cause, e, fid) < 0:
                return -1
        elif fid == F_CAMEL:
            if camel_calling(p, &f, r, e) < 0:
                return -1
    if r.imsi == 0:
        return fail(e, R_MISSING, F_IMSI, 0, 0, rec.vstart)
    if kind == K_MOC or kind == K_MTC:
        if r.seizure == NA_TIME and r.answer == NA_TIME and r.release == NA_TIME:
            return fail(e, R_MISSING, F_SEIZURE, 0, 0, rec.vstart)
        if r.duration < 0:
            return fail(e, R_MISSING, F_DURATION, 0, 0, rec.vstart)
    elif r.smstime == NA_TIME:
        return fail(e, R_MISSING, F_SMSTIME, 0, 0, rec.vstart)
    return 0


cdef inline int record_kind(int64_t tag) noexcept nogil:
    if tag == 0:
        return K_MOC
    if tag == 1:
        return K_MTC
    if tag == 6:
        return K_SMS_MO
    if tag == 7:
        return K_SMS_MT
    return -1


cdef int cdr_header(const uint8_t* p, Py_ssize_t q, Py_ssize_t end, Py_ssize_t* hl,
                    Py_ssize_t* length) noexcept nogil:
    """TS 32.297 CDR header at q: 0 ok, -1 fewer than its 4-5 octets before end."""
    if end - q < 4:
        return -1
    length[0] = (B(p, q) << 8) | B(p, q + 1)
    hl[0] = 5 if (B(p, q + 2) >> 5) == 7 else 4
    if end - q < hl[0]:
        return -1
    return 0


cdef int plausible(const uint8_t* p, Py_ssize_t q, Py_ssize_t end, int final, int framing) noexcept nogil:
    """Does a record start at q?  1 yes, 0 no, -1 cannot tell before more bytes come."""
    cdef Py_ssize_t hl, length, body, wend
    cdef Tlv t
    cdef Err e
    if framing == 1:
        if cdr_header(p, q, end, &hl, &length) < 0:
            return 0 if final else -1
        if (B(p, q + 3) >> 5) != 1 or length < 2:
            return 0
        body = q + hl
        if body + length > end:
            return 0 if final else -1
        if read_tlv(p, body, body + length, &t, &e, 0, F_RECORD) < 0:
            return 0
        return 1 if (t.cls == 2 and t.cons and t.next == body + length) else 0
    # raw: a context-specific constructed record whose first field is recordType [0]
    if end - q < 4:
        return 0 if final else -1
    if (B(p, q) >> 5) != 5:
        return 0
    wend = q + MAX_RECORD
    if wend > end:
        wend = end
    if read_tlv(p, q, wend, &t, &e, 0, F_RECORD) < 0:
        if not final and wend == end and e.code in (R_PAST_CONTAINER, R_NO_EOC) and e.a <= MAX_RECORD:
            return -1
        return 0
    return 1 if (t.vend - t.vstart >= 3 and B(p, t.vstart) == 0x80) else 0


cdef int resync(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end, int final, int framing,
                Py_ssize_t* q) noexcept nogil:
    """First q in (pos, end] where a record plausibly starts (end if none): 0, or -1 = need more."""
    cdef Py_ssize_t j
    cdef int r
    for j in range(pos + 1, end):
        r = plausible(p, j, end, final, framing)
        if r == 1:
            q[0] = j
            return 0
        if r < 0:
            return -1
    q[0] = end
    return 0


def decode(const uint8_t[::1] buf, Py_ssize_t pos, Py_ssize_t end, bint final, int framing,
           dict out, Py_ssize_t n, list rejects, Py_ssize_t base):
    """Decode the records in ``buf[pos:end]`` into ``out`` (arrays, rows from ``n``).

    IN: ``buf``, ``pos``, ``end``, ``final`` (no bytes follow ``end``),
    ``framing``, ``base`` (stream offset of ``buf[0]``).
    OUT: rows of ``out`` from ``n`` (the columns offset, seizure, answer, release,
    cause and other_ton only when they are as long as the others); ``rejects`` gets
    ``(offset, stop, reason, field, kind, a, b, at)`` tuples (stream offsets).
    Returns ``(status, pos, n, skipped)``: status DONE / NEED_MORE / FULL,
    ``pos`` where to continue, ``n`` rows filled, records of other types skipped.
    """
    global _BUFLEN
    if end > buf.shape[0] or pos < 0 or pos > end:
        raise ValueError("decode: pos/end outside the buffer")
    _BUFLEN = end
    cdef const uint8_t* p = &buf[0] if buf.shape[0] > 0 else NULL
    cdef uint8_t[::1] o_rtype = out["rtype"]
    cdef int64_t[::1] o_time = out["time"]
    cdef int64_t[::1] o_imsi = out["imsi"]
    cdef int64_t[::1] o_imei = out["imei"]
    cdef int64_t[::1] o_msisdn = out["msisdn"]
    cdef int64_t[::1] o_other = out["other"]
    cdef int32_t[::1] o_duration = out["duration"]
    cdef int64_t[::1] o_cellkey = out["cellkey"]
    cdef int64_t[::1] o_offset = out["offset"]
    cdef int64_t[::1] o_seizure = out["seizure"]
    cdef int64_t[::1] o_answer = out["answer"]
    cdef int64_t[::1] o_release = out["release"]
    cdef int64_t[::1] o_cause = out["cause"]
    cdef int8_t[::1] o_ton = out["other_ton"]
    cdef Py_ssize_t cap = o_time.shape[0]
    cdef bint full = o_offset.shape[0] >= cap       # the extra columns are wanted
    cdef Py_ssize_t skipped = 0, hl = 0, length = 0, body = 0, stop = 0, q = 0, wend, expect
    cdef Tlv rec
    cdef Err e
    cdef Row r
    cdef int kind, status = 0, bad
    if p == NULL:
        return (0, pos, n, 0)
    while pos < end:
        if n >= cap:
            return (2, pos, n, skipped)
        e.code = R_OK
        e.field = F_RECORD
        e.a = 0
        e.b = 0
        e.at = pos
        kind = -1
        bad = 0           # 0 ok, 1 bad content (trust the framing), 2 bad framing (resync)
        expect = -1       # where the next record starts if the framing lengths are right
        if framing == 1:
            if cdr_header(p, pos, end, &hl, &length) < 0:
                if not final:
                    return (1, pos, n, skipped)
                fail(&e, R_TRUNCATED, F_CDR_HEADER, 4, end - pos, pos)
                bad = 2
            else:
                body = pos + hl
                stop = body + length
                expect = stop
                if stop > end:
                    if not final:
                        return (1, pos, n, skipped)
                    fail(&e, R_TRUNCATED, F_CDR_HEADER, length, end - body, pos)
                    bad = 2
                elif (B(p, pos + 3) >> 5) != 1:
                    fail(&e, R_NOT_BER, F_CDR_HEADER, B(p, pos + 3) >> 5, 0, pos)
                    bad = 2
                elif read_tlv(p, body, stop, &rec, &e, 0, F_RECORD) < 0:
                    bad = 2
                elif rec.next != stop:
                    fail(&e, R_LEN_MISMATCH, F_CDR_HEADER, length, rec.next - body, pos)
                    bad = 2
        else:
            if B(p, pos) == 0 or B(p, pos) == 0xff:      # filler between records
                pos += 1
                continue
            body = pos
            wend = pos + MAX_RECORD
            if wend > end:
                wend = end
            if read_tlv(p, pos, wend, &rec, &e, 0, F_RECORD) < 0:
                if e.code == R_PAST_CONTAINER and e.a > MAX_RECORD:
                    e.code = R_TOO_LONG
                elif e.code in (R_PAST_CONTAINER, R_NO_EOC) and wend == end:
                    if not final:
                        return (1, pos, n, skipped)
                    e.code = R_TRUNCATED
                bad = 2
            else:
                stop = rec.next
                expect = stop
        if bad == 0:
            if rec.cls != 2 or not rec.cons:
                fail(&e, R_NOT_RECORD, F_RECORD, B(p, body), 0, body)
                bad = 1 if framing == 1 else 2
            else:
                kind = record_kind(rec.tag)
                if kind < 0:
                    skipped += 1
                    pos = stop
                    continue
                if decode_record(p, &rec, kind, &r, &e) < 0:
                    bad = 1
        if bad == 2:
            if resync(p, pos, end, final, framing, &q) < 0:
                return (1, pos, n, skipped)
            if not (q == expect or (e.code == R_TRUNCATED and q == end)):
                e.b = e.code                  # the framing was wrong: these bytes are garbage
                e.a = q - pos
                e.code = R_GARBAGE
            rejects.append((base + pos, base + q, e.code, e.field, kind, e.a, e.b, base + e.at))
            pos = q
            continue
        if bad == 1:
            rejects.append((base + pos, base + stop, e.code, e.field, kind, e.a, e.b, base + e.at))
            pos = stop
            continue
        o_rtype[n] = kind
        if kind == K_MOC or kind == K_MTC:
            o_time[n] = r.seizure if r.seizure != NA_TIME else (r.answer if r.answer != NA_TIME else r.release)
        else:
            o_time[n] = r.smstime
        o_imsi[n] = r.imsi
        o_imei[n] = r.imei
        o_msisdn[n] = r.msisdn
        o_other[n] = r.other
        o_duration[n] = <int32_t>(r.duration if r.duration >= 0 else 0)
        o_cellkey[n] = r.cellkey
        if full:
            o_offset[n] = base + pos
            o_seizure[n] = r.seizure
            o_answer[n] = r.answer
            o_release[n] = r.release
            o_cause[n] = r.cause
            o_ton[n] = r.other_ton
        n += 1
        pos = stop
    return (0, pos, n, skipped)
