# cython: language_level=3
"""Kernels of the columnar readers' fast path (wrapper: ``columnar.py``).

They read Arrow arrays in place, by the addresses of their buffers (the wrapper
holds the array while a kernel runs):

- text (:class:`Text`): ``string``/``binary`` (int32 offsets), ``large_string``/
  ``large_binary`` (int64 offsets) and ``string_view``/``binary_view`` (16-byte
  views over variadic data buffers), each with its validity bitmap and offset;
- integers (``int64`` values; the wrapper casts narrower ones) and timestamps;
- a dictionary-encoded column: its dictionary is converted once
  (:func:`text_values` with ``bad``), then gathered by the indices
  (:func:`gather`, int8/16/32/64 indices with their own validity).

Each fills a preallocated output (OUT) and returns the index of the first value it
cannot take in its plain form, or -1 when it took them all.  The wrapper then reads
the batch with the profiled normaliser instead (which decides what is wrong with the
value and rejects it through the one bad-record policy), so these kernels never
reject anything: they only say "not plain".

Rules: digits fields are the CSV kernel's own (``_digits`` of ``_csvfields.pxi``:
``lo``..``hi`` ASCII digits, a leading ``+`` where the field allows one, empty where
it may be empty); a duration is 1-9 ASCII digits of at most ``most`` seconds; a time
is ``YYYY-MM-DDTHH:MM:SSZ`` (:func:`_iso_utc`) or a timestamp.
"""
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t, uintptr_t

import numpy as np

include "_csvfields.pxi"        # _digits: the digits rule of the CSV kernel, shared

cdef enum:
    L_OFFSETS32 = 0             # string, binary
    L_OFFSETS64 = 1             # large_string, large_binary
    L_VIEWS = 2                 # string_view, binary_view
    K_DIGITS = 0                # digits code (int("1" + digits)); null/empty 0 if allowed
    K_SECONDS = 1               # whole seconds 0..hi; null/empty 0
    K_ISO = 2                   # epoch seconds of YYYY-MM-DDTHH:MM:SSZ; null not plain

TEXT_OFFSETS32, TEXT_OFFSETS64, TEXT_VIEWS = L_OFFSETS32, L_OFFSETS64, L_VIEWS
DIGITS, SECONDS, ISO = K_DIGITS, K_SECONDS, K_ISO

cdef int64_t[19] _P10
_P10[:] = [10 ** k for k in range(19)]


cdef struct Rule:
    int kind        # K_*
    int lo          # K_DIGITS: fewest digits; K_SECONDS: unused
    int64_t hi      # K_DIGITS: most digits (<= 18); K_SECONDS: most seconds
    bint empty_ok   # K_DIGITS: null and empty are 0 (else not plain)
    bint plus_ok    # K_DIGITS: a leading '+' is dropped


cdef struct TextArray:
    const uint8_t* valid        # validity bitmap (NULL: every value valid)
    const int32_t* off32        # L_OFFSETS32: offsets
    const int64_t* off64        # L_OFFSETS64: offsets
    const uint8_t* data         # L_OFFSETS*: the data buffer
    const uint8_t* views        # L_VIEWS: 16-byte views
    const uintptr_t* bufs       # L_VIEWS: addresses of the data buffers
    int64_t offset              # the array's offset into its buffers (in values)
    int layout                  # L_*


cdef class Text:
    """One Arrow text array by its buffers: ``Text(layout, n, offset, valid, offsets_or_views,
    data, bufs, owner)`` (addresses; 0 for a missing buffer; ``bufs``: a uint64 numpy array
    of the view layout's data buffer addresses; ``owner``: the array, kept alive here)."""
    cdef TextArray a
    cdef readonly Py_ssize_t n
    cdef object _bufs, _owner

    def __init__(self, int layout, Py_ssize_t n, int64_t offset, uintptr_t valid,
                 uintptr_t offsets, uintptr_t data, bufs=None, owner=None):
        if layout not in (L_OFFSETS32, L_OFFSETS64, L_VIEWS):
            raise ValueError(f"unknown text layout {layout}")
        self.n = n
        self.a.layout = layout
        self.a.offset = offset
        self.a.valid = <const uint8_t*>valid
        self.a.off32 = <const int32_t*>offsets if layout == L_OFFSETS32 else NULL
        self.a.off64 = <const int64_t*>offsets if layout == L_OFFSETS64 else NULL
        self.a.views = <const uint8_t*>offsets if layout == L_VIEWS else NULL
        self.a.data = <const uint8_t*>data
        self._bufs, self._owner = bufs, owner
        cdef const uintptr_t[::1] b
        if layout == L_VIEWS and bufs is not None and len(bufs):
            b = bufs
            self.a.bufs = &b[0]
        else:
            self.a.bufs = NULL


cdef inline bint _bit(const uint8_t* bits, int64_t i) noexcept nogil:
    """Bit i of a validity bitmap (NULL: set)."""
    return bits == NULL or (bits[i >> 3] >> (i & 7)) & 1


