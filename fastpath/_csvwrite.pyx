# cython: language_level=3, cdivision=True
"""CSV rows as bytes, column by column (see csvwrite.py).

The bytes the standard library's ``csv.writer`` (excel dialect, ``lineterminator="\\n"``)
writes for rows of the texts ``csvwrite.field_texts`` gives: numbers formatted here as
Python formats them (``PyOS_double_to_string``, the function behind ``"%.10g" % v``;
a value that is a number of ten-thousandths, as the scores rounded to 4 decimals are,
written from that integer: :func:`put_decimal4`; other values from their digits, in fixed
notation or with a negative exponent: :func:`put_general`), texts copied as UTF-8, a text with a
comma, a quote or a newline quoted as the csv module quotes it.  Times (int64 seconds) are written as numpy's ``datetime_as_string``
with a ``Z``.  A text this kernel cannot promise to write as the csv module does (a
carriage return, an object that is not exactly a ``str``; a time outside the years
1-9999) makes it return None:
the caller then writes the table with the csv module.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, _PyBytes_Resize
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.list cimport PyList_GET_ITEM
from cpython.mem cimport PyMem_Free
from libc.math cimport fabs, floor, isnan, llround, log10, signbit
from libc.stdint cimport INT64_MIN, int64_t, uint8_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memchr, memcpy, strlen
cimport numpy as cnp

cnp.import_array()


cdef extern from "Python.h":
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int* ptype) except NULL
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_Check(object o)
    bint PyFloat_CheckExact(object o)
    double PyFloat_AS_DOUBLE(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    Py_UCS4 PyUnicode_READ_CHAR(object o, Py_ssize_t index)
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)


cdef enum:
    TEXT = 0        # a list of str
    FLOAT = 1       # float64: "%.{precision}g", NaN empty
    INT = 2         # int64: decimal
    BOOL = 3        # uint8: True / False
    TIME = 4        # int64 seconds since 1970 (UTC): YYYY-MM-DDTHH:MM:SSZ, INT64_MIN (NaT) empty
    ARROW = 5       # (data, offsets, valid): texts as Arrow holds them, UTF-8 bytes; invalid empty
    CODES = 6       # (codes, data, offsets): int64 codes (-1: empty) into texts given as ARROW's
    OBJECTS = 7     # an object array: str as TEXT, None and float NaN empty (missing)


cdef enum:
    MIN_YEAR = 1                # TIME: years written here (others: the caller's writer)
    MAX_YEAR = 9999


cdef struct day_t:
    int64_t days            # the day whose date ``text`` holds (INT64_MIN: none yet)
    char text[11]           # YYYY-MM-DDT


cdef int put_time(buffer_t* b, int64_t t, day_t* day) except -2 nogil:
    """``t`` (seconds since 1970, UTC) as numpy's ``datetime_as_string(unit="s")`` + ``Z``;
    1 (nothing written) outside the years MIN_YEAR..MAX_YEAR.  Days to a civil date:
    H. Hinnant's ``civil_from_days`` (proleptic Gregorian), once per run of rows of one day
    (``day``: the column's last date, kept from row to row)."""
    cdef int64_t days, secs
    cdef char num[20]
    if t == INT64_MIN:
        return 0
    days, secs = t // 86400, t % 86400        # (cdivision: toward zero)
    if secs < 0:
        days, secs = days - 1, secs + 86400
    if days != day.days:
        if put_date(day.text, days):
            return 1
        day.days = days
    memcpy(num, day.text, 11)
    put_digits(num + 11, secs // 3600, 2)
    num[13] = 58                                    # ':'
    put_digits(num + 14, secs // 60 % 60, 2)
    num[16] = 58
    put_digits(num + 17, secs % 60, 2)
    num[19] = 90                                    # 'Z'
    put(b, num, 20)
    return 0


cdef int put_date(char* num, int64_t days) noexcept nogil:
    """``YYYY-MM-DDT`` of ``days`` since 1970-01-01 into ``num`` (11 bytes); 1 (nothing
    written) outside the years MIN_YEAR..MAX_YEAR."""
    cdef int64_t z, era, doe, yoe, y, doy, mp, d, m
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    if y < MIN_YEAR or y > MAX_YEAR:
        return 1
    put_digits(num, y, 4)
    num[4] = 45                                     # '-'
    put_digits(num + 5, m, 2)
    num[7] = 45
    put_digits(num + 8, d, 2)
    num[10] = 84                                    # 'T'
    return 0


cdef inline void put_digits(char* at, int64_t v, int width) noexcept nogil:
    """``v`` (0 <= v < 10**width) as ``width`` decimal digits, zero-padded (``%0{width}lld``)."""
    cdef int i
    for i in range(width - 1, -1, -1):
        at[i] = <char>(48 + v % 10)                 # '0' + digit
        v //= 10


cdef struct buffer_t:
    char* data              # the bytes written (the buffer of ``bytes`` when it is not NULL)
    Py_ssize_t size
    Py_ssize_t capacity
    PyObject* bytes         # NULL: ``data`` is malloc's; else a bytes object of ``capacity``
                            #    bytes being filled (its own: handed back without a copy)
    bint failed             # a growth failed: nothing more written; the writer raises
                            #    MemoryError when its rows are done (:func:`check`)


cdef inline bint reserve(buffer_t* b, Py_ssize_t more) noexcept nogil:
    """Room for ``more`` bytes at the end of ``b``; False when there is none (``b.failed``)."""
    return b.size + more <= b.capacity or grow(b, b.size + more)


cdef bint grow(buffer_t* b, Py_ssize_t want) noexcept nogil:
    """``b`` grown to at least ``want`` bytes (twice its size at least); False, with
    ``b.failed`` set and ``b`` as it was (or, a bytes object that could not grow, emptied),
    when memory is short.  (No exception here: :func:`put`, called for every field, stays
    small enough to be inlined.)"""
    cdef char* grown
    if b.failed:
        return False
    want = max(want, 2 * b.capacity)
    if b.bytes != NULL:
        with gil:
            try:
                _PyBytes_Resize(&b.bytes, want)     # (failing, it frees the object)
            except MemoryError:
                b.bytes, b.data, b.size, b.capacity, b.failed = NULL, NULL, 0, 0, True
                return False
            b.data = PyBytes_AS_STRING(<object>b.bytes)
    else:
        grown = <char*>realloc(b.data, want)
        if grown == NULL:
            b.failed = True
            return False
        b.data = grown
    b.capacity = want
    return True


cdef int check(buffer_t* b) except -1:
    """MemoryError when ``b`` could not grow."""
    if b.failed:
        raise MemoryError(f"cannot grow a CSV buffer past {b.capacity:,} bytes")
    return 0


cdef inline void put(buffer_t* b, const char* s, Py_ssize_t n) noexcept nogil:
    if b.size + n > b.capacity and not grow(b, b.size + n):
        return
    memcpy(b.data + b.size, s, n)
    b.size += n


cdef inline int put_decimal(char* at, uint64_t v) noexcept nogil:
    """``v`` in decimal at ``at`` (``"%llu"``, without ``snprintf``), its digits found from
    the last; returns the number of digits written."""
    cdef char num[24]
    cdef int n = 24, width
    while True:
        n -= 1
        num[n] = <char>(48 + v % 10)                # '0' + digit
        v //= 10
        if v == 0:
            break
    width = 24 - n
    memcpy(at, num + n, width)
    return width


cdef inline void put_int(buffer_t* b, int64_t v) noexcept nogil:
    """``v`` in decimal (``str(v)``)."""
    cdef char num[24]
    cdef int n = 0
    cdef uint64_t u = <uint64_t>(-(v + 1)) + 1 if v < 0 else <uint64_t>v   # (INT64_MIN too)
    if v < 0:
        num[0] = 45                                 # '-'
        n = 1
    n += put_decimal(num + n, u)
    put(b, num, n)


cdef void put_quoted(buffer_t* b, const char* s, Py_ssize_t n) noexcept nogil:
    """``s`` between double quotes, each quote doubled (the csv module's QUOTE_MINIMAL): the
    runs up to each quote copied whole."""
    cdef const char* end = s + n
    cdef const char* q
    if not reserve(b, 2 * n + 2):
        return
    b.data[b.size] = b'"'
    b.size += 1
    while s < end:
        q = <const char*>memchr(s, b'"', end - s)
        if q == NULL:
            memcpy(b.data + b.size, s, end - s)
            b.size += end - s
            break
        memcpy(b.data + b.size, s, q + 1 - s)       # up to the quote, then its double
        b.size += q + 1 - s
        b.data[b.size] = b'"'
        b.size += 1
        s = q + 1
    b.data[b.size] = b'"'
    b.size += 1


cdef enum:
    DECIMALS = 4                # put_decimal4: ten-thousandths
    SCALE = 10000               # 10 ** DECIMALS
    MAX_UNITS = 1000000000      # ... below 10 ** 9: 9 significant digits at most


cdef int put_decimal4(buffer_t* b, double v, int precision) except -2 nogil:
    """``v`` as ``"%.{precision}g"`` formats it when ``v`` is the double nearest to a nonzero
    number of ten-thousandths ``u / 10**4`` with ``|u| < 10**9`` (``u`` digits, then the
    point and the decimals without trailing zeros); 1 (nothing written) for other values.

    Exact: ``u / 10**4`` has at most 9 significant digits and ``v`` lies within half an
    ulp of it (the division is correctly rounded), far closer than half a unit of the
    ``precision``-th digit (``precision >= 9``); ``%g`` writes it without an exponent,
    as its decimal exponent lies within [-4, precision)."""
    cdef long long u
    cdef long long whole, frac
    cdef char num[32]
    cdef int n = 0, d, width = DECIMALS
    if precision < 9 or not fabs(v) < <double>MAX_UNITS / SCALE:
        return 1
    u = llround(v * SCALE)
    if u == 0 or <double>u / SCALE != v:
        return 1
    if u < 0:
        num[n] = 45         # '-'
        n += 1
        u = -u
    whole, frac = u // SCALE, u % SCALE
    n += put_decimal(num + n, whole)
    if frac:
        while frac % 10 == 0:
            frac //= 10
            width -= 1
        num[n] = 46         # '.'
        n += 1
        for d in range(width - 1, -1, -1):
            num[n + d] = <char>(48 + frac % 10)      # '0' + digit
            frac //= 10
        n += width
    put(b, num, n)
    return 0


cdef enum:
    MAX_G_PRECISION = 10        # put_general: "%.{p}g" written here for p up to this


cdef double POW10[23]           # 10 ** k, k = 0..22: exact doubles
POW10[0] = 1.0
for _k in range(1, 23):
    POW10[_k] = POW10[_k - 1] * 10.0


cdef int put_general(buffer_t* b, double v, int precision) except -2 nogil:
    """``v`` as ``"%.{precision}g"`` formats it when ``v`` is zero or ``1e-13 <= |v| < 1e9``
    and the result has no exponent or a negative one (``precision`` up to
    MAX_G_PRECISION); 1 (nothing written) otherwise, and when ``v`` lies too near the
    middle of two ``precision``-digit numbers to round it here with certainty.

    The ``precision`` significant digits are ``m``, the nearest integer to
    ``|v| * 10**k`` (``k = precision - 1 - e``, ``e`` the decimal exponent): that product
    is one correctly rounded multiplication by an exact power of ten (``k <= 22``), below
    ``10**precision <= 10**10``, so within 1.2e-6 of the exact one, and ``m`` is the exact
    product's nearest integer unless its fraction lies within 1e-5 of one half (then
    nothing is written: ``PyOS_double_to_string`` decides, ties to even).  ``e`` starts
    from a comparison with the powers of ten (a guess: ``10**e`` of a negative ``e`` is
    not exact) and is corrected until ``m`` has ``precision`` digits (a value that
    rounds up to a power of ten takes the next exponent, as ``%g`` does).  Written in
    fixed notation with ``precision - 1 - e`` decimals, trailing zeros and a bare point
    removed (``%g`` without ``#``); a value whose exponent is below -4 (``%g`` then writes
    ``d.ddde-XX``: ``k`` at most 22 down to 1e-13) as its first digit, the other digits without
    trailing zeros after a point, and ``e-`` with two digits of the exponent.  Zero is ``0``
    (``-0`` for negative zero)."""
    cdef double a = fabs(v), scaled, frac
    cdef long long m, lo, hi
    cdef int e, k, tries, n = 0, i, digits, point
    cdef char num[40]
    cdef char dig[24]
    if precision < 1 or precision > MAX_G_PRECISION:
        return 1
    if a == 0.0:
        put(b, b"-0" if signbit(v) else b"0", 2 if signbit(v) else 1)
        return 0
    if not (a >= 1e-13 and a < 1e9):
        return 1
    lo = <long long>POW10[precision - 1]
    hi = <long long>POW10[precision]
    if a >= 1e-4:
        e = -4                            # the decimal exponent (a guess, corrected below)
        while e < 8 and a >= POW10[e + 5] * 1e-4:
            e += 1
    else:
        e = <int>floor(log10(a))          # (a guess too)
    for tries in range(4):
        k = precision - 1 - e
        if k < 0 or k > 22:
            return 1
        scaled = a * POW10[k]
        m = <long long>floor(scaled)
        frac = scaled - <double>m
        if fabs(frac - 0.5) < 1e-5:
            return 1
        if frac > 0.5:
            m += 1
        if m >= hi:
            e += 1
        elif m < lo:
            e -= 1
        else:
            break
    else:
        return 1
    if e >= precision:                    # %g would use a positive exponent
        return 1
    digits = put_decimal(dig, m)          # exactly precision digits
    if v < 0:
        num[n] = 45                       # '-'
        n += 1
    if e < -4:                            # d.ddde-XX (-13 <= e <= -5: two digits)
        num[n] = dig[0]
        n += 1
        while digits > 1 and dig[digits - 1] == 48:
            digits -= 1
        if digits > 1:
            num[n] = 46                   # '.'
            memcpy(num + n + 1, dig + 1, digits - 1)
            n += digits
        num[n] = 101                      # 'e'
        num[n + 1] = 45                   # '-'
        num[n + 2] = <char>(48 + (-e) // 10)
        num[n + 3] = <char>(48 + (-e) % 10)
        put(b, num, n + 4)
        return 0
    if e >= 0:
        point = e + 1                     # digits before the point
        memcpy(num + n, dig, point)
        n += point
    else:
        num[n] = 48                       # '0'
        num[n + 1] = 46                   # '.'
        n += 2
        for i in range(-e - 1):
            num[n] = 48
            n += 1
        point = 0
    # the decimals, trailing zeros removed
    while digits > point and dig[digits - 1] == 48:
        digits -= 1
    if digits > point:
        if e >= 0:
            num[n] = 46                   # '.'
            n += 1
        memcpy(num + n, dig + point, digits - point)
        n += digits - point
    put(b, num, n)
    return 0


cdef int put_text(buffer_t* b, object value) except -2:
    """One text field; 1 when the csv module must write it (not a str, a carriage return)."""
    cdef Py_ssize_t n
    cdef const char* s
    if not PyUnicode_CheckExact(value):
        return 1
    s = PyUnicode_AsUTF8AndSize(value, &n)
    return put_utf8(b, s, n)


cdef int put_utf8(buffer_t* b, const char* s, Py_ssize_t n) except -2 nogil:
    """One text field of ``n`` UTF-8 bytes; 1 (nothing written) for a carriage return."""
    if n and memchr(s, b'\r', n) != NULL:
        return 1
    if n and (memchr(s, b',', n) != NULL or memchr(s, b'"', n) != NULL or
              memchr(s, b'\n', n) != NULL):
        put_quoted(b, s, n)
    else:
        put(b, s, n)
    return 0


cdef bint plain_bytes(const char* s, Py_ssize_t n) noexcept nogil:
    """Whether ``n`` bytes hold no carriage return, comma, quote nor newline (then each text
    within them is copied as it is: no test per text)."""
    return n <= 0 or (memchr(s, b'\r', n) == NULL and memchr(s, b',', n) == NULL and
                      memchr(s, b'"', n) == NULL and memchr(s, b'\n', n) == NULL)


cdef struct column_t:
    uint8_t kind            # TEXT, FLOAT, INT, BOOL, TIME, ARROW, CODES or OBJECTS
    const void* at          # the values: double, int64 (INT, TIME, CODES' codes), uint8, ARROW's bytes
    const int64_t* off      # ARROW: each text's first byte (one more than the texts)
    const uint8_t* valid    # ARROW: 1 per valid text
    bint plain              # ARROW: the rows' bytes hold nothing to quote (each copied as it is)
    day_t day               # TIME: the last date written
    char* fields            # CODES: each text as written (quoted when it must be), one after the other
    int64_t* start          # CODES: each text's first byte in ``fields`` (one more than the texts)
    uint8_t* crlf           # CODES: 1 for a text left to the csv module (a carriage return)


cdef int render_codes(column_t* c, const char* data, const int64_t* offsets,
                      Py_ssize_t k) except -1:
    """``c.fields``, ``c.start`` and ``c.crlf`` of ``k`` texts (UTF-8 ``data`` at
    ``offsets``): each written once as a field is (:func:`put_utf8`), then copied per row."""
    cdef buffer_t b
    cdef Py_ssize_t e
    cdef int left
    b.data, b.size, b.capacity, b.bytes, b.failed = NULL, 0, 0, NULL, False
    c.start = <int64_t*>malloc((k + 1) * sizeof(int64_t))
    c.crlf = <uint8_t*>malloc(max(k, 1))
    if c.start == NULL or c.crlf == NULL:
        raise MemoryError(f"cannot allocate the {k} texts of a CSV column of codes")
    try:
        for e in range(k):
            c.start[e] = b.size
            left = put_utf8(&b, data + offsets[e], offsets[e + 1] - offsets[e])
            c.crlf[e] = left
        c.start[k] = b.size
        check(&b)
    except BaseException:
        free(b.data)
        raise
    c.fields = b.data
    return 0


cdef inline int put_field(buffer_t* b, column_t* c, Py_ssize_t i, int precision) except -2 nogil:
    """Row ``i``'s field of a column of any kind but TEXT; 1 (nothing more written) when
    the csv module must write the table."""
    cdef double v
    cdef char* text
    cdef int64_t code
    cdef const int64_t* o
    if c.kind == ARROW:
        if c.valid[i]:
            o = c.off
            if c.plain:
                put(b, (<const char*>c.at) + o[i], o[i + 1] - o[i])
            elif put_utf8(b, (<const char*>c.at) + o[i], o[i + 1] - o[i]):
                return 1
    elif c.kind == CODES:
        code = (<const int64_t*>c.at)[i]
        if code >= 0:
            if c.crlf[code]:
                return 1
            put(b, c.fields + c.start[code], c.start[code + 1] - c.start[code])
    elif c.kind == FLOAT:
        v = (<const double*>c.at)[i]
        if not isnan(v) and put_decimal4(b, v, precision) and put_general(b, v, precision):
            with gil:           # (Python's formatter: a value the two above leave)
                text = PyOS_double_to_string(v, b'g', precision, 0, NULL)
                try:
                    put(b, text, strlen(text))
                finally:
                    PyMem_Free(text)
    elif c.kind == INT:
        put_int(b, (<const int64_t*>c.at)[i])
    elif c.kind == TIME:
        if put_time(b, (<const int64_t*>c.at)[i], &c.day):
            return 1
    elif (<const uint8_t*>c.at)[i]:
        put(b, b"True", 4)
    else:
        put(b, b"False", 5)
    return 0


cdef int put_rows(buffer_t* b, column_t* cols, Py_ssize_t m, Py_ssize_t start,
                  Py_ssize_t stop, int precision) except -2 nogil:
    """Rows ``start:stop`` of ``m`` columns of no TEXT (the GIL released by the caller);
    1 when the csv module must write the table."""
    cdef Py_ssize_t i, j, row
    for i in range(start, stop):
        row = b.size
        for j in range(m):
            if j:
                put(b, b",", 1)
            if put_field(b, &cols[j], i, precision):
                return 1
        if m == 1 and b.size == row:      # a row of one empty field: the csv module quotes it
            put(b, b'""', 2)
        put(b, b"\n", 1)
    return 0


cdef int put_rows_texts(buffer_t* b, column_t* cols, list columns, Py_ssize_t start,
                        Py_ssize_t stop, int precision) except -2:
    """:func:`put_rows` of columns among which some are TEXT or OBJECTS (Python objects: the
    GIL held)."""
    cdef Py_ssize_t m = len(columns), i, j, row
    for i in range(start, stop):
        row = b.size
        for j in range(m):
            if j:
                put(b, b",", 1)
            if cols[j].kind == TEXT:
                if put_text(b, <object>PyList_GET_ITEM(<list>columns[j], i)):
                    return 1
            elif cols[j].kind == OBJECTS:
                if put_object(b, <object>(<PyObject**>cols[j].at)[i]):
                    return 1
            elif put_field(b, &cols[j], i, precision):
                return 1
        if m == 1 and b.size == row:
            put(b, b'""', 2)
        put(b, b"\n", 1)
    return 0


cdef inline int put_object(buffer_t* b, object value) except -2:
    """One field of an OBJECTS column: a str as :func:`put_text`, nothing for None or a float
    NaN (a missing value, as pandas' ``isna`` finds it); 1 for any other object (the csv
    module writes it)."""
    if value is None:
        return 0
    if PyFloat_CheckExact(value):
        return 0 if isnan(PyFloat_AS_DOUBLE(value)) else 1
    return put_text(b, value)


def csv_rows(list columns,                 # IN per column: a list of str, a 1-D array
                                           #    (OBJECTS: of objects, C-contiguous),
                                           #    (data, offsets, valid) of ARROW texts or
                                           #    (codes, data, offsets) of CODES
             const uint8_t[::1] kinds,     # IN per column: TEXT, FLOAT, INT, BOOL, TIME, ARROW,
                                           #    CODES or OBJECTS
             int precision,                # IN significant digits of FLOAT fields ("%.10g")
             Py_ssize_t start,             # IN first row
             Py_ssize_t stop):             # IN one past the last row
    """The bytes of rows ``start:stop`` (each ended by ``\\n``), or None when a text field
    must be left to the csv module.  The caller checked the kinds, dtypes (contiguous
    float64, int64, uint8) and that every column has more than ``stop - 1`` rows (an ARROW
    column: uint8 data, int64 offsets of one more, nondecreasing within the data, and
    uint8 validity; a CODES column: int64 codes from -1 to one less than its texts, given
    as an ARROW column's data and offsets).  Without a TEXT or OBJECTS column the rows are
    written with the GIL released."""
    cdef Py_ssize_t m = len(columns), j
    cdef buffer_t b
    cdef const double[::1] f
    cdef const int64_t[::1] k
    cdef const int64_t[::1] o
    cdef const uint8_t[::1] t
    cdef column_t* cols = NULL
    cdef bint texts = False
    cdef int left
    if stop <= start:
        return b""
    cols = <column_t*>calloc(max(m, 1), sizeof(column_t))
    if cols == NULL:
        raise MemoryError("cannot allocate the columns of a CSV writer")
    b.data, b.size, b.capacity, b.bytes, b.failed = NULL, 0, 0, NULL, False
    try:
        for j in range(m):          # each column's first value, once
            cols[j].kind = kinds[j]
            if kinds[j] == TEXT:
                texts = True
            elif kinds[j] == OBJECTS:
                texts = True
                cols[j].at = cnp.PyArray_DATA(<cnp.ndarray>columns[j])
            elif kinds[j] == ARROW:
                t = columns[j][0]
                cols[j].at = &t[0]
                k = columns[j][1]
                cols[j].off = &k[0]
                t = columns[j][2]
                cols[j].valid = &t[0]
                # the texts of these rows, one run of bytes: copied as they are when it holds
                # nothing to quote (each text is then tested by nobody)
                cols[j].plain = plain_bytes((<const char*>cols[j].at) + cols[j].off[start],
                                            cols[j].off[stop] - cols[j].off[start])
            elif kinds[j] == CODES:
                k = columns[j][0]
                cols[j].at = &k[0]
                t = columns[j][1]
                o = columns[j][2]
                render_codes(&cols[j], <const char*>&t[0], &o[0], len(o) - 1)
            elif kinds[j] == FLOAT:
                f = columns[j]
                cols[j].at = &f[0]
            elif kinds[j] == INT or kinds[j] == TIME:
                k = columns[j]
                cols[j].at = &k[0]
                cols[j].day.days = INT64_MIN
            elif kinds[j] == BOOL:
                t = columns[j]
                cols[j].at = &t[0]
        # the rows are written into the bytes object handed back (no copy of them at the end)
        b.capacity = (stop - start) * (16 * m + 1) + 64
        out = PyBytes_FromStringAndSize(NULL, b.capacity)
        b.bytes = <PyObject*>out
        Py_INCREF(out)              # (b.bytes' own reference: _PyBytes_Resize may replace it)
        out = None
        b.data = PyBytes_AS_STRING(<object>b.bytes)
        if texts:
            left = put_rows_texts(&b, cols, columns, start, stop, precision)
        else:
            with nogil:
                left = put_rows(&b, cols, m, start, stop, precision)
        check(&b)
        if left:
            return None
        _PyBytes_Resize(&b.bytes, b.size)
        out = <object>b.bytes        # (a new reference; b.bytes' own is dropped below)
        return out
    finally:
        Py_XDECREF(b.bytes)
        for j in range(m):
            free(cols[j].fields)
            free(cols[j].start)
            free(cols[j].crlf)
        free(cols)


cdef int put_json_text(buffer_t* b, object value) except -2:
    """One JSON string (or ``null`` for None) as ``json.dumps(value, ensure_ascii=False)``
    writes it when it needs no escape; 1 (nothing written) for a text with a quote, a
    backslash or a control character, or a value that is neither None nor exactly a str."""
    cdef Py_ssize_t n, i
    cdef const char* s
    if value is None:
        put(b, b"null", 4)
        return 0
    if not PyUnicode_CheckExact(value):
        return 1
    s = PyUnicode_AsUTF8AndSize(value, &n)
    for i in range(n):
        if <unsigned char>s[i] < 32 or s[i] == b'"' or s[i] == b'\\':
            return 1
    if not reserve(b, n + 2):
        return 0
    b.data[b.size] = b'"'
    memcpy(b.data + b.size + 1, s, n)
    b.data[b.size + n + 1] = b'"'
    b.size += n + 2
    return 0


def json_rows(list columns,                # IN per column: a list of str/None, or an int64 array
              const uint8_t[::1] kinds,    # IN per column: TEXT or INT
              list nulls,                  # IN per INT column: a uint8 array (1: null) or None
              Py_ssize_t n):               # IN rows
    """The text of ``json.dumps(rows, ensure_ascii=False, separators=(",", ":"))`` for the
    ``n`` rows of ``columns`` (each row a list of its fields; an INT field ``null`` where
    ``nulls`` says so), or None when a text needs an escape (the caller then calls
    ``json.dumps``).  The caller checked the kinds, dtypes and lengths."""
    cdef Py_ssize_t m = len(columns), i, j
    cdef buffer_t b
    cdef const int64_t[::1] k
    cdef const uint8_t[::1] z
    cdef const void** at = NULL
    cdef const void** none = NULL
    at = <const void**>malloc(max(m, 1) * sizeof(void*))
    none = <const void**>malloc(max(m, 1) * sizeof(void*))
    if at == NULL or none == NULL:
        free(at)
        free(none)
        raise MemoryError("cannot allocate the column pointers of a JSON writer")
    b.data, b.size, b.capacity, b.bytes, b.failed = NULL, 0, 0, NULL, False
    try:
        for j in range(m):
            at[j] = none[j] = NULL
            if kinds[j] == INT and n:
                k = columns[j]
                at[j] = &k[0]
                if nulls[j] is not None:
                    z = nulls[j]
                    none[j] = &z[0]
        reserve(&b, n * (16 * m + 3) + 2)
        put(&b, b"[", 1)
        for i in range(n):
            if i:
                put(&b, b",", 1)
            put(&b, b"[", 1)
            for j in range(m):
                if j:
                    put(&b, b",", 1)
                if kinds[j] == TEXT:
                    if put_json_text(&b, <object>PyList_GET_ITEM(<list>columns[j], i)):
                        return None
                elif none[j] != NULL and (<const uint8_t*>none[j])[i]:
                    put(&b, b"null", 4)
                else:
                    put_int(&b, (<const int64_t*>at[j])[i])
            put(&b, b"]", 1)
        put(&b, b"]", 1)
        check(&b)
        return PyUnicode_DecodeUTF8(b.data, b.size, NULL)
    finally:
        free(b.data)
        free(at)
        free(none)


def json_fixed(const uint8_t[:, ::1] rows):     # IN texts of one width: UTF-8, 0xFF, NULs
    """The JSON array of the texts of ``rows`` (each a text's bytes, the end byte 0xFF,
    then NUL padding: ``simbox.feedback.flagbatch.fixed_texts``) as ``json.dumps`` writes it,
    or None when a text holds a byte other than printable ASCII, a quote or a backslash
    (it may need an escape), or a row is not laid out so."""
    cdef Py_ssize_t n = rows.shape[0], width = rows.shape[1], i, j, end
    cdef uint8_t c
    cdef buffer_t b
    cdef bint bad = False
    b.data, b.size, b.capacity, b.bytes, b.failed = NULL, 0, 0, NULL, False
    try:
        with nogil:
            if reserve(&b, n * (width + 2) + 2):
                b.data[0] = 91                                  # '['
                b.size = 1
                for i in range(n):
                    end = -1
                    for j in range(width):
                        c = rows[i, j]
                        if c == 0xFF:
                            end = j
                            break
                        if c < 32 or c > 126 or c == 34 or c == 92:   # (control, '"', '\\')
                            bad = True
                            break
                    if bad or end < 0:
                        bad = True
                        break
                    for j in range(end + 1, width):
                        if rows[i, j]:
                            bad = True
                            break
                    if bad:
                        break
                    if i:
                        b.data[b.size] = 44                     # ','
                        b.size += 1
                    b.data[b.size] = 34
                    memcpy(b.data + b.size + 1, &rows[i, 0], end)
                    b.data[b.size + end + 1] = 34
                    b.size += end + 2
                b.data[b.size] = 93                             # ']'
                b.size += 1
        check(&b)
        if bad:
            return None
        return PyUnicode_DecodeUTF8(b.data, b.size, NULL)
    finally:
        free(b.data)



def first_chars_in(cnp.ndarray values,          # IN objects, C-contiguous (may be read-only)
                   const uint8_t[::1] table,     # IN 256 entries: 1 for a character looked for
                   uint8_t[::1] out):            # OUT per value: 1 when it is a str whose
                                                 #     first character is one of ``table``'s
    """Whether each value is a ``str`` (or a subclass) whose first character (below 256) is
    one of ``table``'s: a spreadsheet formula's first character, looked up without a
    ``str`` made or a value hashed."""
    cdef Py_ssize_t i, n = values.shape[0]
    cdef PyObject** at = <PyObject**>cnp.PyArray_DATA(values)
    cdef Py_UCS4 c
    cdef object v
    for i in range(n):
        v = <object>at[i]
        if PyUnicode_Check(v) and PyUnicode_GET_LENGTH(v) > 0:
            c = PyUnicode_READ_CHAR(v, 0)
            out[i] = c < 256 and table[c] != 0
        else:
            out[i] = 0


def first_bytes_in(const uint8_t[::1] data,       # IN texts' UTF-8 bytes (Arrow's)
                   const int64_t[::1] offsets,   # IN each text's first byte, one more than
                                                 #    the texts (nondecreasing, within data)
                   const uint8_t[::1] valid,     # IN 1 per valid text
                   const uint8_t[::1] table,     # IN 256 entries: 1 for a byte looked for
                   uint8_t[::1] out):            # OUT per text: 1 when it is valid, not empty
                                                 #     and its first byte is one of table's
    """:func:`first_chars_in` of texts as Arrow holds them (for ASCII characters looked for:
    a UTF-8 text starts with one exactly when its first byte is it)."""
    cdef Py_ssize_t i, n = out.shape[0]
    with nogil:
        for i in range(n):
            out[i] = valid[i] != 0 and offsets[i + 1] > offsets[i] and table[data[offsets[i]]] != 0
