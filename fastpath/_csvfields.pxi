# Field converters of the CSV kernel (_csvread.pyx): bytes in, C values out.
#
# Included by _csvread.pyx (inline C functions): each returns 0 on success and -1
# for a value that breaks the rules of docs/input-formats.md, which the pure-Python
# reference (csvref.py) implements again, slowly.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t
from libc.string cimport memcpy

cdef enum:
    TF_ISO = 0
    TF_EPOCH = 1
    TF_EPOCH_MS = 2
    TF_PATTERN = 3
    OP_LIT = 0
    OP_Y4 = 1
    OP_Y2 = 2
    OP_MON = 3
    OP_DAY = 4
    OP_HOUR = 5
    OP_MIN = 6
    OP_SEC = 7
    OP_FRAC = 8
    OP_TZ = 9
    MAX_OPS = 64

cdef int64_t MAX_DURATION = 172800
cdef int64_t MAX_EPOCH = 7258118400   # 2200-01-01


cdef inline bint _eq(const uint8_t* a, const uint8_t* b, Py_ssize_t n) noexcept nogil:
    """a[:n] == b[:n], word by word (tokens are short: no call to memcmp)."""
    cdef uint64_t x, y
    while n >= 8:
        memcpy(&x, a, 8)
        memcpy(&y, b, 8)
        if x != y:
            return False
        a += 8
        b += 8
        n -= 8
    while n > 0:
        if a[0] != b[0]:
            return False
        a += 1
        b += 1
        n -= 1
    return True


cdef inline uint64_t _hash(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = <uint64_t>0x9E3779B97F4A7C15 ^ <uint64_t>n
    cdef uint64_t w = 0
    cdef Py_ssize_t i = 0
    if n >= 8:
        while n - i > 8:
            memcpy(&w, s + i, 8)
            h = (h ^ w) * <uint64_t>0xff51afd7ed558ccd
            h ^= h >> 32
            i += 8
        memcpy(&w, s + n - 8, 8)               # the last 8 bytes (overlap): no byte loop
    else:
        while i < n:
            w |= (<uint64_t>s[i]) << (8 * i)
            i += 1
    # murmur3's fmix64: every byte moves the low bits the table index is taken from
    # (without it, tokens differing only in their last digits collide)
    h ^= w
    h ^= h >> 33
    h *= <uint64_t>0xff51afd7ed558ccd
    h ^= h >> 33
    h *= <uint64_t>0xc4ceb9fe1a85ec53
    h ^= h >> 33
    return h


# ---- field converters (return 0 on success, -1 on a bad value) -------------------

cdef inline int _digits(const uint8_t* s, Py_ssize_t n, int minlen, int maxlen,
                        bint allow_empty, bint allow_plus, bint float_ok,
                        int64_t* out) noexcept nogil:
    """Digits code of s[:n]; optional leading '+', optional '.0*' suffix."""
    cdef Py_ssize_t i, k
    cdef int64_t v
    cdef uint8_t c
    if allow_plus and n > 0 and s[0] == 43:   # '+'
        s += 1
        n -= 1
        if n == 0:
            return -1
    if float_ok:
        for i in range(n):
            if s[i] == 46:                     # '.'
                if i == 0:
                    return -1
                for k in range(i + 1, n):
                    if s[k] != 48:
                        return -1
                n = i
                break
    if n == 0:
        out[0] = 0
        return 0 if allow_empty else -1
    if n < minlen or n > maxlen:
        return -1
    v = 1
    i = 0
    while n - i >= 8:                          # eight digits at a time
        if _eight_digits(s + i, &v) < 0:
            return -1
        i += 8
    if i < n and i >= 8:
        # the last n - i digits: the 8 bytes ending at s + n, those already read
        # (the first 8 - (n - i)) replaced by '0'
        if _tail_digits(s + n - 8, 8 - (n - i), &v) < 0:
            return -1
        i = n
    while i < n:
        c = s[i] - 48
        if c > 9:
            return -1
        v = v * 10 + c
        i += 1
    out[0] = v
    return 0


cdef int64_t _POW10[9]
_POW10[:] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000]