cdef inline bint _value(const TextArray* a, int64_t i, const uint8_t** s,
                        Py_ssize_t* n) noexcept nogil:
    """s[0][:n[0]]: the bytes of value i (counted from the array's offset); False when null."""
    cdef int64_t j = a.offset + i
    cdef int32_t k
    if not _bit(a.valid, j):
        return False
    if a.layout == L_OFFSETS32:
        s[0] = a.data + a.off32[j]
        n[0] = a.off32[j + 1] - a.off32[j]
    elif a.layout == L_OFFSETS64:
        s[0] = a.data + a.off64[j]
        n[0] = a.off64[j + 1] - a.off64[j]
    else:                       # view: length, then 12 inline bytes or (prefix, buffer, offset)
        memcpy(&k, a.views + 16 * j, 4)
        n[0] = k
        if k <= 12:
            s[0] = a.views + 16 * j + 4
        else:
            memcpy(&k, a.views + 16 * j + 8, 4)
            s[0] = <const uint8_t*>a.bufs[k]
            memcpy(&k, a.views + 16 * j + 12, 4)
            s[0] += k
    return True


cdef inline int _two(const uint8_t* d, Py_ssize_t p) noexcept nogil:
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


cdef inline int _iso_utc(const uint8_t* s, Py_ssize_t n, int64_t* out) noexcept nogil:
    """Epoch seconds of exactly ``YYYY-MM-DDTHH:MM:SSZ``: a real date, hours < 24, minutes
    and seconds < 60, within the normaliser's years (:func:`_in_years`); -1 if not."""
    cdef int y1, y2, mo, d, h, mi, sec
    cdef int64_t y, t
    if n != 20 or s[4] != 45 or s[7] != 45 or s[10] != 84 or s[13] != 58 or s[16] != 58 \
            or s[19] != 90:
        return -1
    y1 = _two(s, 0)
    y2 = _two(s, 2)
    mo = _two(s, 5)
    d = _two(s, 8)
    h = _two(s, 11)
    mi = _two(s, 14)
    sec = _two(s, 17)
    if y1 < 0 or y2 < 0 or mo < 1 or mo > 12 or d < 1 or h < 0 or h > 23 \
            or mi < 0 or mi > 59 or sec < 0 or sec > 59:
        return -1
    y = y1 * 100 + y2
    if d > _MONTH_DAYS[mo]:
        return -1
    if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return -1
    t = _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
    if not _in_years(t):
        return -1
    out[0] = t
    return 0


cdef inline int _convert(const Rule* r, bint valid, const uint8_t* s, Py_ssize_t n,
                         int64_t* out) noexcept nogil:
    """out[0]: value (s[:n], or null when not valid) under rule r; -1 if not plain."""
    if r.kind == K_DIGITS:
        if not valid:
            out[0] = 0
            return 0 if r.empty_ok else -1
        return _digits(s, n, r.lo, <int>r.hi, r.empty_ok, r.plus_ok, False, out)
    if r.kind == K_SECONDS:
        if not valid or n == 0:
            out[0] = 0
            return 0
        if n > 9 or _digits(s, n, 1, 9, False, False, False, out) < 0:
            return -1
        out[0] -= _P10[n]                       # the digits code less its leading 1
        return 0 if out[0] <= r.hi else -1
    if not valid:
        return -1
    return _iso_utc(s, n, out)


cdef Py_ssize_t _text_values(const TextArray* a, Py_ssize_t n, const Rule* r, int64_t* out,
                             uint8_t* bad) noexcept nogil:
    cdef Py_ssize_t i, m = 0
    cdef const uint8_t* s = NULL
    cdef bint valid
    for i in range(n):
        valid = _value(a, i, &s, &m)
        if _convert(r, valid, s, m, &out[i]) < 0:
            if bad == NULL:
                return i
            bad[i] = 1
            out[i] = 0
        elif bad != NULL:
            bad[i] = 0
    return -1


cdef Rule _rule(int kind, int lo, int64_t hi, bint empty_ok, bint plus_ok) except *:
    cdef Rule r
    if kind not in (K_DIGITS, K_SECONDS, K_ISO) or (kind == K_DIGITS and not 0 <= lo <= hi <= 18):
        raise ValueError(f"bad rule: kind {kind}, lo {lo}, hi {hi}")
    r.kind, r.lo, r.hi, r.empty_ok, r.plus_ok = kind, lo, hi, empty_ok, plus_ok
    return r


def text_values(Text col, int kind, int lo, int64_t hi, bint empty_ok, bint plus_ok,
                int64_t[::1] out, uint8_t[::1] bad=None):
    """OUT out[i]: value i of ``col`` under the rule (``kind``: DIGITS, SECONDS, ISO; see the
    module docstring).  Without ``bad``: the index of the first value not plain, or -1.
    With ``bad`` (OUT): bad[i] = 1 for each value not plain (out[i] = 0), and -1."""
    cdef Rule r = _rule(kind, lo, hi, empty_ok, plus_ok)
    cdef Py_ssize_t res
    cdef uint8_t* b = NULL
    if out.shape[0] < col.n or (bad is not None and bad.shape[0] < col.n):
        raise ValueError("output shorter than the column")
    if bad is not None and col.n:
        b = &bad[0]
    if col.n == 0:
        return -1
    with nogil:
        res = _text_values(&col.a, col.n, &r, &out[0], b)
    return res


