# cython: language_level=3
"""Sort and merge event rows of the watch's hour slices (the kernel of ``slicerows.py``).

A row is the packed record of ``simbox.watch.store.SLICE_DTYPE``; rows are ordered by
every field in turn (``imsi`` first), as ``numpy.lexsort`` over the fields would order
them.  The functions trust their inputs: the wrapper checks the dtype and allocates.

The sort (:func:`sort_order`) is a stable LSD radix sort of the positions on the
subscriber (11-bit digits; a digit that every row shares is skipped), then each run of
one subscriber's rows sorted on every field by comparisons (insertion sort for short
runs, a merge sort for long ones): a drop's rows are a few per subscriber, so almost all
of the work is the radix passes.  ``radix=False`` is the sort it replaced (a merge sort
of all positions on every field), kept as the reference the tests compare it with.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset


cdef packed struct Row:
    int64_t imsi
    int64_t time
    uint8_t rtype
    int64_t imei
    int64_t msisdn
    int64_t other
    int32_t duration
    int32_t cell


DEF DIGIT_BITS = 11
DEF BUCKETS = 2048                 # 1 << DIGIT_BITS
DEF PASSES = 6                     # ceil(64 / DIGIT_BITS)
DEF SHORT_RUN = 24                 # runs up to this long: insertion sort


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


cdef void merge_sort(const Row* rows, int64_t* pos, int64_t* buf, Py_ssize_t n) noexcept nogil:
    """Sort the positions ``pos[0:n]`` by their rows (stable bottom-up merge sort; ``buf``:
    room for ``n`` positions)."""
    cdef Py_ssize_t width = 1, lo, mid, hi, a, b, k
    cdef int64_t* src = pos
    cdef int64_t* dst = buf
    cdef int64_t* tmp
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
    if src != pos:
        memcpy(pos, src, n * sizeof(int64_t))


cdef void insertion_sort(const Row* rows, int64_t* pos, Py_ssize_t n) noexcept nogil:
    """Sort the positions ``pos[0:n]`` by their rows (stable; for short runs)."""
    cdef Py_ssize_t i, j
    cdef int64_t p
    for i in range(1, n):
        p = pos[i]
        j = i
        while j > 0 and cmp_rows(&rows[p], &rows[pos[j - 1]]) < 0:
            pos[j] = pos[j - 1]
            j -= 1
        pos[j] = p


cdef inline uint64_t key_of(int64_t imsi) noexcept nogil:
    """The subscriber as an unsigned key of the same order (the sign bit flipped)."""
    return <uint64_t>imsi ^ (<uint64_t>1 << 63)


cdef void radix_sort(const Row* rows, int64_t* pos, int64_t* buf, uint64_t* keys,
                     uint64_t* kbuf, int64_t* counts, Py_ssize_t n) noexcept nogil:
    """OUT ``pos[0:n]``: the positions 0..n-1 in ascending order of the subscriber (stable).
    ``buf``, ``keys``, ``kbuf``: room for ``n`` values each; ``counts``: PASSES * BUCKETS."""
    cdef Py_ssize_t i, d
    cdef int64_t* count[PASSES]
    cdef int64_t total, c
    cdef uint64_t k
    cdef int shift
    cdef int64_t* src = pos
    cdef int64_t* dst = buf
    cdef uint64_t* ksrc = keys
    cdef uint64_t* kdst = kbuf
    cdef int64_t* tmp
    cdef uint64_t* ktmp
    memset(counts, 0, PASSES * BUCKETS * sizeof(int64_t))
    for d in range(PASSES):
        count[d] = counts + d * BUCKETS
    for i in range(n):
        k = key_of(rows[i].imsi)
        keys[i] = k
        pos[i] = i
        for d in range(PASSES):
            count[d][(k >> (d * DIGIT_BITS)) & (BUCKETS - 1)] += 1
    for d in range(PASSES):
        shift = d * DIGIT_BITS
        if count[d][(keys[0] >> shift) & (BUCKETS - 1)] == n:
            continue                      # every row has this digit: nothing to move
        total = 0
        for i in range(BUCKETS):          # counts -> where each bucket starts
            c = count[d][i]
            count[d][i] = total
            total += c
        for i in range(n):
            k = ksrc[i]
            c = count[d][(k >> shift) & (BUCKETS - 1)]
            count[d][(k >> shift) & (BUCKETS - 1)] = c + 1
            dst[c] = src[i]
            kdst[c] = k
        tmp = src
        src = dst
        dst = tmp
        ktmp = ksrc
        ksrc = kdst
        kdst = ktmp
    if src != pos:
        memcpy(pos, src, n * sizeof(int64_t))


def sort_order(const Row[::1] rows, int64_t[::1] order, bint radix=True):
    """OUT ``order``: the positions of ``rows`` in sorted order, stable (``order`` has
    ``len(rows)`` entries).  ``radix``: the radix pass on the subscriber, then each
    subscriber's run by comparisons; False: one merge sort of every position by
    comparisons (the reference)."""
    cdef Py_ssize_t n = rows.shape[0], i, j
    cdef int64_t* buf
    cdef uint64_t* keys = NULL
    cdef int64_t* counts = NULL
    cdef const Row* r
    if n == 0:
        return
    buf = <int64_t*>malloc(n * sizeof(int64_t))
    if radix:
        keys = <uint64_t*>malloc(2 * n * sizeof(uint64_t))
        counts = <int64_t*>malloc(PASSES * BUCKETS * sizeof(int64_t))
    if buf == NULL or (radix and (keys == NULL or counts == NULL)):
        free(buf)
        free(keys)
        free(counts)
        raise MemoryError(f"sorting {n} slice rows: no memory for the positions")
    r = &rows[0]
    with nogil:
        if not radix:
            for i in range(n):
                order[i] = i
            merge_sort(r, &order[0], buf, n)
        else:
            radix_sort(r, &order[0], buf, keys, keys + n, counts, n)
            i = 0
            while i < n:                  # each subscriber's run, on every field
                j = i + 1
                while j < n and r[order[j]].imsi == r[order[i]].imsi:
                    j += 1
                if j - i > SHORT_RUN:
                    merge_sort(r, &order[i], buf, j - i)
                elif j - i > 1:
                    insertion_sort(r, &order[i], j - i)
                i = j
    free(buf)
    free(keys)
    free(counts)


def merge_distinct(const Row[::1] a, const Row[::1] b, const int64_t[::1] order,
                   const int32_t[::1] tag, Row[::1] out, int64_t[::1] dups,
                   int64_t[::1] subs):
    """IN ``a``: sorted rows; ``b``: rows in any order, ``order`` their positions in sorted
    order (:func:`sort_order`: stable); ``tag``: per row of ``b``, the part it came from (0
    .. len(dups) - 1, ascending along ``b``: the parts one after the other).  OUT ``out``
    (``len(a) + len(b)`` rows): the merge, sorted, each distinct row once (the one of ``a``,
    else of the first part); ``dups[p]`` += the rows of part ``p`` not kept; ``subs`` (room
    for ``len(b)``): the distinct subscribers of ``b``, ascending.  Returns (the rows
    written, the subscribers written)."""
    cdef Py_ssize_t na = a.shape[0], nb = b.shape[0], i = 0, j = 0, k = 0, ns = 0
    cdef const Row* nxt
    cdef bint from_b
    with nogil:
        while i < na or j < nb:
            from_b = not (j >= nb or (i < na and cmp_rows(&a[i], &b[order[j]]) <= 0))
            if from_b:
                nxt = &b[order[j]]
                if ns == 0 or subs[ns - 1] != nxt.imsi:
                    subs[ns] = nxt.imsi
                    ns += 1
            else:
                nxt = &a[i]
            if k == 0 or cmp_rows(nxt, &out[k - 1]) != 0:
                out[k] = nxt[0]
                k += 1
            elif from_b:
                dups[tag[order[j]]] += 1
            if from_b:
                j += 1
            else:
                i += 1
    return k, ns
