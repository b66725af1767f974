# Field decoders of the BER kernel, included by _ber.pyx (same module: shares B(), fail(),
# the reason and field codes).  Each reads one value [t.vstart, t.vend) and never past it.


cdef int tbcd(const uint8_t* p, Py_ssize_t a, Py_ssize_t b, int64_t* code, int* ndig,
              int maxdig, Err* e, int field) noexcept nogil:
    """TBCD digits of p[a:b] (low nibble first, F = filler up to the end) as a digits code."""
    cdef int64_t v = 1
    cdef int n = 0, i, d, lo, hi, filled = 0
    cdef Py_ssize_t j
    cdef uint8_t o
    for j in range(a, b):
        o = B(p, j)
        d = TWO_DIGITS[o]
        if d >= 0 and n <= 16 and not filled:      # the common case: 2 digits
            v = v * 100 + d
            n += 2
            continue
        lo = o & 0xf
        hi = o >> 4
        for i in range(2):
            d = hi if i else lo
            if filled:
                if d != 0xf:
                    return fail(e, R_BAD_DIGIT, field, d, 0, j)
                continue
            if d == 0xf:
                filled = 1
                continue
            if d > 9:
                return fail(e, R_BAD_DIGIT, field, d, 0, j)
            n += 1
            if n <= 18:
                v = v * 10 + d
    if n > maxdig:
        return fail(e, R_BAD_NDIGITS, field, n, 0, a)
    ndig[0] = n
    code[0] = v if n > 0 else 0
    return 0


cdef int address(const uint8_t* p, Tlv* t, int64_t* code, int* ton, Err* e, int field) noexcept nogil:
    """ISDN-AddressString / BCDDirectoryNumber: octet 1 = ext | TON | NPI, then TBCD digits."""
    cdef int n
    if t.cons:
        return fail(e, R_WRONG_FORM, field, 1, 0, t.vstart)
    if t.vend == t.vstart:
        code[0] = 0
        ton[0] = -1
        return 0
    ton[0] = (B(p, t.vstart) >> 4) & 7
    return tbcd(p, t.vstart + 1, t.vend, code, &n, 18, e, field)


cdef int tp_address(const uint8_t* p, Tlv* t, int64_t* code, int* ton, Err* e, int field) noexcept nogil:
    """SmsTpDestinationNumber (TS 23.040 address): digit count, type of address, TBCD digits.

    Digits past the declared count are ignored; a count above the digits
    present keeps the digits present.  Alphanumeric addresses (TON 5) give no digits.
    """
    cdef int n, declared
    cdef Py_ssize_t stop
    if t.cons:
        return fail(e, R_WRONG_FORM, field, 1, 0, t.vstart)
    if t.vend - t.vstart < 2:
        code[0] = 0
        ton[0] = -1
        return 0
    declared = B(p, t.vstart)
    ton[0] = (B(p, t.vstart + 1) >> 4) & 7
    if ton[0] == 5:
        code[0] = 0
        return 0
    stop = t.vstart + 2 + (declared + 1) // 2
    if stop > t.vend:
        stop = t.vend
    if tbcd(p, t.vstart + 2, stop, code, &n, 18, e, field) < 0:
        return -1
    if n > declared:   # odd count: the last high nibble is not a digit of the address
        code[0] = code[0] // 10 if n > 1 else 0
    return 0


