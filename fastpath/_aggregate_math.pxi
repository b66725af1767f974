# Scalar helpers of the aggregation kernels, included by _aggregate.pyx.

from libc.stdint cimport uint64_t
from libc.string cimport memset
from libcpp.algorithm cimport inplace_merge, nth_element

cdef extern from *:
    int clzll "__builtin_clzll"(unsigned long long x) nogil

cdef int64_t POW10[19]
POW10[0] = 1
for _k in range(1, 19):
    POW10[_k] = POW10[_k - 1] * 10


@cython.cdivision(True)
cdef inline int64_t floordiv(int64_t a, int64_t b) noexcept nogil:
    """Floor division by b > 0 (C division truncates toward zero; the directive makes it C here)."""
    if a >= 0:
        return <int64_t>(<uint64_t>a // <uint64_t>b)    # the common case: cheaper unsigned
    cdef int64_t q = a // b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline int ndigits(int64_t code, char* buf) noexcept nogil:
    """Digits of a digits code into buf (most significant first); returns their number."""
    cdef char tmp[24]
    cdef int k = 0, j
    if code <= 0:
        return 0
    while code > 0:
        tmp[k] = <char>(48 + code % 10)
        code //= 10
        k += 1
    # tmp[k-1] is the sentinel '1'
    for j in range(k - 1):
        buf[j] = tmp[k - 2 - j]
    return k - 1


cdef inline int cc_len(const char* d) noexcept nogil:
    """Length of the E.164 country code at the start of d (at least 2 digits there)."""
    cdef int a = d[0] - 48, b = d[1] - 48
    if a == 1 or a == 7:
        return 1
    cdef int two = a * 10 + b
    if two in (20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49,
               51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84,
               86, 90, 91, 92, 93, 94, 95, 98):
        return 2
    return 3


cdef inline int code_ndigits(int64_t code) noexcept nogil:
    """Number of digits a digits code encodes (0 for 0), without dividing."""
    cdef int t
    if code <= 0:
        return 0
    t = ((64 - clzll(<unsigned long long>code)) * 1233) >> 12   # ~ log10, maybe one less
    if code >= POW10[t]:
        t += 1                                                 # t = decimal digits of code
    return t - 1                                               # without the leading 1


cdef inline int64_t own_prefix(const char* own, int own_cc) noexcept nogil:
    """The country code of the subscriber's own number (its first own_cc digits) as a number."""
    cdef int64_t p = 0
    cdef int j
    for j in range(own_cc):
        p = p * 10 + (own[j] - 48)
    return p


cdef inline bint is_international(int64_t other, int own_cc, int64_t own_cc_value) noexcept nogil:
    """Other party abroad: "00..." or, for 8+ digits without a leading 0, another country
    code than the own number's (own_cc digits, value own_cc_value; own_cc 0 = unknown).

    A number has the own country code exactly when its first own_cc digits are those
    of the own number (the length of a country code follows from its first digits),
    so the test is a range check on the digits code: no digit is extracted.
    """
    cdef int n = code_ndigits(other)
    cdef int64_t rest, scale
    if n < 2:
        return False
    rest = other - POW10[n]                 # the digits as a number (leading zeros dropped)
    if rest < POW10[n - 2]:
        return True                         # "00..."
    if n < INTL_MIN_DIGITS or own_cc == 0 or rest < POW10[n - 1]:
        return False                        # short, or a national "0..." number
    scale = POW10[n - own_cc]
    return not (own_cc_value * scale <= rest < (own_cc_value + 1) * scale)


cdef inline double entropy_of_runs(const int64_t* v, Py_ssize_t n) noexcept nogil:
    """Shannon entropy (bits) of the value distribution of a sorted array."""
    cdef Py_ssize_t i = 0, j
    cdef double h = 0.0, p
    if n == 0:
        return NAN
    while i < n:
        j = i + 1
        while j < n and v[j] == v[i]:
            j += 1
        p = <double>(j - i) / n
        h -= p * log2(p)
        i = j
    return h if h > 0.0 else 0.0


cdef inline void sort_i64(int64_t* v, Py_ssize_t n) noexcept nogil:
    """Sort in place, skipping arrays already sorted (the common case: few distinct values)."""
    cdef Py_ssize_t i
    for i in range(1, n):
        if v[i] < v[i - 1]:
            std_sort(v, v + n)
            return


cdef inline Py_ssize_t count_distinct(const int64_t* v, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, d = 0
    for i in range(n):
        if i == 0 or v[i] != v[i - 1]:
            d += 1
    return d


cdef inline Py_ssize_t hash_set_slots(Py_ssize_t n) noexcept nogil:
    """Slots of the hash set of count_distinct_hashed for up to n values."""
    cdef Py_ssize_t cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


cdef inline uint64_t hash_slot(const int64_t* slots, uint64_t mask, int64_t v) noexcept nogil:
    """The slot of v (!= 0) in an open-addressing hash set of mask + 1 slots (0 = empty):
    the slot holding v, or the empty slot where it goes (linear probing)."""
    cdef uint64_t x = <uint64_t>v                # murmur3 fmix64
    x ^= x >> 33
    x *= <uint64_t>0xff51afd7ed558ccd
    x ^= x >> 33
    x &= mask
    while slots[x] != 0 and slots[x] != v:
        x = (x + 1) & mask
    return x


cdef inline Py_ssize_t count_distinct_hashed(const int64_t* v, Py_ssize_t n, int64_t* slots) noexcept nogil:
    """Number of distinct values of v[0..n) (all != 0) without sorting: an open-addressing
    hash set in ``slots`` (hash_set_slots(n) of them, overwritten)."""
    cdef Py_ssize_t cap, i, d = 0
    cdef uint64_t mask, h
    if n < 2:
        return n
    cap = hash_set_slots(n)
    mask = <uint64_t>(cap - 1)
    memset(slots, 0, cap * sizeof(int64_t))
    for i in range(n):
        h = hash_slot(slots, mask, v[i])
        if slots[h] == 0:
            slots[h] = v[i]
            d += 1
    return d


cdef inline Py_ssize_t rle(const int64_t* v, Py_ssize_t n, int64_t* vals, int64_t* counts,
                            int64_t* longest) noexcept nogil:
    """Run-length encoding of a sorted array: distinct values and their counts.

    OUT vals[0..d), counts[0..d), longest[0] = the largest count; returns d.
    """
    cdef Py_ssize_t i = 0, j, d = 0
    longest[0] = 0
    while i < n:
        j = i + 1
        while j < n and v[j] == v[i]:
            j += 1
        vals[d] = v[i]
        counts[d] = j - i
        if j - i > longest[0]:
            longest[0] = j - i
        d += 1
        i = j
    return d


cdef inline int64_t max_of(const int64_t* v, Py_ssize_t n) noexcept nogil:
    cdef int64_t m = v[0]
    cdef Py_ssize_t i
    for i in range(1, n):
        if v[i] > m:
            m = v[i]
    return m


cdef inline int64_t min_of(const int64_t* v, Py_ssize_t n) noexcept nogil:
    cdef int64_t m = v[0]
    cdef Py_ssize_t i
    for i in range(1, n):
        if v[i] < m:
            m = v[i]
    return m


cdef inline double quantile(int64_t* v, Py_ssize_t n, double q) noexcept nogil:
    """Linear-interpolated quantile (numpy's default method) of v[0..n), any order.

    Selects the two order statistics it needs (nth_element) instead of sorting; v is
    reordered.  Same arithmetic as on the sorted array, so the same result.
    """
    cdef double pos, frac
    cdef Py_ssize_t lo
    if n == 0:
        return NAN
    pos = q * (n - 1)
    lo = <Py_ssize_t>floor(pos)
    if lo >= n - 1:
        return <double>max_of(v, n)
    frac = pos - lo
    nth_element(v, v + lo, v + n)
    return v[lo] + (<double>min_of(v + lo + 1, n - lo - 1) - <double>v[lo]) * frac


cdef inline double median(int64_t* v, Py_ssize_t n) noexcept nogil:
    """Median of v[0..n), any order (v is reordered)."""
    cdef Py_ssize_t h = n // 2
    if n == 0:
        return NAN
    nth_element(v, v + h, v + n)
    if n % 2 == 1:
        return <double>v[h]
    return (<double>max_of(v, h) + <double>v[h]) / 2.0


cdef inline double haversine_km(double lat1, double lon1, double lat2, double lon2) noexcept nogil:
    cdef double r = 0.017453292519943295
    cdef double a = sin((lat2 - lat1) * r / 2.0) ** 2 + cos(lat1 * r) * cos(lat2 * r) * sin((lon2 - lon1) * r / 2.0) ** 2
    if a > 1.0:
        a = 1.0
    return 2.0 * EARTH_KM * asin(sqrt(a))


cdef inline double ratio(double a, double b) noexcept nogil:
    return a / b if b != 0 else NAN


# --------------------------------------------------------------------------- reduction

cdef inline Py_ssize_t bsearch(const int64_t* v, Py_ssize_t n, int64_t x) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if v[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo
