# cython: language_level=3
"""Kernels of the columnar readers' fast path (wrapper: ``columnar.py``).

Each takes one Arrow string array by its buffers (validity bitmap, int32 offsets,
data; ``offset`` = the array's offset into them), fills a preallocated output
(OUT) and returns the index of the first value it cannot take in its plain form,
or -1 when it took them all.  The wrapper then reads the whole batch with the
profiled normaliser instead (it decides what is wrong with the value), so these
kernels never reject anything: they only say "not plain".
"""
from libc.stdint cimport int32_t, int64_t, uint8_t


cdef inline bint _valid(const uint8_t[::1] bits, Py_ssize_t i) noexcept nogil:
    """IN bits: an Arrow validity bitmap (empty: every value valid)."""
    if bits.shape[0] == 0:
        return True
    return (bits[i >> 3] >> (i & 7)) & 1


cdef inline int64_t _number(const uint8_t[::1] data, Py_ssize_t s, Py_ssize_t e,
                           int64_t lead) noexcept nogil:
    """``lead`` followed by the ASCII digits data[s:e], as a number; -1 if one is not a digit
    (at most 18 digits after a lead of 1, the caller checks)."""
    cdef Py_ssize_t j
    cdef uint8_t c
    cdef int64_t v = lead
    for j in range(s, e):
        c = data[j] - 48
        if c > 9:
            return -1
        v = v * 10 + c
    return v


cdef Py_ssize_t _digits_codes(const uint8_t[::1] bits, const int32_t[::1] offsets,
                              const uint8_t[::1] data, Py_ssize_t offset, Py_ssize_t n, int lo,
                              int hi, int64_t[::1] out) noexcept nogil:
    cdef Py_ssize_t i, s, e
    for i in range(n):
        s = offsets[offset + i]
        e = offsets[offset + i + 1]
        if not _valid(bits, offset + i) or e == s:
            out[i] = 0
            continue
        if e - s < lo or e - s > hi:
            return i
        out[i] = _number(data, s, e, 1)
        if out[i] < 0:
            return i
    return -1


def digits_codes(const uint8_t[::1] bits, const int32_t[::1] offsets, const uint8_t[::1] data,
                 Py_ssize_t offset, Py_ssize_t n, int lo, int hi, int64_t[::1] out):
    """OUT out[i]: the digits code of value i (``int("1" + digits)``), 0 when null or empty.

    Plain: null, empty, or ``lo``..``hi`` ASCII digits (``hi`` at most 18).
    """
    cdef Py_ssize_t r
    with nogil:
        r = _digits_codes(bits, offsets, data, offset, n, lo, hi, out)
    return r


cdef Py_ssize_t _small_ints(const uint8_t[::1] bits, const int32_t[::1] offsets,
                            const uint8_t[::1] data, Py_ssize_t offset, Py_ssize_t n,
                            int64_t most, int32_t[::1] out) noexcept nogil:
    cdef Py_ssize_t i, s, e
    cdef int64_t v
    for i in range(n):
        s = offsets[offset + i]
        e = offsets[offset + i + 1]
        if not _valid(bits, offset + i):
            out[i] = 0
            continue
        if e - s > 9:
            return i
        v = _number(data, s, e, 0)
        if v < 0 or v > most:
            return i
        out[i] = <int32_t>v
    return -1


def small_ints(const uint8_t[::1] bits, const int32_t[::1] offsets, const uint8_t[::1] data,
               Py_ssize_t offset, Py_ssize_t n, int64_t most, int32_t[::1] out):
    """OUT out[i]: the value of ASCII digits ``0..most`` (at most 9 digits), 0 when null or
    empty."""
    cdef Py_ssize_t r
    with nogil:
        r = _small_ints(bits, offsets, data, offset, n, most, out)
    return r


cdef inline int _two(const uint8_t[::1] d, Py_ssize_t p) noexcept nogil:
    """The number of two ASCII digits at p, or -1."""
    cdef int a = d[p] - 48, b = d[p + 1] - 48
    if a < 0 or a > 9 or b < 0 or b > 9:
        return -1
    return a * 10 + b


cdef inline int64_t _days(int64_t y, int64_t m, int64_t d) noexcept nogil:
    """Days from 1970-01-01 to the civil date y-m-d (H. Hinnant's days_from_civil)."""
    y -= m <= 2
    cdef int64_t era = (y if y >= 0 else y - 399) // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef int[13] _MONTH_DAYS
_MONTH_DAYS[:] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


cdef inline bint _in_years(int64_t t) noexcept nogil:
    """The normaliser's year check: ``1970 + t // 31556952`` (floored) in 1900..2199."""
    cdef int64_t q = t // 31556952 if t >= 0 else -((31556951 - t) // 31556952)
    return 1900 <= 1970 + q <= 2199


cdef Py_ssize_t _iso_utc_times(const uint8_t[::1] bits, const int32_t[::1] offsets,
                               const uint8_t[::1] data, Py_ssize_t offset, Py_ssize_t n,
                               int64_t[::1] out) noexcept nogil:
    cdef Py_ssize_t i, p
    cdef int y1, y2, mo, d, h, mi, sec
    cdef int64_t y, t
    for i in range(n):
        if not _valid(bits, offset + i):
            return i
        p = offsets[offset + i]
        if offsets[offset + i + 1] - p != 20:
            return i
        if (data[p + 4] != 45 or data[p + 7] != 45 or data[p + 10] != 84
                or data[p + 13] != 58 or data[p + 16] != 58 or data[p + 19] != 90):
            return i
        y1 = _two(data, p)
        y2 = _two(data, p + 2)
        mo = _two(data, p + 5)
        d = _two(data, p + 8)
        h = _two(data, p + 11)
        mi = _two(data, p + 14)
        sec = _two(data, p + 17)
        if y1 < 0 or y2 < 0 or mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 \
                or mi < 0 or mi > 59 or sec < 0 or sec > 59:
            return i
        y = y1 * 100 + y2
        if d > _MONTH_DAYS[mo]:
            return i
        if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
            return i
        t = _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
        if not _in_years(t):
            return i
        out[i] = t
    return -1


def iso_utc_times(const uint8_t[::1] bits, const int32_t[::1] offsets, const uint8_t[::1] data,
                  Py_ssize_t offset, Py_ssize_t n, int64_t[::1] out):
    """OUT out[i]: epoch seconds of ``YYYY-MM-DDTHH:MM:SSZ``.

    Plain: exactly that form, a real date, hours < 24, minutes and seconds < 60,
    within the normaliser's years (:func:`_in_years`).  Null and empty values are
    not plain.
    """
    cdef Py_ssize_t r
    with nogil:
        r = _iso_utc_times(bits, offsets, data, offset, n, out)
    return r