cdef int days_in_month(int y, int m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef int _date_key = -1        # YYMMDD of the last valid date converted ...
cdef int64_t _date_days = 0     # ... and its day number


cdef int64_t days_from_civil(int64_t y, int m, int d) noexcept nogil:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    cdef int64_t era, yoe, doy, doe
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef int timestamp(const uint8_t* p, Tlv* t, int64_t* out, Err* e, int field) noexcept nogil:
    """TimeStamp: BCD YYMMDDhhmmss, '+'/'-', BCD hhmm offset from UTC -> epoch seconds UTC."""
    cdef int v[8]
    cdef int i, k, hi, lo, sign, key
    cdef Py_ssize_t s = t.vstart
    if t.cons:
        return fail(e, R_WRONG_FORM, field, 1, 0, s)
    if t.vend - s != 9:
        return fail(e, R_BAD_TIME, field, t.vend - s, 0, s)
    k = 0
    for i in range(9):
        if i == 6:
            continue
        hi = B(p, s + i) >> 4
        lo = B(p, s + i) & 0xf
        if hi > 9 or lo > 9:
            return fail(e, R_BAD_TIME, field, 9, 0, s)
        v[k] = hi * 10 + lo
        k += 1
    if B(p, s + 6) == 0x2b:
        sign = 1
    elif B(p, s + 6) == 0x2d:
        sign = -1
    else:
        return fail(e, R_BAD_TIME, field, 9, 0, s)
    global _date_key, _date_days
    if v[3] > 23 or v[4] > 59 or v[5] > 59 or v[6] > 23 or v[7] > 59:
        return fail(e, R_BAD_TIME, field, 9, 0, s)
    key = v[0] * 10000 + v[1] * 100 + v[2]
    if key != _date_key:               # records of a file share few dates: convert each once
        if v[1] < 1 or v[1] > 12 or v[2] < 1 or v[2] > days_in_month(2000 + v[0], v[1]):
            return fail(e, R_BAD_TIME, field, 9, 0, s)
        _date_days = days_from_civil(2000 + v[0], v[1], v[2])
        _date_key = key
    out[0] = (_date_days * 86400 + v[3] * 3600 + v[4] * 60 + v[5]
              - sign * (v[6] * 3600 + v[7] * 60))
    return 0


cdef int integer(const uint8_t* p, Tlv* t, int64_t* out, Err* e, int field) noexcept nogil:
    cdef Py_ssize_t n = t.vend - t.vstart, j
    cdef int64_t v
    if t.cons:
        return fail(e, R_WRONG_FORM, field, 1, 0, t.vstart)
    if n < 1 or n > 8:
        return fail(e, R_BAD_INT, field, n, 0, t.vstart)
    v = -1 if B(p, t.vstart) & 0x80 else 0
    for j in range(t.vstart, t.vend):
        v = <int64_t>((<uint64_t>v << 8) | B(p, j))
    out[0] = v
    return 0


cdef int location(const uint8_t* p, Tlv* t, int64_t* key, Err* e) noexcept nogil:
    """LocationAreaAndCell -> (plmn digits code << 32) | (LAC << 16) | CI."""
    cdef Tlv f
    cdef Py_ssize_t q
    cdef int64_t lac = -1, ci = -1, plmn = 0
    cdef int d[6]
    cdef int i
    if not t.cons:
        return fail(e, R_WRONG_FORM, F_LOCATION, 0, 0, t.vstart)
    q = t.vstart
    while q < t.vend:
        if read_tlv(p, q, t.vend, &f, e, 2, F_LOCATION) < 0:
            return -1
        if f.cls == 2 and f.tag <= 2:
            if f.cons:
                return fail(e, R_WRONG_FORM, F_LAC + f.tag, 1, 0, f.vstart)
            if f.tag == 2:
                if f.vend - f.vstart != 3:
                    return fail(e, R_BAD_LOCATION, F_PLMN, f.vend - f.vstart, 0, f.vstart)
                d[0] = B(p, f.vstart) & 0xf
                d[1] = B(p, f.vstart) >> 4
                d[2] = B(p, f.vstart + 1) & 0xf
                d[3] = B(p, f.vstart + 2) & 0xf
                d[4] = B(p, f.vstart + 2) >> 4
                d[5] = B(p, f.vstart + 1) >> 4
                plmn = 1
                for i in range(6):
                    if i == 5 and d[5] == 0xf:
                        break
                    if d[i] > 9:
                        return fail(e, R_BAD_LOCATION, F_PLMN, 3, 0, f.vstart)
                    plmn = plmn * 10 + d[i]
            else:
                if f.vend - f.vstart != 2:
                    return fail(e, R_BAD_LOCATION, F_LAC + f.tag, f.vend - f.vstart, 0, f.vstart)
                if f.tag == 0:
                    lac = (B(p, f.vstart) << 8) | B(p, f.vstart + 1)
                else:
                    ci = (B(p, f.vstart) << 8) | B(p, f.vstart + 1)
        q = f.next
    if lac < 0:
        return fail(e, R_MISSING, F_LAC, 0, 0, t.vstart)
    if ci < 0:
        return fail(e, R_MISSING, F_CI, 0, 0, t.vstart)
    key[0] = (plmn << 32) | (lac << 16) | ci
    return 0


cdef int camel_calling(const uint8_t* p, Tlv* t, Row* r, Err* e) noexcept nogil:
    """cAMELSMSInformation: the callingPartyNumber [5], if there."""
    cdef Tlv f
    cdef Py_ssize_t q
    if not t.cons:
        return fail(e, R_WRONG_FORM, F_CAMEL, 0, 0, t.vstart)
    q = t.vstart
    while q < t.vend:
        if read_tlv(p, q, t.vend, &f, e, 2, F_CAMEL) < 0:
            return -1
        if f.cls == 2 and f.tag == 5:
            if address(p, &f, &r.other, &r.other_ton, e, F_OTHER) < 0:
                return -1
        q = f.next
    return 0