cdef inline int _swar8(uint64_t w, int64_t* v) noexcept nogil:
    """v = the number of the 8 digit bytes of w (first digit in the lowest byte); -1 if
    one of them is not a digit (SWAR, as simdjson's parse_eight_digits_unrolled)."""
    if ((w + <uint64_t>0x4646464646464646) | (w - <uint64_t>0x3030303030303030)) \
            & <uint64_t>0x8080808080808080:
        return -1
    w -= <uint64_t>0x3030303030303030
    w = (w * 10 + (w >> 8)) & <uint64_t>0x00FF00FF00FF00FF
    w = (w * 100 + (w >> 16)) & <uint64_t>0x0000FFFF0000FFFF
    w = (w * 10000 + (w >> 32)) & <uint64_t>0x00000000FFFFFFFF
    v[0] = <int64_t>w
    return 0


cdef inline int _tail_digits(const uint8_t* s, int skip, int64_t* v) noexcept nogil:
    """v = v * 10**(8 - skip) + the number of the digits s[skip:8] (0 <= skip < 8;
    the first `skip` bytes, digits already read, are taken as '0'); -1 if not digits."""
    cdef uint64_t w, low
    cdef int64_t x
    memcpy(&w, s, 8)
    if skip:
        low = (<uint64_t>1 << (8 * skip)) - 1
        w = (w & ~low) | (<uint64_t>0x3030303030303030 & low)
    if _swar8(w, &x) < 0:
        return -1
    v[0] = v[0] * _POW10[8 - skip] + x
    return 0


cdef inline int _eight_digits(const uint8_t* s, int64_t* v) noexcept nogil:
    """v = v * 10**8 + the number of the 8 digits at s (SWAR, as simdjson's
    parse_eight_digits_unrolled); -1 if one of the bytes is not a digit."""
    cdef uint64_t w
    cdef int64_t x
    memcpy(&w, s, 8)                           # first digit in the lowest byte
    if _swar8(w, &x) < 0:
        return -1
    v[0] = v[0] * 100000000 + x
    return 0


cdef inline int _duration(const uint8_t* s, Py_ssize_t n, int32_t* out) noexcept nogil:
    """Seconds 0-172800; empty = 0; a fraction is rounded half up; a signed zero is 0."""
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    cdef uint8_t c
    if n == 0:
        out[0] = 0
        return 0
    if s[0] == 45:                             # "-0", "-0.0": a signed zero is 0
        i = 1
        while i < n and s[i] == 48:
            i += 1
        if i == 1:
            return -1
        if i < n:
            if s[i] != 46 or i + 1 == n:
                return -1
            i += 1
            while i < n and s[i] == 48:
                i += 1
            if i < n:
                return -1
        out[0] = 0
        return 0
    while i < n and s[i] != 46:
        c = s[i] - 48
        if c > 9 or v > MAX_DURATION:
            return -1
        v = v * 10 + c
        i += 1
    if i == 0:
        return -1
    if i < n:                                  # fraction
        if i + 1 == n:
            return -1
        c = s[i + 1] - 48
        if c > 9:
            return -1
        if c >= 5:
            v += 1
        for i in range(i + 1, n):
            if <uint8_t>(s[i] - 48) > 9:
                return -1
    if v > MAX_DURATION:
        return -1
    out[0] = <int32_t>v
    return 0