cdef inline int _int_rule(const Rule* r, int64_t x, int64_t* out) noexcept nogil:
    """out[0]: integer x as a digits code (K_DIGITS) or seconds (K_SECONDS); -1 if not plain."""
    cdef int k
    if x < 0:
        return -1
    if r.kind == K_SECONDS:
        if x > r.hi:
            return -1
        out[0] = x
        return 0
    k = 1                                       # digits of x
    while k < 19 and x >= _P10[k]:
        k += 1
    if k < r.lo or k > r.hi:
        return -1
    out[0] = _P10[k] + x
    return 0


cdef Py_ssize_t _ints(const int64_t* v, const uint8_t* valid, int64_t offset, Py_ssize_t n,
                      const Rule* r, int64_t* out) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not _bit(valid, offset + i):
            if r.kind == K_DIGITS and not r.empty_ok:
                return i
            out[i] = 0
            continue
        if _int_rule(r, v[i], &out[i]) < 0:
            return i
    return -1


def int_values(const int64_t[::1] values, uintptr_t valid, int64_t offset, int kind, int lo,
               int64_t hi, bint empty_ok, int64_t[::1] out):
    """OUT out[i]: value i of an int64 column (``values`` from the array's offset; ``valid``:
    the address of its validity bitmap, 0 for none, read from bit ``offset``) as a digits
    code (DIGITS: ``lo``..``hi`` digits, non-negative) or whole seconds (SECONDS: 0..hi);
    null as 0 when the rule allows it.  The index of the first value not plain, or -1."""
    cdef Rule r = _rule(kind, lo, hi, empty_ok, False)
    cdef Py_ssize_t res, n = values.shape[0]
    if kind == K_ISO:
        raise ValueError("integers are not ISO times")
    if out.shape[0] < n:
        raise ValueError("output shorter than the column")
    if n == 0:
        return -1
    with nogil:
        res = _ints(&values[0], <const uint8_t*>valid, offset, n, &r, &out[0])
    return res


def instants(const int64_t[::1] values, uintptr_t valid, int64_t offset, int64_t unit,
             int64_t shift, int64_t[::1] out):
    """OUT out[i]: ``floor(values[i] / unit) - shift`` (a timestamp of ``unit`` ticks per
    second as epoch seconds).  The index of the first null, or -1."""
    cdef Py_ssize_t res, n = values.shape[0]
    if unit < 1 or out.shape[0] < n:
        raise ValueError("bad unit or output shorter than the column")
    if n == 0:
        return -1
    with nogil:
        res = _instants(&values[0], <const uint8_t*>valid, offset, n, unit, shift, &out[0])
    return res


cdef inline int64_t _floor_div(int64_t x, int64_t unit) noexcept nogil:
    """floor(x / unit), also without cdivision."""
    return x // unit if x >= 0 else -((unit - 1 - x) // unit)


cdef Py_ssize_t _instants(const int64_t* v, const uint8_t* valid, int64_t offset, Py_ssize_t n,
                          int64_t unit, int64_t shift, int64_t* out) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not _bit(valid, offset + i):
            return i
        out[i] = _floor_div(v[i], unit) - shift
    return -1


ctypedef fused index_t:
    int8_t
    int16_t
    int32_t
    int64_t


cdef Py_ssize_t _gather(const index_t* idx, const uint8_t* valid, int64_t offset,
                        Py_ssize_t n, const int64_t* table, const uint8_t* bad,
                        Py_ssize_t size, bint null_ok, int64_t null_value,
                        int64_t* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t k
    for i in range(n):
        if not _bit(valid, offset + i):
            if not null_ok:
                return i
            out[i] = null_value
            continue
        k = idx[i]
        if k < 0 or k >= size or bad[k]:
            return i
        out[i] = table[k]
    return -1


def gather(const index_t[::1] indices, uintptr_t valid, int64_t offset,
           const int64_t[::1] table, const uint8_t[::1] bad, bint null_ok, int64_t null_value,
           int64_t[::1] out):
    """OUT out[i] = table[indices[i]] (a dictionary column: ``table``/``bad`` from
    :func:`text_values` on its dictionary, or any code per distinct value; ``indices`` from
    the array's offset, ``valid`` its validity bitmap's address or 0); a null index is
    ``null_value`` when ``null_ok``.  The index of the first value not plain (null, bad
    entry), or -1."""
    cdef Py_ssize_t res, n = indices.shape[0]
    if out.shape[0] < n or bad.shape[0] < table.shape[0]:
        raise ValueError("output shorter than the column")
    if n == 0:
        return -1
    cdef const int64_t* t = &table[0] if table.shape[0] else NULL
    cdef const uint8_t* b = &bad[0] if bad.shape[0] else NULL
    with nogil:
        res = _gather(&indices[0], <const uint8_t*>valid, offset, n, t, b, table.shape[0],
                      null_ok, null_value, &out[0])
    return res


include "_parquet_pages.pxi"     # Parquet pages read in place (parquet_pages.py)
