# cython: language_level=3
"""Sort and merge event rows of the watch's hour slices (the kernel of ``slicerows.py``).

A row is the packed record of ``simbox.watch.store.SLICE_DTYPE``; rows are ordered by
every field in turn (``imsi`` first), as ``numpy.lexsort`` over the fields would order
them.  Both functions trust their inputs: the wrapper checks the dtype and allocates.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy


cdef packed struct Row:
    int64_t imsi
    int64_t time
    uint8_t rtype
    int64_t imei
    int64_t msisdn
    int64_t other
    int32_t duration
    int32_t cell


cdef inline int cmp_rows(const Row* a, const Row* b) noexcept nogil:
    """-1, 0, 1: ``a`` before, equal to, after ``b`` (every field in turn)."""
    if a.imsi != b.imsi:
        return -1 if a.imsi < b.imsi else 1
    if a.time != b.time:
        return -1 if a.time < b.time else 1
    if a.rtype != b.rtype:
        return -1 if a.rtype < b.rtype else 1
    if a.imei != b.imei:
        return -1 if a.imei < b.imei else 1
    if a.msisdn != b.msisdn:
        return -1 if a.msisdn < b.msisdn else 1
    if a.other != b.other:
        return -1 if a.other < b.other else 1
    if a.duration != b.duration:
        return -1 if a.duration < b.duration else 1
    if a.cell != b.cell:
        return -1 if a.cell < b.cell else 1
    return 0


def sort_order(const Row[::1] rows, int64_t[::1] order):
    """OUT ``order``: the positions of ``rows`` in sorted order (a stable bottom-up merge
    sort of positions; ``order`` has ``len(rows)`` entries)."""
    cdef Py_ssize_t n = rows.shape[0], i, width, lo, mid, hi, a, b, k
    cdef int64_t* src
    cdef int64_t* dst
    cdef int64_t* tmp
    cdef int64_t* buf
    if n == 0:
        return
    buf = <int64_t*>malloc(n * sizeof(int64_t))
    if buf == NULL:
        raise MemoryError(f"sorting {n} slice rows: no memory for the positions")
    with nogil:
        src = &order[0]
        dst = buf
        for i in range(n):
            src[i] = i
        width = 1
        while width < n:
            lo = 0
            while lo < n:
                mid = min(lo + width, n)
                hi = min(lo + 2 * width, n)
                a, b, k = lo, mid, lo
                while a < mid and b < hi:
                    if cmp_rows(&rows[src[b]], &rows[src[a]]) < 0:
                        dst[k] = src[b]
                        b += 1
                    else:
                        dst[k] = src[a]
                        a += 1
                    k += 1
                while a < mid:
                    dst[k] = src[a]
                    a += 1
                    k += 1
                while b < hi:
                    dst[k] = src[b]
                    b += 1
                    k += 1
                lo = hi
            tmp = src
            src = dst
            dst = tmp
            width *= 2
        if src != &order[0]:
            memcpy(&order[0], src, n * sizeof(int64_t))
    free(buf)


def merge_distinct(const Row[::1] a, const Row[::1] b, Row[::1] out):
    """IN ``a``, ``b``: sorted rows; OUT ``out`` (``len(a) + len(b)`` rows): their merge,
    sorted, each distinct row once.  Returns the rows written."""
    cdef Py_ssize_t na = a.shape[0], nb = b.shape[0], i = 0, j = 0, k = 0
    cdef const Row* nxt
    with nogil:
        while i < na or j < nb:
            if j >= nb or (i < na and cmp_rows(&a[i], &b[j]) <= 0):
                nxt = &a[i]
                i += 1
            else:
                nxt = &b[j]
                j += 1
            if k == 0 or cmp_rows(nxt, &out[k - 1]) != 0:
                out[k] = nxt[0]
                k += 1
    return k