cdef inline int64_t _days_from_civil(int64_t y, int64_t m, int64_t d) noexcept nogil:
    # Howard Hinnant's algorithm; y >= 1900 here, so C division is floor division.
    if m <= 2:
        y -= 1
    cdef int64_t era = y // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t mp = m - 3 if m > 2 else m + 9
    cdef int64_t doy = (153 * mp + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef inline int _days_in_month(int64_t y, int64_t m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef inline int _num(const uint8_t* s, Py_ssize_t n, Py_ssize_t p, int width) noexcept nogil:
    """Value of exactly `width` digits at s[p:], -1 if not digits."""
    cdef int v = 0, i
    cdef uint8_t c
    if p + width > n:
        return -1
    for i in range(width):
        c = s[p + i] - 48
        if c > 9:
            return -1
        v = v * 10 + c
    return v


cdef inline int _tz(const uint8_t* s, Py_ssize_t n, Py_ssize_t* p, int64_t* off) noexcept nogil:
    """Parse Z | +HH | +HHMM | +HH:MM (and '-') at s[p[0]:]; seconds east of UTC."""
    cdef Py_ssize_t q = p[0]
    cdef int hh, mm = 0, sign
    if q >= n:
        return -1
    if s[q] == 90:                             # 'Z'
        off[0] = 0
        p[0] = q + 1
        return 0
    if s[q] == 43:
        sign = 1
    elif s[q] == 45:
        sign = -1
    else:
        return -1
    hh = _num(s, n, q + 1, 2)
    if hh < 0 or hh > 23:
        return -1
    q += 3
    if q < n and s[q] == 58:                   # ':'
        mm = _num(s, n, q + 1, 2)
        if mm < 0:
            return -1
        q += 3
    elif q + 1 < n and <uint8_t>(s[q] - 48) <= 9:
        mm = _num(s, n, q, 2)
        if mm < 0:
            return -1
        q += 2
    if mm > 59:
        return -1
    off[0] = sign * (hh * 3600 + mm * 60)
    p[0] = q
    return 0


cdef inline int _finish_time(int64_t Y, int64_t M, int64_t D, int64_t h, int64_t mi,
                             int64_t sec, int64_t off, int64_t* out) noexcept nogil:
    if Y < 1900 or Y > 2199 or M < 1 or M > 12 or D < 1 or D > _days_in_month(Y, M):
        return -1
    if h > 23 or mi > 59 or sec > 59:
        return -1
    out[0] = _days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off
    return 0


cdef struct DateCache:
    # the date part (first 10 bytes) of the last ISO time parsed, and its day number:
    # CDRs come in time order, so most records repeat the previous record's date
    uint64_t head         # bytes 0-7 ("YYYY-MM-")
    uint16_t tail         # bytes 8-9 ("DD")
    int64_t days          # days since 1970-01-01 of that date
    bint valid


cdef inline int _iso(const uint8_t* s, Py_ssize_t n, int64_t naive_off, int64_t* out,
                     DateCache* dc) noexcept nogil:
    """YYYY-MM-DD(T| )HH:MM:SS[.f{1,9}][Z|+HH[[:]MM]]; no zone = local at naive_off.

    ``dc`` (or NULL): the date of the last valid time, reused when the date is the same."""
    cdef int Y, M, D, h, mi, sec
    cdef Py_ssize_t p, k
    cdef int64_t off = naive_off
    cdef uint64_t head
    cdef uint16_t tail
    if n < 19 or s[4] != 45 or s[7] != 45 or (s[10] != 84 and s[10] != 32) \
            or s[13] != 58 or s[16] != 58:
        return -1
    h = _num(s, n, 11, 2)
    mi = _num(s, n, 14, 2)
    sec = _num(s, n, 17, 2)
    if h < 0 or mi < 0 or sec < 0:
        return -1
    if dc != NULL:
        memcpy(&head, s, 8)
        memcpy(&tail, s + 8, 2)
        if dc.valid and head == dc.head and tail == dc.tail:
            p = 19
            if p < n:
                if s[p] == 46:
                    k = p + 1
                    while k < n and <uint8_t>(s[k] - 48) <= 9:
                        k += 1
                    if k == p + 1 or k - p - 1 > 9:
                        return -1
                    p = k
                if p < n:
                    if _tz(s, n, &p, &off) < 0 or p != n:
                        return -1
            if h > 23 or mi > 59 or sec > 59:
                return -1
            out[0] = dc.days * 86400 + h * 3600 + mi * 60 + sec - off
            return 0
    Y = _num(s, n, 0, 4)
    M = _num(s, n, 5, 2)
    D = _num(s, n, 8, 2)
    if Y < 0 or M < 0 or D < 0:
        return -1
    if dc != NULL and 1900 <= Y <= 2199 and 1 <= M <= 12 and 1 <= D <= _days_in_month(Y, M):
        dc.head = head
        dc.tail = tail
        dc.days = _days_from_civil(Y, M, D)
        dc.valid = True
    p = 19
    if p < n and s[p] == 46:
        k = p + 1
        while k < n and <uint8_t>(s[k] - 48) <= 9:
            k += 1
        if k == p + 1 or k - p - 1 > 9:
            return -1
        p = k
    if p < n:
        if _tz(s, n, &p, &off) < 0 or p != n:
            return -1
    return _finish_time(Y, M, D, h, mi, sec, off, out)


cdef inline int _epoch(const uint8_t* s, Py_ssize_t n, int64_t div, int64_t* out) noexcept nogil:
    """Integer epoch seconds (div=1) or milliseconds (div=1000), optional '.digits'."""
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    cdef uint8_t c
    while i < n and s[i] != 46:
        c = s[i] - 48
        if c > 9 or i >= 15:
            return -1
        v = v * 10 + c
        i += 1
    if i == 0:
        return -1
    if i < n:
        if i + 1 == n:
            return -1
        for i in range(i + 1, n):
            if <uint8_t>(s[i] - 48) > 9:
                return -1
    v = v // div
    if v >= MAX_EPOCH:
        return -1
    out[0] = v
    return 0


cdef inline int _pattern(const uint8_t* ops, const uint8_t* op_args, int n_ops, int64_t naive_off,
                         const uint8_t* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """Time by a strftime-style pattern compiled to ops (see columns.py)."""
    cdef int64_t Y = -1, M = -1, D = -1, h = 0, mi = 0, sec = 0, off = naive_off
    cdef Py_ssize_t p = 0, k
    cdef int i, op, v, width
    for i in range(n_ops):
        op = ops[i]
        if op == OP_LIT:
            if p >= n or s[p] != op_args[i]:
                return -1
            p += 1
        elif op == OP_Y4:
            v = _num(s, n, p, 4)
            if v < 0:
                return -1
            Y = v
            p += 4
        elif op == OP_FRAC:
            k = p
            while k < n and <uint8_t>(s[k] - 48) <= 9:
                k += 1
            if k == p or k - p > 9:
                return -1
            p = k
        elif op == OP_TZ:
            if _tz(s, n, &p, &off) < 0:
                return -1
        else:
            # two digits; one when the pattern allows it (a literal follows: arg 1)
            # and the next byte is not a digit, as in 1/3/2026 8:00:05
            width = 2
            if op_args[i] and not (p + 1 < n and <uint8_t>(s[p + 1] - 48) <= 9):
                width = 1
            v = _num(s, n, p, width)
            if v < 0:
                return -1
            p += width
            if op == OP_Y2:
                Y = 2000 + v
            elif op == OP_MON:
                M = v
            elif op == OP_DAY:
                D = v
            elif op == OP_HOUR:
                h = v
            elif op == OP_MIN:
                mi = v
            else:
                sec = v
    if p != n:
        return -1
    return _finish_time(Y, M, D, h, mi, sec, off, out)


cdef inline Py_ssize_t _utf8_error(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Offset of the first byte that is not valid UTF-8 (as Python decodes it), -1 if none."""
    cdef Py_ssize_t i = 0, k, need
    cdef uint8_t c, c1
    while i < n:
        c = s[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif 0xE0 <= c <= 0xEF:
            need = 2
        elif 0xF0 <= c <= 0xF4:
            need = 3
        else:
            return i
        if i + need >= n:
            return i
        c1 = s[i + 1]
        if (c1 & 0xC0) != 0x80:
            return i
        if c == 0xE0 and c1 < 0xA0:
            return i
        if c == 0xED and c1 > 0x9F:
            return i
        if c == 0xF0 and c1 < 0x90:
            return i
        if c == 0xF4 and c1 > 0x8F:
            return i
        for k in range(2, need + 1):
            if (s[i + k] & 0xC0) != 0x80:
                return i
        i += need + 1
    return -1
